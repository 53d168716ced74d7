"""The model-free check of an answer: citations, numbers, unsupported sentences."""

from __future__ import annotations

import pytest

from compliance_auditor.verification.check import check_answer
from compliance_auditor.verification.numbers import numbers_in

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


def test_a_figure_cited_to_the_wrong_passage_says_which_passage_holds_it():
    result = check_answer("Net sales were $3,226.8 million [2].", {1: SUMMARY, 2: "Stores opened: 47."})
    [number] = result.numbers
    assert (number.verdict, number.source) == ("unverified", "[1] $3,226.8")  # a path, not support
    assert result.warnings == [
        "number $3,226.8 million is not in the evidence the answer cites; it stands in [1] $3,226.8, "
        "which the answer does not cite"
    ]


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


# --------------------------------------------------------------------------- figures without [n]

STORES = "The company operated 1,358 stores at the end of fiscal 2022."


def test_figures_stated_without_a_citation_get_the_passage_that_holds_them():
    answer = "Net sales were $3,226.8 million, up 18.2% from $2,729.4 million a year earlier."
    result = check_answer(answer, {1: STORES, 2: SUMMARY})
    assert result.ok, result.warnings
    [repair] = result.repairs
    assert (repair.sentence, repair.citations) == (0, [2])
    assert {n.verdict for n in result.numbers} == {"quoted", "computed"}
    assert all(n.source.startswith("[2]") or "[2]" in n.source for n in result.numbers)


def test_a_figure_no_passage_holds_keeps_its_sentence_unsupported():
    answer = "Net sales were $3,226.8 million and the backlog was $9,123.4 million."
    result = check_answer(answer, {1: STORES, 2: SUMMARY})
    assert result.repairs[0].citations == [2] and not result.ok
    assert [n.verdict for n in result.numbers] == ["quoted", "unverified"]
    assert result.unsupported_sentences == [answer]


def test_figures_from_two_passages_are_cited_from_both():
    result = check_answer("Net sales were $3,226.8 million and it ran 1,358 stores.", {1: STORES, 2: SUMMARY})
    assert result.repairs[0].citations == [1, 2] and result.ok


# ---------------------------------------------------------------------- the right number, the wrong line item

RELEASE = (
    "Comparable Sales Increased 15.6%\n"
    "Net sales increased 18.2% to $3.2 billion compared to $2.7 billion in the fourth quarter.\n"
    "Comparable sales (sales for stores open at least 14 months and e-commerce sales) increased 15.6%."
)
INCOME = (
    "(In thousands)\nNet sales | $3,226,773 | 100.0%\nGross profit | 1,212,503 | 37.6%\n"
    "Operating income | 450,137 | 14.0%"
)


@pytest.mark.parametrize(
    ("answer", "passage", "verdict", "found_as"),
    [
        ("Net sales increased 15.6% in the fourth quarter [1].", RELEASE, "wrong_metric", "comparable sales"),
        ("Revenue grew 15.6% [1].", RELEASE, "wrong_metric", "comparable sales"),
        ("Comparable sales increased 15.6% [1].", RELEASE, "quoted", ""),
        ("Net sales increased 18.2% [1].", RELEASE, "quoted", ""),
        ("Revenue was $3,226,773 thousand [1].", INCOME, "quoted", ""),  # revenue and net sales: one item
        ("Total revenues were $3.2 billion [1].", INCOME, "quoted", ""),
        ("The gross margin was 37.6% [1].", INCOME, "quoted", ""),  # the gross profit row's percentage
        ("Operating income was $1,212,503 thousand [1].", INCOME, "wrong_metric", "gross profit"),
        ("It increased 15.6% [1].", RELEASE, "quoted", ""),  # names no item: nothing to compare
    ],
)
def test_a_figure_found_under_another_line_item_is_flagged(answer, passage, verdict, found_as):
    [number] = check_answer(answer, {1: passage}).numbers
    assert (number.verdict, number.found_as) == (verdict, found_as)


CASH_FLOW = (
    "Cash flows from operations of $7.84 billion during fiscal 2022 increased by $608 million, or 8%, "
    "from $7.23 billion in fiscal 2021 primarily due to higher net income after adjustment for "
    "non-cash items."
)


def test_the_cause_named_after_a_figure_is_not_its_line_item():
    answer = "Net cash provided by operating activities rose by $608 million, or 8%, from $7.23 billion [1]."
    result = check_answer(answer, {1: CASH_FLOW})
    assert [n.verdict for n in result.numbers] == ["quoted", "quoted", "quoted"] and result.ok


def test_the_wrong_item_is_named_in_the_warning_with_its_place():
    result = check_answer("Net sales increased 15.6% [1].", {1: RELEASE})
    assert result.warnings == ["number 15.6% is found as comparable sales, not as revenue ([1] 15.6%)"]


# --------------------------------------------------------------------------- the scale asked for

IN_MILLIONS = "What were Ulta Beauty's net sales in the fourth quarter of fiscal 2022, in USD millions?"


@pytest.mark.parametrize(
    ("answer", "verdict", "expected"),
    [
        ("Net sales were $3,226,773 [1].", "wrong_scale", "$3,226.8 million"),  # the statement's thousands
        ("Net sales were 3,226,773 [1].", "wrong_scale", "$3,226.8 million"),
        ("Net sales were $3,226.8 million [1].", "quoted", ""),
        ("Net sales were 3,226.8 [1].", "quoted", ""),  # bare, at the scale asked
        ("Net sales were $3.2 billion [1].", "quoted", ""),  # its own scale word: not a copy
    ],
)
def test_a_figure_copied_at_the_statements_scale_is_flagged_with_the_figure_asked_for(
    answer, verdict, expected
):
    [number] = check_answer(answer, {1: INCOME}, question=IN_MILLIONS).numbers
    assert (number.verdict, number.expected) == (verdict, expected)


def test_without_a_scale_asked_the_statements_own_figure_stands():
    [number] = check_answer(
        "Net sales were $3,226,773 thousand [1].", {1: INCOME}, question="Net sales?"
    ).numbers
    assert number.verdict == "quoted"


AS_PERCENT = "What was Ulta Beauty's gross profit as a percentage of net sales in the fourth quarter?"


@pytest.mark.parametrize(
    ("answer", "verdict", "expected"),
    [
        ("The gross margin was 0.376 [1].", "wrong_scale", "37.6%"),  # the row's 37.6%, as a ratio
        ("The gross margin was 0.3758 [1].", "wrong_scale", "37.58%"),  # computed: 1,212,503 / 3,226,773
        ("The gross margin was 37.6% [1].", "quoted", ""),
        ("The gross margin was 37.6 [1].", "quoted", ""),  # a percentage without its sign
    ],
)
def test_a_ratio_given_where_a_percentage_is_asked_is_flagged_with_the_percentage(answer, verdict, expected):
    [number] = check_answer(answer, {1: INCOME}, question=AS_PERCENT).numbers
    assert (number.verdict, number.expected) == (verdict, expected)


def test_a_ratio_asked_for_as_a_ratio_stands():
    [number] = check_answer(
        "The ratio was 0.376 [1].", {1: INCOME}, question="What is the gross margin ratio?"
    ).numbers
    assert number.verdict == "computed"


def test_the_ratio_warning_says_what_the_question_asked_for():
    result = check_answer("The gross margin was 0.376 [1].", {1: INCOME}, question=AS_PERCENT)
    assert result.warnings == [
        "number 0.376 is a ratio; the question asks for a percentage: 37.6% ([1] 37.6%)"
    ]
