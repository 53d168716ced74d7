"""A run's review and workpaper: sign-offs that stay with their answers, re-runs, the prior-year
check, and the XLSX and HTML exports, against the test server and the two committed filings."""

from __future__ import annotations

import json
import os

import pytest
from openpyxl import load_workbook

from compliance_auditor.audit import chain
from compliance_auditor.procedures.cells import CellResult
from compliance_auditor.procedures.execute import work_on
from compliance_auditor.procedures.matrix import as_text, build_matrix
from compliance_auditor.procedures.review import reviews, sign_off
from compliance_auditor.procedures.runs import FilingRef, RunSpec, Scope
from compliance_auditor.procedures.spec import Procedure
from compliance_auditor.records import Identity
from compliance_auditor.team.roles import NotAllowed
from tests.support.fake_llm import dead_url
from tests.support.filings import AMCOR_8K, ULTA
from tests.support.runs import cli, new_run, procedure_model, trail_cells


@pytest.fixture
def finished_run(model_server, both_filings, procedure_file):
    """A three-item run over both filings, every cell answered."""
    store, spec = new_run(procedure_file, both_filings)
    work_on(spec.id, index=both_filings)
    ulta = next(f.doc_sha256 for f in spec.filings if f.doc_name == ULTA.name)
    amcor = next(f.doc_sha256 for f in spec.filings if f.doc_name == AMCOR_8K.name)
    return store, spec, ulta, amcor


def test_a_reviewer_signs_off_one_filing_and_the_matrix_says_by_whom(finished_run):
    store, spec, ulta, amcor = finished_run
    signed = sign_off(store, spec.id, "Rita Reviewer", "approved", "tied to the release", doc_sha256=ulta)
    assert len(signed) == 3 and {s.answer_hash for s in signed} == {
        c.answer_hash for (_, sha), c in store.cells(spec.id).items() if sha == ulta
    }
    state = reviews(store, spec.id)
    assert state[("net_sales", ulta)].label == "approved by Rita Reviewer"
    assert state[("net_sales", amcor)].label == "not reviewed"
    assert sum(1 for r in chain.records() if r.get("kind") == "signoff") == 3


def test_whoever_asked_cells_again_is_a_preparer_and_may_not_sign_the_run_off(finished_run):
    store, spec, ulta, _ = finished_run
    rita = Identity(subject="rita", issuer="https://idp.example.com", name="Rita", method="oidc",
                    roles=["analyst", "reviewer"])  # fmt: skip
    sam = rita.model_copy(update={"subject": "sam", "name": "Sam", "roles": ["reviewer"]})
    store.reopen(spec.id, [("new_stores", ulta)])
    store.ask_as(spec.id, rita)  # as the Procedures tab does when Rita clicks "ask again"
    work_on(spec.id)
    [again] = [r for r in chain.records() if (r.get("cell") or {}).get("attempt") == 1]
    assert again["user"] == "Rita" and again["identity"]["subject"] == "rita"
    with pytest.raises(NotAllowed, match="may not sign off their own work"):
        sign_off(store, spec.id, rita.label, "approved", identity=rita)
    signed = sign_off(store, spec.id, sam.label, "approved", identity=sam, doc_sha256=ulta)
    recorded = [r for r in chain.records() if r["kind"] == "signoff"]
    assert len(recorded) == len(signed) == 3 and all(r["identity"]["subject"] == "sam" for r in recorded)


def test_a_re_run_that_changes_an_answer_loses_its_sign_off(finished_run, model_server):
    store, spec, ulta, _ = finished_run
    cli("signoff", spec.id, "--verdict", "approved", "--comment", "whole run")
    model_server.responder = lambda request: (
        "Yes, and more stores are planned [1]."
        if "open new stores" in str(request)
        else procedure_model(request)
    )
    rerun = json.loads(cli("rerun", spec.id, "--all", "--item", "new_stores", "--json").stdout)
    assert rerun["state"] == "done" and rerun["done"] == 6
    state = reviews(store, spec.id)
    assert "lapsed: the answer changed on a re-run" in state[("new_stores", ulta)].label
    assert state[("net_sales", ulta)].signoff is not None  # cells not re-run keep theirs
    assert trail_cells(spec.id)[("new_stores", ulta)] == 2  # the old answer stays in the trail
    assert store.cells(spec.id)[("new_stores", ulta)].attempt == 1


def test_evidence_only_cells_are_filled_in_when_a_model_answers(
    set_env, model_server, both_filings, procedure_file
):
    model_url = model_server.url
    set_env(llm_endpoint=dead_url(), llm_connect_timeout_s=0.5)
    store, spec = new_run(procedure_file, both_filings, company="ulta")
    work_on(spec.id, index=both_filings)
    assert {c.status for c in store.cells(spec.id).values()} == {"evidence_only"}
    set_env(llm_endpoint=model_url)
    cli("rerun", spec.id)  # by default: the cells no model answered
    cells = store.cells(spec.id)
    assert cells[("net_sales", spec.filings[0].doc_sha256)].short == "3,226.8"
    assert "evidence_only" not in {c.status for c in cells.values()}


def test_a_busy_run_cannot_be_re_run_under_its_worker(finished_run):
    store, spec, _, _ = finished_run
    held = store.lock(spec.id)
    assert held is not None
    try:
        failed = cli("rerun", spec.id, "--all", check=False)
    finally:
        os.close(held)
    assert failed.returncode == 2 and "is being worked on" in failed.stderr


