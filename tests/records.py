"""Answer records shaped as the agent writes them, built from real search results."""

from __future__ import annotations

from typing import Any

import database


def answer_record(question: str, result: database.SearchResult, **overrides: Any) -> dict[str, Any]:
    """An audit record for an answer that cites the first hit of `result`."""
    hits = result.hits
    cited = hits[0]
    record = {
        "kind": "answer",
        "user": "analyst",
        "question": question,
        "filters": result.filters,
        "retrieved": [
            {"chunk_id": h.chunk_id, "doc_sha256": h.doc_sha256, "doc_name": h.doc_name, "page": h.page}
            for h in hits
        ],
        "grades": [{"chunk_id": h.chunk_id, "relevant": n == 0} for n, h in enumerate(hits)],
        "reflections": [],
        "answer": f"{cited.text[:120]} [1]",
        "mode": "answered",
        "citations": [
            {
                "n": 1,
                "doc_name": cited.doc_name,
                "doc_sha256": cited.doc_sha256,
                "page": cited.page,
                "bbox": cited.bbox,
                "page_width": cited.page_width,
                "page_height": cited.page_height,
                "chunk_id": cited.chunk_id,
                "quote": cited.text[:200],
            }
        ],
        "verification": {
            "ok": True,
            "citations": [{"n": 1, "supported": True}],
            "numbers": [],
            "unsupported_sentences": [],
            "warnings": [],
        },
        "model": "test-model",
        "endpoint": "http://127.0.0.1:8080/v1",
        "provider": "openai",
        "prompt_hashes": ["a" * 64],
        "table_version": result.table_version,
        "search_mode": result.mode,
        "k": len(hits),
        "latency_s": 0.5,
        "errors": [],
    }
    return {**record, **overrides}
