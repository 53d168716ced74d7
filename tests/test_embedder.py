"""The embedding model's backends: what ingestion and search embed with, checked against torch."""

from __future__ import annotations

import numpy as np

from compliance_auditor.index.embedder import DEFAULT_MODEL, Embedder
from compliance_auditor.ingestion import ingest_paths
from tests.support.filings import ULTA

TEXTS = [
    "3M 10-K FY2018 Item 8 · Consolidated Statement of Cash Flows\n"
    "Net cash provided by operating activities | 6,439 | 6,240 | 6,662",
    "Ulta Beauty 8-K FY2022 Q4 · Net sales increased 13.9% to $3.2 billion compared to $2.7 billion",
    "Item 1A. Risk Factors",
]


def torch_vectors(embedder: Embedder) -> np.ndarray:
    return embedder.model.encode(TEXTS, normalize_embeddings=True)


def test_the_int8_backend_stays_close_to_full_precision_and_is_made_once(isolated_settings):
    embedder = Embedder(DEFAULT_MODEL, "cpu", "onnx-int8")
    assert embedder.backend == "onnx-int8"
    cosine = (embedder.encode(TEXTS) * torch_vectors(embedder)).sum(axis=1)
    assert cosine.min() > 0.97
    quantized = next((isolated_settings / "data" / "models").rglob("model-int8.onnx"))
    made = quantized.stat().st_mtime_ns
    assert Embedder(DEFAULT_MODEL, "cpu", "onnx-int8").backend == "onnx-int8"
    assert quantized.stat().st_mtime_ns == made  # the second process loads it, not quantizes again


def test_the_full_precision_backend_gives_torchs_vectors(isolated_settings):
    embedder = Embedder(DEFAULT_MODEL, "cpu", "onnx")
    assert embedder.backend == "onnx"
    assert (embedder.encode(TEXTS) * torch_vectors(embedder)).sum(axis=1).min() > 0.9999


def test_filings_are_embedded_in_int8_and_questions_in_full_precision(index):
    ingest_paths([ULTA], index, show_progress=False)
    [doc] = index.list_documents()
    assert doc["embed_model"] == f"{DEFAULT_MODEL} (onnx-int8)"
    assert index.embedder.backend == "onnx"  # the question's side
    [top] = index.search("Ulta Beauty net sales fourth quarter fiscal 2022", k=1, mode="vector").hits
    assert "Net sales" in top.text


def test_same_embeds_filings_as_questions_are(index, set_env):
    set_env(embed_ingest_backend="same")
    ingest_paths([ULTA], index, show_progress=False)
    assert index.list_documents()[0]["embed_model"] == f"{DEFAULT_MODEL} (onnx)"