def test_the_net_sales_cell_notes_what_its_row_reports_for_the_year_before(finished_run):
    store, spec, ulta, _ = finished_run
    cell = store.cells(spec.id)[("net_sales", ulta)]
    assert cell.value == pytest.approx(3226.773) and cell.tolerance == pytest.approx(0.0005)
    assert cell.prior_value == pytest.approx(PRIOR_Q4_NET_SALES) and cell.prior_where.startswith("p. ")


PRIOR_Q4_NET_SALES = 2729.388  # Ulta's Q4 fiscal 2021 net sales, beside fiscal 2022's in the release


def _filing(sha: str, year: int) -> FilingRef:
    return FilingRef(doc_sha256=sha, doc_name=f"acme-{year}.pdf", company="Acme", form_type="10-K",
                     fiscal_year=year, fiscal_period="FY")  # fmt: skip


def test_a_figure_the_next_year_reports_differently_is_flagged():
    procedure = Procedure.model_validate({"name": "Figures", "version": "1", "items": [
        {"id": "revenue", "question": "Total revenue?", "answer": "amount", "unit": "USD millions",
         "period": "fiscal year"}]})  # fmt: skip
    filings = [_filing("a" * 64, 2021), _filing("b" * 64, 2022)]
    spec = RunSpec(id="r", procedure_key="figures", procedure_name="Figures", procedure_version="1",
                   procedure_sha256="0" * 64, scope=Scope(company="Acme"), filings=filings,
                   created_at="")  # fmt: skip

    def cells(prior: float) -> dict:
        return {
            ("revenue", "a" * 64): CellResult(item_id="revenue", doc_sha256="a" * 64, status="verified",
                                              short="1,000.0", value=1000.0, tolerance=0.05),
            ("revenue", "b" * 64): CellResult(item_id="revenue", doc_sha256="b" * 64, status="verified",
                                              short="1,100.0", value=1100.0, tolerance=0.05,
                                              prior_value=prior, prior_tolerance=0.05, prior_where="p. 41"),
        }  # fmt: skip

    matrix = build_matrix(spec, procedure, cells(prior=980.0))
    restated = matrix.rows[0][1]
    assert restated[0].disagreement == "Acme 10-K FY2022 reports 980.0 for this year (p. 41)"
    assert restated[0].text.endswith("⚠") and restated[1].change == "+10.0%"
    assert [(f.fiscal_year, change) for f, change in matrix.columns()] == [
        (2021, False),
        (2022, False),
        (2022, True),
    ]
    assert "Δ y/y" in as_text(matrix) and "+10.0%" in as_text(matrix)
    agreed = build_matrix(spec, procedure, cells(prior=1000.04)).rows[0][1]
    assert agreed[0].disagreement == ""  # within rounding


def test_the_workbook_holds_the_matrix_every_citation_and_the_run(finished_run, tmp_path):
    store, spec, ulta, _ = finished_run
    sign_off(store, spec.id, "Rita Reviewer", "approved", item_id="net_sales", doc_sha256=ulta)
    xlsx, page = tmp_path / "run.xlsx", tmp_path / "run.html"
    cli("export", spec.id, "--xlsx", str(xlsx), "--html", str(page))
    book = load_workbook(xlsx)
    assert book.sheetnames == ["Matrix", "Cells", "Citations", "Run"]
    matrix = book["Matrix"]
    header = [c.value for c in matrix[1]]
    ulta_column = header.index(next(f.label for f in spec.filings if f.doc_sha256 == ulta)) + 1
    net_sales = matrix.cell(row=2, column=ulta_column)
    assert net_sales.value == pytest.approx(3226.773) and net_sales.style == "verified"
    assert "approved by Rita Reviewer" in net_sales.comment.text
    citations = list(book["Citations"].iter_rows(min_row=2, values_only=True))
    assert citations and all(isinstance(row[2], int) and row[4] for row in citations)  # page and quote
    facts = dict(book["Run"].iter_rows(min_row=2, max_col=2, values_only=True))
    assert facts["Procedure file SHA-256"] == spec.procedure_sha256 and facts["Run"] == spec.id
    assert "Rita Reviewer" in str(list(book["Run"].values))
    html = page.read_text()
    assert "<script" not in html and html.count("<img") >= 3 and "3,226.8" in html
    assert all(c.answer_hash in html for c in store.cells(spec.id).values())


def test_text_from_a_filing_or_model_never_becomes_a_spreadsheet_formula(
    model_server, both_filings, procedure_file, tmp_path
):
    model_server.responder = lambda request: (
        '=HYPERLINK("http://evil.example","click") [1]'
        if "expect" in str(request)
        else procedure_model(request)
    )
    _, spec = new_run(procedure_file, both_filings, company="ulta")
    work_on(spec.id, index=both_filings)
    xlsx = tmp_path / "run.xlsx"
    cli("export", spec.id, "--xlsx", str(xlsx))
    cells = load_workbook(xlsx)["Cells"]
    shorts = [row[4] for row in cells.iter_rows(min_row=2)]
    hostile = next(c for c in shorts if str(c.value).startswith("=HYPERLINK"))
    assert hostile.data_type == "s"
