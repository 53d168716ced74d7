"""The answer record of a question: built from the graph's final state, sealed into the audit
trail with the index version it searched tagged for replay, and logged."""

from __future__ import annotations

import os
from typing import Any

from compliance_auditor.agent.state import Context
from compliance_auditor.audit import chain
from compliance_auditor.audit.replay import tag_version
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.llm.pool import LLMPool
from compliance_auditor.logs import get_logger
from compliance_auditor.records import AnswerRecord, Citation, Mode, ModelCall, Usage, Verification

log = get_logger("agent", "agent_log.jsonl")


def build_result(
    state: dict[str, Any], ctx: Context, question: str, filters: dict[str, Any] | None
) -> AnswerRecord:
    """The record of a question the graph finished: what was asked, seen, said and checked."""
    verification = state.get("verification") or Verification(ok=True)
    added = {n for repair in verification.repairs for n in repair.citations}
    numbered = [
        Citation(**e.model_dump(), n=n, added=n in added)
        for n, e in enumerate(state.get("cited_evidence", []), 1)
    ]
    cited = {c.n for c in verification.citations if c.resolved} | added
    mode: Mode = state.get("mode", "answered")
    calls: list[ModelCall] = state.get("llm_calls", [])
    timings: dict[str, float] = {}
    for node, seconds in state.get("timings", []):
        timings[node] = timings.get(node, 0.0) + seconds
    searches = state.get("searches", [])
    left_out = len(set(state.get("left_out", [])))
    window = [f"{left_out} passage(s) were left out to fit the model's context window."] if left_out else []
    return AnswerRecord(
        question_id=ctx.question_id, question=question, answer=state.get("answer", ""), mode=mode,
        complete=state.get("complete", False), evidence=numbered,
        citations=[c for c in numbered if c.n in cited] if mode == "answered" else numbered,
        verification=verification, searches=searches, grades=state.get("grades", []),
        warnings=list(dict.fromkeys([*privacy_warnings(ctx.pool), *window, *state.get("warnings", [])])),
        reflections=state.get("reflections", []), filters=filters, model=ctx.pool.model,
        endpoint=ctx.pool.endpoint, provider=ctx.pool.provider, prompt_profile=ctx.profile.name,
        table_version=searches[-1].table_version if searches else None,
        documents_version=searches[-1].documents_version if searches else None, timings=timings,
        retrieved=list({r.chunk_id: r for r in state.get("retrieved", [])}.values()),
        llm_calls=sum(1 for c in calls if not c.skipped),
        llm_failures=sum(1 for c in calls if not c.ok and not c.skipped), calls=calls,
        usage=Usage(input_tokens=sum(c.input_tokens for c in calls),
                    output_tokens=sum(c.output_tokens for c in calls)),
        prompt_hashes=state.get("prompt_hashes", []), k=ctx.settings.agent_k, passages_left_out=left_out,
        errors=[f"{c.node} {c.endpoint}: {c.error}" for c in calls if c.error and not c.skipped],
    )  # fmt: skip


def error_result(ctx: Context, question: str, filters: dict[str, Any] | None, exc: Exception) -> AnswerRecord:
    """The record of a question that failed: never a half-made answer."""
    warning = f"The question failed: {type(exc).__name__}: {exc}"
    return AnswerRecord(
        question_id=ctx.question_id, question=question, answer="", mode="error", complete=False,
        verification=Verification(ok=False, warnings=[str(exc)]), warnings=[warning], filters=filters,
        model=ctx.pool.model, endpoint=ctx.pool.endpoint, provider=ctx.pool.provider,
        prompt_profile=ctx.profile.name, k=ctx.settings.agent_k, errors=[warning],
    )  # fmt: skip


def record(result: AnswerRecord, index: AuditIndex) -> None:
    """Append the answer to the audit trail, tagging the index version it used so it can be replayed."""
    try:
        if result.table_version is not None:
            _tag_once(index, result.table_version, result.documents_version)
        chain.append(result)
    except Exception as exc:  # the answer stands, but nobody may miss that it is unrecorded
        log.exception("audit append failed", extra={"fields": {"question_id": result.question_id}})
        result.warnings.append(f"This answer is NOT in the audit trail: {type(exc).__name__}: {exc}")


_TAGGED: set[tuple[str, int, int | None]] = set()


def _tag_once(index: AuditIndex, version: int, documents_version: int | None) -> None:
    key = (index.uri, version, documents_version)
    if key not in _TAGGED:
        tag_version(index, version, documents_version)
        _TAGGED.add(key)


def privacy_warnings(pool: LLMPool) -> list[str]:
    """Where filing text leaves the machine: a remote endpoint, or LangSmith tracing."""
    warnings = [pool.warning] if pool.warning else []
    if (
        os.environ.get("LANGSMITH_TRACING", "").lower() == "true"
        or os.environ.get("LANGCHAIN_TRACING_V2") == "true"
    ):
        warnings.append("LangSmith tracing is on: questions and filing text are sent to LangSmith.")
    return warnings


def log_result(result: AnswerRecord) -> None:
    log.info("answer", extra={"fields": {
        "question_id": result.question_id, "mode": result.mode, "complete": result.complete,
        "citations": len(result.citations), "verified": result.verification.ok, "warnings": result.warnings,
        "endpoint": result.endpoint, "model": result.model, "llm_calls": result.llm_calls,
        "seconds": round(result.latency_s, 3), "table_version": result.table_version,
    }})  # fmt: skip
