"""Footing the committed earnings release's statements, and a seeded error caught where it is."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from lancedb.expr import col, lit

from compliance_auditor.index.store import AuditIndex
from compliance_auditor.records import StatementFigure, StatementTable
from compliance_auditor.tieout.filing import read_statements, tie_out
from compliance_auditor.tieout.footing import foot
from compliance_auditor.tieout.stored import TIEOUT_VERSION, filing_tieout
from compliance_auditor.tieout.ties import cross_ties
from tests.support.filings import ULTA


def test_every_total_of_the_release_ties_and_none_is_a_false_alarm():
    checks = tie_out(ULTA)
    assert len(checks) >= 17 and not [c for c in checks if c.outcome == "off"]
    tied = {(c.statement, c.total[0].label) for c in checks if c.outcome == "ties"}
    assert ("income statement", "Gross profit") in tied and ("balance sheet", "Total assets") in tied
    assert ("cash flow statement", "Net cash provided by operating activities") in tied
    gross = next(c for c in checks if c.total[0].label == "Gross profit")
    assert gross.arithmetic[0] == "3,226,773 − 2,014,270 = 1,212,503; stated 1,212,503"


def test_a_total_with_no_components_on_the_page_is_not_called_tied():
    equity = next(c for c in tie_out(ULTA) if c.total[0].label.startswith("Total stockholders"))
    assert equity.outcome == "unchecked" and "no run of the rows" in equity.reason


def test_a_seeded_error_is_reported_at_its_total_with_the_rows_involved():
    table = next(t for t in read_statements(ULTA) if t.statement == "income statement")
    at = next(i for i, r in enumerate(table.rows) if r.label == "Cost of sales")
    checks = foot(_seeded(table, at, "2,014,370"))
    off = [c for c in checks if c.outcome == "off"]
    assert len(off) == 1 and off[0].total[0].label == "Gross profit"
    assert off[0].column == 0 and off[0].difference == 100  # stated minus summed
    assert "off by 100" in off[0].reason
    cost = next(f for f in off[0].components if f.label == "Cost of sales" and f.column == 0)
    assert cost.text == "2,014,370" and cost.page == table.rows[at].page
    assert cost.box == table.rows[at].figures[0].box  # the cell, inside its row
    row_box = table.rows[at].box
    assert row_box[0] < cost.box[0] < cost.box[2] <= row_box[2] + 0.5


def test_the_cli_prints_the_checks_as_json():
    done = subprocess.run([sys.executable, "-m", "compliance_auditor.tieout", str(ULTA), "--json"],
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    checks = json.loads(done.stdout)
    assert {c["outcome"] for c in checks} <= {"ties", "unchecked"} and checks[0]["doc_sha256"]


def test_the_statements_tie_to_each_other():
    ties = [c for c in tie_out(ULTA) if c.kind == "tie"]
    assert len(ties) == 3 and {c.outcome for c in ties} == {"ties"}
    assert "net income: 1,242,408 (p. 6) = 1,242,408 (p. 8)" in ties[0].arithmetic[0]  # the year's, not Q4's


def test_a_balance_sheet_that_does_not_balance_is_off():
    table = next(t for t in read_statements(ULTA) if t.statement == "balance sheet")
    at = next(i for i, r in enumerate(table.rows) if r.label == "Total assets")
    (balance,) = cross_ties([_seeded(table, at, "5,370,511")])
    assert balance.outcome == "off" and balance.difference == 100 and balance.column == 0


def test_ingestion_stores_the_tieout_with_the_index_version(ulta_index):
    ulta = next(d for d in ulta_index.list_documents() if d["filename"] == ULTA.name)
    stored = ulta_index.tieout(ulta["sha256"])
    assert stored.version == TIEOUT_VERSION and stored.index_version == ulta["table_version"]
    assert {t.statement for t in stored.tables} == {
        "income statement",
        "balance sheet",
        "cash flow statement",
    }
    assert stored.checks and not [c for c in stored.checks if c.outcome == "off"]
    assert filing_tieout(ulta_index, ulta["sha256"]) == stored  # current: read back, not re-run


def test_a_filing_indexed_before_the_tieout_gets_one_on_demand_and_loses_it_when_deleted(ulta_only, tmp_path):
    shutil.copytree(ulta_only, tmp_path / "db")
    index = AuditIndex(str(tmp_path / "db"))
    sha = index.list_documents()[0]["sha256"]
    index.tieouts.delete(col("doc_sha256") == lit(sha))  # as if indexed by an older version
    assert index.tieout(sha) is None
    tieout = filing_tieout(index, sha)
    assert index.tieout(sha) == tieout and tieout.checks
    index.delete_document(sha)
    assert index.tieout(sha) is None


def _seeded(table: StatementTable, row: int, figure: str) -> StatementTable:
    """The table with its first column's figure at `row` printed as `figure` instead."""
    rows = list(table.rows)
    cell = rows[row].figures[0]
    seeded = StatementFigure(text=figure, value=float(figure.replace(",", "")), tolerance=0.5, box=cell.box)
    rows[row] = rows[row].model_copy(update={"figures": [seeded, *rows[row].figures[1:]]})
    return table.model_copy(update={"rows": rows})
