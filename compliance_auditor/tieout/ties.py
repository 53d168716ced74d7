"""Ties between a filing's statements: net income on the income statement and at the top of the
cash-flow statement; cash on the balance sheet and at the end of the cash-flow statement;
total assets and total liabilities and equity.

Statements of different periods sit side by side in a filing (a quarter's and a year's income
statement in a release), so a figure ties when it equals its counterpart in any statement of the
other kind; when none equals it, the check says it could not be matched rather than "off".
Only total assets against liabilities and equity, on one balance sheet, can be "off".
"""

from __future__ import annotations

import re

from compliance_auditor.records import StatementRow, StatementTable, TieCheck

_NET_INCOME = re.compile(r"^net (income|earnings|loss|income \(loss\)|earnings \(loss\))$", re.IGNORECASE)
_CASH = re.compile(r"^cash and (cash )?equivalents$", re.IGNORECASE)
_CASH_END = re.compile(r"(end of (the )?(year|period|quarter))|^end of", re.IGNORECASE)
_ASSETS = re.compile(r"^total assets$", re.IGNORECASE)
_LIABILITIES_AND_EQUITY = re.compile(r"^total liabilities(,| and).*equity", re.IGNORECASE)


def cross_ties(tables: list[StatementTable], doc_sha256: str = "") -> list[TieCheck]:
    """The ties between statements the filing's tables allow."""
    checks = []
    pairs = [
        ("income statement", _NET_INCOME, "cash flow statement", _NET_INCOME, "net income"),
        ("balance sheet", _CASH, "cash flow statement", _CASH_END, "cash at the end of the period"),
    ]
    for first_kind, first_label, other_kind, other_label, what in pairs:
        firsts = _rows(tables, first_kind, first_label)
        others = _rows(tables, other_kind, other_label)
        if firsts and others:
            paired = next(
                (f for f in firsts if any(_twin_column(f, o) is not None for o in others)), firsts[0]
            )
            restricted = _restricted_cash(tables) if first_kind == "balance sheet" else []
            checks.append(_match(paired, others, restricted, what, doc_sha256))
    for table in (t for t in tables if t.statement == "balance sheet"):
        assets = next((r for r in table.rows if _ASSETS.match(r.label)), None)
        both = next((r for r in table.rows if _LIABILITIES_AND_EQUITY.match(r.label)), None)
        if assets and both:
            checks.append(_balance(assets, both, table.heading, doc_sha256))
    return checks


Placed = tuple[StatementTable, StatementRow]
"""A row and the table it is in (for its heading and the years over its columns)."""


def _rows(tables: list[StatementTable], kind: str, label: re.Pattern[str]) -> list[Placed]:
    return [(t, row) for t in tables if t.statement == kind
            for row in t.rows if label.search(row.label)]  # fmt: skip


def _same(a: StatementRow, b: StatementRow, column: int = 0, other_column: int | None = None,
          factor: float = 1.0) -> bool:  # fmt: skip
    """Equal within both roundings, b brought to a's scale by `factor`."""
    x, y = a.figures[column], b.figures[column if other_column is None else other_column]
    return abs(x.value - y.value * factor) <= x.tolerance + y.tolerance * factor + 1e-9


def _aligned(first: StatementTable, other: StatementTable, column: int) -> list[int]:
    """The other table's columns that may hold the same period as the first's `column`: the one
    under the same year when both print years, else the same place, then the others (a filing
    printing its years oldest first in one statement and newest first in another)."""
    if first.periods and other.periods and column < len(first.periods):
        year = first.periods[column]
        return [d for d, p in enumerate(other.periods) if p == year]
    count = len(other.rows[0].figures) if other.rows else 0
    return sorted(range(count), key=lambda d: d != column)


def _twin_column(first: Placed, other: Placed) -> int | None:
    """The other row's column that equals the first row's first figure, each at its table's
    scale (or as printed, when the scales read differ: the same digits in thousands and in
    millions are a scale misread, not a difference an audited filing would carry)."""
    (table, row), (other_table, other_row) = first, other
    columns = [d for d in _aligned(table, other_table, 0) if d < len(other_row.figures)]
    factors = {other_table.scale / table.scale, 1.0}
    return next((d for f in factors for d in columns if _same(row, other_row, 0, d, f)), None)


