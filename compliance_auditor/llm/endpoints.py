"""Where filing text goes: whether an endpoint is on this machine or a private network, the
warning when it is not, and a health probe of an OpenAI-compatible endpoint."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from compliance_auditor import config, metrics
from compliance_auditor.llm.breakers import breaker_for


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


def context_size(url: str, settings: config.Settings | None = None) -> int | None:
    """The context window the server at `url` states, in tokens, or None: llama.cpp's /props
    (per slot), else the model list's `max_model_len` (vLLM) or `meta.n_ctx` (llama.cpp)."""
    import httpx

    settings = settings or config.get_settings()
    headers = {"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}"}
    timeout = httpx.Timeout(settings.llm_connect_timeout_s + 2, connect=settings.llm_connect_timeout_s)
    base = url.rstrip("/")
    for address, read in (
        (base.removesuffix("/v1") + "/props", lambda body: body["default_generation_settings"]["n_ctx"]),
        (base + "/models", _listed_context),
    ):
        try:
            response = httpx.get(address, headers=headers, timeout=timeout)
            response.raise_for_status()
            size = read(response.json())
        except Exception:  # not served, not this server's shape, or down: try the next, then unknown
            continue
        if isinstance(size, int) and size > 0:
            return size
    return None


def stated_slots(url: str, settings: config.Settings | None = None) -> int | None:
    """The requests the server at `url` says it serves at once (llama.cpp's /props
    `total_slots`), or None where it does not say."""
    import httpx

    settings = settings or config.get_settings()
    headers = {"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}"}
    timeout = httpx.Timeout(settings.llm_connect_timeout_s + 2, connect=settings.llm_connect_timeout_s)
    try:
        response = httpx.get(url.rstrip("/").removesuffix("/v1") + "/props", headers=headers, timeout=timeout)
        response.raise_for_status()
        slots = response.json().get("total_slots")
    except Exception:  # not served, not llama.cpp, or down: unknown
        return None
    return slots if isinstance(slots, int) and slots > 0 else None


def _listed_context(body: dict[str, Any]) -> int | None:
    model = (body.get("data") or [{}])[0]
    size = model.get("max_model_len") or (model.get("meta") or {}).get("n_ctx")
    return int(size) if size else None
