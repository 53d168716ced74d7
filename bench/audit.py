"""Audit-trail benchmark (not a test): verify over a large log, and the cost of an append.

    .venv/bin/python -m bench.audit [--records 100000] [--appends 500] [--dir DIR] [--out OUT.json]

Builds a log of `--records` answer records shaped as the agent writes them (10 retrieved
chunks, 3 citations with boxes and quotes, verification, model calls) through
`chain.append` with fsync off, then times `chain_check.verify_chain` in-process and
`python -m compliance_auditor.audit verify` end to end, and the append itself with and
without fsync.
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

from compliance_auditor import config
from compliance_auditor.audit import chain, chain_check
from compliance_auditor.records import AnswerRecord


def answer(n: int) -> dict:
    """An answer record as the agent writes it (validated by the same model), sealed as plain JSON."""
    doc, name = "b" * 64, "ULTABEAUTY_2023Q4_EARNINGS.pdf"
    chunks = [f"{'a' * 16}-{i:05d}" for i in range(10)]
    citation = {"doc_name": name, "doc_sha256": doc, "company": "Ulta Beauty",
                "form_type": "earnings release", "fiscal_year": 2022,
                "heading": "Fourth Quarter Fiscal 2022 Results", "kind": "text",
                "page": 1, "pages": [1], "bbox": [90.0, 54.39, 551.83, 409.78], "page_width": 612.0,
                "page_height": 792.0, "chunk_id": chunks[0], "score": 0.03,
                "text": "Gross profit increased 18.0% to $1.2 billion compared to $1.0 billion in "
                        "the fourth quarter of fiscal 2021."}  # fmt: skip
    numbers = (("18.0%", 18.0), ("$1.2 billion", 1.2e9), ("37.6%", 37.6))
    record = {
        "user": "analyst", "question": f"Question {n}: how did Ulta's gross profit change?",
        "question_id": f"{n:032x}", "filters": {"company": ["Ulta Beauty"], "fiscal_year": 2022},
        "retrieved": [{"chunk_id": c, "doc_sha256": doc, "doc_name": name, "page": i}
                      for i, c in enumerate(chunks)],
        "grades": [{"chunk_id": c, "relevant": i < 4} for i, c in enumerate(chunks)],
        "searches": [{"query": "gross profit fiscal 2022", "filters": {"company": ["Ulta Beauty"]},
                      "hits": 10}],
        "reflections": [{"decision": "generate", "reason": "4 relevant passages suffice"}],
        "answer": "Gross profit increased 18.0% to $1.2 billion in the fourth quarter [1], and 20.1% to "
                  "$4.0 billion for the year [2]; gross margin was 37.6% [3]. " * 4,
        "mode": "answered", "complete": True,
        "citations": [{"n": i, **citation} for i in (1, 2, 3)],
        "verification": {"ok": True, "citations": [{"n": i, "resolved": True} for i in (1, 2, 3)],
                         "numbers": [{"text": v, "value": x, "sentence": 0, "verdict": "quoted",
                                      "source": f"[1] {v}"}
                                     for v, x in numbers]},
        "model": "mlx-community/Qwen2.5-72B-Instruct-4bit", "endpoint": "http://127.0.0.1:8080/v1",
        "provider": "openai", "prompt_profile": "qwen", "prompt_hashes": ["c" * 64] * 2,
        "table_version": 12, "documents_version": 7, "k": 8, "latency_s": 4.2, "llm_calls": 2,
        "calls": [{"node": node, "endpoint": "http://127.0.0.1:8080/v1", "seconds": 1.5, "ok": True,
                   "input_tokens": 1900, "output_tokens": 120} for node in ("grade", "generate")],
        "timings": {"retrieve": 0.05, "grade": 1.5, "reflect": 0.001, "generate": 2.6, "verify": 0.01},
    }  # fmt: skip
    return AnswerRecord.model_validate(record).to_chain()


def timed_appends(path: Path, count: int, fsync: bool) -> dict[str, float]:
    os.environ["AUDITOR_AUDIT_FSYNC"] = "true" if fsync else "false"
    config.get_settings.cache_clear()
    costs = []
    for n in range(count):
        record = answer(n)
        started = time.perf_counter()
        chain.append(record, path)
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
        report = chain_check.verify_chain(path)
        runs.append(time.perf_counter() - started)
        assert report.ok and report.records == args.records, report.summary()
    figures["verify_s"] = [round(r, 2) for r in runs]
    started = time.perf_counter()
    cli = subprocess.run([sys.executable, "-m", "compliance_auditor.audit", "verify", str(path)],
                         capture_output=True, text=True)  # fmt: skip
    figures["verify_cli_s"] = round(time.perf_counter() - started, 2)
    figures["verify_cli_output"] = cli.stdout.splitlines()[0]

    figures["append_fsync"] = timed_appends(path, args.appends, fsync=True)
    figures["append_no_fsync"] = timed_appends(path, args.appends * 4, fsync=False)
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
