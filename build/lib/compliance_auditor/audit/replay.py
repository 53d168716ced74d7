"""Reproduction: the index version an answer searched is tagged, and replay searches it again.

The agent tags the chunk-table version (and the documents version beside it) that its search
used, so `AuditIndex.optimize()` keeps it; `replay` re-runs the answer's searches against
that tagged version and compares the chunks with those the answer retrieved.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance_auditor.audit.chain import find
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.records import AnswerRecord


def version_tag(table_version: int) -> str:
    return f"audit-v{int(table_version)}"


def tag_version(index: AuditIndex, table_version: int, documents_version: int | None = None) -> str:
    """Tag the chunk-table version an answer used (and the documents version) so `optimize()`
    keeps it; returns the tag. Call it with `SearchResult.table_version` and `.documents_version`."""
    tag = version_tag(table_version)
    index.tag_version(tag, table_version, documents_version)
    return tag


def read_answer(ref: str, path: str | Path | None = None) -> AnswerRecord:
    """The answer record whose id or hash is `ref` (or starts with it)."""
    record = find(ref, path)
    if record.get("kind") != "answer":
        raise ValueError(f"{ref} is a {record.get('kind')} record, not an answer")
    return AnswerRecord.model_validate(record)


@dataclass
class Replay:
    """The chunks an answer retrieved, and those the same searches return at its tagged version."""

    record_id: str
    tag: str
    searches: list[dict[str, Any]]
    original: list[str]
    replayed: list[str]

    @property
    def same(self) -> bool:
        return set(self.original) == set(self.replayed)

    @property
    def same_order(self) -> bool:
        return self.original == self.replayed


def replay(ref: str, index: AuditIndex | None = None, path: str | Path | None = None) -> Replay:
    """Re-run an answer's searches against its tagged table version.

    The searches are the record's `searches` (the query and the filters each search ran
    with), or without them the question with the record's `filters`, then each reflection
    that names a `query`, with its `filters`. Each uses the record's `k` and `search_mode`; the
    chunks are compared as one list, in order, deduplicated.
    """
    record = read_answer(ref, path)
    if record.table_version is None:
        raise KeyError(f"record {record.id} searched no index version: there is nothing to replay")
    tag = version_tag(record.table_version)
    index = index or AuditIndex()
    if tag not in index.chunks.tags.list():
        raise KeyError(
            f"the index has no tag {tag}: the answer's version was never tagged (audit.tag_version)"
        )
    pinned = index.pinned(tag)
    searches: list[dict[str, Any]] = []
    replayed: list[str] = []
    for query, filters in _searches_of(record):
        result = pinned.search(query, k=record.k, filters=filters, mode=record.search_mode)
        ids = [hit.chunk_id for hit in result.hits]
        searches.append({"query": query, "filters": filters, "chunk_ids": ids})
        replayed.extend(i for i in ids if i not in replayed)
    original = list(dict.fromkeys(r.chunk_id for r in record.retrieved))
    return Replay(record.id, tag, searches, original, replayed)


def _searches_of(record: AnswerRecord) -> list[tuple[str, dict[str, Any]]]:
    if record.searches:
        return [(s.query, s.filters or {}) for s in record.searches]
    return [(record.question, record.filters or {})] + [
        (r.query, r.filters or {}) for r in record.reflections if r.query
    ]
