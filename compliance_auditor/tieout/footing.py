"""Footing: do a statement table's components add up to its totals, column by column?

A table's rows come from the parser (`parsing.statements`; not the index, whose chunks split
tables): a label, then its figures, signed as printed (parentheses and "Less:" rows are
negatives). Walking down the rows, each total ("Total …", "Net …", "Gross profit",
"Operating income", "Income before …") is checked against the rows above it not yet summed
into another total: first as printed (the shortest run of rows just above that adds up), then,
for income statements only, with signs (expenses are printed positive and subtracted).

False alarms matter more than misses: a total is reported "off" only when the same rows, with
the same signs, tie in every other column; a total that ties nowhere is "could not check".
"""

from __future__ import annotations

import itertools
import re

from compliance_auditor.parsing.statements import UNLABELLED_TOTAL
from compliance_auditor.records import StatementRow, StatementTable, TieCheck

_TOTAL = re.compile(
    r"^(total\b|net (sales|revenues?|income|loss|earnings|cash|increase|decrease|change)\b"
    r"|gross (profit|margin)\b|operating (income|loss|profit)\b"
    r"|income (loss )?before\b|(loss|earnings) before\b"
    r"|cash,? (cash equivalents,? )?(and restricted cash )?(at|,)? ?end\b)"
    r"|[,—–-] ?net$",
    re.IGNORECASE,
)
_MAYBE_TOTAL = re.compile(
    r"^net (sales|revenues?|change|increase|decrease|property)\b(?!.*\bcash\b)|non-?controlling|[,—–-] ?net$"
    r"|^gross (property|carrying|amount)\b",
    re.IGNORECASE,
)
"""Labels a total or a line item may carry ("Net sales", "Net change in short-term borrowings",
"Property and equipment, net", "Gross property and equipment"): such a row is a total only where
the rows above add up to it."""
_MAYBE_TOTAL_CASH_FLOW = re.compile(r"^net (income|earnings|loss)\b", re.IGNORECASE)
"""Net income opens the cash flows: a line, not a total, unless rows above add up to it."""
_SIGN_SEARCH_ROWS = 6
"""The most rows a signed search tries: more would tie by chance."""


def is_total(label: str) -> bool:
    return label == UNLABELLED_TOTAL or bool(_TOTAL.search(label.strip()))


def maybe_total(label: str, statement: str) -> bool:
    """A label that may name a line item as well as a total."""
    label = label.strip()
    return bool(_MAYBE_TOTAL.search(label)) or (
        statement == "cash flow statement" and bool(_MAYBE_TOTAL_CASH_FLOW.match(label))
    )


def foot(table: StatementTable, doc_sha256: str = "") -> list[TieCheck]:
    """Every total of a table, checked against the rows above it."""
    return _foot(table, doc_sha256, [])[0]


def foot_tables(tables: list[StatementTable], doc_sha256: str = "") -> list[TieCheck]:
    """Every total of the tables, a table that goes on from the one before (the same statement,
    on the same or the next page, as many columns) footed with the rows left above it: the
    components of "Total liabilities and equity" sit across a page break or a sub-heading."""
    checks: list[TieCheck] = []
    before: StatementTable | None = None
    live: list[StatementRow] = []
    for table in tables:
        carried = live if before is not None and _goes_on(before, table) else []
        found, live = _foot(table, doc_sha256, carried)
        checks += found
        before = table
    return checks


def _goes_on(before: StatementTable, table: StatementTable) -> bool:
    """The table continues the one before: the same statement (comprehensive income, which files
    under the income statement, starts afresh), on the same or the next page, as many columns."""
    last = before.rows[-1] if before.rows else None
    comprehensive = ("comprehensive" in before.heading.lower()) != ("comprehensive" in table.heading.lower())
    return (
        last is not None and bool(table.rows) and before.statement == table.statement and not comprehensive
        and 0 <= table.page - last.page <= 1 and len(last.figures) == len(table.rows[0].figures)
    )  # fmt: skip


def _foot(
    table: StatementTable, doc_sha256: str, carried: list[StatementRow]
) -> tuple[list[TieCheck], list[StatementRow]]:
    """The table's checks, and the rows left not summed into a total."""
    checks: list[TieCheck] = []
    live = list(carried)
    statement, heading = table.statement, table.heading
    signed = statement == "income statement"
    for row in table.rows:
        if not (is_total(row.label) or maybe_total(row.label, statement)) or not live:
            live.append(row)
            continue
        found = _tie(live, row, signed)
        if found is None and maybe_total(row.label, statement):
            live.append(row)  # a line item named like a total
            continue
        checks.append(_check(found, live, row, statement, heading, doc_sha256))
        if found and found[2] is None:
            live = [*live[: -len(found[0])], row]  # the components fold into their total
        else:
            live.append(row)
    return checks, live


