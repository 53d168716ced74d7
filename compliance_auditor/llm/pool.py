"""The model pool: the configured endpoints, each behind its circuit breaker, the least busy first.

With one endpoint the others are fail-overs. With several (a GPU pool), each call goes to the
endpoint with the fewest calls in flight, preferring the one this thread used last (the grading
and the answer of one question share a prompt prefix the server may have cached), and falls
over to the next when it fails.

Each call has explicit connect and read timeouts and bounded retries with jittered backoff,
done here and only here: the SDK's own retries are off, and LangGraph adds none. A streamed
answer counts only when the server says it finished; a stream cut mid-way is retried from
the start (the caller is told to discard what it showed). Every attempt is a `ModelCall`.

No more calls are in flight than the endpoints serve at once (`AUDITOR_LLM_SLOTS`, else what
the server states); the others wait at a `FairGate`, which serves the askers in turn.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from compliance_auditor import config, metrics
from compliance_auditor.llm.breakers import Breaker, breaker_for
from compliance_auditor.llm.endpoints import context_size, sovereignty_warning, stated_slots
from compliance_auditor.llm.fair import FairGate
from compliance_auditor.llm.providers import build_chat_model, classify, retry_after
from compliance_auditor.logs import get_logger
from compliance_auditor.records import ModelCall

log = get_logger("llm", "agent_log.jsonl")

Messages = list[tuple[str, str]]
DEFAULT_SLOTS = 8  # per endpoint, where neither the setting nor the server says


class LLMUnavailable(RuntimeError):
    """No endpoint of the pool produced a complete reply within the retry budget."""

    def __init__(self, message: str, calls: list[ModelCall] | None = None) -> None:
        super().__init__(message)
        self.calls = calls or []


class PromptTooLong(LLMUnavailable):
    """The endpoints refused the prompt as longer than the model's context window."""


class StreamCut(RuntimeError):
    """The stream stopped before the server said it had finished."""


@dataclass
class Endpoint:
    url: str
    chat: Any
    breaker: Breaker


@dataclass
class Reply:
    text: str
    endpoint: str
    calls: list[ModelCall] = field(default_factory=list)


_POOLS: dict[str, LLMPool] = {}
_POOLS_LOCK = threading.Lock()


def get_pool(settings: config.Settings | None = None) -> LLMPool:
    """The pool for the current LLM settings, built once: a chat client costs ~70 ms to make."""
    settings = settings or config.get_settings()
    key = settings.model_dump_json(include={n for n in type(settings).model_fields if n.startswith("llm_")})
    key += settings.llm_api_key.get_secret_value()
    with _POOLS_LOCK:  # questions starting together share one pool, and so its count of calls in flight
        if key not in _POOLS:
            _POOLS[key] = LLMPool(settings)
        return _POOLS[key]


