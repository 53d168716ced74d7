"""Answer records as the agent writes them, built from real search results."""

from __future__ import annotations

from typing import Any

from compliance_auditor.index.search import SearchResult
from compliance_auditor.records import AnswerRecord, Citation, Grade, PassageRef, Verification


def answer_record(question: str, result: SearchResult, **fields: Any) -> AnswerRecord:
    """The record of an answer that cites the first hit of `result` as [1]."""
    hits = result.hits
    cited = hits[0]
    record = {
        "user": "analyst",
        "question": question,
        "filters": result.filters,
        "retrieved": [
            PassageRef(chunk_id=h.chunk_id, doc_sha256=h.doc_sha256, doc_name=h.doc_name, page=h.page)
            for h in hits
        ],
        "grades": [Grade(chunk_id=h.chunk_id, relevant=n == 0) for n, h in enumerate(hits)],
        "answer": f"{cited.text[:120]} [1]",
        "mode": "answered",
        "complete": True,
        "citations": [Citation(**cited.model_dump(), n=1)],
        "verification": Verification.model_validate({"ok": True, "citations": [{"n": 1, "resolved": True}]}),
        "model": "test-model",
        "endpoint": "http://127.0.0.1:8080/v1",
        "provider": "openai",
        "prompt_hashes": ["a" * 64],
        "table_version": result.table_version,
        "documents_version": result.documents_version,
        "search_mode": result.mode,
        "k": len(hits),
        "latency_s": 0.5,
    }
    return AnswerRecord.model_validate({**record, **fields})
