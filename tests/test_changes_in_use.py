"""Disclosure changes in use: asked what changed, the agent answers from the change report of
the company's two 10-Ks, citing both filings, rather than from a search; the Changes tab shows
the report, added and removed units first, each unit's pages side by side."""

from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from compliance_auditor.agent.changes import asked_items
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.ingestion import ingest_paths
from compliance_auditor.llm.breakers import reset_breakers
from tests.support.fake_llm import dead_url
from tests.support.filings import ROOT
from tests.support.scripted import model, passages, run
from tests.support.tenk import ten_k

QUESTION = "Which risk factors did Acme Widgets add in 2017?"


@pytest.fixture(scope="module")
def two_years(embedder, tmp_path_factory):
    """An index holding Acme's 10-Ks for 2016 and 2017: 2017 dropped the supplier risk, added
    the cyber one and reworded the tax one."""
    root = tmp_path_factory.mktemp("two-years")
    filings = [ten_k(root / "acme-2016.pdf", ["cold", "supplier", "tax"], year=2016),
               ten_k(root / "acme-2017.pdf", ["cold", "tax reworded", "cyber"], year=2017)]  # fmt: skip
    index = AuditIndex(str(root / "db"), embedder=embedder)
    assert ingest_paths(filings, index, show_progress=False).added == 2
    return index


def answer_citing_each_passage(request) -> str:
    """What a careful model writes: one sentence per passage it was given, each cited."""
    return " ".join(f"{text.split(':', 1)[0]}: see [{n}]." for n, text in passages(request).items())


@pytest.mark.parametrize(
    "question, items",
    [
        (QUESTION, ["1A"]),
        ("What changed in the risk factors since last year?", ["1A"]),
        ("Were any legal proceedings removed or revised?", ["3"]),
        ("What were net sales in 2017?", []),
        ("Summarise the risk factors.", []),
    ],
)
def test_questions_about_changes_in_an_item_are_told_apart(question, items):
    assert asked_items(question) == items


def test_which_risk_factors_were_added_is_answered_from_the_change_report(server, two_years):
    server.responder = model(lambda request: "{}", answer_citing_each_passage)
    result, events = run(QUESTION, two_years)
    assert result.mode == "answered" and not result.searches  # no search was needed
    assert "change report" in result.reflections[0].reason
    assert "1 added, 1 removed, 1 changed" in result.reflections[0].reason
    first = result.evidence[0]
    assert first.text.startswith("Added in fiscal 2017") and "cyber attack" in first.text
    assert first.doc_name == "acme-2017.pdf" and first.bbox  # its place in the 2017 filing
    cited = {c.doc_name for c in result.citations}
    assert cited == {"acme-2016.pdf", "acme-2017.pdf"}  # the dropped risk is cited in 2016's
    assert any("Comparing acme-2016.pdf with acme-2017.pdf" in e.text for e in events)
    assert len(server.requests) == 1  # the answer only: the report needs no grading


def test_with_no_model_the_changes_are_the_evidence(set_env, two_years):
    set_env(llm_endpoint=dead_url(), llm_connect_timeout_s=1)
    reset_breakers()
    result, _ = run(QUESTION, two_years)
    assert result.mode == "evidence_only"
    assert "Added in fiscal 2017" in result.answer and "cyber attack" in result.answer


def test_a_company_with_one_10k_is_searched_as_usual(server, ulta_index):
    result, _ = run("Which risk factors did Ulta Beauty add in 2022?", ulta_index)
    assert result.searches  # nothing to compare: the search ran


@pytest.fixture
def app_with_two_years(two_years, isolated_settings):
    """The settings' own database holding Acme's two 10-Ks (a fresh copy)."""
    shutil.copytree(two_years.uri, isolated_settings / "db")


def open_changes() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception, at.exception
    return at


def test_the_changes_tab_lists_added_and_removed_units_first_with_their_pages(app_with_two_years):
    at = open_changes()
    assert any("1 added, 1 removed, 1 changed" in m.value for m in at.markdown)
    units = at.selectbox(key=next(s.key for s in at.selectbox if s.key.startswith("changes-unit-")))
    assert units.options[0].startswith("＋ added") and "cyber attack" in units.options[0]
    assert units.options[1].startswith("－ removed") and "supplier" in units.options[1]
    captions = [c.value for c in at.caption]
    assert "Earlier: not in this filing" in captions
    assert any(c.startswith("Later: acme-2017.pdf") for c in captions) and at.image


def test_a_reworded_unit_shows_its_changed_words(app_with_two_years):
    at = open_changes()
    units = at.selectbox(key=next(s.key for s in at.selectbox if s.key.startswith("changes-unit-")))
    units.select_index(next(i for i, o in enumerate(units.options) if o.startswith("≠ changed"))).run()
    marked = at.get("html")[0].proto.body
    assert "<del" in marked and "twelve" in marked and "<ins" in marked and "fourteen" in marked
    assert len(at.image) == 2  # the earlier and the later page, side by side
