"""What the agent costs on top of the model (not a test).

    .venv/bin/python -m bench.agent_overhead [--questions 10] [--latency-ms 300] [--per-token-ms 10]

Runs the agent over the committed test filings against the OpenAI-protocol test server with
a fixed latency per call (time to first token) and per output token, and reports medians:
- sequential model round trips per question on the happy path;
- orchestration overhead: wall time minus the time the server spent on the calls;
- first answer token: how long after retrieval + grading + the server's own time to first
  token the caller sees it;
- a dead endpoint: time from the question to the evidence-only result.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.fake_llm import FakeLLM, dead_url
from tests.support.filings import DATA, ROOT

QUESTIONS = [
    "What were Ulta Beauty's net sales in the fourth quarter of fiscal 2022?",
    "How much cash and cash equivalents did Ulta Beauty hold at the end of fiscal 2022?",
    "What was Ulta Beauty's diluted earnings per share for fiscal 2022?",
    "What were Ulta Beauty's merchandise inventories at the end of fiscal 2022?",
    "How many stores did Ulta Beauty open in fiscal 2022?",
    "What was Ulta Beauty's gross profit margin in the fourth quarter of fiscal 2022?",
    "What did Amcor announce in its 8-K of July 2022?",
    "What was Ulta Beauty's operating income in fiscal 2022?",
    "How much stock did Ulta Beauty repurchase in fiscal 2022?",
    "What is Ulta Beauty's outlook for fiscal 2023 net sales?",
]
ANSWER = (
    "According to the filing, the figure asked for is reported in the passage [1]. "
    + "The statement shows the amount for the period and the comparison with the prior year [1]. " * 6
)


def grade_or_answer(request: dict) -> str:
    if request.get("stream"):
        return ANSWER
    return '{"relevant": [1, 2, 3], "enough": true, "search": ""}'


def main() -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=300)
    parser.add_argument("--per-token-ms", type=float, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "agent_overhead.json")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="auditor-overhead-"))
    os.environ.update(AUDITOR_DB_URI=str(root / "db"), AUDITOR_LOGS_DIR=str(root / "logs"))

    from compliance_auditor import config
    from compliance_auditor.agent.graph import ask
    from compliance_auditor.index.store import AuditIndex
    from compliance_auditor.ingestion import ingest_paths
    from compliance_auditor.llm.breakers import reset_breakers

    config.get_settings.cache_clear()
    index = AuditIndex()
    ingest_paths(sorted(DATA.glob("*.pdf")), index, show_progress=False)
    index.search("warm up", k=1)
    with FakeLLM(latency_s=args.latency_ms / 1000, per_token_s=args.per_token_ms / 1000) as server:
        os.environ["AUDITOR_LLM_ENDPOINT"] = server.url
        config.get_settings.cache_clear()
        server.responder = grade_or_answer
        rows = [measure(index, server, q) for q in (QUESTIONS * 10)[: args.questions]]
    os.environ["AUDITOR_LLM_ENDPOINT"] = dead_url()
    config.get_settings.cache_clear()
    dead = []
    for question in QUESTIONS[:5]:
        reset_breakers()
        started = time.perf_counter()
        result = ask(question, index=index)
        dead.append({"seconds": time.perf_counter() - started, "mode": result.mode})
    settings = config.get_settings()
    summary = summarise(rows, dead, settings.llm_connect_timeout_s, args)
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**summary, "rows": rows, "dead": dead}, indent=2))
    return 0


def measure(index: Any, server: FakeLLM, question: str) -> dict[str, Any]:
    from compliance_auditor.agent.graph import stream

    calls_before, served_before = len(server.requests), len(server.served)
    started = time.perf_counter()
    first_token, result = None, None
    for event in stream(question, index=index):
        if event.kind == "token" and first_token is None:
            first_token = time.perf_counter() - started
        if event.result is not None:
            result = event.result
    assert result is not None
    wall = time.perf_counter() - started
    served = server.served[served_before:]
    ttft_server = server.latency_s + server.per_token_s  # the server's own time to its first token
    before_answer = result.timings["retrieve"] + result.timings["grade"]
    return {
        "wall_s": wall,
        "model_s": sum(served),
        "overhead_s": wall - sum(served),
        "round_trips": len(server.requests) - calls_before,
        "retrieve_s": result.timings["retrieve"],
        "grade_s": result.timings["grade"],
        "client_s": sum(c.seconds for c in result.calls) - sum(served),
        "verify_s": result.timings["verify"],
        "first_token_s": first_token or wall,
        "first_token_after_grading_s": (first_token or wall) - before_answer - ttft_server,
        "mode": result.mode,
    }


def summarise(rows: list[dict], dead: list[dict], connect_timeout: float, args) -> dict[str, object]:
    def median(key: str, source: list[dict] = rows) -> float:
        return round(statistics.median(r[key] for r in source), 4)

    return {
        "questions": len(rows),
        "model": {"latency_ms": args.latency_ms, "per_token_ms": args.per_token_ms},
        "round_trips_max": max(r["round_trips"] for r in rows),
        "wall_s_p50": median("wall_s"),
        "overhead_s_p50": median("overhead_s"),
        "overhead_share_p50": round(statistics.median(r["overhead_s"] / r["wall_s"] for r in rows), 4),
        "retrieve_s_p50": median("retrieve_s"),
        "client_s_p50": median("client_s"),
        "verify_s_p50": median("verify_s"),
        "first_token_after_grading_ms_p50": round(median("first_token_after_grading_s") * 1000, 1),
        "dead_endpoint_s_p50": median("seconds", dead),
        "dead_endpoint_budget_s": connect_timeout + 1,
        "modes": sorted({r["mode"] for r in rows}),
    }


if __name__ == "__main__":
    sys.exit(main())
