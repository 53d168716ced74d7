"""Audit-trail benchmark (not a test): verify over a large log, and the cost of an append.

    python bench/audit.py [--records 100000] [--appends 500] [--dir DIR] [--out OUT.json]

Builds a log of `--records` answer records shaped as the agent writes them (10 retrieved
chunks, 3 citations with boxes and quotes, verification, about 4.7 KB a line) through
`audit.append` with fsync off, then times `audit.verify` in-process and `python audit.py
verify` end to end, and the append itself with and without fsync.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import audit
import config


def answer(n: int) -> dict:
    doc, name = "b" * 64, "ULTABEAUTY_2023Q4_EARNINGS.pdf"
    chunks = [f"{'a' * 16}-{i:05d}" for i in range(10)]
    citation = {"doc_name": name, "doc_sha256": doc, "page": 1, "bbox": [90.0, 54.39, 551.83, 409.78],
                "page_width": 612.0, "page_height": 792.0, "chunk_id": chunks[0],
                "quote": "Gross profit increased 18.0% to $1.2 billion compared to $1.0 billion in "
                         "the fourth quarter of fiscal 2021."}  # fmt: skip
    return {
        "kind": "answer", "user": "analyst", "question": f"Question {n}: how did Ulta's gross profit change?",
        "filters": {"company": ["Ulta Beauty"], "fiscal_year": 2022},
        "retrieved": [{"chunk_id": c, "doc_sha256": doc, "doc_name": name, "page": i}
                      for i, c in enumerate(chunks)],
        "grades": [{"chunk_id": c, "relevant": i < 4} for i, c in enumerate(chunks)],
        "reflections": [{"decision": "search", "reason": "need the full-year figure",
                         "query": "gross profit fiscal 2022", "filters": {"company": ["Ulta Beauty"]}}],
        "answer": "Gross profit increased 18.0% to $1.2 billion in the fourth quarter [1], and 20.1% to "
                  "$4.0 billion for the year [2]; gross margin was 37.6% [3]. " * 4,
        "mode": "answered",
        "citations": [{"n": i, **citation} for i in (1, 2, 3)],
        "verification": {"ok": True, "citations": [{"n": i, "supported": True} for i in (1, 2, 3)],
                         "numbers": [{"value": v, "found": True} for v in ("18.0%", "$1.2 billion", "37.6%")],
                         "unsupported_sentences": [], "warnings": []},
        "model": "mlx-community/Qwen2.5-72B-Instruct-4bit", "endpoint": "http://127.0.0.1:8080/v1",
        "provider": "openai", "prompt_hashes": ["c" * 64] * 3, "table_version": 12,
        "search_mode": "hybrid", "k": 8, "latency_s": 4.2, "errors": [],
    }  # fmt: skip


def timed_appends(path: Path, count: int, fsync: bool) -> dict[str, float]:
    os.environ["AUDITOR_AUDIT_FSYNC"] = "true" if fsync else "false"
    config.get_settings.cache_clear()
    costs = []
    for n in range(count):
        record = answer(n)
        started = time.perf_counter()
        audit.append(record, path)
        costs.append((time.perf_counter() - started) * 1000)
    costs.sort()
    return {"appends": count, "median_ms": round(statistics.median(costs), 3),
            "p95_ms": round(costs[int(0.95 * count)], 3), "max_ms": round(costs[-1], 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--appends", type=int, default=500)
    parser.add_argument("--dir", type=Path, help="where to build the log (default: a temporary folder)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="audit-bench-"))
    path = folder / "audit.jsonl"

    started = time.perf_counter()
    timed_appends(path, args.records, fsync=False)
    built = time.perf_counter() - started
    figures = {"records": args.records, "log_mb": round(path.stat().st_size / 2**20, 1),
               "build_s": round(built, 1)}  # fmt: skip

    runs = []
    for _ in range(3):
        started = time.perf_counter()
        report = audit.verify(path)
        runs.append(time.perf_counter() - started)
        assert report.ok and report.records == args.records, report.summary()
    figures["verify_s"] = [round(r, 2) for r in runs]
    started = time.perf_counter()
    cli = subprocess.run([sys.executable, "audit.py", "verify", str(path)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent)  # fmt: skip
    figures["verify_cli_s"] = round(time.perf_counter() - started, 2)
    figures["verify_cli_output"] = cli.stdout.splitlines()[0]

    figures["append_fsync"] = timed_appends(path, args.appends, fsync=True)
    figures["append_no_fsync"] = timed_appends(path, args.appends * 4, fsync=False)
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
