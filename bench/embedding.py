"""Embedding throughput on this machine, per backend and device (not a test).

    .venv/bin/python -m bench.embedding [PDF ...] [--backends onnx-int8 onnx torch]
        [--device auto|cpu|cuda|mps] [--runs 3] [--out OUT.json]

Parses the PDFs (the committed filings by default) once, then embeds their chunks exactly as
ingestion does (context line + text, `AUDITOR_EMBED_BATCH_SIZE`) with each backend in turn,
round after round so that load on a shared machine falls on every backend alike. Reports the
median chunks/s, word pieces/s, and the pages/s embedding alone would allow. On a Mac or a GPU
server, `--device mps` or `--device cuda --backends torch` shows what the device buys.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from compliance_auditor import config
from compliance_auditor.index.embedder import Embedder
from compliance_auditor.parsing.converter import ParseOptions, parse_document
from compliance_auditor.parsing.metadata import context_line

COMMITTED = sorted((Path(__file__).resolve().parent.parent / "tests" / "data").glob("*.pdf"))


def ingestion_texts(pdfs: list[Path], embedder: Embedder) -> tuple[list[str], int]:
    """What ingestion would embed for these PDFs, and their pages."""
    opts = ParseOptions.from_settings(embedder.tokenizer_file, embedder.max_tokens)
    texts, pages = [], 0
    for pdf in pdfs:
        parsed = parse_document(pdf, opts, {})
        texts += [f"{context_line(parsed.meta, c.item, c.heading)}\n{c.text}" for c in parsed.chunks]
        pages += parsed.page_count
    return texts, pages


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("pdfs", nargs="*", type=Path, default=COMMITTED)
    parser.add_argument("--backends", nargs="+", default=["onnx-int8", "onnx", "torch"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    name, batch = config.get_settings().embed_model, config.get_settings().embed_batch_size
    embedders = {b: Embedder(name, args.device, b) for b in args.backends}
    first = next(iter(embedders.values()))
    texts, pages = ingestion_texts(args.pdfs, first)
    pieces = sum(len(i) for i in first.model.tokenizer(texts, truncation=True)["input_ids"])
    seconds: dict[str, list[float]] = {b: [] for b in embedders}
    loads = [os.getloadavg()[0]]
    for _ in range(args.runs):
        for backend, embedder in embedders.items():
            embedder.encode(texts[:batch], batch)  # warm
            started = time.perf_counter()
            embedder.encode(texts, batch)
            seconds[backend].append(time.perf_counter() - started)
        loads.append(os.getloadavg()[0])
    result = {
        "chunks": len(texts), "pages": pages, "word_pieces": pieces, "device": args.device,
        "load_average": [round(x, 2) for x in loads], "backends": {
            f"{b} ({embedders[b].backend} on {embedders[b].device})": {
                "chunks_per_s": round(len(texts) / statistics.median(s), 1),
                "word_pieces_per_s": round(pieces / statistics.median(s)),
                "pages_per_s_embedding_alone": round(pages / statistics.median(s), 1),
                "runs_s": [round(x, 2) for x in s],
            } for b, s in seconds.items()},
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
