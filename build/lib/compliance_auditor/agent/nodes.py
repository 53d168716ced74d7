"""The agent's other nodes: retrieve, generate, report a gap, and verify the answer.

- retrieve searches the index (filters from the caller, or derived from the question);
- generate streams the answer, every claim cited as [n]; with no model reachable it returns
  the ranked evidence instead (evidence-only), never an invented answer;
- report_gap says what was searched and what related evidence exists;
- verify checks the answer without a model (`answer_check.py`).
"""

from __future__ import annotations

import time
from typing import Any

from langgraph.runtime import Runtime

from compliance_auditor.agent.prompts import answer_messages, prompt_hash
from compliance_auditor.agent.state import AgentState, Context, say, timed
from compliance_auditor.answer_check import check_answer, statement_scale
from compliance_auditor.llm.pool import LLMUnavailable
from compliance_auditor.llm.reasoning import ReasoningFilter, strip_reasoning
from compliance_auditor.records import Passage, PassageRef, SearchRecord, Verification


def retrieve(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Search the index for the current query; keep only what no earlier search returned."""
    started = time.perf_counter()
    ctx, query = runtime.context, state.query or state.question
    filters = state.search_filters if state.searches else state.filters
    say(runtime, "retrieve", f"Searching the filings: {query[:120]}")
    result = ctx.index.search(query, k=ctx.settings.agent_k, filters=filters)
    record = SearchRecord(
        query=query, filters=result.filters, derived=result.filters_derived, relaxed=result.relaxed,
        hits=len(result.hits), table_version=result.table_version,
        documents_version=result.documents_version, ms=round(result.seconds * 1000, 1),
    )  # fmt: skip
    hits = [PassageRef(chunk_id=h.chunk_id, doc_sha256=h.doc_sha256, doc_name=h.doc_name, page=h.page)
            for h in result.hits]  # fmt: skip
    seen = set(state.graded_ids)
    search = len(state.searches)
    fresh = [h.model_copy(update={"search": search}) for h in result.hits if h.chunk_id not in seen]
    return {
        "candidates": fresh, "searches": [record], "retrieved": hits, "search_filters": result.filters,
        "query": query,
        **timed(ctx, "retrieve", started, f"{len(result.hits)} hits, {len(fresh)} new"),
    }  # fmt: skip


def generate(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Stream the cited answer; with no model reachable, hand back the ranked evidence instead."""
    started = time.perf_counter()
    ctx = runtime.context
    passages = state.evidence[: ctx.settings.max_evidence]
    say(runtime, "generate", "Writing the answer")
    messages = answer_messages(state.question, passages, ctx.profile)
    writer = runtime.stream_writer
    reasoning = ReasoningFilter()

    def on_token(piece: str) -> None:
        for text in reasoning.feed(piece):
            writer({"type": "token", "text": text})

    def on_reset() -> None:
        nonlocal reasoning
        reasoning = ReasoningFilter()
        writer({"type": "reset", "text": "The answer stream was cut; starting again."})

    base = {"cited_evidence": passages, "prompt_hashes": [prompt_hash(messages)]}
    try:
        reply = ctx.pool.stream(messages, "generate", ctx.settings.llm_max_tokens, on_token, on_reset)
    except LLMUnavailable as exc:
        calls = exc.calls
        return (
            base
            | evidence_only(passages, str(exc))
            | {"llm_calls": calls}
            | timed(ctx, "generate", started, "evidence-only", calls)
        )
    if tail := reasoning.flush():
        writer({"type": "token", "text": tail})
    answer = strip_reasoning(reply.text)
    return (
        base
        | {"answer": answer, "mode": "answered", "complete": True, "llm_calls": reply.calls}
        | timed(ctx, "generate", started, f"{len(answer)} characters", reply.calls)
    )


def evidence_only(passages: list[Passage], why: str) -> dict[str, Any]:
    """The state update of an answer no model wrote: the ranked evidence, and a warning."""
    lines = [
        "No language model answered, so no answer was written. The ranked evidence for the "
        "question follows; read it directly.",
        *(f"[{n}] {p.label()}: {p.heading or p.text[:80]}" for n, p in enumerate(passages, 1)),
    ]
    warning = f"Evidence-only mode: {why}"
    return {"answer": "\n".join(lines), "mode": "evidence_only", "complete": True, "warnings": [warning]}


def report_gap(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Say what was searched and what related evidence exists; never invent an answer."""
    started = time.perf_counter()
    related = state.candidates[:3]  # the latest search's best, all graded irrelevant
    searched = "; ".join(
        f'"{s.query}"' + (f" within {_describe(s.filters)}" if s.filters else " across all filings")
        + f" ({s.hits} hits)"
        for s in state.searches
    )  # fmt: skip
    lines = [f"The indexed filings do not hold enough evidence to answer this. Searched: {searched}."]
    if related:
        lines.append("Related passages, which do not answer the question:")
        lines += [f"[{n}] {p.label()}: {p.heading or p.text[:80]}" for n, p in enumerate(related, 1)]
    return {
        "answer": "\n".join(lines), "mode": "refused", "complete": True, "cited_evidence": related,
        **timed(runtime.context, "report_gap", started, "gave up"),
    }  # fmt: skip


def _describe(filters: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v if k != 'doc_sha256' else [s[:8] for s in v]}" for k, v in filters.items())


def verify_answer(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Citations resolve, numbers match the cited evidence, claims carry citations."""
    started = time.perf_counter()
    if state.mode != "answered":
        return {"verification": Verification(ok=True), **timed(runtime.context, "verify", started, "skipped")}
    say(runtime, "verify", "Checking citations and numbers")
    passages = {n: e.text for n, e in enumerate(state.cited_evidence, 1)}
    scales = {n: statement_scale(e.heading) for n, e in enumerate(state.cited_evidence, 1)}
    result = check_answer(state.answer, passages, scales)
    verdict = "ok" if result.ok else f"{len(result.warnings)} warnings"
    return {"verification": result, "warnings": result.warnings} | timed(
        runtime.context, "verify", started, verdict
    )
