"""Earnings per share against net income over the weighted average shares, within rounding.

An income statement prints basic and diluted EPS in dollars, net income and the weighted shares
in thousands or millions, often at different scales (net income in millions, shares in
thousands): the ratio is tried at each plausible factor (×1/1,000 … ×1,000,000) and a factor is
kept only when it ties in every column. Bare "Basic" / "Diluted" rows are either EPS or shares;
the arithmetic tells which.

False alarms matter more than misses: EPS that is not net income over shares within rounding may
be right (the two-class method, preferred dividends, discontinued operations), so it is "could not
check" with that reason, never "off".
"""

from __future__ import annotations

import itertools
import re

from compliance_auditor.records import StatementRow, StatementTable, TieCheck

_FACTORS = (1.0, 1e3, 1e6, 1e-3, 1e-6)
"""Net income and shares at the same scale, or a thousand or a million apart, either way."""
_NET_INCOME = re.compile(r"^net (income|earnings|loss)|^net \(loss\)", re.IGNORECASE)
_NOT_NET_INCOME = re.compile(r"non-?controlling|per (common )?share|before|comprehensive", re.IGNORECASE)
_ATTRIBUTABLE = re.compile(r"attributable|common (stock|share)holders|available to", re.IGNORECASE)
_SHARES = re.compile(r"weighted|average|shares (used|outstanding)|^shares\b|number of shares", re.IGNORECASE)
_EPS = re.compile(r"per (common )?share|earnings|income|loss", re.IGNORECASE)
_BARE = re.compile(r"^(basic|diluted)\W*(\(\w\)|\d)?$", re.IGNORECASE)
_EXCLUDED = re.compile(r"dividend|continuing|discontinued|pro forma", re.IGNORECASE)
"""EPS rows this check does not try: a part of EPS, or not earnings at all."""


def eps_checks(tables: list[StatementTable], doc_sha256: str = "") -> list[TieCheck]:
    """Each basic and diluted EPS row of the income statements, against net income over shares."""
    checks = []
    for table in (t for t in tables if t.statement == "income statement"):
        incomes = sorted(
            (r for r in table.rows if _NET_INCOME.match(r.label) and not _NOT_NET_INCOME.search(r.label)),
            key=lambda r: not _ATTRIBUTABLE.search(r.label),  # the company's share first
        )
        for role in ("basic", "diluted"):
            eps, shares, bare = _roles(table.rows, role)
            for row in eps:
                checks.append(_check(row, incomes, shares + bare, table, doc_sha256))
            if bare and incomes and not eps:  # "Basic" under "Earnings per share:", or under "Shares:"
                checks += _bare_pair(bare, incomes, shares, table, doc_sha256)
    return checks


def _roles(
    rows: list[StatementRow], role: str
) -> tuple[list[StatementRow], list[StatementRow], list[StatementRow]]:
    """The EPS rows, the shares rows and the bare ones ("Basic") of one role."""
    eps, shares, bare = [], [], []
    for row in rows:
        label = row.label.lower()
        if role not in label or _EXCLUDED.search(label) or row.partial:
            continue
        if _BARE.match(label):
            bare.append(row)
        elif _SHARES.search(label) and not label.startswith(("earnings", "net income", "basic", "diluted")):
            shares.append(row)
        elif _EPS.search(label):
            eps.append(row)
    return eps, shares, bare


def _bare_pair(bare: list[StatementRow], incomes: list[StatementRow], shares: list[StatementRow],
               table: StatementTable, doc_sha256: str) -> list[TieCheck]:  # fmt: skip
    """Bare "Basic" rows: the one that ties as EPS over another as shares, else the smaller one
    taken as EPS (per-share figures are smaller than share counts)."""
    for eps, count in itertools.permutations(bare, 2):
        if _found(eps, incomes, [count, *shares]):
            return [_check(eps, incomes, [count, *shares], table, doc_sha256)]
    smallest = min(bare, key=lambda r: max(abs(f.value) for f in r.figures))
    others = [r for r in bare if r is not smallest] + shares
    if not others or max(abs(f.value) for f in smallest.figures) >= 1000:
        return []  # no EPS among them, or nothing to divide by
    return [_check(smallest, incomes, others, table, doc_sha256)]


Found = tuple[StatementRow, StatementRow, float]
"""The net income row, the shares row and the factor that tie the EPS row in every column."""


def _found(eps: StatementRow, incomes: list[StatementRow], shares: list[StatementRow]) -> Found | None:
    for income, count, factor in itertools.product(incomes, shares, _FACTORS):
        columns = range(min(len(eps.figures), len(income.figures), len(count.figures)))
        if columns and all(_ties(eps, income, count, factor, c) for c in columns):
            return income, count, factor
    return None


def _ties(eps: StatementRow, income: StatementRow, count: StatementRow, factor: float, column: int) -> bool:
    """Within the rounding of all three figures as printed."""
    e, n, s = eps.figures[column], income.figures[column], count.figures[column]
    if s.value <= 0:
        return False
    computed = n.value / s.value * factor
    rounding = e.tolerance + factor * (n.tolerance / s.value + abs(n.value) * s.tolerance / s.value**2)
    return abs(computed - e.value) <= rounding + 1e-9


def _check(eps: StatementRow, incomes: list[StatementRow], shares: list[StatementRow], table: StatementTable,
           doc_sha256: str) -> TieCheck:  # fmt: skip
    columns = range(len(eps.figures))
    check = TieCheck(doc_sha256=doc_sha256, kind="eps", statement="income statement", heading=table.heading,
                     page=eps.page, total=[eps.figure(c) for c in columns], outcome="unchecked")  # fmt: skip
    found = _found(eps, incomes, shares)
    if found is None:
        check.reason = (
            f"{eps.label} is not net income over the weighted shares within rounding: the two-class "
            "method, preferred dividends or discontinued operations may explain it"
            if incomes and shares
            else "the statement prints no weighted average shares" if incomes
            else "the statement prints no net income row"
        )  # fmt: skip
        return check
    income, count, factor = found
    columns = range(min(len(eps.figures), len(income.figures), len(count.figures)))
    check.outcome = "ties"
    check.components = [row.figure(c) for c in columns for row in (income, count)]
    scale = "" if factor == 1 else f" × {factor:,g}"
    check.arithmetic = [
        f"{income.figures[c].text} / {count.figures[c].text}{scale} = "
        f"{income.figures[c].value / count.figures[c].value * factor:,.3f}; stated {eps.figures[c].text}"
        for c in columns
    ]
    return check
