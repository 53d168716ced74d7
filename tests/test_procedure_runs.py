"""Procedure runs: every cell asked once, against the test server and the two committed filings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from compliance_auditor.audit import chain
from compliance_auditor.procedures.cli import start_background
from compliance_auditor.procedures.execute import work_on
from compliance_auditor.procedures.library import find_procedure
from compliance_auditor.procedures.matrix import as_text, build_matrix
from compliance_auditor.procedures.runs import Scope
from compliance_auditor.procedures.scope import ScopeError, resolve, resolve_among
from tests.support.fake_llm import FakeLLM, dead_url
from tests.support.filings import AMCOR_8K, ULTA
from tests.support.runs import THREE_ITEMS, cli, new_run, procedure_model, trail_cells


def test_a_three_item_procedure_runs_from_the_cli(model_server, both_filings, procedure_file):
    started = json.loads(cli("start", str(procedure_file), "--filing", ULTA.name, "--filing", AMCOR_8K.name,
                             "--json").stdout)  # fmt: skip
    assert (started["state"], started["done"], started["total"]) == ("done", 6, 6)
    shown = json.loads(cli("show", started["run_id"], "--json").stdout)
    cells = {(c["item_id"], c["doc_sha256"][:8]): c for c in shown["cells"]}
    ulta = next(f["doc_sha256"][:8] for f in shown["run"]["filings"] if f["doc_name"] == ULTA.name)
    assert (
        cells[("net_sales", ulta)]["short"] == "3,226.8"
        and cells[("net_sales", ulta)]["status"] == "verified"
    )
    assert cells[("new_stores", ulta)]["short"] == "Yes"
    records = [r for r in chain.records() if r.get("kind") == "answer"]
    assert len(records) == 6 and {r["cell"]["run_id"] for r in records} == {started["run_id"]}
    assert {r["cell"]["procedure_sha256"] for r in records} == {find_procedure(str(procedure_file)).sha256}
    assert "3,226.8" in cli("show", started["run_id"]).stdout  # the matrix, as text


def test_a_cell_is_asked_of_its_filing_only(model_server, both_filings, procedure_file):
    store, spec = new_run(procedure_file, both_filings)
    work_on(spec.id, index=both_filings)
    amcor = next(f.doc_sha256 for f in spec.filings if f.doc_name == AMCOR_8K.name)
    cells = store.cells(spec.id)
    assert cells[("net_sales", amcor)].status == "not_found"  # an 8-K has no net sales: nothing borrowed
    for record in (r for r in chain.records() if r.get("kind") == "answer"):
        assert record["filters"]["doc_sha256"] == record["cell"]["doc_sha256"]


def test_the_matrix_has_items_as_rows_and_filings_as_columns(model_server, both_filings, procedure_file):
    store, spec = new_run(procedure_file, both_filings)
    work_on(spec.id, index=both_filings)
    matrix = build_matrix(spec, store.procedure(spec.id).procedure, store.cells(spec.id))
    assert [item.id for item, _ in matrix.rows] == ["net_sales", "new_stores", "outlook"]
    assert [f.doc_name for f in matrix.filings] == [AMCOR_8K.name, ULTA.name]  # by company
    assert matrix.counts()["verified"] >= 3
    assert "✓ 3,226.8" in as_text(matrix)


def test_a_run_killed_mid_way_resumes_without_asking_a_cell_twice(set_env, both_filings, procedure_file,
                                                                  isolated_settings):  # fmt: skip
    with FakeLLM(latency_s=0.4) as slow:
        set_env(llm_endpoint=slow.url, runs_dir=isolated_settings / "runs", run_concurrency=1)
        slow.responder = procedure_model
        store, spec = new_run(procedure_file, both_filings)
        worker = subprocess.Popen([sys.executable, "-m", "compliance_auditor.procedures", "worker", spec.id],
                                  env=os.environ.copy(), stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 120
        while len(store.cells(spec.id)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        assert 2 <= len(store.cells(spec.id)) < 6
        assert store.status(spec.id).state == "interrupted"
        final = work_on(spec.id, index=both_filings)
    asked = trail_cells(spec.id)
    assert final.state == "done" and len(store.cells(spec.id)) == 6
    assert len(asked) == 6 and max(asked.values()) == 1  # no cell lost, none asked twice


def test_an_answer_sealed_before_a_crash_is_adopted_not_asked_again(
    model_server, both_filings, procedure_file
):
    store, spec = new_run(procedure_file, both_filings)
    work_on(spec.id, index=both_filings)
    cells_file = store.folder(spec.id) / "cells.jsonl"
    lines = cells_file.read_bytes().splitlines(keepends=True)
    cells_file.write_bytes(b"".join(lines[:-1]) + lines[-1][:20])  # the last note torn, as by kill -9
    asked_before = len(model_server.requests)
    work_on(spec.id, index=both_filings)
    assert len(model_server.requests) == asked_before  # adopted from the audit trail
    assert len(store.cells(spec.id)) == 6 and max(trail_cells(spec.id).values()) == 1


def test_a_cancelled_run_stops_and_resumes_later(model_server, both_filings, procedure_file):
    store, spec = new_run(procedure_file, both_filings)
    spec_file = store.folder(spec.id) / "run.json"
    spec_file.write_text(spec_file.read_text().replace('"concurrency": 2', '"concurrency": 1'))
    status = work_on(
        spec.id, index=both_filings, on_progress=lambda s: s.done and store.request_cancel(spec.id)
    )
    assert status.state == "cancelled" and 1 <= status.done < 6
    store.clear_cancel(spec.id)
    assert work_on(spec.id, index=both_filings).state == "done"
    assert max(trail_cells(spec.id).values()) == 1


def test_with_no_model_the_run_completes_with_evidence(
    set_env, both_filings, procedure_file, isolated_settings
):
    set_env(llm_endpoint=dead_url(), llm_connect_timeout_s=0.5, runs_dir=isolated_settings / "runs")
    store, spec = new_run(procedure_file, both_filings, company="ulta")
    assert work_on(spec.id, index=both_filings).state == "done"
    cells = list(store.cells(spec.id).values())
    assert {c.status for c in cells} == {"evidence_only"}
    assert all(c.short.startswith("p. ") and "no model answered" in c.detail for c in cells)


def test_a_filing_removed_during_a_run_fails_its_cells_not_the_run(
    model_server, both_filings, procedure_file
):
    store, spec = new_run(procedure_file, both_filings)
    amcor = next(f.doc_sha256 for f in spec.filings if f.doc_name == AMCOR_8K.name)
    both_filings.delete_document(amcor)
    assert work_on(spec.id, index=both_filings).state == "done"
    gone = [c for c in store.cells(spec.id).values() if c.doc_sha256 == amcor]
    assert len(gone) == 3 and all(c.status == "error" and "removed from the index" in c.detail for c in gone)


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        (Scope(), "the scope is empty"),
        (Scope(company="Nobody Inc"), "no searchable filing matches the scope (Nobody Inc"),
        (Scope(filings=["missing.pdf"]), "'missing.pdf' matches no searchable filing"),
    ],
)
def test_a_scope_that_names_nothing_says_so(both_filings, scope, message):
    with pytest.raises(ScopeError, match=message.replace("(", r"\(")):
        resolve(both_filings, scope)


def test_a_company_scope_takes_its_filings_however_their_covers_spell_it():
    def filing(name, company, year, ticker=""):
        return {"sha256": name, "filename": name, "company": company, "ticker": ticker, "fiscal_year": year,
                "form_type": "10-K", "fiscal_period": "FY", "period_end": ""}  # fmt: skip

    documents = [filing("mgm18.pdf", "MGM RESORTS INTERNATIONAL", 2018),
                 filing("mgm22.pdf", "MGM Resorts International", 2022, "MGM"),
                 filing("jnj21.pdf", "JOHNSON JOHNSON", 2021, "JNJ"),
                 filing("jnj22.pdf", "JOHNSON & JOHNSON", 2022, "JNJ"),
                 filing("jci22.pdf", "Johnson Controls International plc", 2022, "JCI"),
                 filing("ulta22.pdf", "ULTABEAUTY", 2022, "ULTA"),
                 filing("ulta23.pdf", "Ulta Beauty, Inc.", 2023)]  # fmt: skip
    jnj = ["jnj21.pdf", "jnj22.pdf"]
    for company, names in [
        ("MGM Resorts International", ["mgm18.pdf", "mgm22.pdf"]),
        ("Johnson & Johnson", jnj),
        ("JNJ", jnj),
        ("Ulta Beauty, Inc.", ["ulta22.pdf", "ulta23.pdf"]),
    ]:  # as the browser offers it now
        assert sorted(f.doc_name for f in resolve_among(documents, Scope(company=company))) == names


def test_the_cli_reports_bad_input_plainly(model_server, both_filings, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(THREE_ITEMS.replace("id: outlook", "id: net_sales"))
    failed = cli("start", str(broken), "--company", "ulta", check=False)
    assert failed.returncode == 2 and "line 12: items[2].id: 'net_sales' is already the id" in failed.stderr
    assert "no run 'nope'" in cli("status", "nope", check=False).stderr


def test_a_background_worker_that_dies_says_why(model_server, both_filings, procedure_file):
    store, spec = new_run(procedure_file, both_filings)
    (store.folder(spec.id) / "procedure.yaml").write_text("items: [")  # its copy of the procedure broken
    start_background(spec.id)
    deadline = time.monotonic() + 60
    while store.status(spec.id).state == "queued" and time.monotonic() < deadline:
        time.sleep(0.2)
    status = store.status(spec.id)
    assert status.state == "interrupted" and "the background worker failed" in status.message
    assert "not valid YAML" in status.message and "worker.log" in status.message
