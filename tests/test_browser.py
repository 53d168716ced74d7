"""End to end in a real browser: Debian's Chromium against `streamlit run app.py`.

A user uploads a real filing, asks a question, watches the answer stream in, opens a
citation and sees its page with the quoted text highlighted. Nothing the browser loads may
come from anywhere but 127.0.0.1.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image

from tests.support.browser import (
    app_env,
    ask,
    browser,
    citation_buttons,
    open_tab,
    page_image,
    running_app,
    upload,
    watch_answer_grow,
)
from tests.support.fake_llm import FakeLLM
from tests.support.filings import ROOT, ULTA
from tests.support.scripted import QUESTION, careful_model

OUTPUT = ROOT / "test-output" / "browser"

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")


def highlighted_pixels(png: bytes) -> int:
    """Pixels of the highlight's red edge (220, 38, 38) in a screenshot."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for r, g, b in image.get_flattened_data() if r > 180 and g < 80 and b < 80)


def run_a_procedure_and_open_a_cell(page) -> None:
    """Start the first procedure over the filing, wait for its matrix, open its first cell's page."""
    open_tab(page, "Procedures")
    page.get_by_text("Chosen filings").click()
    page.get_by_role("combobox", name="Filings").click()
    page.get_by_role("option").filter(has_text=ULTA.name).click()
    page.keyboard.press("Escape")
    page.get_by_text(re.compile(r"items × 1 filing\(s\)")).wait_for(timeout=30_000)
    page.get_by_role("button", name="Start run").click()
    page.get_by_text(re.compile(r"^Done: \d+/\d+ cells")).wait_for(timeout=300_000)
    page.locator('[data-testid="stDataFrame"]:visible').wait_for(timeout=30_000)
    item = page.get_by_role("combobox", name="Item")
    item.click()
    item.press("ArrowDown")
    item.press("Enter")  # the second item's cell
    page.get_by_text("Review and sign-off").wait_for(timeout=30_000)
    image = page.locator('[data-testid="stImage"]:visible img').first
    image.wait_for(timeout=60_000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    page.screenshot(path=str(OUTPUT / "procedure-run.png"), full_page=True)


def test_upload_ask_stream_and_open_a_highlighted_citation(isolated_settings):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with FakeLLM(per_token_s=0.03) as server:
        server.responder = careful_model()
        with (
            running_app(app_env(AUDITOR_LLM_ENDPOINT=server.url)) as url,
            browser(height=1300) as (page, requests),
        ):
            page.goto(url)
            page.get_by_text("The index is empty").wait_for(timeout=180_000)
            upload(page, ULTA)
            page.get_by_text(re.compile(r"^1 filings")).wait_for(timeout=180_000)

            open_tab(page, "Ask")
            ask(page, QUESTION)
            lengths = watch_answer_grow(page, until="18.2%")
            assert len(lengths) >= 5, f"the answer arrived in one piece: {lengths}"

            buttons = citation_buttons(page)
            buttons.first.wait_for(timeout=60_000)
            buttons.first.click()
            image = page_image(page)
            image.wait_for(timeout=30_000)
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            assert highlighted_pixels(image.screenshot()) > 50
            page.evaluate("document.querySelectorAll('*').forEach(e => { e.scrollTop = 0 })")
            page.screenshot(path=str(OUTPUT / "workbench.png"))
            try:
                run_a_procedure_and_open_a_cell(page)
            except Exception:
                page.screenshot(path=str(OUTPUT / "procedure-failed.png"), full_page=True)
                raise

    assert Path(OUTPUT / "workbench.png").stat().st_size > 10_000
    hosts = {urlparse(u).hostname for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")}
    assert hosts == {"127.0.0.1"}, f"the browser reached beyond this machine: {hosts}"
