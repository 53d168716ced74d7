"""Page roles (issue 14): read at ingestion, stored per chunk, filterable, backfilled into an old index."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

from lancedb.expr import col, lit

from compliance_auditor.index.store import AuditIndex
from compliance_auditor.page_roles import PAGE_ROLES


def _roles(index: AuditIndex, doc_name: str) -> dict[str, tuple[int, str]]:
    rows = (
        index.chunks.search()
        .where(col("doc_name") == lit(doc_name))
        .select(["chunk_id", "page", "page_role"])
    )
    return {r["chunk_id"]: (r["page"], r["page_role"]) for r in rows.limit(None).to_list()}


def test_an_earnings_release_has_its_statements_pages(ulta_index):
    pages = dict(_roles(ulta_index, "ULTABEAUTY_2023Q4_EARNINGS.pdf").values())
    assert (pages[5], pages[6], pages[7]) == ("income statement", "balance sheet", "cash flow statement")
    assert {pages[p] for p in range(5)} == {"other"}  # the release's text and highlights
    assert set(pages.values()) <= set(PAGE_ROLES)


def test_a_page_role_filters_the_search(ulta_index):
    hits = ulta_index.search("total assets", k=10, filters={"page_role": "balance sheet"}).hits
    assert hits and {h.page for h in hits} == {6}


def test_an_index_without_roles_gets_them_on_opening_and_keeps_everything(ulta_only, tmp_path, embedder):
    shutil.copytree(ulta_only, tmp_path / "db")
    current = AuditIndex(str(tmp_path / "db"), embedder=embedder)
    before = current.chunks.to_arrow()
    current.chunks.drop_columns(["page_role"])  # as an index written before roles existed
    reopened = AuditIndex(str(tmp_path / "db"), embedder=embedder)
    after = reopened.chunks.to_arrow()
    assert after.num_rows == before.num_rows and set(after.schema.names) == set(before.schema.names)
    key = "chunk_id"
    assert sorted(after.select(before.schema.names).to_pylist(), key=lambda r: r[key]) == sorted(
        before.to_pylist(), key=lambda r: r[key]
    )
    assert (
        AuditIndex(str(tmp_path / "db"), embedder=embedder).chunks.version == reopened.chunks.version
    )  # once


def test_an_index_without_roles_can_be_ingested_into_first_thing(ulta_only, tmp_path, embedder):
    shutil.copytree(ulta_only, tmp_path / "db")
    AuditIndex(str(tmp_path / "db"), embedder=embedder).chunks.drop_columns(["page_role"])
    reopened = AuditIndex(str(tmp_path / "db"), embedder=embedder)
    done = ThreadPoolExecutor(1).submit(reopened.remove_orphans)  # its first touch of the chunks
    assert done.result(timeout=60) == 0  # the backfill ran under the write lock, without a deadlock
    assert "page_role" in reopened.chunks.schema.names