Found = tuple[list[StatementRow], tuple[int, ...], int | None]
"""The components, their signs, and the one column that does not tie (None: all tie)."""


def _tie(live: list[StatementRow], total: StatementRow, signed: bool) -> Found | None:
    """The shortest run of rows just above the total that adds up to it as printed (or, signed,
    with the first row added and the others added or subtracted), in every column but at most
    one; a run that ties everywhere wins over one that ties all but one column."""
    columns = len(total.figures)
    near: Found | None = None
    for signs_of in (_as_printed, _signed) if signed else (_as_printed,):
        for n in range(2, len(live) + 1):
            for signs in signs_of(n):
                misses = [c for c in range(columns) if not _adds_up(live[-n:], signs, total, c)]
                if not misses:
                    return live[-n:], signs, None
                if len(misses) == 1 and columns > 1 and near is None:
                    near = (live[-n:], signs, misses[0])
    return near


def _as_printed(n: int) -> list[tuple[int, ...]]:
    return [(1,) * n]


def _signed(n: int) -> list[tuple[int, ...]]:
    if n > _SIGN_SEARCH_ROWS:  # too many to try every sign: only the first row less all the others
        return [(1, *(-1,) * (n - 1))]
    return [(1, *rest) for rest in itertools.product((1, -1), repeat=n - 1) if -1 in rest]


def _adds_up(rows: list[StatementRow], signs: tuple[int, ...], total: StatementRow, column: int) -> bool:
    """Within the rounding of the figures as printed."""
    tolerance = sum(r.figures[column].tolerance for r in rows) + total.figures[column].tolerance
    summed = sum(s * r.figures[column].value for s, r in zip(signs, rows, strict=True))
    return abs(summed - total.figures[column].value) <= tolerance + 1e-9


def _check(found: Found | None, live: list[StatementRow], total: StatementRow, statement: str, heading: str,
           doc_sha256: str) -> TieCheck:  # fmt: skip
    common = {"doc_sha256": doc_sha256, "kind": "foot", "statement": statement, "heading": heading,
              "page": total.page}  # fmt: skip
    if found is None:
        stated = [total.figure(c) for c in range(len(total.figures))]
        why = "no run of the rows above adds up to it in any column"
        return TieCheck(**common, total=stated, outcome="unchecked", reason=why)
    components, signs, off = found
    columns = range(len(total.figures))
    lines = [_arithmetic(components, signs, total, c) for c in columns]
    check = TieCheck(**common, total=[total.figure(c) for c in columns],
                     components=[r.figure(c) for c in columns for r in components],
                     signs=list(signs), arithmetic=lines, outcome="ties")  # fmt: skip
    if off is not None and any(r.partial or not r.figures[off].text for r in [*components, total]):
        check.outcome = "unchecked"  # a blank cell may be a figure the page holds and we did not read
        check.reason = f"column {off + 1} does not tie, but a cell in it is blank or a row lacks a figure"
    elif off is not None:
        summed = sum(s * r.figures[off].value for s, r in zip(signs, components, strict=True))
        check.outcome, check.column = "off", off
        check.difference = total.figures[off].value - summed
        check.reason = (
            f"column {off + 1} is off by {abs(check.difference):,.0f}; the same rows tie in the others"
        )
    return check


def _arithmetic(
    components: list[StatementRow], signs: tuple[int, ...], total: StatementRow, column: int
) -> str:
    """'3,226,773 − 2,014,270 = 1,212,503; stated 1,212,503'."""
    terms = []
    for i, (sign, row) in enumerate(zip(signs, components, strict=True)):
        text, value = row.figures[column].text, row.figures[column].value
        if value < 0 and not text.startswith(("(", "-", "−")):  # a "Less:" row, printed unsigned
            sign = -sign
        terms.append(("−" if sign < 0 else "") + text if i == 0 else f"{'+' if sign > 0 else '−'} {text}")
    summed = sum(s * r.figures[column].value for s, r in zip(signs, components, strict=True))
    return f"{' '.join(terms)} = {summed:,.0f}; stated {total.figures[column].text}"
