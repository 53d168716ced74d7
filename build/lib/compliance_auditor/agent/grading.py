"""The grade node: every candidate judged in ONE model call, which also says whether the kept
evidence is enough and, if not, what to search for instead.

The reply is parsed leniently (`mlx_lm.server` ignores `response_format`): the JSON object is
found wherever it sits, asked for once more if missing, and without it the retrieval order
stands in for the judgement.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from langgraph.runtime import Runtime
from pydantic import ValidationError

from compliance_auditor.agent.prompts import REPEAT_JSON, Messages, grade_messages, prompt_hash
from compliance_auditor.agent.state import AgentState, Context, Judgement, say, timed
from compliance_auditor.llm.pool import LLMUnavailable
from compliance_auditor.llm.reasoning import strip_reasoning
from compliance_auditor.records import Grade, ModelCall

GRADE_MAX_TOKENS = 200


def grade(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Judge every candidate in one model call; on no usable reply, keep the retrieval order."""
    started = time.perf_counter()
    ctx, candidates = runtime.context, state.candidates
    if not candidates:
        return {"judgement": Judgement(), **timed(ctx, "grade", started, "nothing to grade")}
    say(runtime, "grade", f"Grading {len(candidates)} candidates")
    messages = grade_messages(state.question, candidates, ctx.profile)
    judgement, calls, failed = ask_for_judgement(ctx, messages, len(candidates))
    if failed:
        judgement = Judgement(relevant=list(range(1, len(candidates) + 1)), enough=True)
    kept = [c for n, c in enumerate(candidates, 1) if n in judgement.relevant]
    verdicts = [Grade(chunk_id=c.chunk_id, relevant=c in kept) for c in candidates]
    decision = "no usable reply: retrieval order kept" if failed else f"kept {len(kept)}/{len(candidates)}"
    return {
        "judgement": judgement, "evidence": kept, "grading_failed": failed, "grades": verdicts,
        "graded_ids": [c.chunk_id for c in candidates], "llm_calls": calls,
        "prompt_hashes": [prompt_hash(messages)], **timed(ctx, "grade", started, decision, calls),
    }  # fmt: skip


def ask_for_judgement(
    ctx: Context, messages: Messages, count: int
) -> tuple[Judgement, list[ModelCall], bool]:
    """The grader's reply parsed; one retry on an unparseable reply. Returns (judgement, calls, failed)."""
    calls: list[ModelCall] = []
    kwargs = {"response_format": {"type": "json_object"}} if _json_mode(ctx) else {}
    for attempt in range(2):
        try:
            reply = ctx.pool.complete(messages, "grade", max_tokens=GRADE_MAX_TOKENS, **kwargs)
        except LLMUnavailable as exc:
            return Judgement(), calls + exc.calls, True
        calls += reply.calls
        judgement = parse_judgement(reply.text, count)
        if judgement is not None:
            return judgement, calls, False
        if attempt == 0:
            messages = [*messages, ("assistant", reply.text[:500]), ("user", REPEAT_JSON)]
    return Judgement(), calls, True


def _json_mode(ctx: Context) -> bool:
    setting = ctx.settings.llm_json_mode
    return setting == "on" or (setting == "auto" and ctx.profile.json_mode and ctx.pool.provider == "openai")


def parse_judgement(text: str, count: int) -> Judgement | None:
    """The grader's JSON, wherever it sits in the reply; None if there is none.

    Passage numbers outside 1..count are dropped, and "enough" may be a string ("yes").
    """
    text = strip_reasoning(text)
    for match in re.finditer(r"\{[^{}]*\}", text, re.DOTALL):
        try:
            raw = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if not isinstance(raw, dict) or "relevant" not in raw:
            continue
        relevant = raw.get("relevant") or []
        if isinstance(relevant, int | str):
            relevant = [relevant]
        raw["relevant"] = [int(n) for n in relevant if str(n).strip().isdigit() and 1 <= int(n) <= count]
        if isinstance(raw.get("enough"), str):
            raw["enough"] = raw["enough"].strip().lower() in ("true", "yes", "1")
        raw["search"] = str(raw.get("search") or "")
        try:
            return Judgement.model_validate(raw)
        except ValidationError:
            continue
    return None
