"""Whole-page vectors as one more ranked list (not a test): would it find more evidence pages?

    .venv/bin/python -m bench.page_vectors --questions Q.jsonl --db INDEX [--weights 0 0.5 1 2]

A page's vector is the normalised mean of its chunks' vectors (a page's text is longer than the
model's 256-word-piece window, so embedding it whole would cut it off). For each question the
search's own ranking of pages (k=20, in each setting as `bench.retrieval` asks) is fused by
reciprocal rank with the pages ranked by cosine to the question's vector, within the same filter
(its filing, or the filter derived from the question); each weight is that list's weight in the
fusion, 0 being the search alone. Prints hit@5 and hit@10 per setting and weight.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import pandas as pd

from compliance_auditor import config
from compliance_auditor.index.store import AuditIndex

DEPTH = 20


def page_table(index: AuditIndex) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per page (filing, page and the filter columns) and its mean vector."""
    columns = ["doc_sha256", "doc_name", "page", "company", "fiscal_year", "form_type", "ticker", "vector"]
    chunks = index.chunks.search().select(columns).limit(index.chunks.count_rows()).to_pandas()
    chunks["vector"] = list(np.stack(chunks["vector"].to_numpy()))
    groups = chunks.groupby(["doc_sha256", "page"], sort=False)
    pages = groups[[c for c in columns if c not in ("vector", "doc_sha256", "page")]].first().reset_index()
    vectors = np.stack([np.mean(np.stack(g["vector"].to_numpy()), axis=0) for _, g in groups])
    return pages, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def within(pages: pd.DataFrame, filters: dict) -> np.ndarray:
    """The pages a filter keeps (equality, or membership for lists)."""
    keep = np.ones(len(pages), dtype=bool)
    for key, value in (filters or {}).items():
        values = value if isinstance(value, list) else [value]
        keep &= pages[key].isin(values).to_numpy()
    return keep


def fused(search_pages: list[tuple[str, int]], vector_pages: list[tuple[str, int]], weight: float) -> list:
    k = config.get_settings().rrf_k
    scores: dict[tuple[str, int], float] = {}
    for rank, page in enumerate(search_pages):
        scores[page] = scores.get(page, 0.0) + 1.0 / (k + rank + 1)
    for rank, page in enumerate(vector_pages):
        scores[page] = scores.get(page, 0.0) + weight / (k + rank + 1)
    return sorted(scores, key=lambda p: -scores[p])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", required=True, type=Path)
    parser.add_argument("--db", required=True)
    parser.add_argument("--weights", nargs="+", type=float, default=[0.0, 0.5, 1.0, 2.0])
    args = parser.parse_args()
    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    index = AuditIndex(args.db)
    pages, vectors = page_table(index)
    hits: dict[tuple[str, float, int], list[float]] = {}
    for q in questions:
        evidence = {(f"{q['doc_name']}.pdf", e["evidence_page_num"]) for e in q["evidence"]}
        asked = index.embedder.encode([q["question"]])[0]
        for setting, filters in (("single_doc", {"doc_name": f"{q['doc_name']}.pdf"}), ("shared", None)):
            result = index.search(q["question"], k=DEPTH, filters=filters)
            search_pages = list(
                dict.fromkeys((h.doc_name, p) for h in result.hits for p in (h.pages or [h.page]))
            )
            keep = np.flatnonzero(within(pages, result.filters))
            order = keep[np.argsort(-(vectors[keep] @ asked))[:DEPTH]]
            vector_pages = list(
                zip(pages["doc_name"].to_numpy()[order], pages["page"].to_numpy()[order], strict=True)
            )
            for weight in args.weights:
                ranked = fused(search_pages, vector_pages, weight)
                for k in (5, 10):
                    hits.setdefault((setting, weight, k), []).append(float(bool(evidence & set(ranked[:k]))))
    for (setting, weight, k), values in sorted(hits.items()):
        print(f"{setting:10s} weight {weight:3.1f} hit@{k:<2d} {statistics.fmean(values):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
