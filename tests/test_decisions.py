"""The pure decisions, one table each: what the grader's reply says, what the agent does next,
which filters a question implies, which numbers a text states, and when an endpoint is skipped.

No index, model or server: each row is an input and the decision it must produce.
"""

from __future__ import annotations

import pytest

from compliance_auditor.agent.grading import parse_judgement
from compliance_auditor.agent.planning import plan_next_step
from compliance_auditor.agent.state import AgentState, Judgement
from compliance_auditor.llm.breakers import Breaker
from compliance_auditor.questions import derive_filters, expand_query
from compliance_auditor.records import Passage, SearchRecord
from compliance_auditor.verification.numbers import EvidenceNumbers, numbers_in

# --------------------------------------------------------------------------- the grader's reply


@pytest.mark.parametrize(
    ("reply", "relevant", "enough", "search"),
    [
        ('{"relevant": [1, 3], "enough": true, "search": ""}', [1, 3], True, ""),
        ('Sure!\n```json\n{"relevant": ["2"], "enough": "yes"}\n```', [2], True, ""),
        (
            '{"relevant": 2, "enough": "no", "search": "cash flow statement"}',
            [2],
            False,
            "cash flow statement",
        ),
        ('{"relevant": [0, 1, 9, "x", 4], "enough": true}', [1, 4], True, ""),  # only passages 1..5 exist
        ('{"relevant": [], "enough": false, "search": null}', [], False, ""),
        ('<think>{"relevant": [5]}</think>{"relevant": [1], "enough": true}', [1], True, ""),
        ('{"verdict": "fine"} and then {"relevant": [3], "enough": true}', [3], True, ""),
        ('{"relevant": [2], "enough": "TRUE"}', [2], True, ""),
    ],
)
def test_the_graders_json_is_read_wherever_it_sits(reply, relevant, enough, search):
    judgement = parse_judgement(reply, count=5)
    assert judgement == Judgement(relevant=relevant, enough=enough, search=search)


@pytest.mark.parametrize(
    "reply",
    ["Passages one and two look useful.", '{"enough": true}', "{not json at all}", "", '["relevant", 1]'],
)
def test_a_reply_without_the_graders_json_is_no_judgement(reply):
    assert parse_judgement(reply, count=5) is None


# --------------------------------------------------------------------------- the next step

QUESTION = "What was Acme's capital expenditure in fiscal 2022?"


def passage(doc: str) -> Passage:
    return Passage(
        chunk_id=f"{doc}-1", doc_sha256=doc, doc_name=f"{doc}.pdf", page=0, bbox=[0, 0, 1, 1], text="x"
    )


def state(
    *, kept: int = 0, enough: bool = False, search: str = "", failed: bool = False,
    searches: list[tuple[str, dict, int]] | None = None, caller: dict | None = None,
) -> AgentState:  # fmt: skip
    """An agent after its searches (query, filters it ran with, hits) and one grading."""
    done = searches or [(QUESTION, {"company": ["Acme"]}, 8)]
    return AgentState(
        question=QUESTION, filters=caller, evidence=[passage(f"doc{n}") for n in range(kept)],
        judgement=Judgement(relevant=list(range(1, kept + 1)), enough=enough, search=search),
        grading_failed=failed,
        searches=[SearchRecord(query=q, filters=f, hits=h) for q, f, h in done],
    )  # fmt: skip


EXPANDED = f"{QUESTION} {expand_query(QUESTION)}"

