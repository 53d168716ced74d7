"""A run's workpaper as one self-contained HTML page: the run's facts, the matrix (each cell
linking to its answer), then every answer as its own workpaper shows it, with each cited page
rendered and highlighted, the verification verdicts and the records' hashes. No script, no
external resource; every text from a filing or a model is escaped."""

from __future__ import annotations

import html
from typing import Any

from compliance_auditor.procedures.cells import STATUS_LABELS
from compliance_auditor.procedures.matrix import MatrixCell
from compliance_auditor.procedures.report import RunReport
from compliance_auditor.procedures.workbook import STATUS_FILLS
from compliance_auditor.snapshots import citation_snapshots
from compliance_auditor.workpaper import (
    HTML_CSS,
    VERIFY_COMMAND,
    answer_html,
    stored_tieouts,
    tieout_summary_html,
)

_RUN_CSS = "".join(f".s-{status}{{background:#{colour}}}" for status, colour in STATUS_FILLS.items()) + (
    "section{border-top:2px solid #333;margin-top:2rem}.matrix td{min-width:8rem}"
)


def run_workpaper_html(report: RunReport, index: Any, dpi: int | None = None) -> str:
    """The workpaper; `index` finds the stored filings whose pages are rendered."""
    e = html.escape
    title = f"Workpaper: {report.spec.procedure_label}, run {report.spec.id}"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
             f"<style>{HTML_CSS}{_RUN_CSS}</style></head><body><h1>{e(title)}</h1><table>"]  # fmt: skip
    parts += [f"<tr><th>{e(k)}</th><td class='hash'>{e(v)}</td></tr>" for k, v in report.facts()]
    parts.append("</table><h2>Results</h2>")
    parts.append(_matrix_table(report))
    legend = " ".join(f"<span class='s-{s}'>{e(label)}</span>" for s, label in STATUS_LABELS.items())
    parts.append(f"<p>Status: {legend}</p>")
    for _, cells in report.matrix.rows:
        for shown in cells:
            parts.append(_cell_section(report, shown, index, dpi))
    filings = [shown.filing.doc_sha256 for _, cells in report.matrix.rows for shown in cells]
    parts.append(tieout_summary_html(stored_tieouts(index, filings)))
    parts.append(
        f"<p>Every record's hash can be checked with <code>{VERIFY_COMMAND}</code>.</p></body></html>"
    )
    return "".join(parts)


def _anchor(shown: MatrixCell) -> str:
    return f"cell-{shown.item.id}-{shown.filing.doc_sha256[:12]}"


def _matrix_table(report: RunReport) -> str:
    e = html.escape
    columns = report.matrix.columns()
    head = "".join(f"<th>{e(f.label + (' Δ y/y' if change else ''))}</th>" for f, change in columns)
    rows = [f"<table class='matrix'><tr><th>Item</th>{head}</tr>"]
    for item, cells in report.matrix.rows:
        by_sha = {c.filing.doc_sha256: c for c in cells}
        tds = [
            f"<td>{e(by_sha[f.doc_sha256].change)}</td>"
            if change
            else _matrix_td(report, by_sha[f.doc_sha256])
            for f, change in columns
        ]
        rows.append(f"<tr><th title='{e(item.question)}'>{e(item.id)}</th>{''.join(tds)}</tr>")
    return "".join(rows) + "</table>"


def _matrix_td(report: RunReport, shown: MatrixCell) -> str:
    e = html.escape
    status = shown.cell.status if shown.cell else "not_asked"
    review = report.review.get((shown.item.id, shown.filing.doc_sha256))
    signed = f"<br><small>{e(review.label)}</small>" if review and (review.signoff or review.lapsed) else ""
    flag = f"<br><small class='bad'>{e(shown.disagreement)}</small>" if shown.disagreement else ""
    return f"<td class='s-{status}'><a href='#{_anchor(shown)}'>{e(shown.text)}</a>{flag}{signed}</td>"


def _cell_section(report: RunReport, shown: MatrixCell, index: Any, dpi: int | None) -> str:
    e = html.escape
    key = (shown.item.id, shown.filing.doc_sha256)
    review = report.review.get(key)
    lines = [
        f"Status: {shown.status_label}",
        f"Short form: {shown.cell.short if shown.cell else ''}",
        shown.change and f"Change: {shown.change}",
        shown.disagreement and f"Prior-year check: {shown.disagreement}",
        f"Review: {review.label if review else 'not reviewed'}",
        shown.cell.detail if shown.cell and shown.cell.detail else "",
    ]
    listed = "".join(f"<li>{e(x)}</li>" for x in lines if x)
    head = (
        f"<section id='{_anchor(shown)}'><h2>{e(shown.item.id)} · {e(shown.filing.label)}</h2>"
        f"<p>{e(shown.item.question)}</p><ul>{listed}</ul>"
    )
    record = report.answer_of(key)
    if record is None:
        return (
            head
            + "<p class='bad'>No answer record: the cell was not asked, or failed before it.</p></section>"
        )
    snapshots = citation_snapshots(record, index, dpi)
    signed = review.signoff if review else None
    return head + answer_html(record, snapshots, signed) + "</section>"
