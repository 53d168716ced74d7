"""The agent's other nodes: retrieve, generate, report a gap, and verify the answer.

- retrieve searches the index (filters from the caller, or derived from the question);
- generate streams the answer, every claim cited as [n]; with no model reachable it returns
  the ranked evidence instead (evidence-only), never an invented answer;
- report_gap says what was searched and what related evidence exists;
- verify checks the answer without a model (`compliance_auditor/verification/`).
"""

from __future__ import annotations

import time
from typing import Any

from langgraph.runtime import Runtime

from compliance_auditor.agent.prompts import Messages, answer_messages, prompt_hash
from compliance_auditor.agent.state import AgentState, Context, say, timed
from compliance_auditor.agent.window import call_within_window, cap, reply_budget
from compliance_auditor.index.answer_lines import answer_lines
from compliance_auditor.index.embedder import Embedder
from compliance_auditor.llm.pool import Reply
from compliance_auditor.llm.reasoning import ReasoningFilter, strip_reasoning
from compliance_auditor.records import ModelCall, Passage, PassageRef, SearchRecord, Verification
from compliance_auditor.verification.check import check_answer
from compliance_auditor.verification.numbers import statement_scale


def retrieve(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Search the index for the current query; keep only what no earlier search returned.

    A later search reaches as deep as the passages already graded, so it hands the grader
    `AUDITOR_AGENT_K` new ones even when it ranks the earlier ones first again."""
    started = time.perf_counter()
    ctx, query = runtime.context, state.query or state.question
    filters = state.search_filters if state.searches else state.filters
    say(runtime, "retrieve", f"Searching the filings: {query[:120]}")
    seen = set(state.graded_ids)
    result = ctx.index.search(query, k=ctx.settings.agent_k + len(seen), filters=filters)
    if result.route:
        say(runtime, "retrieve", f"Also searched: {'; '.join(result.route)}")
    record = SearchRecord(
        query=query, filters=result.filters, derived=result.filters_derived, relaxed=result.relaxed,
        hits=len(result.hits), table_version=result.table_version,
        documents_version=result.documents_version, ms=round(result.seconds * 1000, 1), route=result.route,
    )  # fmt: skip
    hits = [PassageRef(chunk_id=h.chunk_id, doc_sha256=h.doc_sha256, doc_name=h.doc_name, page=h.page)
            for h in result.hits]  # fmt: skip
    search = len(state.searches)
    fresh = [h.model_copy(update={"search": search}) for h in result.hits if h.chunk_id not in seen]
    fresh = fresh[: ctx.settings.agent_k]
    return {
        "candidates": fresh, "searches": [record], "retrieved": hits, "search_filters": result.filters,
        "query": query,
        **timed(ctx, "retrieve", started, f"{len(result.hits)} hits, {len(fresh)} new"),
    }  # fmt: skip


def generate(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Stream the cited answer; with no model reachable, hand back the ranked evidence instead."""
    started = time.perf_counter()
    ctx = runtime.context
    say(runtime, "generate", "Writing the answer")
    passages, kept = answer_passages(state, ctx.settings.max_evidence)
    kept_ids = {p.chunk_id for p, keep in zip(passages, kept, strict=True) if keep}

    def build(shown: list[Passage]) -> Messages:
        relevant = [n for n, p in enumerate(shown, 1) if p.chunk_id in kept_ids]
        return answer_messages(state.question, shown, relevant, ctx.profile)

    context = ctx.pool.context_tokens()
    stream = _AnswerStream(runtime.stream_writer, ctx, reply_budget(ctx.settings.llm_max_tokens, context))
    outcome = call_within_window(build, passages, context, stream.max_tokens, stream, keep_first=kept)
    base = {
        "cited_evidence": outcome.shown, "prompt_hashes": [prompt_hash(build(outcome.shown))],
        "left_out": [p.chunk_id for p in outcome.left_out], "llm_calls": outcome.calls,
    }  # fmt: skip
    if outcome.value is None:
        why = str(outcome.error or "no language model answered")
        return (
            base
            | evidence_only(outcome.shown, why, state.question, ctx.index.embedder)
            | timed(ctx, "generate", started, "evidence-only", outcome.calls)
        )
    answer = strip_reasoning(outcome.value.text)
    return (
        base
        | {"answer": answer, "mode": "answered", "complete": True}
        | timed(ctx, "generate", started, f"{len(answer)} characters", outcome.calls)
    )


def answer_passages(state: AgentState, limit: int) -> tuple[list[Passage], list[bool]]:
    """The answer's passages, and which the grader kept: first those of the latest grading prompt,
    in its order (so the answer's prompt begins with that prompt), then those kept from earlier
    searches; at most `limit`, the ones not kept dropped first."""
    kept = {e.chunk_id for e in state.evidence}
    shown = {p.chunk_id for p in state.shown}
    passages = state.shown + [e for e in state.evidence if e.chunk_id not in shown]
    passages = cap(passages, limit, [p.chunk_id in kept for p in passages])
    return passages, [p.chunk_id in kept for p in passages]


class _AnswerStream:
    """One streaming call for the answer: tokens to the caller as they come, without any
    <think> preamble; a cut stream restarts the caller's view."""

    def __init__(self, writer: Any, ctx: Context, max_tokens: int) -> None:
        self.writer, self.ctx, self.max_tokens = writer, ctx, max_tokens
        self.reasoning = ReasoningFilter()

    def __call__(self, shown: list[Passage], messages: Messages) -> tuple[Reply, list[ModelCall]]:
        self.reasoning = ReasoningFilter()
        reply = self.ctx.pool.stream(
            messages, "generate", self.max_tokens, self.on_token, self.on_reset, asker=self.ctx.asker
        )
        if tail := self.reasoning.flush():
            self.writer({"type": "token", "text": tail})
        return reply, reply.calls

    def on_token(self, piece: str) -> None:
        for text in self.reasoning.feed(piece):
            self.writer({"type": "token", "text": text})

    def on_reset(self) -> None:
        self.reasoning = ReasoningFilter()
        self.writer({"type": "reset", "text": "The answer stream was cut; starting again."})


def evidence_only(passages: list[Passage], why: str, question: str, embedder: Embedder) -> dict[str, Any]:
    """The state update of an answer no model wrote: the ranked evidence, each passage shown by
    the line that best answers the question, and a warning."""
    best = answer_lines(embedder, question, passages)
    ranked = sorted(zip(passages, best, strict=True), key=lambda pair: -pair[1][1])  # best answer first
    shown = [p.model_copy(update={"answer_line": line}) for p, (line, _) in ranked]
    lines = [
        "No language model answered, so no answer was written. The ranked evidence for the "
        "question follows, each passage by its line that best answers it, best first; read it directly.",
        *(f"[{n}] {p.label()}: {p.answer_line}" + (f" ({p.heading})" if p.heading else "")
          for n, p in enumerate(shown, 1)),
    ]  # fmt: skip
    warning = f"Evidence-only mode: {why}"
    return {
        "answer": "\n".join(lines), "mode": "evidence_only", "complete": True, "warnings": [warning],
        "cited_evidence": shown,
    }  # fmt: skip


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
    result = check_answer(state.answer, passages, scales, state.question)
    verdict = "ok" if result.ok else f"{len(result.warnings)} warnings"
    return {"verification": result, "warnings": result.warnings} | timed(
        runtime.context, "verify", started, verdict
    )
