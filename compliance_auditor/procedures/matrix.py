"""The results matrix: the procedure's items as rows, the run's filings as columns.

For amounts asked of consecutive fiscal years of one company's annual filings, a change column
follows each filing that has the year before in the run: the change computed here from the two
cells' figures (both in the item's unit), never by the model. A figure that differs from the one the
next year's filing reports for the same year (its prior-year column) is flagged: a restatement,
a reclassification, or a wrong cell.
"""

from __future__ import annotations

from dataclasses import dataclass

from compliance_auditor.procedures.cells import STATUS_LABELS, CellResult
from compliance_auditor.procedures.prior_period import PriorFigure, disagrees
from compliance_auditor.procedures.runs import FilingRef, RunSpec
from compliance_auditor.procedures.spec import Procedure, ProcedureItem

STATUS_MARKS = {"verified": "✓", "unverified": "!", "evidence_only": "◦", "not_found": "∅", "error": "✗"}


@dataclass(frozen=True)
class MatrixCell:
    """What one cell of the matrix shows."""

    item: ProcedureItem
    filing: FilingRef
    cell: CellResult | None
    change: str = ""
    """Amounts: the change from the previous fiscal year's filing in the run ("+10.0%")."""
    disagreement: str = ""
    """Amounts: what the next fiscal year's filing reports for this year, when it differs."""

    @property
    def text(self) -> str:
        if self.cell is None:
            return "…"
        flag = " ⚠" if self.disagreement else ""
        return f"{STATUS_MARKS[self.cell.status]} {self.cell.short}{flag}"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.cell.status] if self.cell else "not asked yet"


@dataclass(frozen=True)
class Matrix:
    """Rows of cells, one row per item, one column per filing, in the run's order."""

    filings: list[FilingRef]
    rows: list[tuple[ProcedureItem, list[MatrixCell]]]
    with_change: frozenset[str] = frozenset()
    """Filings (by sha256) followed by a change column: the year before is in the run, and the
    procedure asks for amounts."""

    def columns(self) -> list[tuple[FilingRef, bool]]:
        """The columns after the item: each filing, then (True) its change column where it has one."""
        out: list[tuple[FilingRef, bool]] = []
        for filing in self.filings:
            out.append((filing, False))
            if filing.doc_sha256 in self.with_change:
                out.append((filing, True))
        return out

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUS_LABELS, 0)
        for _, cells in self.rows:
            for cell in cells:
                if cell.cell:
                    counts[cell.cell.status] += 1
        return counts


def build_matrix(spec: RunSpec, procedure: Procedure, cells: dict[tuple[str, str], CellResult]) -> Matrix:
    rows = []
    previous = _previous_years(spec.filings)
    following = {before: after for after, before in previous.items()}
    by_sha = {f.doc_sha256: f for f in spec.filings}
    for item in procedure.items:
        row = []
        for filing in spec.filings:
            cell = cells.get((item.id, filing.doc_sha256))
            before, after = previous.get(filing.doc_sha256), following.get(filing.doc_sha256)
            earlier = cells.get((item.id, before)) if before else None
            later = cells.get((item.id, after)) if after else None
            change, differs = "", ""
            if item.answer == "amount":
                change = _change(cell, earlier)
                differs = _disagreement(cell, later, by_sha[after]) if after else ""
            row.append(MatrixCell(item, filing, cell, change, differs))
        rows.append((item, row))
    amounts = any(item.answer == "amount" for item in procedure.items)
    return Matrix(spec.filings, rows, frozenset(previous) if amounts else frozenset())


def _disagreement(cell: CellResult | None, later: CellResult | None, later_filing: FilingRef) -> str:
    """How the next year's filing reports this cell's figure, when that differs beyond rounding."""
    if not (cell and later) or cell.value is None or later.prior_value is None:
        return ""
    if cell.status not in ("verified", "unverified") or later.status != "verified":
        return ""
    prior = PriorFigure(later.prior_value, later.prior_tolerance, later.prior_where)
    if not disagrees(cell.value, cell.tolerance, prior):
        return ""
    return f"{later_filing.label} reports {later.prior_value:,.1f} for this year ({later.prior_where})"


def _previous_years(filings: list[FilingRef]) -> dict[str, str]:
    """Each annual filing's predecessor in the run: the same company's annual filing a year before."""
    annual = {(f.company, f.form_type, f.fiscal_year): f.doc_sha256 for f in filings
              if f.fiscal_year and f.fiscal_period in ("", "FY")}  # fmt: skip
    return {
        sha: annual[(company, form, year - 1)]
        for (company, form, year), sha in annual.items()
        if year and (company, form, year - 1) in annual
    }


def _change(cell: CellResult | None, earlier: CellResult | None) -> str:
    if not (cell and earlier) or cell.value is None or earlier.value is None or earlier.value == 0:
        return ""
    if "unverified" in (cell.status, earlier.status) or "error" in (cell.status, earlier.status):
        return ""  # a change between unchecked figures would look more certain than they are
    change = (cell.value - earlier.value) / abs(earlier.value) * 100
    return f"{change:+.1f}%"


def as_text(matrix: Matrix, width: int = 28) -> str:
    """The matrix as a plain-text table, for the CLI."""

    def fit(text: str, size: int = width) -> str:
        return (text if len(text) <= size else text[: size - 1] + "…").ljust(size)

    heads = [fit("Δ y/y", 8) if change else fit(f.label) for f, change in matrix.columns()]
    header = fit("item") + " | " + " | ".join(heads)
    lines = [header, "-" * len(header)]
    for item, cells in matrix.rows:
        by_sha = {c.filing.doc_sha256: c for c in cells}
        shown = [fit(by_sha[f.doc_sha256].change, 8) if change else fit(by_sha[f.doc_sha256].text)
                 for f, change in matrix.columns()]  # fmt: skip
        lines.append(fit(item.id) + " | " + " | ".join(shown))
    legend = ", ".join(f"{mark} {STATUS_LABELS[status]}" for status, mark in STATUS_MARKS.items())
    return "\n".join([*lines, "", legend + ", ⚠ the next year's filing reports this year differently"])
