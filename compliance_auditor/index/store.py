"""The index: LanceDB tables of chunks and documents, kept consistent through crashes, and
the versions the audit trail pins.

A document's chunks are written in one `add()`, a single Lance commit, and only then is its
documents row set to `ok`; search ignores chunks whose document is not searchable, and
`remove_orphans()` deletes chunks left by a crash between the two writes.
"""

from __future__ import annotations

import copy
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import lancedb
import pyarrow as pa
from lancedb.expr import col, lit
from lancedb.index import FTS, Bitmap, BTree, HnswSq

from compliance_auditor import config
from compliance_auditor.index import search
from compliance_auditor.index.embedder import Embedder, get_embedder
from compliance_auditor.index.schema import (
    DOCUMENT_SCHEMA,
    SEARCHABLE_STATUS,
    TIEOUT_SCHEMA,
    chunk_schema,
    failure_row,
    now,
)
from compliance_auditor.index.search import SearchResult
from compliance_auditor.logs import get_logger
from compliance_auditor.page_roles import page_roles
from compliance_auditor.questions import derive_filters
from compliance_auditor.records import FILING_FIELDS, Chunk, FilingTieOut, SearchMode

log = get_logger("database", "database.jsonl")

FILTER_INDEXES: dict[str, Any] = {
    "doc_sha256": BTree(), "company": BTree(), "fiscal_year": Bitmap(), "form_type": Bitmap(),
    "page_role": Bitmap(),
}  # fmt: skip
"""Scalar indexes on the columns searches filter on, built with the vector index: a filter is
applied before the vector and BM25 searches, and without them it scans its columns in full."""


