"""A run's workpaper as an XLSX workbook: the matrix, every cell, every citation, the run's facts.

    Matrix     items as rows, filings as columns; amounts as numbers in the item's unit; each
               cell styled by its status (a named style per status) with a note saying why
    Cells      one row per cell: status, short form, figure, change, prior-year flag, review, hash
    Citations  every citation of every answer: filing, page, quote
    Run        procedure and its hash, scope, index version, model, endpoint, times; sign-offs

Text from filings and models is written as text, never as a formula ("=HYPERLINK(…)" in a
filing stays inert), with characters XLSX cannot hold removed.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, NamedStyle, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from compliance_auditor.procedures.cells import STATUS_LABELS
from compliance_auditor.procedures.matrix import MatrixCell
from compliance_auditor.procedures.report import RunReport

STATUS_FILLS = {"verified": "C6EFCE", "unverified": "FFEB9C", "evidence_only": "E7E6E6",
                "not_found": "DDEBF7", "error": "FFC7CE", "not_asked": "FFFFFF"}  # fmt: skip
_BOLD = Font(bold=True)


def workbook_bytes(report: RunReport) -> bytes:
    """The workbook, as the bytes of an .xlsx file."""
    book = Workbook()
    for status, colour in STATUS_FILLS.items():
        book.add_named_style(NamedStyle(name=status, fill=PatternFill("solid", fgColor=colour),
                                        alignment=Alignment(wrap_text=True, vertical="top")))  # fmt: skip
    matrix = book.active
    assert matrix is not None
    matrix.title = "Matrix"
    _matrix_sheet(matrix, report)
    _cells_sheet(book.create_sheet("Cells"), report)
    _citations_sheet(book.create_sheet("Citations"), report)
    _run_sheet(book.create_sheet("Run"), report)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _put(sheet: Worksheet, row: int, column: int, value: Any, bold: bool = False) -> Any:
    """Write one cell; text always as text."""
    cell = sheet.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"  # never a formula, whatever the text starts with
    else:
        cell.value = value
    if bold:
        cell.font = _BOLD
    return cell


def _header(sheet: Worksheet, names: list[str], widths: list[int]) -> None:
    for column, (name, width) in enumerate(zip(names, widths, strict=True), start=1):
        _put(sheet, 1, column, name, bold=True)
        sheet.column_dimensions[sheet.cell(row=1, column=column).column_letter].width = width
    sheet.freeze_panes = "A2"


def _matrix_sheet(sheet: Worksheet, report: RunReport) -> None:
    columns = report.matrix.columns()
    heads = [f"{f.label} Δ y/y" if change else f.label for f, change in columns]
    _header(
        sheet, ["Item", "Question", "Answer", *heads], [18, 48, 16] + [10 if c else 22 for _, c in columns]
    )
    for row, (item, cells) in enumerate(report.matrix.rows, start=2):
        _put(sheet, row, 1, item.id)
        _put(sheet, row, 2, item.question)
        _put(sheet, row, 3, f"amount, {item.unit}" if item.answer == "amount" else item.answer)
        by_sha = {c.filing.doc_sha256: c for c in cells}
        for column, (filing, change) in enumerate(columns, start=4):
            shown = by_sha[filing.doc_sha256]
            if change:
                _put(sheet, row, column, shown.change)
                continue
            _matrix_cell(sheet.cell(row=row, column=column), shown, report, item.answer)
    legend = len(report.matrix.rows) + 3
    _put(sheet, legend, 1, "Status", bold=True)
    for offset, (status_name, label) in enumerate(STATUS_LABELS.items(), start=1):
        _put(sheet, legend + offset, 1, label).style = status_name


def _matrix_cell(cell: Any, shown: MatrixCell, report: RunReport, kind: str) -> None:
    """One cell of the matrix: the figure as a number where there is one, styled by status,
    with a note saying the status, the prior-year check and the review."""
    status: str = shown.cell.status if shown.cell else "not_asked"
    value: Any = shown.cell.short if shown.cell else "not asked yet"
    if shown.cell and shown.cell.value is not None and kind in ("amount", "percent"):
        value = shown.cell.value
    _put(cell.parent, cell.row, cell.column, value)
    cell.style = status
    if isinstance(value, float):
        cell.number_format = "#,##0.00" if abs(value) < 100 else "#,##0.0"
    review = report.review.get((shown.item.id, shown.filing.doc_sha256))
    note = [shown.status_label, shown.disagreement, review.label if review else ""]
    cell.comment = Comment(ILLEGAL_CHARACTERS_RE.sub("", "\n".join(n for n in note if n)), "auditor")


def _cells_sheet(sheet: Worksheet, report: RunReport) -> None:
    names = ["Item", "Filing", "Filing sha256", "Status", "Short form", "Figure", "Unit", "Change",
             "Prior-year check", "Review", "Answer hash", "Detail"]  # fmt: skip
    _header(sheet, names, [18, 30, 20, 22, 40, 14, 14, 14, 40, 30, 20, 50])
    row = 2
    for item, cells in report.matrix.rows:
        for shown in cells:
            cell = shown.cell
            review = report.review.get((item.id, shown.filing.doc_sha256))
            values = [item.id, shown.filing.label, shown.filing.doc_sha256, shown.status_label,
                      cell.short if cell else "", cell.value if cell and cell.value is not None else "",
                      item.unit, shown.change, shown.disagreement, review.label if review else "",
                      cell.answer_hash if cell else "", cell.detail if cell else ""]  # fmt: skip
            for column, value in enumerate(values, start=1):
                _put(sheet, row, column, value)
            sheet.cell(row=row, column=4).style = cell.status if cell else "not_asked"
            row += 1


def _citations_sheet(sheet: Worksheet, report: RunReport) -> None:
    _header(sheet, ["Item", "Filing", "Page", "Citation", "Quote", "Answer hash"], [18, 30, 8, 10, 90, 20])
    row = 2
    for (item_id, _), cell in report.cells.items():
        record = report.answers.get(cell.answer_hash)
        if record is None:
            continue
        for citation in record.citations or record.evidence[:3]:
            values = [item_id, citation.doc_name, citation.page + 1, f"[{citation.n}]",
                      " ".join(citation.text.split()), record.hash]  # fmt: skip
            for column, value in enumerate(values, start=1):
                _put(sheet, row, column, value)
            row += 1


def _run_sheet(sheet: Worksheet, report: RunReport) -> None:
    _header(sheet, ["Fact", "Value"], [26, 100])
    row = 2
    for name, value in report.facts():
        _put(sheet, row, 1, name, bold=True)
        _put(sheet, row, 2, value)
        row += 1
    row += 1
    for column, name in enumerate(
        ["Sign-off", "Item", "Filing", "Reviewer", "Verdict", "Comment", "Hash"], 1
    ):
        _put(sheet, row, column, name, bold=True)
    labels = {f.doc_sha256: f.label for f in report.spec.filings}
    for (item_id, sha), review in report.review.items():
        if review.signoff:
            row += 1
            s = review.signoff
            values = [s.ts, item_id, labels.get(sha, sha), s.reviewer, s.verdict, s.comment, s.hash]
            for column, value in enumerate(values, start=1):
                _put(sheet, row, column, value)
