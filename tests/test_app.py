"""The browser workbench, driven like a user with Streamlit's AppTest.

The app runs in-process against a real index and the real agent; the model behind it is
the OpenAI-protocol test server.
"""

from __future__ import annotations

import getpass
import shutil
import time
import urllib.request
from pathlib import Path

from streamlit.testing.v1 import AppTest

from compliance_auditor.audit import chain, chain_check
from compliance_auditor.audit.signoff import signoff_state
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.llm.breakers import reset_breakers
from tests.support.fake_llm import dead_url, free_port
from tests.support.filings import ROOT, ULTA
from tests.support.scripted import NET_SALES, QUESTION, grader_keeping, model, number_of

APP = str(ROOT / "app.py")


def start() -> AppTest:
    return AppTest.from_file(APP, default_timeout=120).run()


def ask(at: AppTest, question: str = QUESTION) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def wait_for_documents(count: int, timeout: float = 120) -> list[dict]:
    index = AuditIndex()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        docs = index.list_documents()
        if len(docs) >= count:
            return docs
        time.sleep(0.5)
    raise AssertionError("the background ingestion did not finish")


def ask_tab(at: AppTest):
    """The Ask tab's part of the page (the other tabs draw pages of their own)."""
    return next(tab for tab in at.tabs if tab.label == "Ask")


def texts(at: AppTest) -> str:
    elements = [*at.subheader, *at.markdown, *at.caption, *at.warning, *at.error, *at.info, *at.success]
    return "\n".join(e.value for e in elements)


# --------------------------------------------------------------------------- first start


def test_an_empty_index_offers_the_sample_filing_in_one_click(server):
    at = start()
    assert not at.exception
    assert any("index is empty" in info.value for info in at.info)
    next(b for b in at.button if "sample filing" in b.label).click().run()
    docs = wait_for_documents(1)
    assert docs[0]["filename"] == ULTA.name and docs[0]["status"] == "ok"


def test_the_sidebar_shows_endpoint_health_and_the_index(server, ulta):
    at = start()
    port = server.url.split(":")[-1].split("/")[0]
    assert any(port in s.value and "answers in" in s.value for s in at.sidebar.success)
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "1 filings" in captions and "all-MiniLM-L6-v2" in captions and "version" in captions


def test_a_company_whose_covers_spell_its_name_two_ways_is_one_scope(server, ulta_index, isolated_settings):
    shutil.copytree(ulta_index.uri, isolated_settings / "db")
    index = AuditIndex()
    amcor = next(d for d in index.list_documents() if d["company"] == "AMCOR PLC")
    index.update_metadata(amcor["sha256"], company="UltaBeauty, Inc.")  # as a second cover might read
    at = start()
    company = next(m for m in at.sidebar.multiselect if m.label == "Company")
    assert company.options == ["UltaBeauty, Inc."]  # one entry, named as its latest filing says
    company.select("UltaBeauty, Inc.").run()
    ask(at)
    [answer] = [r for r in chain.records() if r["kind"] == "answer"]
    assert answer["filters"]["company"] == ["ULTABEAUTY", "UltaBeauty, Inc."]


def test_the_app_serves_prometheus_metrics_when_a_port_is_set(server, set_env):
    port = free_port()
    set_env(metrics_port=port)
    at = start()
    assert any(f"127.0.0.1\\:{port}/metrics" in c.value for c in at.sidebar.caption)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        scraped = response.read().decode()
    assert f'auditor_endpoint_up{{endpoint="{server.url}"}} 1.0' in scraped  # the sidebar's probe
    assert 'auditor_questions_total{outcome="answered"}' in scraped


# --------------------------------------------------------------------------- asking


def test_a_question_gets_a_cited_verified_answer(server, ulta):
    at = ask(start())
    shown = texts(at)
    assert "Net sales in the fourth quarter of fiscal 2022 were" in shown
    assert "Verified:" in shown and "answered · 2 model calls" in shown
    assert at.pills[0].label == "Sources" and at.pills[0].options
    assert ULTA.name.replace("_", "\\_") in shown  # the first citation opens beside the answer
    assert len(ask_tab(at).get("image")) == 1


def test_opening_a_citation_shows_its_page_and_quote(server, ulta):
    at = ask(start())
    n = int(at.pills[0].options[0].split("]")[0].strip("["))
    at.pills[0].set_value(n).run()
    assert not at.exception
    page_caption = next(c.value for c in at.caption if "page " in c.value and " of " in c.value)
    assert "earnings release" in page_caption and "sha256" in page_caption
    assert any(NET_SALES in t.value for t in at.text) and len(ask_tab(at).get("image")) == 1
    assert at.session_state.view["n"] == n


def test_stepping_to_the_next_page(server, ulta):
    at = ask(start())
    page = at.session_state.view["page"]
    next(b for b in at.button if "Next page" in b.label).click().run()
    assert at.session_state.view["page"] == page + 1 and len(ask_tab(at).get("image")) == 1


def test_with_no_model_the_app_gives_evidence_only(set_env, ulta):
    set_env(llm_endpoint=dead_url(), llm_connect_timeout_s=1)
    reset_breakers()
    at = start()
    assert any("evidence-only" in w.value for w in at.sidebar.warning)
    at = ask(at)
    assert any("Evidence-only mode" in w.value for w in at.warning)
    assert at.pills[0].options  # the ranked passages can still be opened


