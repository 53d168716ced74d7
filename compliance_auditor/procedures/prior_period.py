"""The prior-period figure a filing reports beside the figure a cell found.

A 10-K's statements show last year's column beside this year's. When a cell's figure was quoted
from a table row, the same row's neighbouring column is the figure this filing reports for the
year before; the matrix compares it with the earlier filing's own cell and flags a difference
(a restatement, a reclassification, or a wrong cell). Read from the cited page, never by a model.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from compliance_auditor.records import AnswerRecord, NumberCheck
from compliance_auditor.verification.numbers import Number, numbers_in

_SOURCE = re.compile(r"^\[(\d+)\]\s+(.+?)(?:\s+\(|$)")
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")


@dataclass(frozen=True)
class PriorFigure:
    """The figure the same row gives for the period before, in the item's unit."""

    value: float
    tolerance: float
    """Half a unit of its last digit, in the item's unit."""
    where: str
    """"p. 54": the page of the row."""


def prior_figure(
    result: AnswerRecord, check: NumberCheck, value: float, unit_scale: float
) -> PriorFigure | None:
    """The prior-period figure on the row the cell's figure (`check`, `value` in the unit) was
    quoted from; None when it was not quoted from a table row with a column before it."""
    found = _SOURCE.match(check.source) if check.verdict == "quoted" else None
    if not found:
        return None
    n, quoted = int(found.group(1)), found.group(2)
    citation = next((c for c in result.evidence if c.n == n), None)
    if citation is None or value == 0:
        return None
    for line_no, line in enumerate(citation.text.splitlines()):
        row = numbers_in(line, skip_labels=False)
        at = next((i for i, number in enumerate(row) if number.text == quoted), None)
        if at is None:
            continue
        row = [number for number in row if number.percent == row[at].percent]  # not "% of sales" columns
        at = next(i for i, number in enumerate(row) if number.text == quoted)
        before = _earlier_column(citation.text.splitlines()[:line_no], at, len(row))
        if before is None:
            return None
        scale = _scale_between(value * unit_scale, row[at])
        prior = row[before]
        return PriorFigure(prior.value * scale / unit_scale, prior.tolerance * scale / unit_scale,
                           f"p. {citation.page + 1}")  # fmt: skip
    return None


def _earlier_column(lines_above: list[str], at: int, width: int) -> int | None:
    """Which figure of the row is the year before: the next one when the header's years run
    newest first (most filings), the previous one when they run oldest first."""
    for line in reversed(lines_above):
        years = [int(y) for y in _YEAR.findall(line)]
        if len(years) >= 2 and years[0] != years[1]:
            newest_first = years[0] > years[1]
            break
    else:
        newest_first = True
    before = at + 1 if newest_first else at - 1
    return before if 0 <= before < width else None


def _scale_between(in_units: float, written: Number) -> float:
    """The statement's scale: the power of a thousand that takes the row's figure as written to
    the cell's figure in units (a row "10,208,580" in thousands and a cell of $10,208.6 million)."""
    if written.value == 0:
        return 1.0
    return float(1000 ** round(math.log(abs(in_units / written.value), 1000)))


def disagrees(cell_value: float, cell_tolerance: float, prior: PriorFigure) -> bool:
    """Whether the two figures differ by more than their rounding allows."""
    return abs(cell_value - prior.value) > cell_tolerance + prior.tolerance + 1e-9
