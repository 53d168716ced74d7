"""The language model behind a failover pool of endpoints.

Any OpenAI-compatible server (mlx_lm.server, vLLM, TGI, llama.cpp, Ollama, OpenAI, Azure
OpenAI) is the default provider; Anthropic and Bedrock load lazily from optional extras.
Each call has explicit connect and read timeouts and bounded retries with jittered backoff,
done here and only here: the SDK's own retries are off, and LangGraph adds none. A circuit
breaker per endpoint stops calling a dead server and lets one probe through after a
cool-down. A streamed answer counts only when the server says it finished; a stream cut
mid-way is retried from the start (the caller is told to discard what it showed).
"""

from __future__ import annotations

import ipaddress
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlparse

import config
import metrics

log = config.get_logger("llm", "agent_log.jsonl")

Failure = Literal["connect", "timeout", "rate", "server", "bad_reply", "cut", "client"]


class LLMUnavailable(RuntimeError):
    """No endpoint of the pool produced a complete reply within the retry budget."""

    def __init__(self, message: str, calls: list[CallRecord] | None = None) -> None:
        super().__init__(message)
        self.calls = calls or []


@dataclass
class CallRecord:
    """One attempt to call one endpoint: what it cost and how it ended."""

    node: str
    endpoint: str
    seconds: float
    ok: bool
    input_tokens: int = 0
    output_tokens: int = 0
    error: str = ""
    skipped: bool = False
    """Not attempted: the endpoint's circuit breaker was open."""

    @property
    def outcome(self) -> str:
        """ok, skipped, or the kind of failure: a metric label with few values."""
        if self.ok:
            return "ok"
        return "skipped" if self.skipped else self.error.split(":", 1)[0]


@dataclass
class Breaker:
    """Opens after `threshold` consecutive failures (at once for a refused connection or a stall)."""

    threshold: int
    cooldown_s: float
    failures: int = 0
    opened_at: float | None = None

    def allows(self, now: float) -> bool:
        """Closed, or open long enough that one probe may go through (half-open)."""
        return self.opened_at is None or now - self.opened_at >= self.cooldown_s

    def succeed(self) -> None:
        self.failures, self.opened_at = 0, None

    def fail(self, now: float, fatal: bool = False) -> None:
        self.failures += 1
        if fatal or self.failures >= self.threshold or self.opened_at is not None:
            self.opened_at = now  # a failed half-open probe re-opens it for another cool-down

    @property
    def state(self) -> str:
        return "closed" if self.opened_at is None else "open"


@dataclass
class Endpoint:
    url: str
    chat: Any
    breaker: Breaker


@dataclass
class Reply:
    text: str
    endpoint: str
    calls: list[CallRecord] = field(default_factory=list)


# --------------------------------------------------------------------------- where data goes


def is_private(url: str) -> bool:
    """True when the endpoint is on this machine or a private network (so filings stay in)."""
    host = (urlparse(url).hostname or "").lower()
    if not host:
        return False
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal", ".lan")):
        return True
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except OSError:
            return False  # unresolvable here: assume the worst
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    return all(a.is_loopback or a.is_private or a.is_link_local for a in addresses)


def sovereignty_warning(provider: str, urls: list[str]) -> str:
    """The warning every result and log carries when filing text may leave the machine."""
    remote = [u for u in urls if provider != "openai" or not is_private(u)]
    if not remote:
        return ""
    return (
        f"Filing text is sent to a remote model endpoint ({', '.join(remote)}): "
        "it leaves this machine and your network."
    )


# --------------------------------------------------------------------------- chat models


