"""The index's tables, their columns, and the rows written into them.

`chunks` holds one row per chunk: its text, the context line it was embedded with
(`search_text`, also full-text indexed), its place (page, box, page size), the filing's
metadata (so searches can filter on it) and its vector. `documents` holds one row per file,
by sha256, with its status: only `ok` and `needs_ocr` filings are searchable. `tieouts` holds a
filing's tie-out (its statement tables and checks), written with its chunks, deleted with them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from compliance_auditor.records import FILING_FIELDS, ParsedFiling

SEARCHABLE_STATUS = ("ok", "needs_ocr")
FILTER_FIELDS = (*FILING_FIELDS, "item", "page_role", "doc_sha256", "doc_name")
"""What a search may filter on: the filing's metadata, the Item, the page's role, the filing."""

_FILING_COLUMNS = [
    ("company", pa.string()),
    ("ticker", pa.string()),
    ("cik", pa.string()),
    ("form_type", pa.string()),
    ("fiscal_year", pa.int32()),
    ("fiscal_period", pa.string()),
    ("period_end", pa.string()),
]
assert tuple(name for name, _ in _FILING_COLUMNS) == FILING_FIELDS


def chunk_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            ("chunk_id", pa.string()),
            ("doc_sha256", pa.string()),
            ("doc_name", pa.string()),
            *_FILING_COLUMNS,
            ("item", pa.string()),
            ("part", pa.string()),
            ("heading", pa.string()),
            ("kind", pa.string()),
            ("page_role", pa.string()),
            ("page", pa.int32()),
            ("pages", pa.list_(pa.int32())),
            ("bbox", pa.list_(pa.float32(), 4)),
            ("page_width", pa.float32()),
            ("page_height", pa.float32()),
            ("text", pa.string()),
            ("search_text", pa.string()),
            ("table_html", pa.string()),
            ("vector", pa.list_(pa.float32(), dim)),
        ]
    )


DOCUMENT_SCHEMA = pa.schema(
    [
        ("sha256", pa.string()),
        ("filename", pa.string()),
        ("path", pa.string()),
        *_FILING_COLUMNS,
        ("status", pa.string()),
        ("error", pa.string()),
        ("pages", pa.int32()),
        ("chunks", pa.int32()),
        ("ocr_pages", pa.list_(pa.int32())),
        ("unreadable_pages", pa.list_(pa.int32())),
        ("metadata_sources", pa.string()),
        ("embed_model", pa.string()),
        ("ingested_at", pa.string()),
        ("ingested_by", pa.string()),
        ("table_version", pa.int64()),
        ("seconds", pa.float64()),
    ]
)


TIEOUT_SCHEMA = pa.schema(
    [
        ("doc_sha256", pa.string()),
        ("version", pa.int32()),
        ("record", pa.string()),
    ]
)
"""One row per filing: its `FilingTieOut` as JSON, with the tie-out's version beside it."""


def chunk_rows(parsed: ParsedFiling, search_texts: list[str], vectors: Any) -> list[dict[str, Any]]:
    """The rows of a parsed filing's chunks: `search_texts` are what each was embedded as."""
    filing = parsed.meta.fields()
    rows = []
    for n, (chunk, search_text, vector) in enumerate(zip(parsed.chunks, search_texts, vectors, strict=True)):
        width, height = parsed.page_sizes[chunk.page]
        rows.append({
            "chunk_id": f"{parsed.sha256[:16]}-{n:05d}", "doc_sha256": parsed.sha256,
            "doc_name": parsed.filename, **filing, "item": chunk.item, "part": chunk.part,
            "kind": chunk.kind, "page_role": chunk.page_role, "page": chunk.page,
            "pages": chunk.pages or [chunk.page],
            "bbox": chunk.bbox, "page_width": width, "page_height": height, "text": chunk.text,
            "search_text": search_text, "heading": chunk.heading, "table_html": chunk.table_html,
            "vector": vector,
        })  # fmt: skip
    return rows


def document_row(parsed: ParsedFiling, embed_model: str, ingested_by: str = "") -> dict[str, Any]:
    """The documents row of a parsed filing; `chunks`, `table_version` and `ingested_at` are
    filled in when its chunks are committed. `ingested_by` is who added it."""
    unreadable = parsed.unreadable_pages
    return {
        "sha256": parsed.sha256, "filename": parsed.filename, "path": parsed.path,
        **parsed.meta.fields(), "status": parsed.status,
        "error": f"no text on pages {unreadable} (OCR unavailable)" if unreadable else "",
        "pages": parsed.page_count, "ocr_pages": parsed.ocr_pages, "unreadable_pages": unreadable,
        "metadata_sources": json.dumps(parsed.meta.sources), "embed_model": embed_model,
        "seconds": round(parsed.seconds, 3), "ingested_by": ingested_by,
    }  # fmt: skip


def failure_row(sha256: str, filename: str, path: str, error: str, ingested_by: str = "") -> dict[str, Any]:
    """The documents row of a file that could not be indexed, with the reason."""
    return {
        "sha256": sha256, "filename": filename, "path": path, "status": "failed", "error": error,
        "pages": 0, "chunks": 0, "ingested_at": now(), "ingested_by": ingested_by,
    }  # fmt: skip


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
