"""The model-free check of an answer: citations, numbers, unsupported sentences."""

from __future__ import annotations

from compliance_auditor.answer_check import check_answer, numbers_in

SUMMARY = """(Dollars in millions, except per share data) | 2023 | 2022
Net sales | $3,226.8 | $2,729.4
Comparable sales | 15.6% | 21.4%
Operating loss | (45.1) | 12.0"""

STATEMENT = """Net sales | $3,226,773 | 100.0% | $2,729,388 | 100.0%
Cost of sales | 2,014,270 | 62.4% | 1,702,059 | 62.4%"""


def verdicts(answer: str, passages: dict[int, str], scales=None) -> dict[str, str]:
    return {n.text: n.verdict for n in check_answer(answer, passages, scales).numbers}


def test_quoted_figures_pass_at_any_written_scale():
    answer = "Net sales were $3,226.8 million [1], or $3.2 billion [2], against $2,729,388 thousand [2]."
    assert set(verdicts(answer, {1: SUMMARY, 2: STATEMENT}).values()) == {"quoted"}
    assert check_answer(answer, {1: SUMMARY, 2: STATEMENT}).ok


def test_computed_figures_are_recomputed_from_cited_numbers():
    answer = (
        "Net sales rose by $497.4 million [1], from $2,729.4 million to $3,226.8 million [1]: "
        "($3,226.8 - $2,729.4) / $2,729.4 = 18.2% [1]. Gross margin was 37.6% [2]."
    )
    result = verdicts(answer, {1: SUMMARY, 2: STATEMENT})
    assert result["$497.4 million"] == "computed" and result["18.2%"] == "computed"
    assert result["37.6%"] == "computed"  # (3,226,773 - 2,014,270) / 3,226,773


def test_a_wrong_number_is_unverified_and_warned_about():
    result = check_answer("Net sales were $3,262.8 million [1].", {1: SUMMARY})
    assert not result.ok and result.numbers[0].verdict == "unverified"
    assert "$3,262.8 million" in result.warnings[0]


def test_a_wrong_scale_is_caught_when_the_statement_declares_its_scale():
    assert verdicts("Net sales were $3,226.8 thousand [1].", {1: SUMMARY}) == {
        "$3,226.8 thousand": "unverified"
    }


def test_a_number_must_be_in_the_evidence_the_answer_cites():
    result = check_answer("Net sales were $3,226.8 million [2].", {1: SUMMARY, 2: "Stores opened: 47."})
    assert not result.ok


def test_parentheses_are_negative_and_a_loss_may_be_written_either_way():
    assert numbers_in("(45.1)")[0].value == -45.1
    assert verdicts("The operating loss was $45.1 million [1].", {1: SUMMARY}) == {"$45.1 million": "quoted"}


def test_years_dates_items_and_small_counts_are_not_checked():
    answer = "In fiscal 2022, as of January 28, 2023, Item 7 of the 10-K lists 3 segments [1]."
    assert check_answer(answer, {1: SUMMARY}).numbers == []


def test_citations_must_resolve():
    result = check_answer("Net sales were $3,226.8 million [1][4].", {1: SUMMARY})
    assert [(c.n, c.resolved) for c in result.citations] == [(1, True), (4, False)]
    assert "citation [4] does not match any evidence passage" in result.warnings


def test_citation_ranges_and_lists_are_read():
    result = check_answer("Sales grew [1-3]. Margins held [1, 2].", {1: "a", 2: "b", 3: "c"})
    assert [c.n for c in result.citations] == [1, 2, 3]


def test_claims_without_citations_are_flagged_but_admissions_are_not():
    answer = (
        "Net sales were $3,226.8 million [1]. The company will keep outgrowing the market for years. "
        "The filing does not disclose the fiscal 2024 outlook."
    )
    result = check_answer(answer, {1: SUMMARY})
    assert result.unsupported_sentences == ["The company will keep outgrowing the market for years."]


def test_a_citation_after_the_full_stop_still_supports_its_sentence():
    result = check_answer("Net sales were $3,226.8 million. [1]", {1: SUMMARY})
    assert result.ok and result.numbers[0].verdict == "quoted"
