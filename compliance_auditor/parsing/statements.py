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
import statistics
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
_CAPTION = re.compile(
    r"^\D*$|\b(years?|months|weeks|ended|as of|at|december|january|february|march|april|may|june|july|"
    r"august|september|october|november|millions|thousands|dollars)\b",
    re.IGNORECASE,
)
"""What a caption beside the years says ("Year Ended June 30,", "(Millions)"); a line item does not."""
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
        rows, periods, caption = statement_rows(block)
        if rows:
            columns = len(rows[0].figures)
            found.append(StatementTable(
                statement=statement, heading=block.heading, page=block.page, rows=rows,
                scale=_scale(blocks, at, caption), periods=periods if len(periods) == columns else [],
            ))  # fmt: skip
    return found


def statement_rows(block: Block) -> tuple[list[StatementRow], list[str], str]:
    """The rows of a table that carry as many figures as most of its rows do (its columns), the
    years over its columns, and the caption printed beside them ("(Millions, except per share
    amounts)"). A row with fewer figures is padded with zeros at the end and marked partial."""
    read, periods, caption = [], [], ""
    for n, line in enumerate(block.lines):
        cells = table_cells(line.segments)
        if cells and all(_YEAR.match(c) for c in cells):
            periods = cells  # "2023 2022" over the columns, parsed as a row of figures
            continue
        if len(cells) > 1 and all(_YEAR.match(c) for c in cells[1:]) and _CAPTION.search(cells[0]):
            periods, caption = cells[1:], cells[0]  # the years under a caption, not a line item
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
        return [], periods, caption
    columns = widths.most_common(1)[0][0]
    edges = _column_edges([r for r in read if len(r.figures) == columns], columns)
    rows = [
        r if len(r.figures) == columns else _padded(r, columns, edges)
        for r in read if r.label and 0 < len(r.figures) <= columns
    ]  # fmt: skip
    return rows, periods, caption


def _column_edges(full: list[StatementRow], columns: int) -> list[float]:
    """Each figure column's right edge (figures are set flush right), the median over the full rows."""
    if not full or any(not f.box for r in full for f in r.figures):
        return []
    return [statistics.median(r.figures[c].box[2] for r in full) for c in range(columns)]


def _padded(row: StatementRow, columns: int, edges: list[float]) -> StatementRow:
    """A row with blank cells, its figures put under the columns they stand under (a blank in the
    middle is not a blank at the end) and the blanks read as zeros. Where the columns' edges do
    not place every figure, the blanks are taken to be at the end and the row is marked partial."""
    if edges and all(f.box for f in row.figures):
        placed = [min(range(columns), key=lambda c: abs(edges[c] - f.box[2])) for f in row.figures]
        if len(set(placed)) == len(placed):
            figures = [_ZERO] * columns
            for column, figure in zip(placed, row.figures, strict=True):
                figures[column] = figure
            return row.model_copy(update={"figures": figures})
    padded = row.figures + [_ZERO] * (columns - len(row.figures))
    return row.model_copy(update={"figures": padded, "partial": True})


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


def _scale(blocks: list[Block], at: int, caption: str = "") -> float:
    """The scale the table's caption, heading, header or the lines above it on its page state,
    nearest first."""
    table = blocks[at]
    texts = [caption, table.heading] + [line.text for line in reversed(table.lines[: table.header_rows])]
    for block in reversed(blocks[:at]):
        if block.page != table.page:
            break
        texts += [line.text for line in reversed(block.lines)]
    for text in texts:
        if match := _SCALE.search(text):
            return _SCALES[(match.group(1) or match.group(2)).lower()]
    return 1.0
