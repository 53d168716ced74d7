"""Re-embed a copy of an index with the configured embedder: the retrieval check of an
embedding lever without parsing the filings again (not a test).

    AUDITOR_EMBED_BACKEND=onnx-int8 .venv/bin/python -m bench.reembed --db INDEX --out COPY \
        [--context per-chunk|shared] --json OUT.json

The copy keeps every chunk, its text and its context line (`search_text`, so BM25 is
unchanged); only the vectors are recomputed, then the vector index rebuilt. Then run
`bench.retrieval --db COPY` with the same settings, so questions are embedded the same way.

`--context shared` tries "one context per page": each chunk's text is embedded without its
context line, each distinct context line once, and the two vectors are combined weighted by
their token counts (what mean pooling would do if the two parts did not attend to each other).

Prints the embedding throughput (chunks/s and tokens/s, the CPU's load beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from compliance_auditor import config
from compliance_auditor.index.embedder import get_embedder
from compliance_auditor.index.store import AuditIndex


def split_context(search_texts: list[str]) -> tuple[list[str], list[str]]:
    """Each search text's context line and its chunk text."""
    parts = [s.split("\n", 1) for s in search_texts]
    return [p[0] for p in parts], [p[1] if len(p) > 1 else "" for p in parts]


def token_counts(embedder, texts: list[str]) -> np.ndarray:
    ids = embedder.model.tokenizer(texts, truncation=True, max_length=embedder.max_tokens)["input_ids"]
    return np.array([len(i) for i in ids], dtype=np.float32)


def embed(embedder, search_texts: list[str], context: str, batch: int) -> tuple[np.ndarray, int]:
    """The vectors of the chunks, and the number of tokens the model read."""
    if context == "per-chunk":
        return embedder.encode(search_texts, batch), int(token_counts(embedder, search_texts).sum())
    contexts, texts = split_context(search_texts)
    distinct = sorted(set(contexts))
    text_vectors = embedder.encode(texts, batch)
    context_vectors = dict(zip(distinct, embedder.encode(distinct, batch), strict=True))
    text_tokens, context_tokens = token_counts(embedder, texts), token_counts(embedder, distinct)
    weights = dict(zip(distinct, context_tokens, strict=True))
    combined = np.stack([
        text_tokens[n] * text_vectors[n] + weights[c] * context_vectors[c] for n, c in enumerate(contexts)
    ])  # fmt: skip
    combined /= np.clip(np.linalg.norm(combined, axis=1, keepdims=True), 1e-12, None)
    return combined.astype(np.float32), int(text_tokens.sum() + context_tokens.sum())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", required=True, type=Path, help="the index to copy")
    parser.add_argument("--out", required=True, type=Path, help="the copy, re-embedded (replaced)")
    parser.add_argument("--context", choices=["per-chunk", "shared"], default="per-chunk")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    shutil.copytree(args.db, args.out)
    embedder = get_embedder()
    index = AuditIndex(str(args.out), embedder=embedder)
    table = index.chunks.to_arrow()
    search_texts = table.column("search_text").to_pylist()
    started, cpu, load = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    vectors, tokens = embed(embedder, search_texts, args.context, config.get_settings().embed_batch_size)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    column = table.schema.get_field_index("vector")
    flat = vectors.reshape(-1)
    import pyarrow as pa

    vector_array = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), embedder.dim)
    index.db.create_table("chunks", table.set_column(column, "vector", vector_array), mode="overwrite")
    index = AuditIndex(str(args.out), embedder=embedder)
    index.refresh_indexes()
    result = {
        "backend": embedder.backend, "context": args.context, "chunks": len(search_texts),
        "tokens": tokens, "seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
        "chunks_per_s": round(len(search_texts) / seconds, 1), "tokens_per_s": round(tokens / seconds),
        "load_at_start": round(load, 2), "load_at_end": round(os.getloadavg()[0], 2),
    }  # fmt: skip
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
