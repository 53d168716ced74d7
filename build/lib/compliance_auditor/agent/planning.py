"""The reflect node: after grading, answer, search again, or give up.

Searching again means a rewritten query (the grader's, or the question with filing
vocabulary), narrowed to the filings that held partial evidence, or widened past a filter
the search derived itself; never the same search twice, and never more than
`AUDITOR_MAX_ITERATIONS` searches.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from langgraph.runtime import Runtime

from compliance_auditor.agent.state import AgentState, Context, Judgement, say, timed
from compliance_auditor.questions import expand_query
from compliance_auditor.records import Reflection


def reflect(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Answer, search again (rewritten, narrowed or widened), or give up."""
    started = time.perf_counter()
    ctx, judgement = runtime.context, state.judgement or Judgement()
    reflection = plan_next_step(state, ctx.settings.max_iterations)
    if reflection.decision == "retrieve":
        say(runtime, "reflect", f"Searching again: {reflection.reason}")
    update: dict[str, Any] = {"reflections": [reflection]}
    if reflection.decision == "retrieve":
        update |= {"query": reflection.query, "search_filters": reflection.filters}
    detail = f"{reflection.decision}: {reflection.reason}" + (
        f" (enough={judgement.enough})" if state.judgement else ""
    )
    return update | timed(ctx, "reflect", started, detail)


def plan_next_step(state: AgentState, max_iterations: int) -> Reflection:
    """The next step, decided from the grader's judgement and the searches made so far."""
    judgement, kept, last = state.judgement or Judgement(), state.evidence, state.searches[-1]
    if kept and (judgement.enough or state.grading_failed):
        return Reflection(decision="generate", reason=f"{len(kept)} relevant passages suffice")
    if len(state.searches) >= max_iterations:
        if kept:
            return Reflection(
                decision="generate", reason="search budget spent; answering from partial evidence"
            )
        return Reflection(decision="give_up", reason=f"nothing relevant after {len(state.searches)} searches")
    query = judgement.search.strip()
    if not query or query.lower() in {s.query.lower() for s in state.searches}:
        query = f"{state.question} {expand_query(state.question)}".strip()
    caller = state.filters or {}
    if kept:
        docs = sorted({e.doc_sha256 for e in kept})
        filters = {**caller, "doc_sha256": docs}
        reason = f"partial evidence in {len(docs)} filing(s); searching within them for the rest"
    elif last.filters and set(last.filters) - set(caller):
        filters = dict(caller)
        reason = f"nothing relevant under {last.filters}; widening to {filters or 'all filings'}"
    elif last.hits == 0 and not last.filters:
        return Reflection(decision="give_up", reason="the index returned nothing at all")
    else:
        filters = last.filters
        reason = "nothing relevant; rewriting the query"
    if query.lower() == last.query.lower() and filters == last.filters:
        return Reflection(decision="give_up", reason="no new search left to try")
    return Reflection(decision="retrieve", reason=reason, query=query, filters=filters)


def route_after_reflect(state: AgentState) -> Literal["retrieve", "generate", "report_gap"]:
    """Where the graph goes after reflect: its decision, with giving up as the gap report."""
    decision = state.reflections[-1].decision
    return "report_gap" if decision == "give_up" else decision