def _match(first: Placed, others: list[Placed], restricted: list[StatementRow], what: str,
           doc_sha256: str) -> TieCheck:  # fmt: skip
    table, row = first
    check = TieCheck(doc_sha256=doc_sha256, kind="tie", statement="between statements", heading=table.heading,
                     page=row.page, total=[row.figure(0)], outcome="unchecked")  # fmt: skip
    for other in others:
        if (column := _twin_column(first, other)) is not None:
            twin = other[1]
            check.outcome, check.components = "ties", [twin.figure(column)]
            units = ("", "") if table.scale == other[0].scale else (_unit(table), _unit(other[0]))
            check.arithmetic = [f"{what}: {row.figures[0].text}{units[0]} (p. {row.page + 1}) = "
                                f"{twin.figures[column].text}{units[1]} (p. {twin.page + 1})"]  # fmt: skip
            return check
    for other in others:
        if found := _with_restricted(first, other, restricted):
            twin, column, parts = found
            check.outcome = "ties"
            check.components = [twin.figure(column), *(r.figure(c) for r, c in parts)]
            added = " + ".join(f"{r.figures[c].text} (p. {r.page + 1})" for r, c in parts)
            check.arithmetic = [f"{what}: {row.figures[0].text} (p. {row.page + 1}) + restricted cash "
                                f"{added} = {twin.figures[column].text} (p. {twin.page + 1})"]  # fmt: skip
            check.reason = "the cash-flow statement's cash includes restricted cash the filing reconciles"
            return check
    seen = ", ".join(f"{r.figures[0].text} (p. {r.page + 1})" for _, r in others[:3])
    check.reason = f"{what} {row.figures[0].text} matches none of {seen}: another period, or restricted cash"
    if restricted or any("restricted" in r.label.lower() for _, r in others):
        check.reason += " the filing does not reconcile in the statements read"
    return check


def _unit(table: StatementTable) -> str:
    return {1e3: " thousand", 1e6: " million", 1e9: " billion"}.get(table.scale, " (no scale stated)")


_RESTRICTED = re.compile(r"restricted (cash|balances)", re.IGNORECASE)
_CASH_FLOW_LINE = re.compile(
    r"increase|decrease|effect|beginning|end of|change|total|excluding", re.IGNORECASE
)


def _restricted_cash(tables: list[StatementTable]) -> list[StatementRow]:
    """Rows stating restricted cash (on the balance sheet, or a reconciliation under the cash
    flows), not the cash flow lines that include it."""
    return [
        r
        for t in tables
        for r in t.rows
        if _RESTRICTED.search(r.label) and not _CASH_FLOW_LINE.search(r.label)
    ]


def _with_restricted(
    first: Placed, other: Placed, restricted: list[StatementRow]
) -> tuple[StatementRow, int, list[tuple[StatementRow, int]]] | None:
    """The cash-flow column whose cash is the balance sheet's plus restricted cash: one
    restricted row's figure, or all of them in one column, within rounding."""
    (table, row), (other_table, twin) = first, other
    cash = row.figures[0]
    for column in (d for d in _aligned(table, other_table, 0) if d < len(twin.figures)):
        gap, tolerance = (
            twin.figures[column].value - cash.value,
            twin.figures[column].tolerance + cash.tolerance,
        )
        if abs(gap) <= tolerance:
            continue
        widths = {len(r.figures) for r in restricted}
        tries = [[(r, c)] for r in restricted for c in range(len(r.figures))]
        tries += [[(r, c) for r in restricted if len(r.figures) == w] for w in widths for c in range(w)]
        for parts in tries:
            summed = sum(abs(r.figures[c].value) for r, c in parts)
            if (
                summed
                and abs(summed - gap) <= tolerance + sum(r.figures[c].tolerance for r, c in parts) + 1e-9
            ):
                return twin, column, parts
    return None


def _balance(assets: StatementRow, both: StatementRow, heading: str, doc_sha256: str) -> TieCheck:
    columns = range(min(len(assets.figures), len(both.figures)))
    off = [c for c in columns if not _same(assets, both, c)]
    check = TieCheck(doc_sha256=doc_sha256, kind="tie", statement="balance sheet", heading=heading,
                     page=assets.page, total=[assets.figure(c) for c in columns],
                     components=[both.figure(c) for c in columns],
                     arithmetic=[f"total assets {assets.figures[c].text} = total liabilities and equity "
                                 f"{both.figures[c].text}" for c in columns],
                     outcome="off" if off else "ties")  # fmt: skip
    if off:
        check.column = off[0]
        check.difference = assets.figures[off[0]].value - both.figures[off[0]].value
        check.reason = (
            f"total assets differ from total liabilities and equity by {abs(check.difference):,.0f}"
        )
    return check