def build_chat_model(provider: str, url: str, settings: config.Settings) -> Any:
    """A LangChain chat model for one endpoint, with the SDK's own retries off."""
    if provider == "anthropic":
        from langchain_anthropic import ChatAnthropic

        return ChatAnthropic(
            model=settings.llm_model, api_key=settings.llm_api_key.get_secret_value(),
            base_url=url or None, temperature=settings.llm_temperature, max_retries=0,
            default_request_timeout=settings.llm_read_timeout_s, max_tokens=settings.llm_max_tokens,
        )  # fmt: skip
    if provider == "bedrock":
        from botocore.config import Config
        from langchain_aws import ChatBedrockConverse

        boto = Config(connect_timeout=settings.llm_connect_timeout_s,
                      read_timeout=settings.llm_read_timeout_s, retries={"max_attempts": 1})  # fmt: skip
        return ChatBedrockConverse(
            model=settings.llm_model, endpoint_url=url or None, temperature=settings.llm_temperature,
            config=boto, region_name=settings.llm_region or None,
        )  # fmt: skip
    import httpx
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.llm_model, base_url=url, api_key=settings.llm_api_key.get_secret_value(),
        temperature=settings.llm_temperature, max_retries=0, stream_usage=True,
        timeout=httpx.Timeout(settings.llm_read_timeout_s, connect=settings.llm_connect_timeout_s),
    )  # fmt: skip


def classify(exc: BaseException) -> Failure:
    """What kind of failure an SDK error is, whatever the provider."""
    name = " ".join(c.__name__ for c in type(exc).__mro__).lower()
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    if "timeout" in name:
        return "timeout"
    if "connect" in name:
        return "connect"
    if status == 429 or "ratelimit" in name or "throttl" in str(exc).lower():
        return "rate"
    if isinstance(status, int) and status >= 500:
        return "server"
    if isinstance(exc, ValueError) or "decode" in name:
        return "bad_reply"
    return "client"


def retry_after(exc: BaseException) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    try:
        return float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- the pool

_BREAKERS: dict[str, Breaker] = {}
_BREAKERS_LOCK = threading.Lock()


def breaker_for(url: str, settings: config.Settings) -> Breaker:
    """Breakers outlive one question: a dead server stays skipped across questions."""
    with _BREAKERS_LOCK:
        if url not in _BREAKERS:
            _BREAKERS[url] = Breaker(settings.llm_breaker_threshold, settings.llm_breaker_cooldown_s)
        return _BREAKERS[url]


_POOLS: dict[str, LLMPool] = {}


def get_pool(settings: config.Settings | None = None) -> LLMPool:
    """The pool for the current LLM settings, built once: a chat client costs ~70 ms to make."""
    settings = settings or config.get_settings()
    key = settings.model_dump_json(include={n for n in type(settings).model_fields if n.startswith("llm_")})
    key += settings.llm_api_key.get_secret_value()
    if key not in _POOLS:
        _POOLS[key] = LLMPool(settings)
    return _POOLS[key]


def reset_breakers() -> None:
    """Forget every endpoint's failures: the next call tries them all again."""
    with _BREAKERS_LOCK:
        _BREAKERS.clear()


