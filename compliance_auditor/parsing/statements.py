"""The primary statements' tables read row by row, each figure with its cell's box, for the tie-out.

A table block under a heading that names a primary statement (income, balance sheet, cash flow)
becomes a `StatementTable`: a label and its figures per row (parentheses are negatives, "—" is
zero, "$" cells and percentage columns are dropped, a "Less:" row's figures are subtracted), the
column headings where the table prints years, and the scale its heading or the lines above state.
Reading them here, in the parser's process, costs a few milliseconds a filing and spares the
tie-out a second parse.
"""

from __future__ import annotations

import re
from collections import Counter

from compliance_auditor.parsing.blocks import NUMERIC_RE, Block, table_cells
from compliance_auditor.parsing.metadata import statement_kind
from compliance_auditor.parsing.pdf import Line
from compliance_auditor.records import StatementFigure, StatementRow, StatementTable
from compliance_auditor.verification.numbers import numbers_in

PRIMARY = ("income statement", "balance sheet", "cash flow statement")
_SCALE = re.compile(r"\bin (thousands|millions|billions)\b|\((thousands|millions|billions)\b", re.IGNORECASE)
_SCALES = {"thousands": 1e3, "millions": 1e6, "billions": 1e9}
_LESS = re.compile(r"^less\b", re.IGNORECASE)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
UNLABELLED_TOTAL = "(a total, unlabelled)"
"""The label given to a row of figures printed under a rule with no label of its own."""
_ZERO = StatementFigure(text="", value=0.0, tolerance=0.0)


def statement_tables(blocks: list[Block]) -> list[StatementTable]:
    """Every table under a primary statement's heading, read row by row."""
    found = []
    for at, block in enumerate(blocks):
        statement = statement_kind(block.heading) if block.kind == "table" else ""
        if statement not in PRIMARY:
            continue
        rows, periods = statement_rows(block)
        if rows:
            columns = len(rows[0].figures)
            found.append(StatementTable(
                statement=statement, heading=block.heading, page=block.page, rows=rows,
                scale=_scale(blocks, at), periods=periods if len(periods) == columns else [],
            ))  # fmt: skip
    return found


def statement_rows(block: Block) -> tuple[list[StatementRow], list[str]]:
    """The rows of a table that carry as many figures as most of its rows do (its columns), and
    the years over its columns. A row with fewer figures is padded with zeros at the end and
    marked partial."""
    read, periods = [], []
    for n, line in enumerate(block.lines):
        cells = table_cells(line.segments)
        if cells and all(_YEAR.match(c) for c in cells):
            periods = cells  # "2023 2022" over the columns, parsed as a row of figures
            continue
        label = cells[0].strip() if cells and n >= block.header_rows else ""
        if label and NUMERIC_RE.match(label) and not _YEAR.match(label):  # a sum under a rule, unlabelled
            label, cells = UNLABELLED_TOTAL, ["", *cells]
        where = _CellFinder(line)
        figures = [f for cell in cells[1:] for f in _figures(cell, where)]
        if _LESS.match(label) and not any(f.value < 0 for f in figures):
            # "Less: …" printed without parentheses is subtracted; with them, the signs are printed
            figures = [f.model_copy(update={"value": -f.value}) for f in figures]
        read.append(StatementRow(label=label, figures=figures, page=block.page,
                                 box=[line.x0, line.top, line.x1, line.bottom]))  # fmt: skip
    widths = Counter(len(r.figures) for r in read if r.figures)
    if not widths:
        return [], periods
    columns = widths.most_common(1)[0][0]
    rows = [
        r if len(r.figures) == columns else _padded(r, columns)
        for r in read if r.label and 0 < len(r.figures) <= columns
    ]  # fmt: skip
    return rows, periods


def _padded(row: StatementRow, columns: int) -> StatementRow:
    padding = [_ZERO] * (columns - len(row.figures))
    return row.model_copy(update={"figures": row.figures + padding, "partial": True})


def _figures(cell: str, where: _CellFinder) -> list[StatementFigure]:
    cleaned = cell.replace("—", "0").replace("–", "0").replace("$", " ").strip()
    if cleaned in ("", "-"):
        return []
    bare = cell.replace("$", "").strip()
    figures = []
    for number in numbers_in(cleaned, skip_labels=False):
        if number.percent:
            continue
        printed = bare if len(bare) <= len(number.text) + 2 else number.text  # keeps "(1,234)" and "—"
        figures.append(StatementFigure(
            text=printed, value=number.value,
            tolerance=number.tolerance, box=where.box(printed if printed in bare else number.text),
        ))  # fmt: skip
    return figures


class _CellFinder:
    """Boxes of a line's figures, found left to right: the segment that holds a figure, narrowed
    by where it stands among the segment's characters when the segment holds more than one."""

    def __init__(self, line: Line) -> None:
        self.line, self.segment, self.offset = line, 0, 0

    def box(self, text: str) -> list[float]:
        line = self.line
        for n in range(self.segment, len(line.spans)):
            segment = line.segments[n]
            at = segment.find(text, self.offset if n == self.segment else 0)
            if at < 0:
                continue
            self.segment, self.offset = n, at + len(text)
            x0, x1 = line.spans[n]
            per_char = (x1 - x0) / max(len(segment), 1)
            return [
                round(x0 + at * per_char, 2),
                line.top,
                round(x0 + (at + len(text)) * per_char, 2),
                line.bottom,
            ]
        return [line.x0, line.top, line.x1, line.bottom]


def _scale(blocks: list[Block], at: int) -> float:
    """The scale the table's heading, header or the lines above it on its page state, nearest first."""
    table = blocks[at]
    texts = [table.heading] + [line.text for line in reversed(table.lines[: table.header_rows])]
    for block in reversed(blocks[:at]):
        if block.page != table.page:
            break
        texts += [line.text for line in reversed(block.lines)]
    for text in texts:
        if match := _SCALE.search(text):
            return _SCALES[(match.group(1) or match.group(2)).lower()]
    return 1.0
