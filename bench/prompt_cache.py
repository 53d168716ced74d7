"""What a real model server re-reads per question (issue 11; not a test).

    .venv/bin/python -m bench.prompt_cache --endpoint http://127.0.0.1:8080/v1 --model NAME \
        [--questions 5] [--out bench/out/prompt_cache.json]

Against a running llama.cpp server started with `-np 1 --metrics` (one slot, so a second call
can reuse the first one's prompt cache; `/metrics` for its own counters), ingests the committed
filings into a temporary index and asks each question through the agent. Per question it reports
the server's own figures (the deltas of `llamacpp:prompt_tokens_total`, the prompt tokens it
evaluated, and `prompt_tokens_cached_total`, those it reused) and, in this process, the time
from the agent starting to write the answer (the `generate` status, after grading) to the first
answer token. It uses only the entry files (`agent`, `database`, `ingest`), so the same script
measures an older checkout: run it from that checkout's root.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

QUESTIONS = [
    "What were Ulta Beauty's net sales in the fourth quarter of fiscal 2022?",
    "What was Ulta Beauty's diluted earnings per share for the fourth quarter of fiscal 2022?",
    "How much cash and cash equivalents did Ulta Beauty hold at the end of fiscal 2022?",
    "How many stores did Ulta Beauty open in fiscal 2022?",
    "What did Amcor announce in its 8-K of July 2022?",
]
DATA = Path("tests") / "data"


def server_counters(endpoint: str) -> dict[str, float]:
    """The llama.cpp server's Prometheus counters."""
    base = endpoint.rstrip("/").removesuffix("/v1")
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        line.split()[0].removeprefix("llamacpp:"): float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("llamacpp:")
    }


def ask(agent: Any, index: Any, endpoint: str, question: str) -> dict[str, Any]:
    before, started = server_counters(endpoint), time.perf_counter()
    writing = first_token = None
    result = None
    for event in agent.stream(question, index=index):
        now = time.perf_counter()
        if event.kind == "status" and event.node == "generate" and writing is None:
            writing = now
        elif event.kind == "token" and first_token is None:
            first_token = now
        elif event.kind == "result":
            result = event.result
    after = server_counters(endpoint)
    return {
        "question": question, "mode": result.mode if result else "none",
        "seconds": round(time.perf_counter() - started, 2),
        "prompt_tokens_evaluated": after["prompt_tokens_total"] - before["prompt_tokens_total"],
        "prompt_tokens_cached": after["prompt_tokens_cached_total"] - before["prompt_tokens_cached_total"],
        "first_token_after_grading_s": round(first_token - writing, 2) if writing and first_token else None,
        "llm_calls": result.llm_calls if result else 0,
    }  # fmt: skip


def main() -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--questions", type=int, default=len(QUESTIONS))
    parser.add_argument("--out", type=Path, default=Path("bench") / "out" / "prompt_cache.json")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="auditor-prompt-cache-"))
    os.environ.update(AUDITOR_DB_URI=str(root / "db"), AUDITOR_LOGS_DIR=str(root / "logs"),
                      AUDITOR_LLM_ENDPOINT=args.endpoint, AUDITOR_LLM_MODEL=args.model,
                      AUDITOR_LLM_READ_TIMEOUT_S="600")  # fmt: skip

    import agent  # the entry files, as in any checkout
    import database
    import ingest

    index = database.AuditIndex()
    ingest.ingest_paths(sorted(DATA.glob("*.pdf")), index, show_progress=False)
    rows = [ask(agent, index, args.endpoint, q) for q in QUESTIONS[: args.questions]]
    answered = [r for r in rows if r["llm_calls"] >= 2]
    summary = {
        "questions": len(rows), "answered_with_two_calls": len(answered),
        "prompt_tokens_evaluated_median": statistics.median(r["prompt_tokens_evaluated"] for r in rows),
        "prompt_tokens_cached_median": statistics.median(r["prompt_tokens_cached"] for r in rows),
        "first_token_after_grading_s_median": statistics.median(
            r["first_token_after_grading_s"] for r in rows if r["first_token_after_grading_s"] is not None
        ),
        "seconds_median": statistics.median(r["seconds"] for r in rows),
    }  # fmt: skip
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**summary, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
