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
from compliance_auditor.agent.window import call_within_window, reply_budget
from compliance_auditor.llm.pool import LLMUnavailable, PromptTooLong
from compliance_auditor.llm.reasoning import strip_reasoning
from compliance_auditor.records import Grade, ModelCall


def grade(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Judge every candidate in one model call; on no usable reply, keep the retrieval order."""
    started = time.perf_counter()
    ctx, candidates = runtime.context, state.candidates
    if not candidates:
        return {"judgement": Judgement(), **timed(ctx, "grade", started, "nothing to grade")}
    say(runtime, "grade", f"Grading {len(candidates)} candidates")
    context = ctx.pool.context_tokens()
    reply_tokens = reply_budget(ctx.settings.llm_grade_max_tokens, context)
    outcome = call_within_window(
        lambda shown: grade_messages(state.question, shown, ctx.profile), candidates, context, reply_tokens,
        lambda shown, messages: ask_for_judgement(ctx, messages, len(shown), reply_tokens),
    )  # fmt: skip
    shown, failed = outcome.shown, outcome.value is None or outcome.value[1]
    judgement = Judgement(relevant=list(range(1, len(shown) + 1)), enough=True)
    if not failed and outcome.value is not None:
        judgement = outcome.value[0]
    kept = [c for n, c in enumerate(shown, 1) if n in judgement.relevant]
    verdicts = [Grade(chunk_id=c.chunk_id, relevant=c in kept) for c in shown]
    decision = "no usable reply: retrieval order kept" if failed else f"kept {len(kept)}/{len(shown)}"
    return {
        "judgement": judgement, "evidence": kept, "grading_failed": failed, "grades": verdicts,
        "graded_ids": [c.chunk_id for c in shown], "shown": shown, "llm_calls": outcome.calls,
        "left_out": [c.chunk_id for c in outcome.left_out],
        "prompt_hashes": [prompt_hash(grade_messages(state.question, shown, ctx.profile))],
        **timed(ctx, "grade", started, decision, outcome.calls),
    }  # fmt: skip


def ask_for_judgement(
    ctx: Context, messages: Messages, count: int, max_tokens: int
) -> tuple[tuple[Judgement, bool], list[ModelCall]]:
    """The grader's reply parsed, and whether it failed; one retry on an unparseable reply.

    A prompt the server refuses as too long is raised (`PromptTooLong`): the caller shows fewer
    passages. With no endpoint answering, the judgement is empty and failed."""
    calls: list[ModelCall] = []
    kwargs = {"response_format": {"type": "json_object"}} if _json_mode(ctx) else {}
    for attempt in range(2):
        try:
            reply = ctx.pool.complete(messages, "grade", max_tokens=max_tokens, asker=ctx.asker, **kwargs)
        except PromptTooLong as exc:
            raise PromptTooLong(str(exc), calls + exc.calls) from exc
        except LLMUnavailable as exc:
            return (Judgement(), True), calls + exc.calls
        calls += reply.calls
        judgement = parse_judgement(reply.text, count)
        if judgement is not None:
            return (judgement, False), calls
        if attempt == 0:
            messages = [*messages, ("assistant", reply.text[:500]), ("user", REPEAT_JSON)]
    return (Judgement(), True), calls


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
