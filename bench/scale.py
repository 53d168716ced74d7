"""Scale benchmark (not a test): indexes of 10,000 to 1,000,000 chunks, replicated from real filings.

    .venv/bin/python -m bench.scale --seed /work/scale-tmp/seed --work /work/scale-tmp \\
        --questions ../shared/financebench/questions.jsonl --sizes 10000 100000 1000000 \\
        --out bench/out/scale.json

`--seed` is an index of a few real filings, built once with `ingest.py` (AUDITOR_DB_URI=SEED).
For each size its chunks are copied, replica after replica, with fresh chunk ids and sha256s:
replica r > 0 of a filing belongs to a filer of its own ("Filer 00017 3f2a", no ticker; same
fiscal year, form and Items), with a documents row of its own, so a company and year filter
selects one filing as it would in a real index of many companies. Vectors are the real ones,
perturbed (Gaussian noise, σ=0.01 per dimension, then normalised: cosine ≈ 0.98 to the
original) so the approximate index does not see exact duplicates. The text is copied as is:
every BM25 posting list grows with the index (a real corpus adds words too), which is the
harder case for the full-text search.

Then `AuditIndex.refresh_indexes()` builds BM25 and the vector index (timed, each index apart),
and a fresh process (`--measure DB`) opens the index and searches the questions' texts three
ways: hybrid with no filter (`filters={}`), hybrid filtered on one replica's company and fiscal
year, and as `bench/retrieval.py`'s shared setting does (the filter derived from the question).
It reports p50 and p95 per way, its resident memory (current and peak), and the disk size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from compliance_auditor import config
from compliance_auditor.index.schema import SEARCHABLE_STATUS
from compliance_auditor.index.store import AuditIndex

NOISE = 0.01
WARMUP = 5


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else 0.0


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# ----- building a replicated index


def _seed_tables(seed: Path) -> tuple[pa.Table, pa.Table]:
    db = lancedb.connect(str(seed))
    settings = config.get_settings()
    documents = db.open_table(settings.documents_table).to_arrow()
    ok = pc.is_in(documents["status"], pa.array(SEARCHABLE_STATUS))
    documents = documents.filter(ok)
    chunks = db.open_table(settings.chunk_table).to_arrow()
    chunks = chunks.filter(pc.is_in(chunks["doc_sha256"], documents["sha256"]))
    return chunks, documents


def _sha(old: str, replica: int) -> str:
    return old if replica == 0 else hashlib.sha256(f"{old}:{replica}".encode()).hexdigest()


def _company(company: Any, replica: int) -> Any:
    """Replica r > 0 of a filer is another filer, whose name and ticker no question mentions
    (a name that kept the original's would be matched by its aliases)."""
    if replica == 0 or company is None:
        return company
    return f"Filer {replica:05d} {hashlib.sha256(company.encode()).hexdigest()[:4]}"


def _rename(table: pa.Table, replica: int) -> pa.Table:
    """A replica's company, ticker and CIK (those of replica 0 are the real ones)."""
    companies = table["company"].to_pylist()
    table = _replace(table, "company", [_company(c, replica) for c in companies])
    if replica:
        table = _replace(table, "ticker", [None] * table.num_rows)
        table = _replace(table, "cik", [None] * table.num_rows)
    return table


def _replace(table: pa.Table, name: str, values: list[Any] | pa.Array) -> pa.Table:
    i = table.schema.get_field_index(name)
    return table.set_column(i, table.schema.field(i), pa.array(values, type=table.schema.field(i).type))


def _replica_chunks(seed: pa.Table, replica: int, rows: int, rng: np.random.Generator) -> pa.RecordBatch:
    table = seed.slice(0, rows)
    shas = [_sha(s, replica) for s in table["doc_sha256"].to_pylist()]
    table = _replace(table, "doc_sha256", shas)
    table = _replace(table, "chunk_id", [f"{s[:16]}-r{replica}-{i:06d}" for i, s in enumerate(shas)])
    table = _rename(table, replica)
    vectors = table["vector"].combine_chunks()
    dim = vectors.type.list_size
    flat = vectors.values.to_numpy(zero_copy_only=False).reshape(-1, dim)
    if replica:
        flat = flat + rng.normal(0.0, NOISE, flat.shape).astype(np.float32)
        flat /= np.linalg.norm(flat, axis=1, keepdims=True)
    vector = pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel(), pa.float32()), dim)
    table = _replace(table, "vector", vector)
    return table.combine_chunks().to_batches()[0]


def _replica_documents(seed_docs: pa.Table, replicas: int) -> pa.Table:
    parts = []
    for replica in range(replicas):
        docs = _replace(seed_docs, "sha256", [_sha(s, replica) for s in seed_docs["sha256"].to_pylist()])
        parts.append(_rename(docs, replica))
    return pa.concat_tables(parts)


