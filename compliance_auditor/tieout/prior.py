"""Across filings of one company: a prior-period column equals the earlier filing's current one.

A 10-K prints last year's figures beside this year's; last year's 10-K printed them as its own.
Tables are paired by statement kind and the rows they share (labels normalised: case, spaces,
punctuation and footnote marks), and a row's figure under a year is compared with the earlier
filing's figure under the same year, its latest, each at its table's scale (one filing in
thousands, the other in millions). A difference is not an error: it is reported as "revised"
(revised or restated), with both places.

A scale misread in either filing would make every row differ by a thousand: when the figures of
a pair of tables agree at another power of a thousand far more often than at the stated scales,
they are compared at that factor, and the arithmetic says so.
"""

from __future__ import annotations

import re
from typing import Any

from compliance_auditor.index.store import AuditIndex
from compliance_auditor.questions import by_company
from compliance_auditor.records import FilingTieOut, StatementRow, StatementTable, TieCheck
from compliance_auditor.tieout.stored import filing_tieout

_NOISE = re.compile(r"\(\w\)|\(\d+\)|\d+$|[^a-z0-9 ]")
_MIN_SHARED_ROWS = 3
"""Fewer rows in common and two tables are not taken for the same statement."""
_FACTORS = (1.0, 1e3, 1e-3, 1e6, 1e-6)


def normalised(label: str) -> str:
    """'Total current assets (1)' and 'TOTAL CURRENT ASSETS' are the same row."""
    return " ".join(_NOISE.sub(" ", label.lower().replace("’", "'")).split())


def prior_period_checks(current: FilingTieOut, earlier: FilingTieOut) -> list[TieCheck]:
    """Each row the two filings share under the earlier filing's latest year: ties, or revised."""
    checks = []
    for table in current.tables:
        paired = _pair(table, earlier.tables)
        if paired is not None:
            other, column, other_column, factor = paired
            for row, other_row in _shared_rows(table, other):
                if column < len(row.figures) and other_column < len(other_row.figures):
                    mine, theirs = (table, row, column), (other, other_row, other_column)
                    checks.append(_check(mine, theirs, factor, current.doc_sha256, earlier.doc_sha256))
    return checks


def earlier_filing(index: AuditIndex, sha256: str) -> dict[str, Any] | None:
    """The documents row of the same company's latest filing of the same form before this one."""
    doc = index.get_document(sha256)
    if doc is None or not doc["fiscal_year"]:
        return None
    of_form = [d for d in index.list_documents(status=("ok", "needs_ocr"))
               if d["form_type"] == doc["form_type"] and d["fiscal_year"]]  # fmt: skip
    company = next((g for g in by_company(of_form).values() if any(d["sha256"] == sha256 for d in g)), [])
    earlier = [d for d in company if d["fiscal_year"] < doc["fiscal_year"]]
    return earlier[-1] if earlier else None


def indexed_prior_period_checks(index: AuditIndex, sha256: str) -> list[TieCheck]:
    """The prior-period checks of an indexed filing against the company's earlier indexed
    filing, from their stored tie-outs (computed when missing); none when there is no earlier."""
    earlier = earlier_filing(index, sha256)
    if earlier is None:
        return []
    return prior_period_checks(filing_tieout(index, sha256), filing_tieout(index, earlier["sha256"]))


Paired = tuple[StatementTable, int, int, float]
"""The earlier filing's table, this table's column and the earlier's under the same year, and the
factor from the earlier's figures (at its scale) to this one's (at its)."""


def _pair(table: StatementTable, earlier: list[StatementTable]) -> Paired | None:
    """The earlier table of the same statement, whose latest year this one prints, on which most
    shared rows agree, then sharing most rows: a release's quarter and year tables share every
    label, and only the figures tell which is which."""
    best: tuple[tuple[int, int], Paired] | None = None
    for other in (t for t in earlier if t.statement == table.statement and t.periods and table.periods):
        latest = max(range(len(other.periods)), key=lambda c: other.periods[c])
        if other.periods[latest] not in table.periods:
            continue
        column = table.periods.index(other.periods[latest])
        shared = _shared_rows(table, other)
        if len(shared) < _MIN_SHARED_ROWS:
            continue
        factor = _factor(table, other, shared, column, latest)
        score = (sum(_agrees(r, column, o, latest, factor) for r, o in shared), len(shared))
        if best is None or score > best[0]:
            best = (score, (other, column, latest, factor))
    return best[1] if best else None


def _shared_rows(table: StatementTable, other: StatementTable) -> list[tuple[StatementRow, StatementRow]]:
    """Rows whose normalised label is printed once in each table."""
    mine, theirs = _unique(table), _unique(other)
    return [(row, theirs[label]) for label, row in mine.items() if label in theirs]


def _unique(table: StatementTable) -> dict[str, StatementRow]:
    seen: dict[str, list[StatementRow]] = {}
    for row in table.rows:
        if row.label and not row.partial:
            seen.setdefault(normalised(row.label), []).append(row)
    return {label: rows[0] for label, rows in seen.items() if len(rows) == 1 and label}


def _factor(table: StatementTable, other: StatementTable, shared: list[tuple[StatementRow, StatementRow]],
            column: int, other_column: int) -> float:  # fmt: skip
    """The stated scales' ratio, unless another power of a thousand makes far more rows agree."""
    stated = other.scale / table.scale
    agree = {f: sum(_agrees(r, column, o, other_column, stated * f) for r, o in shared) for f in _FACTORS}
    best = max(agree, key=lambda f: agree[f])
    return stated * best if agree[best] > 2 * agree[1.0] + 1 else stated


def _agrees(row: StatementRow, column: int, other: StatementRow, other_column: int, factor: float) -> bool:
    """Equal once the earlier figure is brought to this table's scale, within both roundings."""
    if column >= len(row.figures) or other_column >= len(other.figures):
        return False
    mine, theirs = row.figures[column], other.figures[other_column]
    rounding = mine.tolerance + theirs.tolerance * factor
    return abs(mine.value - theirs.value * factor) <= rounding + 1e-9


Place = tuple[StatementTable, StatementRow, int]
"""A table, one of its rows and a column."""


def _check(mine: Place, theirs: Place, factor: float, sha: str, earlier_sha: str) -> TieCheck:
    (table, row, column), (other, other_row, other_column) = mine, theirs
    year = table.periods[column]
    earlier = other_row.figure(other_column).model_copy(update={"doc_sha256": earlier_sha})
    stated = other.scale / table.scale
    misread = " (the scales read disagree)" if factor != stated else ""
    scale = "" if factor == 1 else f" × {factor:,g}{misread}"
    here = f"{row.figures[column].text} (p. {row.page + 1})"
    there = f"{other_row.figures[other_column].text}{scale} (p. {other_row.page + 1} of the earlier filing)"
    check = TieCheck(
        doc_sha256=sha, kind="prior", statement=table.statement, heading=table.heading, page=row.page,
        total=[row.figure(column)], components=[earlier], outcome="ties",
        arithmetic=[f"{row.label}, {year}: {here} = {there}"],
    )  # fmt: skip
    if not _agrees(row, column, other_row, other_column, factor):
        check.outcome, check.column = "revised", column
        check.difference = row.figures[column].value - other_row.figures[other_column].value * factor
        check.arithmetic = [f"{row.label}, {year}: {here} ≠ {there}"]
        check.reason = f"revised or restated: {year} {row.label} is {here}, {there}"
    return check
