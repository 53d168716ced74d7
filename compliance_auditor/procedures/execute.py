"""Working a run: every (item, filing) cell asked once, several at a time, resumable, cancellable.

Each cell is one agent question restricted to its filing and, where the filing has them, to
the item's 10-K/10-Q Items; its answer is sealed into the audit trail with the run's id and
the procedure's hash, then noted as finished. One bad cell never stops a run: it is finished
with the error, and the run goes on.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from compliance_auditor import config
from compliance_auditor.agent.graph import stream
from compliance_auditor.index.schema import SEARCHABLE_STATUS
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.llm.pool import LLMPool, get_pool
from compliance_auditor.logs import get_logger
from compliance_auditor.procedures.cells import CellResult, summarise
from compliance_auditor.procedures.runs import (
    FilingRef,
    RunBusy,
    RunSpec,
    RunStatus,
    RunStore,
    by_filing,
    now,
)
from compliance_auditor.procedures.spec import ProcedureItem
from compliance_auditor.records import CellRef, Identity
from compliance_auditor.team.identity import companies_seen_by

log = get_logger("procedures", "procedures.jsonl")
Progress = Callable[[RunStatus], None]


@dataclass
class _Work:
    """What the workers of one run share."""

    spec: RunSpec
    store: RunStore
    index: AuditIndex
    pool: LLMPool
    user: str
    identity: Identity | None
    status: RunStatus
    started: float
    asked_here: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def work_on(
    run_id: str,
    *,
    settings: config.Settings | None = None,
    index: AuditIndex | None = None,
    pool: LLMPool | None = None,
    on_progress: Progress | None = None,
    user: str = "",
) -> RunStatus:
    """Ask the run's unfinished cells (as `user`, else as who last resumed it, else its starter)."""
    settings = settings or config.get_settings()
    store = RunStore(settings.runs_dir)
    spec = store.spec(run_id)
    held = store.lock(run_id)
    if held is None:
        raise RunBusy(f"run {run_id} is already being worked on by another process")
    try:
        _adopt_from_trail(store, run_id, settings)
        procedure = store.procedure(run_id).procedure
        finished = store.cells(run_id)
        pending = [(item, filing) for filing in spec.filings for item in procedure.items
                   if (item.id, filing.doc_sha256) not in finished]  # fmt: skip
        status = RunStatus(state="running", total=len(spec.filings) * len(procedure.items),
                           done=len(finished), by_filing=by_filing(finished.values()), started_at=now(),
                           pid=os.getpid())  # fmt: skip
        user, identity = _asking_as(store, run_id, user)
        # The worker (a run started in the browser) keeps to the asker's workspaces too.
        index = index or AuditIndex().within(companies_seen_by(identity, settings) if identity else None)
        index.embedder  # noqa: B018 -- loaded once here, not raced for by the first workers
        work = _Work(spec, store, index, pool or get_pool(settings), user, identity, status,
                     time.perf_counter())  # fmt: skip
        _report(work, on_progress, f"{len(pending)} cell(s) to ask")
        with ThreadPoolExecutor(max_workers=max(1, spec.concurrency), thread_name_prefix="cell") as workers:
            owed = store.attempts(run_id)
            futures = [
                workers.submit(_ask_cell, work, item, filing, owed.get((item.id, filing.doc_sha256), 0))
                for item, filing in pending
            ]
            for future in as_completed(futures):
                if cell := future.result():
                    _finished(work, cell, on_progress)
        cancelled = store.cancel_requested(run_id) and status.done < status.total
        status.state, status.eta_s = ("cancelled" if cancelled else "done"), None
        _report(work, on_progress, "cancelled" if cancelled else "finished")
        return status
    finally:
        os.close(held)


def _adopt_from_trail(store: RunStore, run_id: str, settings: config.Settings) -> None:
    """Cells whose answers reached the trail before a crash are kept, not asked again."""
    if adopted := store.adopt_from_trail(run_id, settings.audit_log):
        fields = {"run_id": run_id, "cells": len(adopted)}
        log.info("cells adopted from the audit trail", extra={"fields": fields})


def _asking_as(store: RunStore, run_id: str, user: str) -> tuple[str, Identity | None]:
    """Whose name the cells are asked in: `user` if given, else who resumed the run or asked
    cells again last, else its starter."""
    if user:
        return user, None
    last = store.preparers(run_id)[-1]
    return (last.label, last) if isinstance(last, Identity) else (last, None)


def _ask_cell(work: _Work, item: ProcedureItem, filing: FilingRef, attempt: int) -> CellResult | None:
    """One cell, start to finish; None when the run was cancelled before it began."""
    if work.store.cancel_requested(work.spec.id):
        return None
    started = time.perf_counter()
    try:
        document = work.index.get_document(filing.doc_sha256)
        if document is None or document["status"] not in SEARCHABLE_STATUS:
            gone = f"{filing.doc_name} was removed from the index during the run"
            return CellResult(item_id=item.id, doc_sha256=filing.doc_sha256, attempt=attempt, status="error",
                              short="filing gone", detail=gone, finished_at=now())  # fmt: skip
        cell = CellRef(run_id=work.spec.id, procedure=work.spec.procedure_label,
                       procedure_sha256=work.spec.procedure_sha256, item_id=item.id,
                       doc_sha256=filing.doc_sha256, attempt=attempt)  # fmt: skip
        filters = cell_filters(work.index, item, filing)
        events = stream(item.prompt(), filters, index=work.index, pool=work.pool, user=work.user, cell=cell,
                        identity=work.identity)  # fmt: skip
        result = next(e.result for e in events if e.result is not None)
        return summarise(result, item)
    except Exception as exc:  # a bug or a broken index: this cell fails, the run goes on
        log.exception("cell failed", extra={"fields": {"run_id": work.spec.id, "item": item.id}})
        return CellResult(item_id=item.id, doc_sha256=filing.doc_sha256, attempt=attempt, status="error",
                          short="error",
                          detail=f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - started,
                          finished_at=now())  # fmt: skip


def cell_filters(index: AuditIndex, item: ProcedureItem, filing: FilingRef) -> dict[str, Any]:
    """The cell's filing, and the item's sections where the filing was found to have them.

    An 8-K or an earnings release has no Items, and a 10-K whose Items were not recognised
    has few: searching only sections it lacks would find nothing, so those are searched whole.
    """
    filters: dict[str, Any] = {"doc_sha256": filing.doc_sha256}
    found = index.items_of(filing.doc_sha256) if item.sections else set()
    sections = [s for s in item.sections if s in found]
    if sections:
        filters["item"] = sections
    return filters


def _finished(work: _Work, cell: CellResult, on_progress: Progress | None) -> None:
    with work.lock:
        work.store.append_cell(work.spec.id, cell)
        status = work.status
        status.done += 1
        status.by_filing[cell.doc_sha256] = status.by_filing.get(cell.doc_sha256, 0) + 1
        work.asked_here += 1
        per_cell = (time.perf_counter() - work.started) / work.asked_here
        status.eta_s = round(per_cell * (status.total - status.done), 1)
        _report(work, on_progress, f"{cell.item_id} · {cell.status}")


def _report(work: _Work, on_progress: Progress | None, message: str) -> None:
    work.status.message = message
    work.store.write_status(work.spec.id, work.status)
    if on_progress:
        on_progress(work.status)
