"""The index: LanceDB tables of chunks and documents, local embeddings, hybrid search.

    import database
    index = database.AuditIndex()                      # AUDITOR_DB_URI, default data/lancedb
    result = index.search("What was 3M's FY2018 capital expenditure?", k=10)  # mode="hybrid"
    result.filters   # {'company': ['3M'], 'fiscal_year': 2018}: derived from the question
    for passage in result.hits:
        print(passage.doc_name, passage.page, passage.bbox, passage.score, passage.text[:80])

Where each part lives, in `compliance_auditor/`:
- `index/store.py`: `AuditIndex`, its two tables, crash-safe writes, tags and compaction;
- `index/search.py`: vector and BM25 rankings fused by reciprocal rank, filters built with
  `lancedb.expr`, never by formatting SQL;
- `index/schema.py`: the tables' columns and the rows ingestion writes into them;
- `index/embedder.py`: all-MiniLM-L6-v2 from a local package, checked against its sha256;
- `questions.py`: the filters a question implies and the filing vocabulary for its metrics;
- `records.py`: `Passage`, the search's result and the agent's evidence.
"""

from __future__ import annotations

from compliance_auditor.index.embedder import DEFAULT_MODEL, Embedder, ModelIntegrityError, get_embedder
from compliance_auditor.index.schema import FILTER_FIELDS, SEARCHABLE_STATUS
from compliance_auditor.index.search import SearchResult
from compliance_auditor.index.store import AuditIndex, PinnedIndex
from compliance_auditor.records import Passage

__all__ = [
    "DEFAULT_MODEL", "FILTER_FIELDS", "SEARCHABLE_STATUS", "AuditIndex", "Embedder", "ModelIntegrityError",
    "Passage", "PinnedIndex", "SearchResult", "get_embedder",
]  # fmt: skip
