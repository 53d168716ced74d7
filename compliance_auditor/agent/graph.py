"""The agent's graph, compiled here once, and the two ways to run it.

    retrieve → grade → reflect ─┬→ generate → verify
        ↑                       ├→ retrieve (search again)
        └───────────────────────┘→ report_gap (give up)

A question about what changed in a disclosure between years starts at compare_disclosures,
which answers from the change report of the company's two 10-Ks (→ generate), or, with no
such pair, hands over to retrieve.

On the happy path that is two model round trips: grade and generate. `stream()` yields status
lines and answer tokens as they happen, then the `AnswerRecord`, already sealed into the audit
trail; `ask()` returns only the record.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph

from compliance_auditor import config, metrics
from compliance_auditor.agent.changes import compare_disclosures, route_after_compare, route_question
from compliance_auditor.agent.grading import grade
from compliance_auditor.agent.nodes import generate, report_gap, retrieve, verify_answer
from compliance_auditor.agent.planning import reflect, route_after_reflect
from compliance_auditor.agent.prompts import pick_profile
from compliance_auditor.agent.results import build_result, error_result, log, log_result, record
from compliance_auditor.agent.state import AgentState, Context
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.llm.pool import LLMPool, get_pool
from compliance_auditor.records import AnswerRecord, CellRef, Identity
from compliance_auditor.team.identity import os_user


def build_graph() -> Any:
    graph = StateGraph(AgentState, context_schema=Context)
    graph.add_node("compare_disclosures", compare_disclosures)
    graph.add_node("retrieve", retrieve)
    graph.add_node("grade", grade)
    graph.add_node("reflect", reflect)
    graph.add_node("generate", generate)
    graph.add_node("verify", verify_answer)
    graph.add_node("report_gap", report_gap)
    graph.add_conditional_edges(START, route_question)
    graph.add_conditional_edges("compare_disclosures", route_after_compare)
    graph.add_edge("retrieve", "grade")
    graph.add_edge("grade", "reflect")
    graph.add_conditional_edges("reflect", route_after_reflect)
    graph.add_edge("generate", "verify")
    graph.add_edge("verify", END)
    graph.add_edge("report_gap", END)
    return graph.compile()


GRAPH = build_graph()


@dataclass
class Event:
    """What the caller sees while the agent works."""

    kind: Literal["status", "token", "reset", "result"]
    text: str = ""
    node: str = ""
    result: AnswerRecord | None = None


def stream(
    question: str,
    filters: dict[str, Any] | None = None,
    *,
    index: AuditIndex | None = None,
    pool: LLMPool | None = None,
    user: str = "",
    cell: CellRef | None = None,
    identity: Identity | None = None,
) -> Iterator[Event]:
    """Run the agent, yielding status lines and answer tokens, and last the result.

    `cell` tags the result (and its audit record) as one cell of a procedure run; `identity` is
    who asked, as authenticated (`user` is then their name).
    """
    settings = config.get_settings()
    pool = pool or get_pool(settings)
    ctx = Context(
        index=index or AuditIndex(), pool=pool, question_id=uuid.uuid4().hex,
        profile=pick_profile(pool.model, settings.prompt_profile), settings=settings,
        asker=f"{identity.issuer} {identity.subject}" if identity else user or os_user(),
    )  # fmt: skip
    started, started_at = time.perf_counter(), datetime.now(UTC).isoformat(timespec="milliseconds")
    final: dict[str, Any] = {}
    try:
        for mode, chunk in GRAPH.stream(
            AgentState(question=question, filters=filters), context=ctx, stream_mode=["custom", "values"]
        ):
            if mode == "values":
                final = chunk
            elif chunk["type"] == "status":
                yield Event("status", chunk["text"], chunk["node"])
            else:
                yield Event(chunk["type"], chunk["text"])
        result = build_result(final, ctx, question, filters)
    except Exception as exc:  # a broken index or a bug: report it, never a half-made answer
        log.exception("agent error", extra={"fields": {"question_id": ctx.question_id}})
        result = error_result(ctx, question, filters, exc)
    result.latency_s, result.started_at = time.perf_counter() - started, started_at
    result.user = user or (identity.label if identity else os_user())
    result.cell, result.identity = cell, identity
    record(result, ctx.index)
    log_result(result)
    metrics.question(result.mode)
    yield Event("result", result=result)


def ask(question: str, filters: dict[str, Any] | None = None, **kwargs: Any) -> AnswerRecord:
    """Run the agent to the end and return its result."""
    return next(e.result for e in stream(question, filters, **kwargs) if e.result is not None)
