"""Embeddings of units, to pair a risk factor with its rewrite: the index's embedding model
(all-MiniLM-L6-v2 from its PyPI package, nothing downloaded), without sentence-transformers.

Importing sentence-transformers takes about 7 s on this machine, most of a comparison's 10 s
budget. The index's `Embedder` exports the model to ONNX once (under the data folder) and
encodes with onnxruntime; this reads that same file with the model's own tokenizer and pools
the same way, so the vectors are the index's (a test holds them to it), in about 0.2 s. Where
the export is not there yet, or the model is not mean-pooled, the index's `Embedder` is used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from compliance_auditor import config
from compliance_auditor.index.embedder import get_embedder, onnx_export_path, resolve_model_path

Encode = Callable[[list[str]], np.ndarray]

BATCH = 8


class OnnxEncoder:
    """The model's exported transformer, its tokenizer and mean pooling, as `Embedder` has them."""

    def __init__(self, onnx_file: Path, model_dir: Path, max_tokens: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.enable_padding()  # to the longest of each batch, as `Embedder` pads
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length vectors, one per text; longest first so each batch pads little."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        parts = {}
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            for row, vector in zip(rows, self._batch([texts[i] for i in rows]), strict=True):
                parts[row] = vector
        return np.stack([parts[i] for i in range(len(texts))])

    def _batch(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(texts)
        columns = {
            "input_ids": [e.ids for e in encoded],
            "attention_mask": [e.attention_mask for e in encoded],
            "token_type_ids": [e.type_ids for e in encoded],
        }
        feeds = {i.name: np.asarray(columns[i.name], dtype=np.int64) for i in self.session.get_inputs()}
        hidden = self.session.run(None, feeds)[0]
        mask = np.asarray(columns["attention_mask"], dtype=np.float32)[..., None]
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


@lru_cache(maxsize=2)
def encoder(name: str | None = None) -> Encode:
    """The fastest faithful way to embed with the configured model (see the module's note)."""
    settings = config.get_settings()
    name = name or settings.embed_model
    path, _origin = resolve_model_path(name)
    model_dir = Path(path)
    onnx_file = onnx_export_path(name, path)
    if settings.embed_backend == "onnx" and onnx_file.exists() and _mean_pooled(model_dir):
        return OnnxEncoder(onnx_file, model_dir, _max_tokens(model_dir)).encode
    embedder = get_embedder(name)
    return lambda texts: embedder.encode(texts)


def _mean_pooled(model_dir: Path) -> bool:
    pooling = model_dir / "1_Pooling" / "config.json"
    return pooling.exists() and bool(json.loads(pooling.read_text()).get("pooling_mode_mean_tokens"))


def _max_tokens(model_dir: Path) -> int:
    return int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
