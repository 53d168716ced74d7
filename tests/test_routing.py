"""Routing: a question that names a calculated metric has each of its inputs searched, the pages
are what is ranked, and the result says which route the search took."""

from __future__ import annotations

import pytest

from compliance_auditor.questions import metric_inputs, statements_named
from tests.support.filings import ULTA
from tests.support.scripted import run


@pytest.mark.parametrize(
    "question, statements, inputs",
    [
        ("Using the cash flow statement, what was cash from operations?", ["cash flow statement"], []),
        (
            "What was capital expenditure in FY2022?",
            ["cash flow statement"],
            ["purchases of property and equipment"],
        ),
        ("What is the inventory turnover ratio?", ["balance sheet"], ["cost of sales", "inventories"]),
        ("Which geographies does the company operate in?", [], []),
    ],
)
def test_a_question_names_statements_and_the_inputs_of_its_metric(question, statements, inputs):
    assert statements_named(question) == statements and metric_inputs(question) == inputs


def test_ebitda_finds_operating_income_and_depreciation_on_their_own_statements(ulta_index):
    result = ulta_index.search("What was Ulta Beauty's EBITDA for fiscal 2022?", k=10,
                               filters={"doc_name": ULTA.name})  # fmt: skip
    assert "metric inputs: operating income; depreciation and amortization" in result.route
    texts = [h.text for h in result.hits]
    assert any("Operating income" in t for t in texts)  # the income statement
    assert any("Depreciation and amortization" in t for t in texts)  # the cash flows


def test_pages_are_ranked_and_each_page_comes_once(ulta_index):
    result = ulta_index.search("net sales", k=10, filters={"doc_name": ULTA.name})
    pages = [(h.doc_sha256, h.page) for h in result.hits]
    assert len(pages) == len(set(pages))


def test_the_agent_says_which_route_its_search_took(server, ulta_index):
    result, events = run("What was Ulta Beauty's EBITDA for fiscal 2022?", ulta_index)
    assert any(e.text.startswith("Also searched: metric inputs: operating income") for e in events)
    assert result.searches[0].route == ["metric inputs: operating income; depreciation and amortization"]