class LLMPool:
    """The configured endpoints, the least busy first, each behind its circuit breaker."""

    def __init__(self, settings: config.Settings | None = None, background: bool = False) -> None:
        """`background`: for a procedure run's worker process, which leaves half of each
        endpoint's slots (at least one) to the app's users: its calls cannot wait in the app's queue."""
        self.settings = settings or config.get_settings()
        self.background = background
        self.provider = self.settings.llm_provider
        self.model = self.settings.llm_model
        self.urls = self.settings.llm_endpoints
        self.endpoints = [
            Endpoint(
                url, build_chat_model(self.provider, url, self.settings), breaker_for(url, self.settings)
            )
            for url in self.urls
        ]
        self.warning = sovereignty_warning(self.provider, self.urls)
        self._context: int | None = None
        self._context_asked_at = -1e9
        self._context_lock = threading.Lock()
        self._in_flight = dict.fromkeys(self.urls, 0)
        self._claimed = dict.fromkeys(self.urls, 0)
        self._busy_lock = threading.Lock()
        self._last_used = threading.local()
        self._gate = FairGate()
        self._slots_known = False

    def context_tokens(self) -> int | None:
        """The model's context window in tokens: the setting, else the smallest an endpoint states
        (asked once, and again after a breaker's cool-down while none has said); None: unknown."""
        if self.settings.llm_context_tokens:
            return self.settings.llm_context_tokens
        if self.provider != "openai":
            return None
        with self._context_lock:
            now = time.monotonic()
            if self._context is None and now - self._context_asked_at >= self.settings.llm_breaker_cooldown_s:
                self._context_asked_at = now
                sizes = [size for url in self.urls if (size := context_size(url, self.settings))]
                self._context = min(sizes) if sizes else None
            return self._context

    @property
    def endpoint(self) -> str:
        return ",".join(self.urls)

    def available(self) -> bool:
        now = time.monotonic()
        return any(e.breaker.allows(now) for e in self.endpoints)

    def slots(self) -> int:
        """Calls in flight at once across the endpoints (0: no limit): the setting per endpoint,
        else what each server states (asked at the first call), else DEFAULT_SLOTS."""
        with self._context_lock:
            if not self._slots_known:
                self._slots_known = True
                each = [self._endpoint_slots(url) for url in self.urls]
                if all(each):  # 0 per endpoint: no limit
                    self._gate.resize(sum(max(1, n // 2) if self.background else n for n in each))
            return self._gate.slots

    def _endpoint_slots(self, url: str) -> int:
        if self.settings.llm_slots is not None:
            return self.settings.llm_slots
        stated = stated_slots(url, self.settings) if self.provider == "openai" else None
        return stated or DEFAULT_SLOTS

    def waiting(self) -> dict[str, int]:
        """Calls waiting for a slot, by asker."""
        return self._gate.waiting()

    def complete(
        self, messages: Messages, node: str, max_tokens: int, asker: str = "", **kwargs: Any
    ) -> Reply:
        """A whole reply; raises LLMUnavailable when no endpoint gives one. `asker`: whose turn
        it is when calls must wait (each asker's calls are served in turn with the others')."""

        def call(chat: Any) -> tuple[str, Any]:
            message = chat.invoke(messages, max_tokens=max_tokens, **kwargs)
            return _text(message.content), message

        return self._call(node, call, asker)

    def stream(
        self,
        messages: Messages,
        node: str,
        max_tokens: int,
        on_token: Callable[[str], None],
        on_reset: Callable[[], None],
        asker: str = "",
    ) -> Reply:
        """Stream a reply to `on_token`. A cut stream calls `on_reset` and is tried again."""

        def call(chat: Any) -> tuple[str, Any]:
            full, pieces = None, 0
            try:
                for piece in chat.stream(messages, max_tokens=max_tokens):
                    full = piece if full is None else full + piece
                    text = _text(piece.content)
                    if text:
                        pieces += 1
                        on_token(text)
            except Exception as exc:
                if pieces:
                    on_reset()
                    raise StreamCut(f"stream cut after {pieces} pieces: {exc}") from exc
                raise
            if full is None or not (full.response_metadata or {}).get("finish_reason"):
                if pieces:
                    on_reset()
                raise StreamCut(f"stream ended without a finish reason after {pieces} pieces")
            return _text(full.content), full

        return self._call(node, call, asker)

    def _call(self, node: str, call: Callable[[Any], tuple[str, Any]], asker: str) -> Reply:
        self.slots()
        with self._gate.turn(asker):
            return self._call_endpoints(node, call)

    def _call_endpoints(self, node: str, call: Callable[[Any], tuple[str, Any]]) -> Reply:
        deadline = time.monotonic() + self.settings.llm_retry_budget_s
        records: list[ModelCall] = []
        tried: set[str] = set()
        while (endpoint := self._claim(tried)) is not None:
            tried.add(endpoint.url)
            try:
                if not endpoint.breaker.allows(time.monotonic()):
                    records.append(ModelCall(node=node, endpoint=endpoint.url, seconds=0.0, ok=False,
                                             error="circuit open", skipped=True))  # fmt: skip
                    continue
                self._last_used.url = endpoint.url
                reply = self._try_endpoint(endpoint, node, call, deadline, records)
            finally:
                with self._busy_lock:
                    self._in_flight[endpoint.url] -= 1
            if reply is not None:
                return reply
        for record in records:
            _log_call(record)
        errors = "; ".join(f"{r.endpoint}: {r.error}" for r in records) or "no endpoint configured"
        if any(r.outcome == "too_long" for r in records):
            raise PromptTooLong(f"the prompt is longer than the model's context window ({errors})", records)
        raise LLMUnavailable(f"no language model answered ({errors})", records)

    def _claim(self, tried: set[str]) -> Endpoint | None:
        """The next endpoint to try, counted in flight: the fewest calls in flight; on a tie, the
        one this thread used last, then the configured order (the first is the primary) — but
        when every endpoint is busy, the one given the fewest calls so far, so the calls that
        must queue somewhere queue evenly. Chosen and counted under one lock, so calls starting
        together spread out."""
        last = getattr(self._last_used, "url", None)
        with self._busy_lock:
            busy = all(self._in_flight[e.url] for e in self.endpoints if e.url not in tried)
            left = [(self._in_flight[e.url], e.url != last, self._claimed[e.url] if busy else 0, i, e)
                    for i, e in enumerate(self.endpoints) if e.url not in tried]  # fmt: skip
            if not left:
                return None
            endpoint = min(left, key=lambda t: t[:4])[4]
            self._in_flight[endpoint.url] += 1
            self._claimed[endpoint.url] += 1
            return endpoint

    def _try_endpoint(
        self, endpoint: Endpoint, node: str, call: Callable[[Any], tuple[str, Any]],
        deadline: float, records: list[ModelCall],
    ) -> Reply | None:  # fmt: skip
        for attempt in range(self.settings.llm_max_retries + 1):
            started = time.monotonic()
            try:
                text, message = call(endpoint.chat)
            except Exception as exc:
                kind = "cut" if isinstance(exc, StreamCut) else classify(exc)
                now = time.monotonic()
                records.append(ModelCall(node=node, endpoint=endpoint.url, seconds=now - started, ok=False,
                                         error=f"{kind}: {exc}"))  # fmt: skip
                if kind == "too_long":
                    return None  # the prompt's fault, not the server's: its breaker stays as it is
                # Refused, or silent past the read timeout: the server is down or hung; stop calling it.
                endpoint.breaker.fail(now, fatal=kind in ("connect", "timeout"))
                metrics.endpoint_up(endpoint.url, endpoint.breaker.state == "closed")
                wait = self._backoff(attempt, retry_after(exc))
                if kind in ("connect", "timeout", "client") or attempt == self.settings.llm_max_retries:
                    return None
                if now + wait > deadline or not endpoint.breaker.allows(now + wait):
                    return None
                time.sleep(wait)
                continue
            endpoint.breaker.succeed()
            metrics.endpoint_up(endpoint.url, True)
            usage = getattr(message, "usage_metadata", None) or {}
            record = ModelCall(node=node, endpoint=endpoint.url, seconds=time.monotonic() - started, ok=True,
                               input_tokens=usage.get("input_tokens", 0),
                               output_tokens=usage.get("output_tokens", 0))  # fmt: skip
            records.append(record)
            for r in records:
                _log_call(r)
            return Reply(text, endpoint.url, records)
        return None

    def _backoff(self, attempt: int, server_says: float | None) -> float:
        if server_says is not None:
            return server_says
        base = self.settings.llm_backoff_s * (2**attempt)
        return base * random.uniform(0.5, 1.5)  # jitter: clients retrying together spread out


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def _log_call(record: ModelCall) -> None:
    log.info("llm call", extra={"fields": record.model_dump()})
    metrics.llm_call(record.endpoint, record.outcome, record.input_tokens, record.output_tokens)