class LLMPool:
    """The configured endpoints, tried in order, each behind its circuit breaker."""

    def __init__(self, settings: config.Settings | None = None) -> None:
        self.settings = settings or config.get_settings()
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

    @property
    def endpoint(self) -> str:
        return ",".join(self.urls)

    def available(self) -> bool:
        now = time.monotonic()
        return any(e.breaker.allows(now) for e in self.endpoints)

    def complete(self, messages: list[tuple[str, str]], node: str, max_tokens: int, **kwargs: Any) -> Reply:
        """A whole reply; raises LLMUnavailable when no endpoint gives one."""

        def call(chat: Any) -> tuple[str, Any]:
            message = chat.invoke(messages, max_tokens=max_tokens, **kwargs)
            return _text(message.content), message

        return self._call(node, call)

    def stream(
        self,
        messages: list[tuple[str, str]],
        node: str,
        max_tokens: int,
        on_token: Callable[[str], None],
        on_reset: Callable[[], None],
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

        return self._call(node, call)

    def _call(self, node: str, call: Callable[[Any], tuple[str, Any]]) -> Reply:
        deadline = time.monotonic() + self.settings.llm_retry_budget_s
        records: list[CallRecord] = []
        for endpoint in self.endpoints:
            if not endpoint.breaker.allows(time.monotonic()):
                records.append(CallRecord(node, endpoint.url, 0.0, False, error="circuit open", skipped=True))
                continue
            reply = self._try_endpoint(endpoint, node, call, deadline, records)
            if reply is not None:
                return reply
        for record in records:
            _log_call(record)
        errors = "; ".join(f"{r.endpoint}: {r.error}" for r in records) or "no endpoint configured"
        raise LLMUnavailable(f"no language model answered ({errors})", records)

    def _try_endpoint(
        self, endpoint: Endpoint, node: str, call: Callable[[Any], tuple[str, Any]],
        deadline: float, records: list[CallRecord],
    ) -> Reply | None:  # fmt: skip
        for attempt in range(self.settings.llm_max_retries + 1):
            started = time.monotonic()
            try:
                text, message = call(endpoint.chat)
            except Exception as exc:
                kind = "cut" if isinstance(exc, StreamCut) else classify(exc)
                now = time.monotonic()
                records.append(CallRecord(node, endpoint.url, now - started, False, error=f"{kind}: {exc}"))
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
            record = CallRecord(node, endpoint.url, time.monotonic() - started, True,
                                usage.get("input_tokens", 0), usage.get("output_tokens", 0))  # fmt: skip
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


class StreamCut(RuntimeError):
    """The stream stopped before the server said it had finished."""


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def _log_call(record: CallRecord) -> None:
    log.info("llm call", extra={"fields": record.__dict__})
    metrics.llm_call(record.endpoint, record.outcome, record.input_tokens, record.output_tokens)


# --------------------------------------------------------------------------- endpoint health


@dataclass
class Health:
    url: str
    ok: bool
    latency_ms: float
    models: list[str]
    error: str = ""
    breaker: str = "closed"


def probe(url: str, settings: config.Settings | None = None) -> Health:
    """GET /models once, with the connect timeout: is the endpoint up, and what does it serve."""
    import httpx

    settings = settings or config.get_settings()
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}"}
    timeout = httpx.Timeout(settings.llm_connect_timeout_s + 2, connect=settings.llm_connect_timeout_s)
    try:
        response = httpx.get(url.rstrip("/") + "/models", headers=headers, timeout=timeout)
        response.raise_for_status()
        models = [m.get("id", "") for m in response.json().get("data", [])]
        ok, error = True, ""
    except Exception as exc:
        models, ok, error = [], False, f"{type(exc).__name__}: {exc}"
    latency = (time.perf_counter() - started) * 1000
    metrics.endpoint_up(url, ok)
    return Health(url, ok, latency, models, error, breaker_for(url, settings).state)


# --------------------------------------------------------------------------- reasoning tags

_THINK = re.compile(r"<think>.*?(</think>|\Z)", re.DOTALL)


def strip_reasoning(text: str) -> str:
    """Drop a reasoning model's <think>…</think> preamble."""
    return _THINK.sub("", text).strip()


class ReasoningFilter:
    """Passes streamed text through, holding back anything inside <think>…</think>."""

    def __init__(self) -> None:
        self._buffer = ""
        self._thinking = False

    def feed(self, piece: str) -> Iterator[str]:
        self._buffer += piece
        while self._buffer:
            tag = "</think>" if self._thinking else "<think>"
            at = self._buffer.find(tag)
            if at >= 0:
                if not self._thinking and at:
                    yield self._buffer[:at]
                self._buffer = self._buffer[at + len(tag) :]
                self._thinking = not self._thinking
                continue
            keep = _partial_suffix(self._buffer, tag)  # a tag may be split across pieces
            ready, self._buffer = (
                self._buffer[: len(self._buffer) - keep],
                self._buffer[len(self._buffer) - keep :],
            )
            if ready and not self._thinking:
                yield ready
            return

    def flush(self) -> str:
        rest, self._buffer = ("" if self._thinking else self._buffer), ""
        return rest


def _partial_suffix(text: str, tag: str) -> int:
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0
