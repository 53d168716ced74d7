"""Footing the committed earnings release's statements, and a seeded error caught where it is."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

from compliance_auditor.tieout.filing import statement_tables, tie_out
from compliance_auditor.tieout.footing import foot
from compliance_auditor.tieout.ties import cross_ties
from compliance_auditor.verification.numbers import numbers_in
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
    statement, heading, rows = next(t for t in statement_tables(ULTA) if t[0] == "income statement")
    at = next(i for i, r in enumerate(rows) if r.label == "Cost of sales")
    seeded = numbers_in("2,014,370", skip_labels=False)[0]
    rows[at] = dataclasses.replace(rows[at], figures=[seeded, *rows[at].figures[1:]])
    checks = foot(rows, statement, heading)
    off = [c for c in checks if c.outcome == "off"]
    assert len(off) == 1 and off[0].total[0].label == "Gross profit"
    assert off[0].column == 0 and off[0].difference == 100  # stated minus summed
    assert "off by 100" in off[0].reason
    cost = next(f for f in off[0].components if f.label == "Cost of sales" and f.column == 0)
    assert cost.text == "2,014,370" and cost.page == rows[at].page and len(cost.box) == 4


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
    statement, heading, rows = next(t for t in statement_tables(ULTA) if t[0] == "balance sheet")
    at = next(i for i, r in enumerate(rows) if r.label == "Total assets")
    rows[at] = dataclasses.replace(rows[at], figures=[numbers_in("5,370,511")[0], *rows[at].figures[1:]])
    (balance,) = cross_ties([(statement, heading, rows)])
    assert balance.outcome == "off" and balance.difference == 100 and balance.column == 0