def build(seed: Path, dest: Path, size: int) -> dict[str, Any]:
    """Write `size` chunks replicated from the seed index, then build its indexes."""
    shutil.rmtree(dest, ignore_errors=True)
    chunks, docs = _seed_tables(seed)
    replicas = -(-size // chunks.num_rows)
    rng = np.random.default_rng(14)
    settings = config.get_settings()

    def batches() -> Iterator[pa.RecordBatch]:
        left = size
        for replica in range(replicas):
            yield _replica_chunks(chunks, replica, min(left, chunks.num_rows), rng)
            left -= chunks.num_rows

    started = time.perf_counter()
    db = lancedb.connect(str(dest))
    db.create_table(settings.chunk_table, data=batches(), schema=chunks.schema)
    db.create_table(settings.documents_table, data=_replica_documents(docs, replicas))
    written = time.perf_counter() - started
    return {"chunks": size, "documents": replicas * docs.num_rows, "write_s": round(written, 1),
            **build_indexes(dest)}  # fmt: skip


def build_indexes(dest: Path) -> dict[str, Any]:
    """`AuditIndex.refresh_indexes()`, with each `create_index` call timed."""
    index = AuditIndex(str(dest))
    table = index.chunks
    timings: dict[str, float] = {}
    create = table.create_index

    def timed(column: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        out = create(column, *args, **kwargs)
        timings[column] = round(time.perf_counter() - started, 1)
        return out

    table.create_index = timed
    started = time.perf_counter()
    index.refresh_indexes()
    return {
        "index_s": round(time.perf_counter() - started, 1),
        "fts_index_s": timings.get("search_text"),
        "vector_index_s": timings.get("vector"),
    }


# ----- measuring, in a fresh process


def _rss_mb() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 1e6)


def _queries(questions: Path, docs: list[dict[str, Any]], count: int) -> list[tuple[str, dict[str, Any]]]:
    """(question, a filter on one filing's company and year) pairs, the same for every size."""
    texts = [json.loads(line)["question"] for line in questions.read_text().splitlines() if line.strip()]
    rng = random.Random(14)
    texts = rng.sample(texts, min(count, len(texts)))
    targets = sorted((d["company"], d["fiscal_year"]) for d in docs if d["company"] and d["fiscal_year"])
    picks = [targets[rng.randrange(len(targets))] for _ in texts]
    return [(t, {"company": c, "fiscal_year": y}) for t, (c, y) in zip(texts, picks, strict=True)]


def measure(db: Path, questions: Path, count: int) -> dict[str, Any]:
    """Open the index, search each question three ways; latency per way, memory, disk."""
    rss_start = _rss_mb()
    index = AuditIndex(str(db))
    docs = index.list_documents(SEARCHABLE_STATUS)
    queries = _queries(questions, docs, count)
    for text, _ in queries[:WARMUP]:
        index.search(text, k=10, filters={})
    ways: dict[str, list[float]] = {"hybrid": [], "filtered": [], "derived": []}
    cpu: dict[str, list[float]] = {way: [] for way in ways}
    for text, flt in queries:
        for way, filters in (("hybrid", {}), ("filtered", flt), ("derived", None)):
            started, cpu_started = time.perf_counter(), time.process_time()
            index.search(text, k=10, filters=filters)
            ways[way].append((time.perf_counter() - started) * 1000)
            cpu[way].append((time.process_time() - cpu_started) * 1000)
    result: dict[str, Any] = {"chunks": index.chunks.count_rows(), "queries": len(queries)}
    for way, times in ways.items():
        # CPU time of the whole process (LanceDB's threads too): what the machine's load does not change.
        result[way] = {"p50_ms": round(percentile(times, 0.5), 1),
                       "p95_ms": round(percentile(times, 0.95), 1),
                       "cpu_p50_ms": round(percentile(cpu[way], 0.5), 1)}  # fmt: skip
    result["rss_mb"] = _rss_mb()
    result["rss_before_open_mb"] = rss_start
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3)
    result["disk_mb"] = round(disk_bytes(db) / 1e6)
    return result


def measure_in_child(db: Path, questions: Path, count: int, env: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.scale", "--measure", str(db), "--questions", str(questions),
           "--count", str(count)]  # fmt: skip
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, **env})
    measured: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return measured


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over repeated measurements."""
    out: dict[str, Any] = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, dict):
            out[key] = {k: round(statistics.median(r[key][k] for r in runs), 1) for k in value}
        elif isinstance(value, int | float):
            out[key] = round(statistics.median(r[key] for r in runs), 1)
    out["runs"] = len(runs)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=Path, help="index of a few real filings (ingest.py)")
    parser.add_argument("--work", type=Path, help="where the replicated indexes go (outside the repo)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--questions", type=Path, required=True, help="FinanceBench-format JSONL")
    parser.add_argument("--count", type=int, default=60, help="questions searched per way")
    parser.add_argument("--runs", type=int, default=3, help="measuring processes per size (medians)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep each index (else deleted once measured)")
    parser.add_argument("--reuse", action="store_true", help="measure existing indexes, do not rebuild")
    parser.add_argument("--env", nargs="*", default=[], help="KEY=VALUE settings for the measuring process")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.questions, args.count)))
        return 0
    env = dict(kv.split("=", 1) for kv in args.env)
    results = []
    for size in args.sizes:
        dest = args.work / f"scale-{size}"
        built = {"chunks": size} if args.reuse else build(args.seed, dest, size)
        runs = [measure_in_child(dest, args.questions, args.count, env) for _ in range(args.runs)]
        row = {**built, **median_of(runs), "env": env, "load_avg_1m": round(os.getloadavg()[0], 2)}
        print(json.dumps(row), flush=True)
        results.append(row)
        if not args.keep:
            shutil.rmtree(dest, ignore_errors=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
