"""Footing: do a statement table's components add up to its totals, column by column?

A table's rows are read from the parsed blocks (not the index, whose chunks split tables): a
label, then its figures (parentheses are negatives, "—" is zero, "$" cells and percentage
columns are dropped). Walking down the rows, each total ("Total …", "Net …", "Gross profit",
"Operating income", "Income before …") is checked against the rows above it not yet summed
into another total: first as printed (the shortest run of rows just above that adds up), then,
for income statements only, with signs (expenses are printed positive and subtracted).

False alarms matter more than misses: a total is reported "off" only when the same rows, with
the same signs, tie in every other column; a total that ties nowhere is "could not check".
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections import Counter
from dataclasses import dataclass

from compliance_auditor.parsing.blocks import Block
from compliance_auditor.records import TieCheck, TieFigure
from compliance_auditor.verification.numbers import Number, numbers_in

_TOTAL = re.compile(
    r"^(total\b|net (sales|revenues?|income|loss|earnings|cash|increase|decrease|change)\b"
    r"|gross (profit|margin)\b|operating (income|loss|profit)\b"
    r"|income (loss )?before\b|(loss|earnings) before\b"
    r"|cash,? (cash equivalents,? )?(and restricted cash )?(at|,)? ?end\b)",
    re.IGNORECASE,
)
_SIGN_SEARCH_ROWS = 6
"""The most rows a signed search tries: more would tie by chance."""


@dataclass(frozen=True)
class Row:
    """A table row with figures: its label, one figure per column, its page and box."""

    label: str
    figures: list[Number]
    page: int
    box: list[float]
    partial: bool = False
    """Fewer figures than the table has columns (a blank or unreadable cell): read as zeros at
    the end, so a total that does not tie over it is not called off."""

    def figure(self, column: int) -> TieFigure:
        number = self.figures[column]
        return TieFigure(label=self.label, text=number.text, value=number.value, page=self.page,
                         box=self.box, column=column)  # fmt: skip


def statement_rows(block: Block) -> list[Row]:
    """The rows of a table that carry as many figures as most of its rows do (its columns)."""
    read = []
    for line, cells in zip(block.lines, block.rows(), strict=True):
        figures = [n for cell in cells[1:] for n in _figures(cell)]
        read.append(
            Row(
                cells[0].strip() if cells else "",
                figures,
                block.page,
                [line.x0, line.top, line.x1, line.bottom],
            )
        )
    widths = Counter(len(r.figures) for r in read if r.figures)
    if not widths:
        return []
    columns = widths.most_common(1)[0][0]
    zero = Number("0", 0.0, 0.0, False, False)
    return [
        r if len(r.figures) == columns
        else dataclasses.replace(r, figures=r.figures + [zero] * (columns - len(r.figures)), partial=True)
        for r in read if r.label and 0 < len(r.figures) <= columns
    ]  # fmt: skip


def _figures(cell: str) -> list[Number]:
    cleaned = cell.replace("—", "0").replace("–", "0").replace("$", " ").strip()
    if cleaned in ("", "-"):
        return []
    return [n for n in numbers_in(cleaned, skip_labels=False) if not n.percent]


def is_total(label: str) -> bool:
    return bool(_TOTAL.match(label.strip()))


def foot(rows: list[Row], statement: str, heading: str, doc_sha256: str = "") -> list[TieCheck]:
    """Every total of a table, checked against the rows above it."""
    checks: list[TieCheck] = []
    live: list[Row] = []
    signed = statement == "income statement"
    for row in rows:
        if not is_total(row.label) or not live:
            live.append(row)
            continue
        found = _tie(live, row, signed)
        checks.append(_check(found, live, row, statement, heading, doc_sha256))
        if found and found[2] is None:
            live = [*live[: -len(found[0])], row]  # the components fold into their total
        else:
            live.append(row)
    return checks


Found = tuple[list[Row], tuple[int, ...], int | None]
"""The components, their signs, and the one column that does not tie (None: all tie)."""


def _tie(live: list[Row], total: Row, signed: bool) -> Found | None:
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
    if n > _SIGN_SEARCH_ROWS:
        return []
    return [(1, *rest) for rest in itertools.product((1, -1), repeat=n - 1) if -1 in rest]


def _adds_up(rows: list[Row], signs: tuple[int, ...], total: Row, column: int) -> bool:
    """Within the rounding of the figures as printed."""
    tolerance = sum(r.figures[column].tolerance for r in rows) + total.figures[column].tolerance
    summed = sum(s * r.figures[column].value for s, r in zip(signs, rows, strict=True))
    return abs(summed - total.figures[column].value) <= tolerance + 1e-9


def _check(found: Found | None, live: list[Row], total: Row, statement: str, heading: str,
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
    if off is not None and any(r.partial for r in components):
        check.outcome = "unchecked"
        check.reason = f"column {off + 1} does not tie, but a row within lacks a figure in some column"
    elif off is not None:
        summed = sum(s * r.figures[off].value for s, r in zip(signs, components, strict=True))
        check.outcome, check.column = "off", off
        check.difference = total.figures[off].value - summed
        check.reason = (
            f"column {off + 1} is off by {abs(check.difference):,.0f}; the same rows tie in the others"
        )
    return check


def _arithmetic(components: list[Row], signs: tuple[int, ...], total: Row, column: int) -> str:
    """'3,226,773 − 2,014,270 = 1,212,503; stated 1,212,503'."""
    terms = []
    for i, (sign, row) in enumerate(zip(signs, components, strict=True)):
        text = row.figures[column].text
        terms.append(text if i == 0 else f"{'+' if sign > 0 else '−'} {text}")
    summed = sum(s * r.figures[column].value for s, r in zip(signs, components, strict=True))
    return f"{' '.join(terms)} = {summed:,.0f}; stated {total.figures[column].text}"
