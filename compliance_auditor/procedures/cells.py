"""A cell of the results matrix: an answer reduced to what a row reads across.

An amount becomes one figure in the item's unit ("USD millions": 3,226.8), so a row compares
years at a glance; a percentage its figure; yes/no its word; a date the date; text its first
sentence; a list its entries. The status says how far the figure can be trusted: verified,
numbers unverified, evidence only (no model answered), not found, or error.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from compliance_auditor.procedures.prior_period import prior_figure
from compliance_auditor.procedures.spec import ProcedureItem
from compliance_auditor.records import AnswerRecord, NumberCheck
from compliance_auditor.verification.numbers import CITATION, Number, numbers_in
from compliance_auditor.verification.scales import asked_scale
from compliance_auditor.verification.sentences import sentences_of

CellStatus = Literal["verified", "unverified", "evidence_only", "not_found", "error"]
STATUS_LABELS: dict[str, str] = {
    "verified": "verified", "unverified": "numbers unverified", "evidence_only": "evidence only (no model)",
    "not_found": "not found", "error": "error",
}  # fmt: skip
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)
_DATE = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2},\s+\d{4}\b"
    r"|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{4}\b",
    re.IGNORECASE,
)
_SHORT_TEXT = 90


class CellResult(BaseModel):
    """A finished cell: one item asked of one filing, and what the matrix shows of its answer."""

    item_id: str
    doc_sha256: str
    status: CellStatus
    short: str = Field(
        default="", description="The answer's short form: a figure in the item's unit, yes/no."
    )
    value: float | None = Field(
        default=None, description="Amounts and percentages: the figure, in the item's unit."
    )
    tolerance: float = Field(default=0.0, description="Half a unit of the figure's last digit, in the unit.")
    prior_value: float | None = Field(
        default=None, description="Amounts: the figure the same table row gives for the period before."
    )
    prior_tolerance: float = 0.0
    prior_where: str = Field(default="", description='Where that row is: "p. 54".')
    attempt: int = Field(default=0, description="Which asking of the cell this is (re-runs count up).")
    answer_id: str = ""
    answer_hash: str = Field(default="", description="The answer's record in the audit trail.")
    detail: str = Field(default="", description="Why a cell has no answer, or what the check found.")
    seconds: float = 0.0
    finished_at: str = ""


def summarise(result: AnswerRecord, item: ProcedureItem) -> CellResult:
    """The cell an answer fills."""
    cell = CellResult(item_id=item.id, doc_sha256=result.cell.doc_sha256 if result.cell else "",
                      attempt=result.cell.attempt if result.cell else 0,
                      status=status_of(result), answer_id=result.id, answer_hash=result.hash,
                      seconds=round(result.latency_s, 3),
                      finished_at=datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
    if result.mode == "evidence_only":
        cell.short, cell.detail = _best_evidence(result), "no model answered: the best evidence is shown"
    elif result.mode == "refused":
        cell.short, cell.detail = "not found", _first_sentence(result.answer)
    elif result.mode == "error":
        cell.short, cell.detail = "error", "; ".join(result.errors) or _first_sentence(result.answer)
    else:
        cell.short, cell.value = short_form(result.answer, item, result.verification.numbers)
        cell.detail = "; ".join(result.verification.warnings[:3])
        if item.answer == "amount" and cell.value is not None:
            _note_prior_period(cell, result, item)
    return cell


def _note_prior_period(cell: CellResult, result: AnswerRecord, item: ProcedureItem) -> None:
    """The figure's tolerance, and what its table row reports for the year before."""
    number = _headline(CITATION.sub("", result.answer), result.verification.numbers)
    check = next((c for c in result.verification.numbers if number and c.text == number.text), None)
    if number is None or check is None or cell.value is None:
        return
    unit_scale = _unit_scale(item.unit)
    cell.tolerance = number.tolerance / unit_scale if number.scaled else number.tolerance
    if prior := prior_figure(result, check, cell.value, unit_scale):
        cell.prior_value, cell.prior_tolerance, cell.prior_where = prior.value, prior.tolerance, prior.where


def status_of(result: AnswerRecord) -> CellStatus:
    if result.mode == "answered":
        return "verified" if result.verification.ok and result.complete else "unverified"
    return {"evidence_only": "evidence_only", "refused": "not_found"}.get(result.mode, "error")  # type: ignore[return-value]


def short_form(answer: str, item: ProcedureItem, checks: list[NumberCheck]) -> tuple[str, float | None]:
    """The answer as the matrix shows it, and its figure in the item's unit for amounts and percentages."""
    plain = CITATION.sub("", answer).strip()
    if item.answer == "amount":
        return _amount(plain, item.unit, checks)
    if item.answer == "percent":
        found = [n for n in numbers_in(plain) if n.percent]
        return (f"{found[0].value:,.1f}%", found[0].value) if found else (_first_sentence(plain), None)
    if item.answer == "yes_no":
        match = _YES_NO.search(sentences_of(plain)[0][0] if plain else "")
        return (match.group(1).capitalize() if match else _first_sentence(plain)), None
    if item.answer == "date":
        match = _DATE.search(plain)
        return (match.group(0) if match else _first_sentence(plain)), None
    if item.answer == "list":
        entries = [line.strip(" -*•\t") for line in plain.splitlines() if line.strip(" -*•\t")]
        entries = entries[1:] if len(entries) > 1 and entries[0].endswith(":") else entries
        return _clip("; ".join(entries)), None
    return _first_sentence(plain), None


def _headline(plain: str, checks: list[NumberCheck]) -> Number | None:
    """The answer's headline figure: the first one the check could verify, else the first."""
    found = numbers_in(plain)
    verified = {c.text for c in checks if c.verdict in ("quoted", "computed")}
    return next((n for n in found if n.text in verified), found[0] if found else None)


def _unit_scale(unit: str) -> float:
    return asked_scale(f"in {unit}") or 1.0


def _amount(plain: str, unit: str, checks: list[NumberCheck]) -> tuple[str, float | None]:
    """The headline figure, in `unit`."""
    number = _headline(plain, checks)
    if number is None:
        return _first_sentence(plain), None
    scale = _unit_scale(unit)
    value = number.value / scale if number.scaled else number.value  # a bare figure is in the unit asked
    places = 2 if abs(value) < 100 else 1 if abs(value) < 100_000 else 0
    return f"{value:,.{places}f}", value


def _best_evidence(result: AnswerRecord) -> str:
    if not result.evidence and not result.citations:
        return "no evidence found"
    best = (result.evidence or result.citations)[0]
    line = best.answer_line or best.text
    return _clip(f"p. {best.page + 1}: {' '.join(line.split())}")


def _first_sentence(text: str) -> str:
    sentences = sentences_of(CITATION.sub("", text).strip())
    return _clip(sentences[0][0] if sentences else text)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHORT_TEXT else text[: _SHORT_TEXT - 1].rstrip() + "…"
