"""A real `streamlit run app.py` and a real headless Chromium, for the end-to-end test and the UI benchmark.

    with running_app(env) as url, browser() as (page, requests):
        page.goto(url)

`requests` collects every URL the browser asked for, so a test can check that nothing left
127.0.0.1. Chromium is Debian's (/usr/bin/chromium), driven by Playwright without its own
browser download.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.support.fake_llm import free_port
from tests.support.filings import ROOT

CHROMIUM = "/usr/bin/chromium"
# Without these, Chromium phones home at start (updates, sync, field trials), and this
# machine's closed network refuses it many times over.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
    "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
]  # fmt: skip


@contextlib.contextmanager
def running_app(
    env: dict[str, str], timeout: float = 180, port: int | None = None, args: tuple[str, ...] = ()
) -> Iterator[str]:
    """`streamlit run app.py` on a loopback port (a free one unless given), with Streamlit's
    options `args`; yields its URL."""
    port = port or free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.address", "127.0.0.1",
        "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
        *args,
    ]  # fmt: skip
    logs = Path(env.get("AUDITOR_LOGS_DIR", ROOT / "logs"))
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / "streamlit.out", "w")  # noqa: SIM115
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start: see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def browser(width: int = 1600, height: int = 1000) -> Iterator[tuple[object, list[str]]]:
    """A headless Chromium page, and the list of every URL it requests."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = chromium.new_page(viewport={"width": width, "height": height})
            page.on("request", lambda request: requests.append(request.url))
            yield page, requests
        finally:
            chromium.close()


def app_env(**extra: str) -> dict[str, str]:
    """The environment for the app: this process's AUDITOR_* settings, plus `extra`."""
    return {**os.environ, **extra}


# ----------------------------------------------------------------- what a user does


def wait_until_ready(page, timeout_ms: float = 180_000) -> None:
    page.wait_for_selector('[data-testid="stChatInputTextArea"]', timeout=timeout_ms)
    settled(page, timeout_ms)


def open_tab(page, name: str) -> None:
    tab = page.get_by_role("tab", name=name)
    tab.click()
    page.wait_for_function("tab => tab.getAttribute('aria-selected') === 'true'", arg=tab.element_handle())


def settled(page, timeout_ms: float = 180_000) -> None:
    """Waits until no script run is in flight: a file dropped while the page is still running
    can be lost with the run it interrupts (seen once in CI as a missing Ingest button)."""
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)


def upload(page, pdf: Path) -> None:
    settled(page)
    open_tab(page, "Library")
    try:
        uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Add filings")
        uploader.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            str(pdf), timeout=10_000
        )
    except Exception:
        page.screenshot(path="/tmp/upload-failed.png", full_page=True)
        raise
    page.get_by_role("button", name="Ingest 1 file(s)").click(timeout=90_000)


def ask(page, question: str) -> None:
    settled(page)  # typed into a box that a run in flight redraws, the question could be lost
    box = page.locator('[data-testid="stChatInputTextArea"]')
    box.fill(question)
    box.press("Enter")


def citation_buttons(page):
    return page.locator('[data-testid="stButtonGroup"] button')


def page_image(page):
    return page.locator('[data-testid="stImage"] img, [data-testid="stImageContainer"] img').first


def watch_answer_grow(page, until: str | re.Pattern[str], timeout: float = 60) -> list[int]:
    """The lengths the answer went through on screen until it contained `until` (a text or a
    pattern searched in it)."""
    answer = page.locator('[data-testid="stChatMessage"]').last
    lengths: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = answer.inner_text() if answer.count() else ""
        if not lengths or lengths[-1] != len(text):
            lengths.append(len(text))
        if until.search(text) if isinstance(until, re.Pattern) else until in text:
            return lengths
        time.sleep(0.03)
    raise AssertionError(f"the answer never showed {until!r}")
