"""The browser workbench, driven like a user with Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

from conftest import ULTA
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_an_empty_index_tells_a_new_user_what_to_do():
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert any("index is empty" in info.value for info in at.info)


def test_search_shows_evidence_with_filing_and_page(isolated_settings):
    import ingest

    ingest.ingest_paths([ULTA], show_progress=False)
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.chat_input[0].set_value("Ulta Beauty net sales fourth quarter").run()
    assert not at.exception
    titles = [e.label for e in at.expander]
    assert titles and all(t.startswith("[") and "ULTABEAUTY_2023Q4_EARNINGS.pdf · page" in t for t in titles)
    assert any("derived from the question" in c.value for c in at.caption)
