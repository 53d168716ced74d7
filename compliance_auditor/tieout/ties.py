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
            paired = next((f for f in firsts if any(_same(f[1], o) for _, o in others)), firsts[0])
            checks.append(_match(paired, others, what, doc_sha256))
    for table in (t for t in tables if t.statement == "balance sheet"):
        assets = next((r for r in table.rows if _ASSETS.match(r.label)), None)
        both = next((r for r in table.rows if _LIABILITIES_AND_EQUITY.match(r.label)), None)
        if assets and both:
            checks.append(_balance(assets, both, table.heading, doc_sha256))
    return checks


def _rows(tables: list[StatementTable], kind: str, label: re.Pattern[str]) -> list[tuple[str, StatementRow]]:
    return [(t.heading, row) for t in tables if t.statement == kind
            for row in t.rows if label.search(row.label)]  # fmt: skip


def _same(a: StatementRow, b: StatementRow, column: int = 0) -> bool:
    x, y = a.figures[column], b.figures[column]
    return abs(x.value - y.value) <= x.tolerance + y.tolerance + 1e-9


def _match(
    first: tuple[str, StatementRow], others: list[tuple[str, StatementRow]], what: str, doc_sha256: str
) -> TieCheck:
    heading, row = first
    twin = next(((h, r) for h, r in others if _same(row, r)), None)
    outcome = "ties" if twin else "unchecked"
    check = TieCheck(doc_sha256=doc_sha256, kind="tie", statement="between statements", heading=heading,
                     page=row.page, total=[row.figure(0)], outcome=outcome)  # fmt: skip
    if twin:
        check.components = [twin[1].figure(0)]
        check.arithmetic = [f"{what}: {row.figures[0].text} (p. {row.page + 1}) = "
                            f"{twin[1].figures[0].text} (p. {twin[1].page + 1})"]  # fmt: skip
    else:
        seen = ", ".join(f"{r.figures[0].text} (p. {r.page + 1})" for _, r in others[:3])
        check.reason = (
            f"{what} {row.figures[0].text} matches none of {seen}: another period, or restricted cash"
        )
    return check


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
