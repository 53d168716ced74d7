"""Procedure runs on disk: what each run covers, its finished cells, and its status.

    <runs_dir>/<run id>/run.json        the run: procedure, its hash, scope, filings (written once)
                        procedure.yaml  the procedure file as it was when the run started
                        cells.jsonl     one line per finished cell, appended
                        status.json     state and progress, replaced atomically
                        cancel          present once someone asked to cancel
                        reopened.json   cells to ask again, each with the attempt it is owed
                        lock            held (flock) by the process working on the run

The audit trail, not cells.jsonl, decides whether a cell was asked: an answer is sealed into
the trail first, then noted here. A run killed between the two adopts the answer from the
trail when it resumes, so no cell is asked twice and none is lost.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel, Field, ValidationError

from compliance_auditor.audit import chain
from compliance_auditor.procedures.cells import CellResult, summarise
from compliance_auditor.procedures.spec import LoadedProcedure, load_procedure
from compliance_auditor.records import AnswerRecord, Identity

RunState = Literal["queued", "running", "done", "cancelled", "interrupted"]


class Scope(BaseModel):
    """Which filings a run covers: a company's forms and fiscal years, or an explicit list."""

    company: str = ""
    forms: list[str] = []
    fiscal_years: list[int] = []
    filings: list[str] = Field(default=[], description="Filings by sha256 (or a prefix) or file name.")

    def describe(self) -> str:
        if self.filings:
            return f"{len(self.filings)} filing(s) chosen by name"
        parts = [self.company or "every company", "/".join(self.forms) or "every form"]
        years = ", ".join(f"FY{y}" for y in sorted(self.fiscal_years)) or "every fiscal year"
        return " · ".join([*parts, years])


class FilingRef(BaseModel):
    """A filing in a run's scope, as it was when the run started."""

    doc_sha256: str
    doc_name: str
    company: str = ""
    form_type: str = ""
    fiscal_year: int | None = None
    fiscal_period: str = ""
    period_end: str = ""

    @property
    def label(self) -> str:
        """How a matrix column is headed: "Ulta Beauty 10-K FY2022"."""
        year = f"FY{self.fiscal_year}" if self.fiscal_year else ""
        period = self.fiscal_period if self.fiscal_period not in ("", "FY") else ""
        parts = [self.company or self.doc_name, self.form_type, " ".join(p for p in (period, year) if p)]
        return " ".join(p for p in parts if p)


class RunSpec(BaseModel):
    """A run: one procedure applied to a scope of filings."""

    id: str
    procedure_key: str
    procedure_name: str
    procedure_version: str
    procedure_sha256: str
    scope: Scope
    filings: list[FilingRef]
    created_at: str
    created_by: str = ""
    created_by_identity: Identity | None = Field(
        default=None, description="Who started it, as authenticated: its cells are asked in their name."
    )
    concurrency: int = 1

    @property
    def procedure_label(self) -> str:
        return f"{self.procedure_name} v{self.procedure_version}"


