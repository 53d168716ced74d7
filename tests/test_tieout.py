"""Footing the committed earnings release's statements, and a seeded error caught where it is."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from lancedb.expr import col, lit

from compliance_auditor.index.store import AuditIndex
from compliance_auditor.parsing.blocks import Block
from compliance_auditor.parsing.pdf import Line
from compliance_auditor.parsing.statements import statement_tables
from compliance_auditor.records import FilingTieOut, StatementFigure, StatementRow, StatementTable
from compliance_auditor.tieout.eps import eps_checks
from compliance_auditor.tieout.filing import read_statements, tie_out
from compliance_auditor.tieout.footing import foot, is_total
from compliance_auditor.tieout.prior import prior_period_checks
from compliance_auditor.tieout.stored import TIEOUT_VERSION, filing_tieout
from compliance_auditor.tieout.ties import cross_ties
from tests.support.filings import ROOT, ULTA


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


# --------------------------------------------------------------------------- statements built row by row


def _block(heading: str, rows: list[list[str]], page: int = 0) -> Block:
    """A table as the layout parser hands it over: a label cell, then one cell per figure column."""
    lines = []
    for n, cells in enumerate(rows):
        spans = [(72.0, 260.0)] + [(300.0 + 90 * i, 370.0 + 90 * i) for i in range(len(cells) - 1)]
        lines.append(Line(page=page, x0=72, top=100 + 14 * n, x1=550, bottom=110 + 14 * n, segments=cells,
                          spans=spans))  # fmt: skip
    return Block(kind="table", page=page, lines=lines, heading=heading)


BALANCE_SHEET = [  # 3M's 2018 figures, in millions
    ["2018", "2017"],
    ["Property, plant and equipment", "24,873", "24,914"],
    ["Less: Accumulated depreciation", "16,135", "16,048"],
    ["Property, plant and equipment — net", "8,738", "8,866"],
    ["Goodwill", "10,051", "10,513"],
    ["Total non-current assets", "18,789", "19,379"],
    ["Retained earnings", "40,636", "39,115"],
    ["Treasury stock", "(29,626)", "(25,887)"],
    ["Total equity", "11,010", "13,228"],
]


def test_parentheses_and_less_rows_are_subtracted_and_the_arithmetic_says_so():
    (table,) = statement_tables([_block("Consolidated Balance Sheet (in millions)", BALANCE_SHEET)])
    assert table.scale == 1e6 and table.periods == ["2018", "2017"]
    checks = {c.total[0].label: c for c in foot(table)}
    assert {c.outcome for c in checks.values()} == {"ties"}
    assert (
        checks["Property, plant and equipment — net"].arithmetic[0] == "24,873 − 16,135 = 8,738; stated 8,738"
    )
    assert checks["Total equity"].arithmetic[1] == "39,115 + (25,887) = 13,228; stated 13,228"


def test_a_table_in_thousands_ties_to_one_in_millions_at_their_scales():
    income = _block(
        "Consolidated Statements of Income (in millions)",
        [
            ["2023", "2022"],
            ["Revenues", "9,000", "8,000"],
            ["Costs", "7,497", "6,900"],
            ["Net income", "1,503", "1,100"],
        ],
    )
    cash = _block("Consolidated Statements of Cash Flows (in thousands)", [["2023", "2022"],
                  ["Net income", "1,503,000", "1,100,000"], ["Depreciation", "20,000", "19,000"]],
                  page=1)  # fmt: skip
    tables = statement_tables([income, cash])
    assert [t.scale for t in tables] == [1e6, 1e3]
    (net_income,) = [c for c in cross_ties(tables) if c.kind == "tie"]
    assert net_income.outcome == "ties"
    assert net_income.arithmetic == ["net income: 1,503 million (p. 1) = 1,503,000 thousand (p. 2)"]
    restated = cash.lines[1].segments[1:] = ["1,504,000", "1,100,000"]  # a thousand dollars off: not a tie
    assert restated and cross_ties(statement_tables([income, cash]))[0].outcome == "unchecked"


def test_eps_ties_to_net_income_over_the_weighted_shares_at_the_scale_that_fits():
    rows = [["2021", "2020"], ["Net income attributable to Costco", "5,007", "4,002"],
            ["Basic", "11.30", "9.05"], ["Basic", "443,089", "442,297"]]  # fmt: skip
    (table,) = statement_tables([_block("Consolidated Statements of Income (in millions)", rows)])
    (eps,) = eps_checks([table])
    assert eps.kind == "eps" and eps.outcome == "ties" and eps.total[0].text == "11.30"
    assert eps.arithmetic[0] == "5,007 / 443,089 × 1,000 = 11.300; stated 11.30"  # shares in thousands
    rows[2] = ["Basic", "10.90", "9.05"]  # less than net income over shares: preferred dividends, say
    two_class = statement_tables([_block("Consolidated Statements of Income (in millions)", rows)])
    (unchecked,) = eps_checks(two_class)
    assert unchecked.outcome == "unchecked" and "two-class" in unchecked.reason  # never a false alarm


def test_cash_ties_with_the_restricted_cash_the_filing_reconciles():
    balance = _block(
        "Consolidated Balance Sheets", [["2018", "2019"], ["Cash and cash equivalents", "31,750", "36,092"]]
    )
    flows = [
        ["2018", "2019"],
        ["Cash, cash equivalents, and restricted cash, end of period", "32,173", "36,410"],
    ]
    reconciled = [["Cash and cash equivalents", "31,750", "36,092"],
                  ["Restricted cash included in accounts receivable, net and other", "418", "276"],
                  ["Restricted cash included in other assets", "5", "42"],
                  ["Total cash, cash equivalents, and restricted cash", "32,173", "36,410"]]  # fmt: skip
    heading = "Consolidated Statements of Cash Flows"
    unreconciled = statement_tables([balance, _block(heading, flows, page=1)])
    (cash,) = [c for c in cross_ties(unreconciled) if c.kind == "tie"]
    assert cash.outcome == "unchecked" and "restricted cash" in cash.reason
    tables = statement_tables([balance, _block(heading, flows, page=1), _block(heading, reconciled, page=2)])
    (cash,) = [c for c in cross_ties(tables) if c.kind == "tie"]
    assert cash.outcome == "ties" and "restricted cash 418 (p. 3) + 5 (p. 3)" in cash.arithmetic[0]


def test_every_error_seeded_in_a_component_is_caught_at_its_total_and_box():
    for table in read_statements(ULTA):
        for check in (c for c in foot(table) if c.outcome == "ties" and len(c.total) > 1):
            leaves = [f for f in check.components if f.column == 0 and not is_total(f.label)]
            if not leaves:
                continue  # a total of totals: a seeded subtotal is reported at its own check
            component = leaves[-1]
            at = next(i for i, r in enumerate(table.rows) if r.figures[0].box == component.box)
            seeded = f"{table.rows[at].figures[0].value + 100:,.0f}"
            (off,) = [c for c in foot(_seeded(table, at, seeded)) if c.outcome == "off"]
            assert off.total[0].label == check.total[0].label and off.column == 0, check.total[0].label
            assert component.box in [f.box for f in off.components if f.text == seeded]


# --------------------------------------------------------------------------- across filings of one company


@pytest.fixture(scope="module")
def adobe() -> tuple[FilingTieOut, FilingTieOut]:
    """Adobe's 10-Ks for fiscal 2017 and 2016, read from ../shared/financebench."""
    pdfs = ROOT.parent / "shared" / "financebench" / "pdfs"
    if not (pdfs / "ADOBE_2017_10K.pdf").is_file():
        pytest.skip("../shared/financebench is not here")
    read = [read_statements(pdfs / f"ADOBE_{year}_10K.pdf") for year in ("2017", "2016")]
    return (FilingTieOut(doc_sha256="2017", version=TIEOUT_VERSION, tables=read[0]),
            FilingTieOut(doc_sha256="2016", version=TIEOUT_VERSION, tables=read[1]))  # fmt: skip