PLANS = [
    # (state, max searches) -> (decision, query, filters); None: not checked
    ("enough evidence: answer", state(kept=2, enough=True), 3, ("generate", "", None)),
    ("grading failed: answer from the retrieval order", state(kept=8, failed=True), 3,
     ("generate", "", None)),
    ("budget spent with partial evidence: answer from it", state(kept=1, searches=[(QUESTION, {}, 8)] * 3), 3,
     ("generate", "", None)),
    ("budget spent with nothing: give up", state(searches=[(QUESTION, {}, 8), ("capex", {}, 8)]), 2,
     ("give_up", "", None)),
    ("partial evidence: search within its filings for the rest",
     state(kept=1, search="purchases of property and equipment", caller={"fiscal_year": 2022}), 3,
     ("retrieve", "purchases of property and equipment", {"fiscal_year": 2022, "doc_sha256": ["doc0"]})),
    ("nothing under a derived filter: widen to the caller's",
     state(search="capital expenditures", caller={"fiscal_year": 2022},
           searches=[(QUESTION, {"fiscal_year": 2022, "company": ["Acme"]}, 8)]), 3,
     ("retrieve", "capital expenditures", {"fiscal_year": 2022})),
    ("nothing under the caller's own filter: rewrite the query",
     state(search="capex", caller={"company": ["Acme"]}), 3, ("retrieve", "capex", {"company": ["Acme"]})),
    ("no rewrite from the grader: the question with filing vocabulary",
     state(caller={"company": ["Acme"]}), 3, ("retrieve", EXPANDED, {"company": ["Acme"]})),
    ("the grader repeats a query already run: the question with filing vocabulary",
     state(search=QUESTION.upper(), caller={"company": ["Acme"]}), 3,
     ("retrieve", EXPANDED, {"company": ["Acme"]})),
    ("an empty index: give up at once", state(searches=[(QUESTION, {}, 0)]), 3, ("give_up", "", None)),
    ("the same search again: give up",
     state(caller={"company": ["Acme"]}, searches=[(EXPANDED, {"company": ["Acme"]}, 8)]), 3,
     ("give_up", "", None)),
]  # fmt: skip


@pytest.mark.parametrize(("case", "agent", "budget", "expected"), PLANS, ids=[p[0] for p in PLANS])
def test_the_next_step_after_grading(case, agent, budget, expected):
    decision, query, filters = expected
    step = plan_next_step(agent, budget)
    assert step.decision == decision, step.reason
    assert step.query == query
    if filters is not None:
        assert step.filters == filters


# --------------------------------------------------------------------------- filters from the question


def doc(company: str, ticker: str, year: int, form: str, filename: str = "", period: str = "") -> dict:
    return {"company": company, "ticker": ticker, "fiscal_year": year, "form_type": form,
            "filename": filename or f"{company.split()[0]}_{year}_{form}.pdf",
            "fiscal_period": period or ("FY" if form == "10-K" else "")}  # fmt: skip


DOCS = [
    doc("3M COMPANY", "MMM", 2018, "10-K"),
    doc("3M COMPANY", "MMM", 2019, "10-K"),
    doc("AMAZON.COM, INC.", "AMZN", 2019, "10-K"),
    doc("AMAZON.COM, INC.", "AMZN", 2019, "10-Q"),
    doc("ULTA BEAUTY, INC.", "ULTA", 2022, "earnings release"),
    doc("BEST BUY CO., INC.", "BBY", 2023, "10-K"),
    doc("BEST BUY CO., INC.", "BBY", 2023, "10-Q", period="Q2"),  # Q2 of fiscal 2024, ended July 2023
    doc("JOHNSON & JOHNSON", "JNJ", 2022, "10-K"),
    doc("JOHNSON JOHNSON", "JNJ", 2022, "earnings release", period="Q4"),  # the cover's "&" not read
]


@pytest.mark.parametrize(
    ("question", "filters"),
    [
        ("What was 3M's FY2018 capital expenditure?", {"company": ["3M COMPANY"], "fiscal_year": 2018}),
        ("What was 3M's capex in FY'19?", {"company": ["3M COMPANY"], "fiscal_year": 2019}),
        ("AMZN 10-Q: how much cash?", {"company": ["AMAZON.COM, INC."], "form_type": "10-Q"}),
        ("Amazon's annual report for 2019: revenue?",
         {"company": ["AMAZON.COM, INC."], "fiscal_year": 2019, "form_type": "10-K"}),
        ("Did Amazon file a 10-K for 2021?", {"company": ["AMAZON.COM, INC."], "form_type": "10-K"}),
        ("Compare 3M and Amazon in 2019",
         {"company": ["3M COMPANY", "AMAZON.COM, INC."], "fiscal_year": 2019}),
        ("What did Ulta Beauty's earnings release say about fiscal 2022?",
         {"company": ["ULTA BEAUTY, INC."], "fiscal_year": 2022, "form_type": "earnings release"}),
        ("Which companies grew revenue in 2018?", {"fiscal_year": 2018}),
        ("What is EBITDA?", {}),
        ("mmm is not a ticker when lower case", {}),
        ("What was the 8-K about?", {}),  # no such filing: no filter that could only match nothing
        ("Which Best Buy category sold most in Q2 of FY2024?",
         {"company": ["BEST BUY CO., INC."], "fiscal_period": "Q2", "fiscal_year": 2023}),
        ("Best Buy's second quarter: inventories?",
         {"company": ["BEST BUY CO., INC."], "fiscal_period": "Q2"}),
        ("What drove JnJ's gross margin in FY2022?",
         {"company": ["JOHNSON & JOHNSON", "JOHNSON JOHNSON"], "fiscal_year": 2022}),
        ("J&J's fourth quarter 2022 sales?",
         {"company": ["JOHNSON & JOHNSON", "JOHNSON JOHNSON"], "fiscal_period": "Q4", "fiscal_year": 2022}),
        ("Best Buy's Q3 2023 sales?",  # no third quarter filed: the year's filings
         {"company": ["BEST BUY CO., INC."], "fiscal_year": 2023}),
    ],
)  # fmt: skip
def test_the_filters_a_question_implies(question, filters):
    assert derive_filters(question, DOCS) == filters


