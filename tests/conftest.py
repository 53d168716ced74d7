"""Shared fixtures: real filings, a real LanceDB in a temp dir, the real embedding model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import config

DATA = Path(__file__).parent / "data"
ULTA = DATA / "ULTABEAUTY_2023Q4_EARNINGS.pdf"
AMCOR_8K = DATA / "AMCOR_2022_8K_dated-2022-07-01.pdf"


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
    import database

    return database.Embedder(database.DEFAULT_MODEL)


@pytest.fixture
def index(embedder, isolated_settings):
    import database

    return database.AuditIndex(str(isolated_settings / "db"), embedder=embedder)


@pytest.fixture(scope="session")
def ulta_index(embedder, tmp_path_factory):
    """One index holding the two committed filings, shared by read-only tests."""
    import database
    import ingest

    root = tmp_path_factory.mktemp("shared-index")
    idx = database.AuditIndex(str(root / "db"), embedder=embedder)
    summary = ingest.ingest_paths([ULTA, AMCOR_8K], idx, show_progress=False)
    assert summary.added == 2, summary.failures
    return idx


@pytest.fixture
def workdir(tmp_path):
    """A folder of copies of the committed filings, safe to add bad files to."""
    folder = tmp_path / "filings"
    folder.mkdir()
    shutil.copy(ULTA, folder / ULTA.name)
    return folder
