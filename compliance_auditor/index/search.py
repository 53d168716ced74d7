"""Hybrid search: a vector ranking and a BM25 ranking fused by reciprocal rank.

A question that names a metric adds a second vector ranking of the filing vocabulary for it
(`questions.expand_query`), and the BM25 query carries that vocabulary too. With no filters
from the caller, a filter is derived from the question and relaxed when it matches nothing.

Filters are built with `lancedb.expr`, never by formatting SQL: a quote in a company name
must not be able to change what a query returns.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from lancedb.expr import Expr, col, lit

from compliance_auditor import config
from compliance_auditor.index.schema import FILTER_FIELDS
from compliance_auditor.logs import get_logger
from compliance_auditor.questions import expand_query, metric_inputs, statements_named
from compliance_auditor.records import Passage, SearchMode

if TYPE_CHECKING:
    from compliance_auditor.index.store import AuditIndex

log = get_logger("database", "database.jsonl")
# The vector and BM25 searches of one question run side by side (a question makes at most 3).
_SEARCHES = ThreadPoolExecutor(max_workers=3, thread_name_prefix="search")

# What a search reads of each chunk row: everything a passage shows, not the vector.
COLUMNS = [
    "chunk_id", "doc_sha256", "doc_name", "company", "form_type", "fiscal_year", "item", "heading",
    "kind", "page", "pages", "bbox", "page_width", "page_height", "text", "table_html", "page_role",
]  # fmt: skip
# A derived filter that matches nothing loses these, in this order, until something matches.
RELAX_ORDER = ("form_type", "fiscal_period", "fiscal_year", "company")

Ranking = list[dict[str, Any]]


@dataclass
class SearchResult:
    """Ranked passages, and the filter that produced them."""

    hits: list[Passage]
    mode: str
    filters: dict[str, Any]
    filters_derived: bool = False
    relaxed: list[str] = field(default_factory=list)
    table_version: int | None = None
    seconds: float = 0.0
    documents_version: int | None = None
    route: list[str] = field(default_factory=list)
    """How the question was searched beyond its words: the statement pages, a metric's inputs."""


def build_where(filters: dict[str, Any]) -> Expr | None:
    """AND of equality (or membership, for lists) tests, built only with `lancedb.expr`."""
    clauses: list[Expr] = []
    for key, value in filters.items():
        if key not in FILTER_FIELDS:
            raise ValueError(f"unknown filter {key!r}; use one of {', '.join(FILTER_FIELDS)}")
        if value is None or value == "" or value == []:
            continue
        values = list(value) if isinstance(value, list | tuple | set) else [value]
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


def search(
    index: AuditIndex, query: str, k: int | None, filters: dict[str, Any] | None, mode: SearchMode
) -> SearchResult:
    """Ranked passages for a query (see `AuditIndex.search`)."""
    started = time.perf_counter()
    k = k or config.get_settings().search_k
    derived = filters is None
    filters = index.derive_filters(query) if filters is None else dict(filters)
    route = plan_route(index, query)
    hits = ranked(index, query, k, filters, mode, route)
    relaxed: list[str] = []
    while derived and not hits and filters:
        dropped = next(f for f in RELAX_ORDER if f in filters)
        filters.pop(dropped)
        relaxed.append(dropped)
        hits = ranked(index, query, k, filters, mode, route)
    result = SearchResult(
        hits=hits, mode=mode, filters=filters, filters_derived=derived, relaxed=relaxed,
        table_version=index.version(), seconds=time.perf_counter() - started,
        documents_version=int(index.documents.version),
        route=route.describe(),
    )  # fmt: skip
    log.info("search", extra={"fields": {
        "query": query[:200], "mode": mode, "k": k, "filters": filters, "derived": derived,
        "relaxed": relaxed, "route": result.route, "hits": len(hits),
        "ms": round(result.seconds * 1000, 1)}})  # fmt: skip
    return result