def test_model_text_is_shown_literally_never_as_markup(server, ulta):
    server.responder = model(
        grader_keeping(NET_SALES),
        lambda r: (
            f'Sales ![x](http://203.0.113.9/p.png) <img src="x"> $1 and $2 [{number_of(r, NET_SALES)}].'
        ),
    )
    at = ask(start())
    answer = next(m.value for m in at.markdown if "Sales" in m.value)
    assert "\\!\\[x\\]" in answer and "<img" not in answer and "\\$1" in answer


COMPARABLE = "Comparable Sales Increased 15.6%"


def test_the_answer_comes_first_with_its_problems_marked_where_they_are(server, ulta):
    server.responder = model(
        grader_keeping(NET_SALES, COMPARABLE),
        lambda r: f"Net sales increased 15.6% in the fourth quarter [{number_of(r, COMPARABLE)}].",
    )
    at = ask(start())
    answer = next(m.value for m in at.markdown if "Net sales increased" in m.value)
    assert ":orange-background[15.6%]" in answer and "found as comparable sales, not as revenue" in answer
    assert any("Not fully verified: 1 problem(s), marked in the answer" in c.value for c in at.caption)
    assert not at.warning  # no banners: the problem is on the number itself
    assert any("1 problem(s) found by the check" in e.label for e in at.expander)


def test_a_figure_cited_to_the_wrong_passage_is_marked_with_the_passage_that_holds_it(server, ulta):
    server.responder = model(
        grader_keeping(NET_SALES, COMPARABLE),
        lambda r: f"Comparable sales increased 15.6% in the fourth quarter [{number_of(r, NET_SALES)}].",
    )
    at = ask(start())
    answer = next(m.value for m in at.markdown if "Comparable sales increased" in m.value)
    assert ":orange-background[15.6%]" in answer and "not in the cited evidence; stands in" in answer
    assert not at.session_state.history[0]["result"].verification.ok  # a path to the source, not support


def test_figures_stated_without_a_citation_get_one_from_the_verifier(server, ulta):
    server.responder = model(grader_keeping(NET_SALES), lambda r: "Net sales were $3,226.8 million.")
    at = ask(start())
    assert any("1 citation(s) added by the verifier" in c.value for c in at.caption)
    assert any("added by the verifier" in m.value for m in at.markdown)
    assert any("⁺" in option for option in at.pills[0].options or [])  # the source opens like any other
    result = at.session_state.history[0]["result"]
    assert result.verification.ok and [c.added for c in result.citations] == [True]


# --------------------------------------------------------------------------- the audit trail from the UI


def test_an_answer_can_be_signed_off_and_rated(server, ulta):
    at = ask(start())
    at.text_input(key="comment-0").set_value("Matches the 8-K").run()
    at.selectbox(key="verdict-0").set_value("approved").run()
    at.button(key="signoff-0").click().run()
    assert not at.exception
    answer_hash = at.session_state.history[0]["result"].hash
    signed = signoff_state(answer_hash)
    assert signed is not None and (signed.verdict, signed.comment) == ("approved", "Matches the 8-K")
    assert any("Sign-off: approved" in c.value for c in at.caption)
    at.feedback(key="rating-0").set_value(1).run()
    at.button(key="send-0").click().run()
    kinds = [r["kind"] for r in chain.records()]
    assert kinds == ["answer", "signoff", "feedback"] and chain_check.verify_chain().ok


# --------------------------------------------------------------------------- the library


def filings_uploader(at: AppTest):
    return next(u for u in at.file_uploader if u.label == "Add filings (PDF)")


def test_uploaded_filings_are_ingested_in_the_background_under_generated_names(server, isolated_settings):
    at = start()
    filings_uploader(at).set_value(("Q4 report; DROP TABLE.pdf", ULTA.read_bytes(), "application/pdf")).run()
    next(b for b in at.button if b.label == "Ingest 1 file(s)").click().run()
    assert not at.exception
    [doc] = wait_for_documents(1)
    assert doc["filename"] == "Q4 report; DROP TABLE.pdf" and doc["status"] == "ok"
    stored = Path(doc["path"])
    assert stored.parent == isolated_settings / "data" / "uploads" and len(stored.stem) == 32
    at.run()
    library = next(tab for tab in at.tabs if tab.label == "Library")
    assert library.dataframe[0].value["file"].tolist() == ["Q4 report; DROP TABLE.pdf"]
    assert library.dataframe[0].value["ingested by"].tolist() == [getpass.getuser()]


def test_a_bad_upload_fails_alone_with_its_reason(server, ulta):
    at = start()
    filings_uploader(at).set_value(("notes.pdf", b"this is not a PDF", "application/pdf")).run()
    next(b for b in at.button if b.label == "Ingest 1 file(s)").click().run()
    docs = wait_for_documents(2)
    failed = next(d for d in docs if d["filename"] == "notes.pdf")
    assert failed["status"] == "failed" and "not a PDF" in failed["error"]
    assert {d["status"] for d in docs if d["filename"] == ULTA.name} == {"ok"}


def test_metadata_can_be_corrected(server, ulta):
    at = start()
    form_inputs = {t.label: t for t in at.text_input}
    form_inputs["Company"].set_value("Ulta Beauty, Inc.")
    form_inputs["Ticker"].set_value("ULTA")
    next(b for b in at.button if b.label == "Save metadata").click().run()
    assert not at.exception
    [doc] = AuditIndex().list_documents()
    assert doc["company"] == "Ulta Beauty, Inc." and doc["ticker"] == "ULTA"


def test_a_filing_can_be_deleted(server, ulta):
    at = start()
    at.checkbox(key="confirm-delete").check().run()
    next(b for b in at.button if b.label == "Delete filing").click().run()
    assert not at.exception
    assert AuditIndex().list_documents() == []
    assert any("index is empty" in info.value for info in at.info)