def test_an_empty_index_implies_no_filter():
    assert derive_filters("What was 3M's FY2018 capex?", []) == {}


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "value", "percent", "scaled"),
    [
        ("$3.2 billion", 3.2e9, False, True),
        ("$3,226.8", 3226.8, False, False),
        ("(45.1)", -45.1, False, False),
        ("-$12.5 million", -12.5e6, False, True),
        ("15.6%", 15.6, True, True),
        ("40 basis points", 40, True, True),
        ("50 m", 50, False, False),  # metres as likely as millions without a currency sign
        ("$5 m", 5e6, False, True),
        ("USD 1,577", 1577, False, False),
    ],
)
def test_a_number_is_read_with_its_sign_scale_and_kind(text, value, percent, scaled):
    [number] = numbers_in(f"It was {text} [1].")
    assert number.value == pytest.approx(value) and number.percent is percent and number.scaled is scaled


@pytest.mark.parametrize(
    "text",
    ["In fiscal 2022", "as of January 28", "Item 7", "the 10-K", "Note 12", "3 segments", "[4]", "Q4", "3M"],
)
def test_labels_years_and_dates_are_not_numbers(text):
    assert numbers_in(text) == []


SUMMARY = (
    "(Dollars in millions) | 2023 | 2022\nNet sales | $3,226.8 | $2,729.4\nOperating loss | (45.1) | 12.0"
)


@pytest.mark.parametrize(
    ("claim", "how"),
    [
        ("$3,226.8 million", "quoted"),
        ("$3.2 billion", "quoted"),
        ("$45.1 million", "quoted"),  # a loss written without its parentheses
        ("$497.4 million", "computed"),  # 3,226.8 - 2,729.4
        ("18.2%", "computed"),  # (3,226.8 - 2,729.4) / 2,729.4
        ("$5,956.2 million", "computed"),  # the two years added
        ("$3,262.8 million", None),  # transposed digits
        ("$3,226.8 thousand", None),  # the wrong scale
    ],
)
def test_a_figure_is_quoted_recomputed_or_not_found_in_the_evidence(claim, how):
    evidence = EvidenceNumbers.of({1: SUMMARY}, {1: 1e6})
    [number] = numbers_in(claim)
    quoted, computed = evidence.quote(number), evidence.compute(number)
    found = "quoted" if quoted else "computed" if computed else None
    assert found == how


# --------------------------------------------------------------------------- endpoints


def test_a_breaker_opens_and_lets_one_probe_through_after_the_cooldown():
    breaker = Breaker(threshold=3, cooldown_s=30)
    breaker.fail(now=0)
    breaker.fail(now=1)
    assert breaker.allows(now=2)
    breaker.fail(now=2)
    assert not breaker.allows(now=10) and breaker.allows(now=33)
    breaker.fail(now=33)  # the probe failed: another full cool-down
    assert not breaker.allows(now=40)
    breaker.succeed()
    assert breaker.allows(now=40)


def test_a_refused_connection_opens_the_breaker_at_once():
    breaker = Breaker(threshold=3, cooldown_s=30)
    breaker.fail(now=0, fatal=True)
    assert breaker.state == "open" and not breaker.allows(now=1)