def ranked(
    index: AuditIndex, query: str, k: int, filters: dict[str, Any], mode: SearchMode, route: Route
) -> list[Passage]:
    """The top `k` passages of the fused rankings (the question's and its `route`'s), at most
    `search_per_page` from one page."""
    if not index.chunks.count_rows() or (index.workspace is not None and not index.list_documents()):
        return []  # an empty index, or a workspace with no filing: nothing to see
    settings = config.get_settings()
    searchable = index.searchable()
    fused: dict[str, float] = {}
    rows: dict[str, dict[str, Any]] = {}
    for weight, ranking in _rankings(index, query, k, filters, mode, route):
        for rank, row in enumerate(r for r in ranking if r["doc_sha256"] in searchable):
            score = weight / (settings.rrf_k + rank + 1)
            fused[row["chunk_id"]] = fused.get(row["chunk_id"], 0.0) + score
            rows[row["chunk_id"]] = row
    hits = _by_page(fused, rows, k, settings.search_per_page, settings.page_fusion)
    return _with_continued_statements(index, hits)


def _by_page(fused: dict[str, float], rows: dict[str, dict[str, Any]], k: int, per_page: int,
             page_fusion: float) -> list[Passage]:  # fmt: skip
    """The evidence unit is the page: pages ranked by their best chunk's score plus `page_fusion`
    of their other chunks' (a page whose several chunks match rises), each page's best chunks
    first, at most `per_page` of them, `k` passages in all."""
    pages: dict[tuple[str, int], list[str]] = {}
    for cid in sorted(fused, key=fused.__getitem__, reverse=True):
        pages.setdefault((rows[cid]["doc_sha256"], rows[cid]["page"]), []).append(cid)
    score = {
        page: fused[ids[0]] + page_fusion * sum(fused[c] for c in ids[1:]) for page, ids in pages.items()
    }
    hits: list[Passage] = []
    for page in sorted(pages, key=score.__getitem__, reverse=True):
        hits += [passage(rows[cid], score[page]) for cid in pages[page][:per_page]]  # the page's score
        if len(hits) >= k:
            break
    return hits[:k]


STATEMENT_PAGE_ROLES = ("income statement", "balance sheet", "cash flow statement")
_statement_pages: dict[tuple[str, int], set[tuple[str, int, str]]] = {}


def _with_continued_statements(index: AuditIndex, hits: list[Passage]) -> list[Passage]:
    """A hit on a statement that runs over two pages is returned as both: the page before or
    after it with the same statement's role joins its `pages`."""
    if "page_role" not in index.chunks.schema.names:
        return hits
    known = _statement_pages.get((index.uri, index.version()))
    if known is None:
        rows = index.chunks.search().where(_among("page_role", list(STATEMENT_PAGE_ROLES)))
        rows = rows.select(["doc_sha256", "page", "page_role"]).limit(None).to_list()
        known = {(r["doc_sha256"], r["page"], r["page_role"]) for r in rows}
        _statement_pages.clear()  # one version kept: the index only grows newer
        _statement_pages[(index.uri, index.version())] = known
    out = []
    for hit in hits:
        role = next((r for r in STATEMENT_PAGE_ROLES if (hit.doc_sha256, hit.page, r) in known), None)
        pages = set(hit.pages or [hit.page])
        if role is not None:
            pages |= {p for p in (hit.page - 1, hit.page + 1) if (hit.doc_sha256, p, role) in known}
        out.append(hit if len(pages) == len(hit.pages or [hit.page]) else hit.model_copy(
            update={"pages": sorted(pages)}))  # fmt: skip
    return out


def _rankings(
    index: AuditIndex, query: str, k: int, filters: dict[str, Any], mode: SearchMode, route: Route
) -> list[tuple[float, Ranking]]:
    """(weight, ranked rows) of each search the mode runs, run side by side: the question, the
    vocabulary of its metrics, the pages of the statements it names (routing), and each input of
    a calculated metric it names."""
    settings = config.get_settings()
    where = build_where(filters)
    if index.workspace is not None:  # a workspace: its companies, whatever else the filter says
        where = _and(where, _among("company", sorted({d["company"] for d in index.list_documents()})))
    depth = max(4 * k, 40)
    texts = [query, *([route.expansion] if route.expansion else []), *route.inputs]
    searches: list[tuple[float, Callable[[], Ranking]]] = []
    index.refresh_indexes()
    if mode in ("hybrid", "vector"):
        # One encoder call for every text; the searches then run side by side, since LanceDB
        # works outside the GIL.
        vectors = iter(index.embedder.encode(texts))
        asked = next(vectors)  # the question's own vector
        searches.append((settings.vector_weight, partial(_vector, index, asked, where, depth)))
        if route.expansion:
            searches.append((settings.expansion_weight, partial(_vector, index, next(vectors), where, depth)))
        for vector in vectors:  # a calculated metric's inputs
            searches.append((settings.route_weight, partial(_vector, index, vector, where, depth)))
    if mode in ("hybrid", "fts"):
        searches.append(
            (settings.fts_weight, partial(_fts, index, f"{query} {route.expansion}", where, depth))
        )
    if route.statements:
        on_statements = _and(where, _among("page_role", route.statements))
        searches.append((settings.route_weight, partial(_fts, index, f"{query} {route.expansion}",
                                                        on_statements, depth)))  # fmt: skip
        if mode in ("hybrid", "vector"):
            searches.append((settings.route_weight, partial(_vector, index, asked, on_statements, depth)))
    rankings = list(_SEARCHES.map(lambda run: run(), [run for _, run in searches]))
    return [(weight, ranking) for (weight, _), ranking in zip(searches, rankings, strict=True)]


