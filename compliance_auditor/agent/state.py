"""What the graph knows about one question (`AgentState`), and what every node may use
(`Context`), with the two things every node does: say what it is doing, and log its time."""

from __future__ import annotations

import operator
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from langgraph.runtime import Runtime
from pydantic import BaseModel

from compliance_auditor import config, metrics
from compliance_auditor.agent.prompts import PromptProfile
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.llm.pool import LLMPool
from compliance_auditor.logs import get_logger
from compliance_auditor.records import (
    Grade,
    Mode,
    ModelCall,
    Passage,
    PassageRef,
    Reflection,
    SearchRecord,
    Verification,
)

log = get_logger("agent", "agent_log.jsonl")


class Judgement(BaseModel):
    """The grader's reply: which candidates help, whether they suffice, what to search next."""

    relevant: list[int] = []
    enough: bool = False
    search: str = ""


@dataclass(kw_only=True)
class AgentState:
    """What the graph knows about one question as it works on it."""

    question: str
    """The analyst's question, as asked."""
    filters: dict[str, Any] | None = None
    """Filters from the caller; None lets the search derive them from the question."""
    query: str = ""
    """The query of the next search: the question first, then the reflect step's rewrite."""
    search_filters: dict[str, Any] | None = None
    """Filters of the next search; None until the first search has derived or taken them."""
    candidates: list[Passage] = field(default_factory=list)
    """What the latest search returned and no earlier search had, waiting to be graded."""
    evidence: Annotated[list[Passage], operator.add] = field(default_factory=list)
    """Passages the grader kept, across all searches, in the order they were kept."""
    shown: list[Passage] = field(default_factory=list)
    """The passages of the latest grading prompt, in its order: the answer's prompt starts with them."""
    judgement: Judgement | None = None
    """The grader's view of the latest candidates; None before grading."""
    graded_ids: Annotated[list[str], operator.add] = field(default_factory=list)
    """Chunks already graded, so a later search does not grade them again."""
    grading_failed: bool = False
    """The grader gave no usable reply: the retrieval order stands in for its judgement."""
    searches: Annotated[list[SearchRecord], operator.add] = field(default_factory=list)
    """Every search made: query, filters, hits, index version."""
    retrieved: Annotated[list[PassageRef], operator.add] = field(default_factory=list)
    """Every hit of every search, in rank order: chunk id, document sha256 and name, page."""
    grades: Annotated[list[Grade], operator.add] = field(default_factory=list)
    """Every grading verdict: chunk id and whether it was kept."""
    reflections: Annotated[list[Reflection], operator.add] = field(default_factory=list)
    """Every reflect decision, with its reason."""
    answer: str = ""
    """The answer text (or the evidence-only or gap report)."""
    mode: Mode = "answered"
    """How the answer came about: answered, evidence_only, refused or error."""
    complete: bool = False
    """True once the answer is whole: a cut stream never sets it."""
    cited_evidence: list[Passage] = field(default_factory=list)
    """The passages numbered [1..n] for the answer."""
    verification: Verification | None = None
    """The model-free check of the answer."""
    warnings: Annotated[list[str], operator.add] = field(default_factory=list)
    """Things the analyst must see: evidence-only mode, unverified numbers, remote endpoints."""
    llm_calls: Annotated[list[ModelCall], operator.add] = field(default_factory=list)
    """Every attempt to call a model: node, endpoint, seconds, tokens, error."""
    left_out: Annotated[list[str], operator.add] = field(default_factory=list)
    """Chunks left out of a prompt to fit the model's context window."""
    prompt_hashes: Annotated[list[str], operator.add] = field(default_factory=list)
    """SHA-256 of every prompt sent, for the audit trail."""
    timings: Annotated[list[tuple[str, float]], operator.add] = field(default_factory=list)
    """(node, seconds) for every node run."""


@dataclass
class Context:
    """What every node may use, fixed for one question."""

    index: AuditIndex
    pool: LLMPool
    profile: PromptProfile
    question_id: str
    settings: config.Settings
    asker: str = ""
    """Whose turn the model calls take when they must wait (the pool serves askers in turn)."""


def say(runtime: Runtime[Context], node: str, message: str) -> None:
    """A status line for whoever watches the agent work (the app's status box, the CLI's stderr)."""
    runtime.stream_writer({"type": "status", "node": node, "text": message})


def timed(
    ctx: Context, node: str, started: float, decision: str, calls: list[ModelCall] | None = None
) -> dict[str, Any]:
    """Log one node's run as a JSON line and a metric; the state update recording its time."""
    seconds = time.perf_counter() - started
    log.info(node, extra={"fields": {
        "question_id": ctx.question_id, "node": node, "seconds": round(seconds, 4), "model": ctx.pool.model,
        "input_tokens": sum(c.input_tokens for c in calls or []),
        "output_tokens": sum(c.output_tokens for c in calls or []), "decision": decision,
    }})  # fmt: skip
    metrics.node_finished(node, seconds)
    return {"timings": [(node, seconds)]}