def test_the_prior_year_column_ties_to_the_earlier_10k_and_a_restatement_is_reported(adobe):
    current, earlier = adobe
    checks = {(c.statement, c.total[0].label): c for c in prior_period_checks(current, earlier)}
    current_assets = checks[("balance sheet", "Total current assets")]
    assert current_assets.outcome == "ties" and current_assets.arithmetic[0].startswith(
        "Total current assets, 2016:"
    )
    assert checks[("income statement", "Net income")].outcome == "ties"
    # Adobe adopted ASU 2015-03 in fiscal 2017: debt issuance costs moved from other assets into debt
    assets = checks[("balance sheet", "Total assets")]
    assert assets.outcome == "revised" and assets.difference == 12_697_246 - 12_707_114
    assert assets.components[0].doc_sha256 == "2016" and assets.total[0].page != assets.components[0].page
    assert "revised or restated: 2016 Total assets is 12,697,246 (p. 57)" in assets.reason


def test_a_seeded_prior_period_difference_is_reported_where_it_is_even_across_scales(adobe):
    current, earlier = adobe
    in_millions = [t.model_copy(update={"scale": 1e6, "rows": [_in_millions(r) for r in t.rows]})
                   for t in earlier.tables]  # fmt: skip
    earlier = earlier.model_copy(update={"tables": in_millions})
    table = next(t for t in current.tables if t.statement == "income statement")
    at = next(i for i, r in enumerate(table.rows) if r.label == "Research and development")
    column = table.periods.index("2016")
    rows = list(table.rows)
    cell = rows[at].figures[column]
    figures = list(rows[at].figures)
    figures[column] = cell.model_copy(update={"text": "875,000", "value": 875_000.0})
    rows[at] = rows[at].model_copy(update={"figures": figures})
    tables = [table.model_copy(update={"rows": rows}) if t is table else t for t in current.tables]
    seeded = current.model_copy(update={"tables": tables})
    before = {c.total[0].label for c in prior_period_checks(current, earlier) if c.outcome == "revised"}
    assert "General and administrative" in before  # Adobe's own reclassification of 2016
    checks = prior_period_checks(seeded, earlier)
    revised = [c for c in checks if c.outcome == "revised" and c.total[0].label not in before]
    assert [c.total[0].label for c in revised] == ["Research and development"]
    assert revised[0].total[0].box == cell.box and revised[0].column == column
    assert "× 1,000" in revised[0].arithmetic[0]  # the earlier filing read in millions
    assert sum(c.outcome == "ties" for c in checks) > 50


def _in_millions(row: StatementRow) -> StatementRow:
    """The row as a filing in millions prints what another prints in thousands."""
    figures = [f.model_copy(update={"value": f.value / 1000, "tolerance": 0.5}) for f in row.figures]
    return row.model_copy(update={"figures": figures})
