"""Everything a run's workpaper holds, gathered once: the run, its matrix, every cell's answer
record from the audit trail, the review, and the facts a reader checks first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from compliance_auditor.audit import chain
from compliance_auditor.procedures.cells import CellResult
from compliance_auditor.procedures.matrix import Matrix, build_matrix
from compliance_auditor.procedures.review import CellKey, CellReview, reviews, summary
from compliance_auditor.procedures.runs import RunSpec, RunStatus, RunStore
from compliance_auditor.procedures.spec import LoadedProcedure
from compliance_auditor.records import AnswerRecord


@dataclass(frozen=True)
class RunReport:
    """A run as its workpaper shows it."""

    spec: RunSpec
    procedure: LoadedProcedure
    status: RunStatus
    cells: dict[CellKey, CellResult]
    matrix: Matrix
    review: dict[CellKey, CellReview]
    answers: dict[str, AnswerRecord]
    """Each cell's answer record, by hash, as the audit trail holds it."""

    def answer_of(self, key: CellKey) -> AnswerRecord | None:
        cell = self.cells.get(key)
        return self.answers.get(cell.answer_hash) if cell else None

    def facts(self) -> list[tuple[str, str]]:
        """What the run was: procedure and hash, scope, index versions, models, times, review."""
        answers = list(self.answers.values())
        versions = sorted({str(a.table_version) for a in answers if a.table_version is not None})
        return [
            ("Run", self.spec.id),
            ("Procedure", f"{self.spec.procedure_label} ({self.spec.procedure_key})"),
            ("Procedure file SHA-256", self.spec.procedure_sha256),
            ("Scope", self.spec.scope.describe()),
            ("Filings", "; ".join(f"{f.label} (sha256 {f.doc_sha256[:12]}…)" for f in self.spec.filings)),
            ("Index version(s)", ", ".join(versions) or "none searched"),
            ("Model(s)", ", ".join(sorted({a.model for a in answers if a.model})) or "none"),
            ("Endpoint(s)", ", ".join(sorted({a.endpoint for a in answers if a.endpoint})) or "none"),
            ("Started by", self.spec.created_by),
            ("Created (UTC)", self.spec.created_at),
            ("Last worked on (UTC)", self.status.updated_at),
            ("State", f"{self.status.state}, {self.status.done} of {self.status.total} cells"),
            ("Cells", ", ".join(f"{n} {status}" for status, n in self.matrix.counts().items() if n)),
            ("Review", summary(self.review, self.cells)),
        ]


def gather(store: RunStore, run_id: str, audit_log: Path | None = None) -> RunReport:
    """The run's report; the trail is read once for all its answers."""
    spec, procedure = store.spec(run_id), store.procedure(run_id)
    cells = store.cells(run_id)
    wanted = {c.answer_hash for c in cells.values() if c.answer_hash}
    answers = {
        r["hash"]: AnswerRecord.model_validate(r)
        for r in chain.records_mentioning(run_id, audit_log)
        if r.get("kind") == "answer" and r.get("hash") in wanted
    }
    return RunReport(
        spec=spec, procedure=procedure, status=store.status(run_id), cells=cells,
        matrix=build_matrix(spec, procedure.procedure, cells), review=reviews(store, run_id, audit_log),
        answers=answers,
    )  # fmt: skip
