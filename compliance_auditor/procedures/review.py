"""Review of a run: a reviewer signs off a cell, a filing's column or the whole run.

Each sign-off is a record of the audit trail referencing one answer by its hash, as a sign-off
in the Ask tab is. A cell re-run gets a new answer with a new hash, so the sign-off stays with
the answer it was given for: the cell shows it as lapsed until someone signs the new answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compliance_auditor.audit import chain
from compliance_auditor.audit.signoff import signoff_states
from compliance_auditor.procedures.cells import CellResult
from compliance_auditor.procedures.runs import RunStore
from compliance_auditor.records import VERDICTS, Identity, SignOffRecord
from compliance_auditor.team.roles import check

CellKey = tuple[str, str]


@dataclass(frozen=True)
class CellReview:
    """Where a cell stands in review."""

    signoff: SignOffRecord | None = None
    """The latest sign-off of the cell's current answer."""
    lapsed: SignOffRecord | None = None
    """A sign-off of an earlier answer of the cell, which a re-run replaced."""

    @property
    def label(self) -> str:
        if self.signoff:
            return f"{self.signoff.verdict} by {self.signoff.reviewer}"
        if self.lapsed:
            return f"sign-off by {self.lapsed.reviewer} lapsed: the answer changed on a re-run"
        return "not reviewed"


def reviews(store: RunStore, run_id: str, audit_log: Path | None = None) -> dict[CellKey, CellReview]:
    """Every finished cell's review state."""
    current = store.cells(run_id)
    earlier: dict[CellKey, list[str]] = {}
    for cell in store.history(run_id):
        key = (cell.item_id, cell.doc_sha256)
        if cell.answer_hash and key in current and cell.answer_hash != current[key].answer_hash:
            earlier.setdefault(key, []).append(cell.answer_hash)
    hashes = [c.answer_hash for c in current.values()] + [h for old in earlier.values() for h in old]
    signed = signoff_states([h for h in hashes if h], audit_log)
    found = {}
    for key, cell in current.items():
        lapsed = next((signed[h] for h in reversed(earlier.get(key, [])) if h in signed), None)
        found[key] = CellReview(signed.get(cell.answer_hash), None if cell.answer_hash in signed else lapsed)
    return found


def sign_off(
    store: RunStore, run_id: str, reviewer: str, verdict: str, comment: str = "", *,
    item_id: str | None = None, doc_sha256: str | None = None, audit_log: Path | None = None,
    identity: Identity | None = None,
) -> list[SignOffRecord]:  # fmt: skip
    """Sign off the run's answered cells: one cell (item and filing), a filing's column (filing),
    an item's row (item), or every cell. Cells without an answer record (a filing removed
    during the run) have nothing to sign and are left out. With `identity` (team mode) the
    reviewer's role is checked, and that they asked none of the run (raises NotAllowed)."""
    if identity is not None:
        check(identity, "sign_off", store.preparers(run_id))
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
    if not reviewer.strip():
        raise ValueError("a sign-off needs the reviewer's name")
    chosen = [cell for (item, sha), cell in store.cells(run_id).items()
              if item_id in (None, item) and doc_sha256 in (None, sha) and cell.answer_hash]  # fmt: skip
    if not chosen:
        raise LookupError("no answered cell of this run matches: nothing to sign off")
    sealed = _answers_of(run_id, audit_log)
    records = []
    for cell in chosen:
        answer_id = sealed.get(cell.answer_hash)
        if answer_id is None:
            raise LookupError(f"the audit trail holds no answer {cell.answer_hash[:12]} of run {run_id}")
        record = SignOffRecord(answer_hash=cell.answer_hash, answer_id=answer_id, reviewer=reviewer.strip(),
                               verdict=verdict, comment=comment, identity=identity)  # fmt: skip
        chain.append(record, audit_log)
        records.append(record)
    return records


def _answers_of(run_id: str, audit_log: Path | None) -> dict[str, str]:
    """The run's answers in the trail: id by hash (one pass over the trail, not one per cell)."""
    return {
        r["hash"]: r["id"]
        for r in chain.records_mentioning(run_id, audit_log)
        if r.get("kind") == "answer" and (r.get("cell") or {}).get("run_id") == run_id
    }


def summary(review: dict[CellKey, CellReview], cells: dict[CellKey, CellResult]) -> str:
    """ "12 of 40 answered cells signed off (3 lapsed)"."""
    answered = [key for key, cell in cells.items() if cell.answer_hash]
    signed = sum(1 for key in answered if review.get(key, CellReview()).signoff)
    lapsed = sum(1 for key in answered if review.get(key, CellReview()).lapsed)
    lapsed_note = f" ({lapsed} lapsed)" if lapsed else ""
    return f"{signed} of {len(answered)} answered cells signed off{lapsed_note}"
