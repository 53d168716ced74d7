"""Shared fixtures: real filings, a real LanceDB in a temp dir, the real embedding model, and
the OpenAI-protocol test server on 127.0.0.1."""

from __future__ import annotations

import shutil

import pytest

from compliance_auditor import config
from compliance_auditor.index.embedder import DEFAULT_MODEL, Embedder
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.ingestion import ingest_paths
from compliance_auditor.llm.breakers import reset_breakers
from tests.support.fake_llm import FakeLLM
from tests.support.filings import AMCOR_8K, ULTA
from tests.support.scripted import careful_model

pytest_plugins = ["tests.support.runs"]  # the procedure-run fixtures


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory, monkeypatch):
    """Every test gets its own database and log folder; settings are re-read from the env."""
    root = tmp_path_factory.mktemp("auditor")
    monkeypatch.setenv("AUDITOR_DB_URI", str(root / "db"))
    monkeypatch.setenv("AUDITOR_LOGS_DIR", str(root / "logs"))
    monkeypatch.setenv("AUDITOR_DATA_DIR", str(root / "data"))
    config.get_settings.cache_clear()
    yield root
    config.get_settings.cache_clear()


@pytest.fixture
def set_env(monkeypatch):
    """Set AUDITOR_* variables for one test and make the settings pick them up."""

    def _set(**values: object) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"AUDITOR_{key.upper()}", str(value))
        config.get_settings.cache_clear()

    return _set


@pytest.fixture(scope="session")
def embedder():
    return Embedder(DEFAULT_MODEL)


@pytest.fixture
def index(embedder, isolated_settings):
    return AuditIndex(str(isolated_settings / "db"), embedder=embedder)


@pytest.fixture(scope="session")
def ulta_index(embedder, tmp_path_factory):
    """One index holding the two committed filings, shared by read-only tests."""
    root = tmp_path_factory.mktemp("shared-index")
    idx = AuditIndex(str(root / "db"), embedder=embedder)
    summary = ingest_paths([ULTA, AMCOR_8K], idx, show_progress=False)
    assert summary.added == 2, summary.failures
    return idx


@pytest.fixture(scope="session")
def ulta_only(embedder, tmp_path_factory):
    """A database holding the Ulta Beauty release alone, ingested once, to be copied."""
    root = tmp_path_factory.mktemp("ulta-only")
    summary = ingest_paths([ULTA], AuditIndex(str(root / "db"), embedder=embedder), show_progress=False)
    assert summary.added == 1, summary.failures
    return root / "db"


@pytest.fixture
def ulta(ulta_only, isolated_settings):
    """The settings' own database, holding the Ulta Beauty earnings release (a fresh copy)."""
    shutil.copytree(ulta_only, isolated_settings / "db")


@pytest.fixture
def server(set_env):
    """The OpenAI-protocol test server, which the settings point the agent at; by default it
    grades and answers like a careful model."""
    with FakeLLM() as fake:
        set_env(llm_endpoint=fake.url, llm_connect_timeout_s=1, llm_read_timeout_s=3, llm_backoff_s=0.05)
        reset_breakers()
        fake.responder = careful_model()
        yield fake
    reset_breakers()


@pytest.fixture
def workdir(tmp_path):
    """A folder of copies of the committed filings, safe to add bad files to."""
    folder = tmp_path / "filings"
    folder.mkdir()
    shutil.copy(ULTA, folder / ULTA.name)
    return folder