class RunStatus(BaseModel):
    """Where a run stands; rewritten as cells finish."""

    state: RunState = "queued"
    total: int = 0
    done: int = 0
    by_filing: dict[str, int] = Field(default={}, description="Finished cells per filing (by sha256).")
    eta_s: float | None = None
    started_at: str = ""
    updated_at: str = ""
    pid: int | None = None
    message: str = ""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class RunStore:
    """The runs folder."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir

    def folder(self, run_id: str) -> Path:
        if not run_id or "/" in run_id or run_id.startswith("."):
            raise ValueError(f"not a run id: {run_id!r}")
        return self.runs_dir / run_id

    def create(self, loaded: LoadedProcedure, scope: Scope, filings: list[FilingRef], user: str,
               concurrency: int, identity: Identity | None = None) -> RunSpec:  # fmt: skip
        if not filings:
            raise ValueError(f"the scope ({scope.describe()}) holds no searchable filing")
        run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        spec = RunSpec(
            id=run_id, procedure_key=loaded.key, procedure_name=loaded.procedure.name,
            procedure_version=loaded.procedure.version, procedure_sha256=loaded.sha256, scope=scope,
            filings=filings, created_at=now(), created_by=user, concurrency=concurrency,
            created_by_identity=identity,
        )  # fmt: skip
        folder = self.folder(run_id)
        folder.mkdir(parents=True)
        (folder / "procedure.yaml").write_bytes(loaded.path.read_bytes())
        _write_atomic(folder / "run.json", spec.model_dump_json(indent=2).encode())
        total = len(filings) * len(loaded.procedure.items)
        self.write_status(run_id, RunStatus(total=total, message="queued"))
        return spec

    def spec(self, run_id: str) -> RunSpec:
        path = self.folder(run_id) / "run.json"
        if not path.exists():
            raise LookupError(f"no run {run_id!r} in {self.runs_dir}")
        return RunSpec.model_validate_json(path.read_bytes())

    def procedure(self, run_id: str) -> LoadedProcedure:
        """The procedure as it was when the run started, whatever became of its file since."""
        return load_procedure(self.folder(run_id) / "procedure.yaml", max_bytes=10**7)

    def run_ids(self) -> list[str]:
        if not self.runs_dir.is_dir():
            return []
        return sorted((p.name for p in self.runs_dir.iterdir() if (p / "run.json").exists()), reverse=True)

    def cells(self, run_id: str) -> dict[tuple[str, str], CellResult]:
        """Finished cells by (item id, filing sha256): the latest answer of each, unless the cell
        was reopened for a re-run since."""
        owed = self.attempts(run_id)
        return {key: cell for cell in self.history(run_id)
                if cell.attempt >= owed.get(key := (cell.item_id, cell.doc_sha256), 0)}  # fmt: skip

    def history(self, run_id: str) -> list[CellResult]:
        """Every cell noted, in order, re-runs' earlier answers included; a line torn by a crash
        is skipped (the audit trail still holds its answer)."""
        path = self.folder(run_id) / "cells.jsonl"
        if not path.exists():
            return []
        stat = path.stat()
        return list(_read_cells(path, stat.st_mtime_ns, stat.st_size))

    def attempts(self, run_id: str) -> dict[tuple[str, str], int]:
        """The attempt each reopened cell is owed; a cell not listed is owed its first (0)."""
        path = self.folder(run_id) / "reopened.json"
        if not path.exists():
            return {}
        return {tuple(key.split("|", 1)): n for key, n in orjson.loads(path.read_bytes()).items()}

    def reopen(self, run_id: str, keys: list[tuple[str, str]]) -> int:
        """Mark finished cells to be asked again (a re-run); returns how many were reopened.

        Their answers stay in the trail and in the history; the re-run's answers are new records,
        so a sign-off of the old answer does not carry over to the new one."""
        if self.is_worked_on(run_id):
            raise RunBusy(f"run {run_id} is being worked on; cancel it or wait before re-running cells")
        finished = self.cells(run_id)
        owed = self.attempts(run_id)
        for key in keys:
            if key in finished:
                owed[key] = finished[key].attempt + 1
        data = {f"{item}|{sha}": n for (item, sha), n in owed.items()}
        _write_atomic(self.folder(run_id) / "reopened.json", orjson.dumps(data))
        reopened = sum(1 for key in keys if key in finished)
        status = self.status(run_id)
        status.done = len(self.cells(run_id))
        status.by_filing = by_filing(self.cells(run_id).values())
        status.state, status.message = "queued", f"{reopened} cell(s) to ask again"
        self.write_status(run_id, status)
        self.clear_cancel(run_id)
        return reopened

    def ask_as(self, run_id: str, identity: Identity) -> None:
        """Record that `identity` resumed the run or asked cells again: the next cells are asked
        in their name, and they count among its preparers (who may not sign it off)."""
        with open(self.folder(run_id) / "asked_by.jsonl", "ab") as handle:
            handle.write(identity.model_dump_json().encode() + b"\n")

    def preparers(self, run_id: str) -> list[Identity | str]:
        """Who asked the run's cells: its starter, then whoever resumed it or asked cells again."""
        spec = self.spec(run_id)
        path = self.folder(run_id) / "asked_by.jsonl"
        lines = path.read_bytes().splitlines() if path.exists() else []
        later = [Identity.model_validate_json(line) for line in lines if line.strip()]
        return [spec.created_by_identity or spec.created_by, *later]

    def append_cell(self, run_id: str, cell: CellResult) -> None:
        path = self.folder(run_id) / "cells.jsonl"
        with open(path, "ab") as handle:
            if handle.tell() and not _ends_with_newline(path):
                handle.write(b"\n")  # close a line torn by a crash; it is skipped when read
            handle.write(cell.model_dump_json().encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())

    def status(self, run_id: str) -> RunStatus:
        path = self.folder(run_id) / "status.json"
        status = RunStatus.model_validate_json(path.read_bytes()) if path.exists() else RunStatus()
        if status.state in ("queued", "running") and not self.is_worked_on(run_id):
            failure = self._worker_failure(run_id, status)
            if status.state == "running" or failure:
                status.state = "interrupted"
                status.message = failure or "stopped before it finished; resume it"
        return status

    def worker_log(self, run_id: str) -> Path:
        """Where a background worker's output goes."""
        return self.folder(run_id) / "worker.log"

    def _worker_failure(self, run_id: str, status: RunStatus) -> str:
        """The error a background worker died of after the latest status, if it died of one."""
        log_file = self.worker_log(run_id)
        if not log_file.exists() or not log_file.stat().st_size:
            return ""
        written = datetime.fromtimestamp(log_file.stat().st_mtime, UTC).isoformat(timespec="seconds")
        if status.updated_at and written < status.updated_at:
            return ""  # an earlier worker's
        text = log_file.read_text(errors="replace")
        if "Traceback (most recent call last)" not in text:
            return ""  # progress bars and warnings, not a death
        last = text.strip().splitlines()[-1]
        return f"the background worker failed: {last[:300]} (see {log_file})"

    def write_status(self, run_id: str, status: RunStatus) -> None:
        status.updated_at = now()
        _write_atomic(self.folder(run_id) / "status.json", status.model_dump_json(indent=2).encode())

    def request_cancel(self, run_id: str) -> None:
        self.spec(run_id)  # a clear error for an unknown run
        (self.folder(run_id) / "cancel").touch()

    def cancel_requested(self, run_id: str) -> bool:
        return (self.folder(run_id) / "cancel").exists()

    def clear_cancel(self, run_id: str) -> None:
        (self.folder(run_id) / "cancel").unlink(missing_ok=True)

    def lock(self, run_id: str) -> int | None:
        """Hold the run for this process (released when the process ends, even by kill -9)."""
        fd = os.open(self.folder(run_id) / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def is_worked_on(self, run_id: str) -> bool:
        fd = self.lock(run_id)
        if fd is None:
            return True
        os.close(fd)
        return False

    def adopt_from_trail(self, run_id: str, audit_log: Path | None = None) -> list[CellResult]:
        """Cells the trail holds an answer for but cells.jsonl does not (the run died in between)."""
        known = self.cells(run_id)
        owed = self.attempts(run_id)
        procedure = self.procedure(run_id).procedure
        adopted = []
        for record in chain.records_mentioning(run_id, audit_log):
            cell = record.get("cell") or {}
            key = (cell.get("item_id", ""), cell.get("doc_sha256", ""))
            if record.get("kind") != "answer" or cell.get("run_id") != run_id or key in known:
                continue
            if cell.get("attempt", 0) < owed.get(key, 0):
                continue  # the answer a re-run replaces
            result = summarise(AnswerRecord.model_validate(record), procedure.item(key[0]))
            self.append_cell(run_id, result)
            known[key] = result
            adopted.append(result)
        return adopted


@lru_cache(maxsize=32)
def _read_cells(path: Path, mtime_ns: int, size: int) -> tuple[CellResult, ...]:
    """cells.jsonl parsed, again only once it changes: the browser redraws a run's matrix often."""
    found: list[CellResult] = []
    for line in path.read_bytes().splitlines():
        try:
            found.append(CellResult.model_validate_json(line))
        except ValidationError:
            continue
    return tuple(found)


class RunBusy(RuntimeError):
    """Another process is already working on this run."""


def by_filing(cells: Iterable[CellResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for cell in cells:
        counts[cell.doc_sha256] = counts.get(cell.doc_sha256, 0) + 1
    return counts


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