class AuditIndex:
    """The chunk and document tables of one LanceDB database.

    A document's chunks are written in one `add()`, a single Lance commit, and only then is
    its documents row set to `ok`; search ignores chunks whose document is not searchable,
    and `remove_orphans()` deletes chunks left by a crash between the two writes.
    """

    workspace: frozenset[str] | None = None
    """The companies (or tickers) whose filings this handle sees, normalised; None: all
    (a class default, so every handle, pinned ones too, has it)."""

    def __init__(self, uri: str | None = None, embedder: Embedder | None = None) -> None:
        settings = config.get_settings()
        self.uri = uri or settings.db_uri
        if "://" not in self.uri:
            Path(self.uri).mkdir(parents=True, exist_ok=True)
        # Interval 0: every read sees writes from other processes (the CLI ingesting while the
        # app serves questions); on a local disk the check costs well under a millisecond, on
        # object storage a request (AUDITOR_DB_READ_CONSISTENCY_S).
        self.db = lancedb.connect(
            self.uri,
            read_consistency_interval=timedelta(seconds=settings.db_read_consistency_s),
            storage_options=settings.db_storage_options or None,
        )
        self._embedder = embedder
        self._lock = threading.RLock()  # re-entered: opening an older table backfills its page roles under it
        self.documents = self._open(settings.documents_table, DOCUMENT_SCHEMA)
        if "ingested_by" not in self.documents.schema.names:  # an index made before team mode
            with self._lock:
                self.documents.add_columns(pa.field("ingested_by", pa.string()))
        self.tieouts = self._open(settings.tieout_table, TIEOUT_SCHEMA)
        self._chunks: Any = None
        self._indexes_dirty = False
        self._indexes_checked = False
        # The documents table as last read, with its version: one tuple, so threads see a consistent pair.
        self._documents: tuple[int | None, list[dict[str, Any]]] = (None, [])

    def within(self, companies: tuple[str, ...] | None) -> AuditIndex:
        """A handle on the same tables that sees only `companies`' filings (named as the Library
        shows them or by ticker; case, spaces and punctuation aside): its searches add them to
        every filter, it lists and finds no other filing. None: this handle, every filing."""
        if companies is None:
            return self
        self.chunks  # noqa: B018 -- opened once, then shared with the view
        view = copy.copy(self)
        view.workspace = frozenset(n for n in map(_normalised, companies) if n)
        return view

    def sees(self, document: dict[str, Any]) -> bool:
        if self.workspace is None:
            return True
        return bool(
            {_normalised(document.get("company")), _normalised(document.get("ticker"))} & self.workspace
        )

    # ----- tables

    def _open(self, name: str, schema: pa.Schema) -> Any:
        if name in self.db.list_tables().tables:
            return self.db.open_table(name)
        return self.db.create_table(name, schema=schema, exist_ok=True)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder()
        return self._embedder

    @property
    def chunks(self) -> Any:
        if self._chunks is None:
            self._chunks = self._open(config.get_settings().chunk_table, chunk_schema(self.embedder.dim))
            if "page_role" not in self._chunks.schema.names:
                self._add_page_roles(self._chunks)
        return self._chunks

    def _add_page_roles(self, table: Any) -> None:
        """Give a table written before page roles existed its `page_role` column, filled from the
        stored rows (roles are a function of them), in one commit for the column and one for the roles."""
        started = time.perf_counter()
        with self._lock:
            table.add_columns(pa.field("page_role", pa.string()))
            fields = [
                "chunk_id",
                "doc_sha256",
                "form_type",
                "page",
                "item",
                "part",
                "heading",
                "kind",
                "text",
            ]
            rows = table.search().select(fields).limit(None).to_list() if table.count_rows() else []
            by_doc: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                by_doc.setdefault(row["doc_sha256"], []).append(row)
            updates = []
            for doc_rows in by_doc.values():
                chunks = [Chunk(text=r["text"] or "", kind=r["kind"] or "", page=r["page"], bbox=[],
                                item=r["item"] or "", part=r["part"] or "", heading=r["heading"] or "")
                          for r in doc_rows]  # fmt: skip
                roles = page_roles(chunks, doc_rows[0]["form_type"] or "")
                updates += [{"chunk_id": r["chunk_id"], "page_role": roles[r["page"]].role} for r in doc_rows]
            if updates:
                table.merge_insert("chunk_id").when_matched_update_all().execute(
                    pa.Table.from_pylist(updates)
                )
                self._indexes_dirty = True
        seconds = round(time.perf_counter() - started, 2)
        log.info("page roles backfilled", extra={"fields": {
            "chunks": len(updates), "documents": len(by_doc), "seconds": seconds}})  # fmt: skip

    def version(self) -> int:
        return int(self.chunks.version)

    # ----- documents

    def list_documents(self, status: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        # Read once per version of the table: every search derives its filter from this list,
        # and reading the table's many small fragments costs tens of milliseconds.
        version = self.documents.version
        cached_at, rows = self._documents
        if cached_at != version:
            rows = self.documents.search().limit(None).to_list() if self.documents.count_rows() else []
            rows.sort(key=lambda r: (r["company"] or "", r["fiscal_year"] or 0, r["filename"]))
            self._documents = (version, rows)
        return [dict(r) for r in rows if (not status or r["status"] in status) and self.sees(r)]

    def get_document(self, sha256: str) -> dict[str, Any] | None:
        rows = self.documents.search().where(col("sha256") == lit(sha256)).limit(1).to_list()
        return rows[0] if rows and self.sees(rows[0]) else None

    def items_of(self, sha256: str) -> set[str]:
        """The 10-K/10-Q Items a filing's chunks were found under ('7', '8', '9A')."""
        rows = self.chunks.search().where(col("doc_sha256") == lit(sha256)).select(["item"]).limit(None)
        return {r["item"] for r in rows.to_list() if r["item"]}

    def _put_document(self, row: dict[str, Any]) -> None:
        full = {name: row.get(name) for name in DOCUMENT_SCHEMA.names}
        table = pa.Table.from_pylist([full], schema=DOCUMENT_SCHEMA)
        (
            self.documents.merge_insert("sha256")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(table)
        )

    def add_document(self, doc: dict[str, Any], chunks: list[dict[str, Any]]) -> int:
        """Commit a document's chunks in one write, then mark the document searchable."""
        with self._lock:
            self.chunks.delete(col("doc_sha256") == lit(doc["sha256"]))
            if chunks:
                self.chunks.add(pa.Table.from_pylist(chunks, schema=self.chunks.schema))
                self._indexes_dirty = True
            doc = {**doc, "chunks": len(chunks), "table_version": self.version(),
                   "ingested_at": now()}  # fmt: skip
            self._put_document(doc)
            return doc["table_version"]

    def put_tieout(self, tieout: FilingTieOut) -> None:
        """Store a filing's tie-out in place of any earlier one."""
        row = {"doc_sha256": tieout.doc_sha256, "version": tieout.version, "record": tieout.model_dump_json()}
        with self._lock:
            (
                self.tieouts.merge_insert("doc_sha256")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute(pa.Table.from_pylist([row], schema=TIEOUT_SCHEMA))
            )

    def tieout(self, sha256: str) -> FilingTieOut | None:
        """A filing's stored tie-out, if one was computed."""
        rows = self.tieouts.search().where(col("doc_sha256") == lit(sha256)).limit(1).to_list()
        return FilingTieOut.model_validate_json(rows[0]["record"]) if rows else None

    def record_failure(self, sha256: str, filename: str, path: str, error: str, by: str = "") -> None:
        with self._lock:
            self._put_document(failure_row(sha256, filename, path, error, by))

    def update_metadata(self, sha256: str, **fields: Any) -> None:
        """Change a filing's metadata in the documents row and in every one of its chunks."""
        unknown = set(fields) - set(FILING_FIELDS)
        if unknown:
            raise ValueError(f"cannot edit {sorted(unknown)}")
        with self._lock:
            where = col("doc_sha256") == lit(sha256)
            self.chunks.update(where=where, values=fields)
            self.documents.update(where=col("sha256") == lit(sha256), values=fields)
            self._indexes_dirty = True  # updated rows are rewritten, and unindexed until rebuilt

    def delete_document(self, sha256: str) -> bool:
        with self._lock:
            if self.get_document(sha256) is None:
                return False
            self.chunks.delete(col("doc_sha256") == lit(sha256))
            self.tieouts.delete(col("doc_sha256") == lit(sha256))
            self.documents.delete(col("sha256") == lit(sha256))
            self._indexes_dirty = True
            return True

    def remove_orphans(self) -> int:
        """Delete chunks whose document never reached a searchable status (an interrupted run)."""
        with self._lock:
            keep = {d["sha256"] for d in self.list_documents(SEARCHABLE_STATUS)}
            present = set(
                self.chunks.search().select(["doc_sha256"]).limit(None).to_arrow()["doc_sha256"]
                .to_pylist()
            ) if self.chunks.count_rows() else set()  # fmt: skip
            orphans = sorted(present - keep)
            for sha in orphans:
                self.chunks.delete(col("doc_sha256") == lit(sha))
            if orphans:
                self._indexes_dirty = True
                log.info("orphans removed", extra={"fields": {"documents": orphans}})
            return len(orphans)

    def refresh_indexes(self) -> None:
        """Bring the indexes up to date after writes: BM25 (new rows are searched only once
        indexed) and, on a table big enough for an exact vector scan to cost tens of
        milliseconds, the approximate vector index and the filter columns' scalar indexes.
        Checked once per process, then after writes."""
        if self._indexes_checked and not self._indexes_dirty:
            return
        with self._lock:
            rows = self.chunks.count_rows()
            indices = self.chunks.list_indices()
            if rows and (self._indexes_dirty or not any(ix.index_type == "FTS" for ix in indices)):
                self.chunks.create_index("search_text", config=FTS(), replace=True)
            if rows >= config.get_settings().vector_index_min_rows:
                self._build_stale(indices, rows)
            self._indexes_dirty = False
            self._indexes_checked = bool(rows)

    def _build_stale(self, indices: list[Any], rows: int) -> None:
        """The approximate vector index and the filter columns' scalar indexes, where missing or stale."""
        for column, kind in (("vector", HnswSq(distance_type="cosine")), *FILTER_INDEXES.items()):
            if column in self.chunks.schema.names and _stale(indices, column, rows):
                started = time.perf_counter()
                self.chunks.create_index(column, config=kind, replace=True)
                seconds = round(time.perf_counter() - started, 2)
                fields = {"column": column, "rows": rows, "seconds": seconds}
                log.info("index built", extra={"fields": fields})

    def stats(self) -> dict[str, Any]:
        docs = self.list_documents()
        return {
            "documents": len(docs),
            "searchable": sum(d["status"] in SEARCHABLE_STATUS for d in docs),
            "failed": sum(d["status"] == "failed" for d in docs),
            "chunks": self.chunks.count_rows(),
            "pages": sum(d["pages"] or 0 for d in docs),
            "version": self.version(),
        }

    # ----- search

    def search(
        self,
        query: str,
        k: int | None = None,
        filters: dict[str, Any] | None = None,
        mode: SearchMode = "hybrid",
    ) -> SearchResult:
        """Ranked passages for a query. With no filters, a filter is derived from the question.

        A derived filter that matches nothing is relaxed (form, quarter, year, then company), and
        the result says which filter it finally used.
        """
        return search.search(self, query, k, filters, mode)

    def derive_filters(self, question: str) -> dict[str, Any]:
        """Company or ticker the index knows, fiscal quarter and year, and form type named in the question."""
        return derive_filters(question, self.list_documents(SEARCHABLE_STATUS))

    def searchable(self) -> set[str]:
        """The sha256 of every filing a search may return."""
        return {d["sha256"] for d in self.list_documents(SEARCHABLE_STATUS)}

    # ----- pinned versions, for the audit trail

    def tag_version(self, tag: str, chunks_version: int, documents_version: int | None = None) -> None:
        """Tag a chunk-table version, and the documents table beside it, so `optimize()` keeps both.

        `documents_version` is the documents version the search filtered on
        (`SearchResult.documents_version`); None tags the current one. Tagging twice is a no-op.
        """
        if documents_version is None:
            documents_version = int(self.documents.version)
        for table, version in ((self.chunks, chunks_version), (self.documents, documents_version)):
            if tag not in table.tags.list():
                try:
                    table.tags.create(tag, int(version))
                except Exception:  # another process created it between the check and here
                    if tag not in table.tags.list():
                        raise

    def pinned(self, tag: str) -> PinnedIndex:
        """A read-only view of the index as it was when `tag` was created; the live tables are untouched."""
        return PinnedIndex(self, tag)

    def optimize(self, cleanup_older_than: timedelta = timedelta(days=7)) -> dict[str, int]:
        """Compact both tables and prune old versions, keeping every tagged version.

        LanceDB 0.40's cleanup raises when a tagged version is older than the window, and its
        Python API cannot turn that check off, so the window is widened to stop just short of
        the oldest tag: versions before it are pruned, it and everything after it are kept.
        Returns how many versions each table has left.
        """
        kept: dict[str, int] = {}
        for name, table in (("chunks", self.chunks), ("documents", self.documents)):
            with self._lock:
                table.optimize(cleanup_older_than=timedelta(days=36500))  # compact, prune nothing
                _cleanup(table, cleanup_older_than)
            kept[name] = len(table.list_versions())
        log.info("optimized", extra={"fields": {"versions": kept}})
        return kept

    # ----- filters derived from the question


class PinnedIndex(AuditIndex):
    """Both tables checked out at one tag: searches see that version's chunks, documents and BM25
    index. Its own table handles are read-only, so writes raise and the live index is untouched."""

    def __init__(self, live: AuditIndex, tag: str) -> None:
        settings = config.get_settings()
        self.uri, self.db, self.tag = live.uri, live.db, tag
        self._embedder = live.embedder
        self._lock = threading.RLock()  # re-entered: opening an older table backfills its page roles under it
        self.documents = self._checked_out(settings.documents_table, tag)
        self.tieouts = live.tieouts
        self._chunks = self._checked_out(settings.chunk_table, tag)
        self._indexes_dirty = False
        self._indexes_checked = True
        self._documents = (None, [])

    def _checked_out(self, name: str, tag: str) -> Any:
        table = self.db.open_table(name)
        table.checkout(tag)
        return table

    def refresh_indexes(self) -> None:
        """Nothing to rebuild: a tagged version is searched with the BM25 index it was tagged with."""


def _stale(indices: list[Any], column: str, rows: int) -> bool:
    """No index on `column`, or a fifth of the rows arrived after it was built (LanceDB scans
    those exactly, so results stay right, but the scan slows down as they grow)."""
    index = next((ix for ix in indices if ix.columns == [column]), None)
    return index is None or (index.num_unindexed_rows or 0) > rows / 5


def _cleanup(table: Any, requested: timedelta) -> None:
    """Prune versions older than `requested`, or than the oldest tag if that is more recent.

    The window is measured from our clock, the cutoff from LanceDB's a moment later; should
    the oldest tag slip out of the window meanwhile, LanceDB refuses and deletes nothing, and
    the cleanup is tried again with more slack.
    """
    tagged = {t["version"] for t in table.tags.list().values()}
    stamps = [v["timestamp"] for v in table.list_versions() if v["version"] in tagged]
    for slack in (timedelta(seconds=0.2), timedelta(seconds=5), timedelta(minutes=5)):
        window = requested
        if stamps:
            oldest = min(stamps)
            window = max(requested, datetime.now(oldest.tzinfo) - oldest + slack)  # naive local times
        try:
            table.optimize(cleanup_older_than=window)
            return
        except RuntimeError as exc:
            if "tagged version" not in str(exc):
                raise
    raise RuntimeError(f"cleanup of {table.name} kept colliding with its oldest tag")


def _normalised(name: object) -> str:
    return "".join(ch for ch in str(name or "").casefold() if ch.isalnum())
