"""Retrieval benchmark on FinanceBench-format questions (not a test).

    .venv/bin/python -m bench.retrieval --questions Q.jsonl --pdfs DIR --out OUT.json

Ingests every DIR/<doc_name>.pdf into a fresh temporary database (or --db PATH, reused),
then asks each question twice: restricted to its own filing (`single_doc`) and against
all filings with no caller filter (`shared`; filters derived from the question are allowed).
A hit at k: any 0-based evidence page is among the pages of the top k results.

`--agent` adds the agent's own figure: the share of questions (shared setting, no caller
filter) for which an evidence page is among the passages its grader sees, that is
`AUDITOR_AGENT_K` candidates per search over the agent's searches. The model is the protocol
test server, keeping every passage: once saying that suffices (one search), once saying it
does not (the agent searches again, up to `AUDITOR_MAX_ITERATIONS`).
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

from compliance_auditor.index.store import AuditIndex
from compliance_auditor.ingestion import ingest_paths
from compliance_auditor.records import Passage, SearchMode

KS = (1, 3, 5, 10)


def score(hits: list[Passage], evidence: set[int]) -> dict[str, float]:
    first = next((n for n, h in enumerate(hits[:10], 1) if evidence & set(h.pages or [h.page])), None)
    out = {f"hit@{k}": float(any(evidence & set(h.pages or [h.page]) for h in hits[:k])) for k in KS}
    out["mrr@10"] = 1.0 / first if first else 0.0
    return out


def summarise(rows: list[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {"n": 0}
    keys = [f"hit@{k}" for k in KS] + ["mrr@10"]
    return {"n": len(rows), **{k: round(statistics.fmean(r[k] for r in rows), 3) for k in keys}}


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", required=True, type=Path)
    parser.add_argument("--pdfs", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--db", help="reuse this database instead of a fresh temporary one")
    parser.add_argument("--mode", default="hybrid", choices=("hybrid", "vector", "fts"))
    parser.add_argument("--agent", action="store_true", help="also measure the agent's recall")
    args = parser.parse_args()

    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    names = sorted({q["doc_name"] for q in questions})
    pdfs = [args.pdfs / f"{name}.pdf" for name in names if (args.pdfs / f"{name}.pdf").exists()]
    index = AuditIndex(args.db or tempfile.mkdtemp(prefix="auditor-bench-"))
    ingested = ingest(index, pdfs)
    index.search("warm up", k=1)  # load the model and open the indexes before timing
    single, shared, times, details = ask(index, questions, args.mode)
    result = {
        "ingest": ingested,
        "single_doc": summarise(single),
        "shared": summarise(shared),
        "query_ms": {"p50": round(percentile(times, 0.5), 1), "p95": round(percentile(times, 0.95), 1)},
    }
    if args.agent:
        result["agent_recall"] = {
            "one_search": agent_recall(index, questions, enough=True),
            "up_to_max_iterations": agent_recall(index, questions, enough=False),
        }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**result, "mode": args.mode, "questions": details}, indent=2))
    return 0


def ingest(index: AuditIndex, pdfs: list[Path]) -> dict[str, Any]:
    """Ingest the filings (skipping those the index has) and report what it cost."""
    cpu_start = sum(os.times()[:2])
    summary = ingest_paths(pdfs, index)
    cpu_seconds = sum(os.times()[:2]) - cpu_start + summary.parse_cpu_seconds
    index.refresh_indexes()
    return {
        "documents": summary.added + summary.skipped, "pages": summary.pages, "chunks": summary.chunks,
        "boilerplate_pages": summary.boilerplate_pages, "failed": summary.failed,
        "seconds": round(summary.seconds, 1), "embed_seconds": round(summary.embed_seconds, 1),
        "pages_per_s": round(summary.pages_per_s, 2),
        # CPU time (this process, its threads and the parsers): what a lever changes, however
        # busy the machine; the embedding's share of it.
        "cpu_seconds": round(cpu_seconds, 1), "embed_cpu_seconds": round(summary.embed_cpu_seconds, 1),
        "pages_per_cpu_s": round(summary.pages / cpu_seconds, 2) if cpu_seconds else 0.0,
        # The machine is shared: the load during the run says how far to trust the timings.
        "load_avg_15m": round(os.getloadavg()[2], 2),
    }  # fmt: skip


def ask(
    index: AuditIndex, questions: list[dict[str, Any]], mode: SearchMode
) -> tuple[list, list, list, list]:
    """Each question searched within its filing and across all; the scores, shared-search times
    (ms) and the pages each search returned."""
    single, shared, times, details = [], [], [], []
    for q in questions:
        evidence = {e["evidence_page_num"] for e in q["evidence"]}
        own = index.search(q["question"], k=10, filters={"doc_name": f"{q['doc_name']}.pdf"}, mode=mode)
        started = time.perf_counter()
        wide = index.search(q["question"], k=10, mode=mode)
        times.append((time.perf_counter() - started) * 1000)
        single.append(score(own.hits, evidence))
        shared.append(score(wide.hits, evidence))
        details.append({
            "id": q.get("financebench_id"), "doc": q["doc_name"], "evidence": sorted(evidence),
            "single_pages": [h.page for h in own.hits], "shared_docs": [h.doc_name for h in wide.hits],
            "shared_pages": [h.page for h in wide.hits], "derived": wide.filters, "relaxed": wide.relaxed,
        })  # fmt: skip
    return single, shared, times, details


def agent_recall(index: AuditIndex, questions: list[dict[str, Any]], enough: bool) -> float:
    """The share of questions whose evidence page is among the passages the agent's grader saw."""
    from compliance_auditor import config
    from compliance_auditor.agent.graph import ask as agent_ask
    from tests.support.fake_llm import FakeLLM
    from tests.support.scripted import passages

    def keep_everything(request: dict[str, Any]) -> str:
        if request.get("stream"):
            return "No answer: this benchmark measures what the grader saw."
        return json.dumps({"relevant": sorted(passages(request)), "enough": enough, "search": ""})

    found = 0
    with FakeLLM() as fake, tempfile.TemporaryDirectory() as logs:
        fake.responder = keep_everything
        os.environ.update(AUDITOR_LLM_ENDPOINT=fake.url, AUDITOR_LOGS_DIR=logs)
        config.get_settings.cache_clear()
        for q in questions:
            evidence = {e["evidence_page_num"] for e in q["evidence"]}
            result = agent_ask(q["question"], index=index)
            seen = {(r.doc_name, r.page) for r in result.retrieved}
            found += any((f"{q['doc_name']}.pdf", page) in seen for page in evidence)
    return round(found / len(questions), 3)


if __name__ == "__main__":
    sys.exit(main())