@dataclass
class Route:
    """How a question was searched beyond its own words."""

    expansion: str = ""
    """The filing vocabulary of the metrics it names."""
    statements: list[str] = field(default_factory=list)
    """The primary statements it names, or whose metrics it names: their pages ranked apart."""
    inputs: list[str] = field(default_factory=list)
    """The line items of a calculated metric it names, searched apiece."""

    def describe(self) -> list[str]:
        return ([f"statement pages: {', '.join(self.statements)}"] if self.statements else []) + (
            [f"metric inputs: {'; '.join(self.inputs)}"] if self.inputs else []
        )


def plan_route(index: AuditIndex, query: str) -> Route:
    """The route of a question (with `search_route`): statements only where the index knows its
    pages' roles."""
    settings = config.get_settings()
    routed = settings.search_route
    return Route(
        expansion=expand_query(query) if settings.search_expand else "",
        statements=statements_named(query) if routed and "page_role" in index.chunks.schema.names else [],
        inputs=metric_inputs(query) if routed else [],
    )


def _among(column: str, values: list[str]) -> Expr:
    clause = col(column) == lit(values[0])
    for value in values[1:]:
        clause = clause | (col(column) == lit(value))
    return clause


def _and(where: Expr | None, clause: Expr) -> Expr:
    return clause if where is None else where & clause


def _vector(index: AuditIndex, vector: np.ndarray, where: Expr | None, limit: int) -> Ranking:
    builder = index.chunks.search(vector, vector_column_name="vector").distance_type("cosine")
    # Re-rank the approximate candidates by their full vectors: the same results as an exact scan.
    builder = builder.refine_factor(config.get_settings().vector_refine_factor)
    if where is not None:
        builder = builder.where(where, prefilter=True)
    rows: Ranking = builder.select([*_columns(index), "_distance"]).limit(limit).to_list()
    return rows


def _fts(index: AuditIndex, query: str, where: Expr | None, limit: int) -> Ranking:
    terms = " ".join(re.findall(r"[\w$%&.-]+", query))
    if not terms:
        return []
    builder = index.chunks.search(terms, query_type="fts", fts_columns="search_text")
    if where is not None:
        builder = builder.where(where, prefilter=True)
    rows: Ranking = builder.select([*_columns(index), "_score"]).limit(limit).to_list()
    return rows


def _columns(index: AuditIndex) -> list[str]:
    """COLUMNS the table has: a version pinned for replay may predate a column (page_role)."""
    names = set(index.chunks.schema.names)
    return [c for c in COLUMNS if c in names]


def passage(row: dict[str, Any], score: float) -> Passage:
    """A chunk row as a passage, with its fused score."""
    return Passage(
        chunk_id=row["chunk_id"], doc_sha256=row["doc_sha256"], doc_name=row["doc_name"],
        company=row["company"] or "", form_type=row["form_type"] or "", fiscal_year=row["fiscal_year"],
        item=row["item"] or "", heading=row["heading"] or "", kind=row["kind"] or "", page=row["page"],
        pages=list(row["pages"] or []), bbox=[float(v) for v in row["bbox"]],
        page_width=row["page_width"], page_height=row["page_height"], text=row["text"], score=score,
        table_html=row["table_html"] or "", page_role=row.get("page_role") or "",
    )  # fmt: skip
