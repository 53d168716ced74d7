"""The model's context window: what fits in it, and what is left out to make it fit.

The window comes from the model pool (`LLMPool.context_tokens`: the setting, or what the
server says). Tokens are counted conservatively, without the model's tokenizer: every digit
a token (BPE vocabularies of Qwen, Llama and GPT split long numbers into digits or short runs)
and three characters a token for everything else, plus a tenth. When the prompt and the room
for the reply do not fit, the lowest-ranked passages go first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from compliance_auditor.agent.prompts import Messages
from compliance_auditor.llm.pool import LLMUnavailable, PromptTooLong
from compliance_auditor.records import ModelCall, Passage

T = TypeVar("T")

MESSAGE_OVERHEAD = 8
"""Tokens a chat template adds around each message (role markers, separators)."""
MIN_REPLY_TOKENS = 128


def estimate_tokens(text: str) -> int:
    """An upper estimate of the tokens a model's tokenizer makes of `text`."""
    digits = sum(c.isdigit() for c in text)
    return int((digits + (len(text) - digits) / 3) * 1.1) + 1


def prompt_tokens(messages: Messages) -> int:
    return sum(estimate_tokens(text) + MESSAGE_OVERHEAD for _, text in messages)


def reply_budget(wanted: int, context: int | None) -> int:
    """The tokens a reply may take: what is wanted, but at most a quarter of a known window."""
    if context is None:
        return wanted
    return min(wanted, max(MIN_REPLY_TOKENS, context // 4))


def fit(
    build: Callable[[list[Passage]], Messages],
    passages: list[Passage],
    context: int | None,
    reply_tokens: int,
    keep_first: Sequence[bool] = (),
) -> tuple[list[Passage], list[Passage]]:
    """The passages whose prompt (`build(passages)`) leaves room for the reply, and those left out.

    Passages are dropped from the end, the ones `keep_first` does not mark before those it
    marks (the grader's relevant ones), so the highest-ranked stay; at least one always stays.
    """
    if context is None:
        return passages, []
    marks = list(keep_first) + [False] * (len(passages) - len(keep_first))
    order = sorted(range(len(passages)), key=lambda i: (marks[i], -i))  # first to go first
    kept = list(range(len(passages)))
    for index in order:
        if len(kept) <= 1 or prompt_tokens(build([passages[i] for i in kept])) + reply_tokens <= context:
            break
        kept.remove(index)
    return [passages[i] for i in kept], [p for i, p in enumerate(passages) if i not in kept]


def cap(passages: list[Passage], limit: int, keep_first: Sequence[bool] = ()) -> list[Passage]:
    """At most `limit` passages, dropped as `fit` drops them; the rest in their order."""
    marks = list(keep_first) + [False] * (len(passages) - len(keep_first))
    order = sorted(range(len(passages)), key=lambda i: (marks[i], -i))
    gone = set(order[: max(0, len(passages) - limit)])
    return [p for i, p in enumerate(passages) if i not in gone]


@dataclass
class WindowedCall(Generic[T]):
    """A model call made with the passages that fit: what was shown, what was left out, the reply
    (None when no model gave one), every call attempted, and why there is no reply."""

    shown: list[Passage]
    left_out: list[Passage]
    value: T | None
    calls: list[ModelCall]
    error: LLMUnavailable | None = None


def call_within_window(
    build: Callable[[list[Passage]], Messages],
    passages: list[Passage],
    context: int | None,
    reply_tokens: int,
    call: Callable[[list[Passage], Messages], tuple[T, list[ModelCall]]],
    keep_first: Sequence[bool] = (),
) -> WindowedCall[T]:
    """Call the model with the passages that fit the window. When the server still refuses the
    prompt as too long (the estimate is not its tokenizer), once more with half of them."""
    shown, left = fit(build, passages, context, reply_tokens, keep_first)
    calls: list[ModelCall] = []
    for attempt in range(2):
        try:
            value, made = call(shown, build(shown))
            return WindowedCall(shown, left, value, calls + made)
        except PromptTooLong as exc:
            calls += exc.calls
            if attempt == 1 or len(shown) <= 1:
                return WindowedCall(shown, left, None, calls, exc)
            fewer = cap(shown, len(shown) // 2, [p in _kept(passages, keep_first) for p in shown])
            left += [p for p in shown if p not in fewer]
            shown = fewer
        except LLMUnavailable as exc:
            return WindowedCall(shown, left, None, calls + exc.calls, exc)
    raise AssertionError("unreachable")


def _kept(passages: list[Passage], keep_first: Sequence[bool]) -> list[Passage]:
    return [p for p, keep in zip(passages, keep_first, strict=False) if keep]
