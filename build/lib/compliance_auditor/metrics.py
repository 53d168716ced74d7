"""Prometheus metrics of the app process: questions, agent nodes, model calls, ingestion.

    metrics.question("answered")                 # agent/graph.py, once per question
    metrics.expose(settings)                     # the workbench, when AUDITOR_METRICS_PORT is set

Recording is always on: an increment costs about a microsecond. Only the HTTP exposition is
off until ``AUDITOR_METRICS_PORT`` is set. The metrics live in this module's own registry,
made once per process: Streamlit re-runs app.py on every click, but imported modules stay
imported, and `serve` starts one server per address and port however often it is asked.

This module imports only config and prometheus_client, so every other module may record.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    start_http_server,
)

from compliance_auditor import config

# Prometheus would store every counter's start time as a series of its own: twice the series, no use here.
disable_created_metrics()
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)  # the app's memory and CPU beside its own figures
PlatformCollector(registry=REGISTRY)

QUESTIONS = Counter(
    "auditor_questions", "Questions the agent finished, by outcome: answered, evidence_only, refused, error.",
    ["outcome"], registry=REGISTRY,
)  # fmt: skip
NODE_SECONDS = Histogram(
    "auditor_node_seconds", "Time of one run of one agent node.", ["node"], registry=REGISTRY,
    # From a 50 ms search to a 72B model writing a long answer on a laptop.
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300),
)  # fmt: skip
LLM_CALLS = Counter(
    "auditor_llm_calls", "Attempts to call a model endpoint, by outcome: ok, skipped (circuit open) "
    "or the failure (connect, timeout, rate, server, bad_reply, cut, client).",
    ["endpoint", "outcome"], registry=REGISTRY,
)  # fmt: skip
LLM_TOKENS = Counter(
    "auditor_llm_tokens", "Tokens of successful model calls, by endpoint and kind: input or output.",
    ["endpoint", "kind"], registry=REGISTRY,
)  # fmt: skip
ENDPOINT_UP = Gauge(
    "auditor_endpoint_up", "1 while a model endpoint answers (its circuit breaker is closed, or the "
    "health probe reached it); 0 once its breaker opens or the probe fails.",
    ["endpoint"], registry=REGISTRY,
)  # fmt: skip
PAGES = Counter("auditor_pages_ingested", "Pages of the documents indexed.", registry=REGISTRY)
DOCUMENTS = Counter(
    "auditor_documents_ingested", "Documents indexed, by status: ok, or needs_ocr (some pages unreadable).",
    ["status"], registry=REGISTRY,
)  # fmt: skip
INGEST_FAILURES = Counter(
    "auditor_ingest_failures", "Files that failed to ingest (the ingest log says why).", registry=REGISTRY
)

# Zero rather than absent until the first one happens, so that an alert sees the first error.
for _outcome in ("answered", "evidence_only", "refused", "error"):
    QUESTIONS.labels(outcome=_outcome)
for _status in ("ok", "needs_ocr"):
    DOCUMENTS.labels(status=_status)


# --------------------------------------------------------------------------- recording


def question(outcome: str) -> None:
    QUESTIONS.labels(outcome=outcome).inc()


def node_finished(node: str, seconds: float) -> None:
    NODE_SECONDS.labels(node=node).observe(seconds)


def llm_call(endpoint: str, outcome: str, input_tokens: int = 0, output_tokens: int = 0) -> None:
    label = endpoint_label(endpoint)
    LLM_CALLS.labels(endpoint=label, outcome=outcome).inc()
    if input_tokens or output_tokens:
        LLM_TOKENS.labels(endpoint=label, kind="input").inc(input_tokens)
        LLM_TOKENS.labels(endpoint=label, kind="output").inc(output_tokens)


def endpoint_up(endpoint: str, up: bool) -> None:
    ENDPOINT_UP.labels(endpoint=endpoint_label(endpoint)).set(1 if up else 0)


def document_ingested(status: str, pages: int) -> None:
    DOCUMENTS.labels(status=status).inc()
    PAGES.inc(pages)


def ingest_failed() -> None:
    INGEST_FAILURES.inc()


def endpoint_label(url: str) -> str:
    """scheme://host:port/path: a password in the URL or a key in its query never reaches a label."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


# --------------------------------------------------------------------------- exposition

_SERVERS: dict[tuple[str, int], int] = {}
_SERVERS_LOCK = threading.Lock()


def serve(port: int, address: str = "127.0.0.1") -> str:
    """Serve the metrics on address:port (0: any free port), once per process; return the URL.

    Raises OSError when the port is taken by something else.
    """
    with _SERVERS_LOCK:
        if (address, port) not in _SERVERS:
            server, _ = start_http_server(port, address, registry=REGISTRY)
            _SERVERS[(address, port)] = server.server_address[1]
        bound = _SERVERS[(address, port)]
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{bound}/metrics"


def expose(settings: config.Settings | None = None) -> str | None:
    """Serve the metrics where the settings say; the URL, or None when AUDITOR_METRICS_PORT is unset."""
    settings = settings or config.get_settings()
    if settings.metrics_port is None:
        return None
    return serve(settings.metrics_port, settings.metrics_address)
