"""The browser side of `bench/ui_latency.py`: recorders installed in the page, and what they saw.

Browser times are read in the page's clock: listeners and a MutationObserver installed before
the key press or click stamp `performance.now()`, and a recorder on the WebSocket stamps every
message from the server, so polling from Python adds nothing. "On screen" is the first
animation frame after the change reached the DOM.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.support.browser import ask, page_image

IMAGE = '[data-testid="stImage"] img, [data-testid="stImageContainer"] img'
FINISHED = ForwardMsg.FINISHED_SUCCESSFULLY  # a run that was not cut short by another

# Stamps every message from the server in the page's clock while `__record` is on.
RECORD_WEBSOCKET = """
(() => {
  const Native = window.WebSocket;
  window.__frames = [];
  window.__record = false;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        if (window.__record) window.__frames.push([performance.now(), e.data]);
      });
    }
  };
})();
"""
READ_FRAMES = """
() => window.__frames.map(([t, data]) => {
  if (!(data instanceof ArrayBuffer)) return [t, null];
  const bytes = new Uint8Array(data);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return [t, btoa(text)];
})
"""
# Stamps the key press, then the moment a chat message first shows text opening with `word`.
ARM_ANSWER = """
(word) => {
  const b = window.__bench = {t0: null, dom: null, frame: null};
  window.__frames = []; window.__record = true;
  const keys = new AbortController();
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && b.t0 === null) { b.t0 = performance.now(); keys.abort(); }
  }, {capture: true, signal: keys.signal});
  const shown = () => [...document.querySelectorAll(
    '[data-testid="stChatMessage"] [data-testid="stMarkdownContainer"]')]
    .some((e) => e.textContent.trimStart().startsWith(word));
  const observer = new MutationObserver(() => {
    if (b.t0 === null || b.dom !== null || !shown()) return;
    b.dom = performance.now(); observer.disconnect();
    requestAnimationFrame(() => { b.frame = performance.now(); });
  });
  observer.observe(document.body, {childList: true, subtree: true, characterData: true});
}
"""
# Stamps the click, then the frame where the page image has a new source, is loaded and laid out.
ARM_IMAGE = """
([selector, old]) => {
  const b = window.__bench = {t0: null, loaded: null, frame: null, src: null};
  window.__frames = []; window.__record = true;
  const clicks = new AbortController();
  document.addEventListener('click', () => {
    if (b.t0 === null) { b.t0 = performance.now(); clicks.abort(); }
  }, {capture: true, signal: clicks.signal});
  const ready = () => {
    const img = document.querySelector(selector);
    return img && img.src !== old && img.complete && img.naturalWidth > 0
      && img.getBoundingClientRect().height > 0 ? img : null;
  };
  const loads = new AbortController();
  document.addEventListener('load', () => {
    if (b.t0 !== null && b.loaded === null && ready()) { b.loaded = performance.now(); loads.abort(); }
  }, {capture: true, signal: loads.signal});
  const tick = () => {
    const img = b.t0 === null ? null : ready();
    if (!img) { requestAnimationFrame(tick); return; }
    b.frame = performance.now(); b.src = img.src;
    if (b.loaded === null) b.loaded = b.frame;
    loads.abort();
  };
  requestAnimationFrame(tick);
}
"""
ARM_KEY = """
(key) => {
  const b = window.__bench = {t0: null};
  window.__frames = []; window.__record = true;
  if (document.activeElement) document.activeElement.blur();
  document.addEventListener('keydown', (e) => {
    if (e.key === key && b.t0 === null) b.t0 = performance.now();
  }, {capture: true, once: true});
}
"""


def server_messages(page) -> list[tuple[float, Any]]:
    """What the server sent since the recorder was armed: (page time in ms, ForwardMsg)."""
    return [
        (t, ForwardMsg.FromString(base64.b64decode(data))) for t, data in page.evaluate(READ_FRAMES) if data
    ]


def full_runs(messages: list[tuple[float, Any]]) -> list[dict[str, Any]]:
    """Full script runs (not fragment runs): start and finish in page time, and how they ended."""
    runs: dict[str, dict[str, Any]] = {}
    for t, msg in messages:
        kind, run = msg.WhichOneof("type"), msg.metadata.run
        if kind == "new_session" and not run.fragment_ids:
            runs[run.script_run_id] = {"start": t, "end": None, "status": None}
        elif kind == "script_finished" and run.script_run_id in runs:
            runs[run.script_run_id].update(end=t, status=msg.script_finished)
    return sorted(runs.values(), key=lambda r: r["start"])


def settled(page, timeout: float = 120) -> dict[str, Any]:
    """Wait until a full run has finished without being cut short, and return that run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = [r for r in full_runs(server_messages(page)) if r["status"] == FINISHED]
        if finished:
            page.evaluate("window.__record = false")
            return finished[0]
        page.wait_for_timeout(50)
    raise RuntimeError("the app never finished a run")


def first_token_message(messages: list[tuple[float, Any]], word: str) -> float | None:
    return next(
        (t for t, msg in messages
         if element_kind(msg) == "markdown" and msg.delta.new_element.markdown.body.startswith(word)),
        None,
    )  # fmt: skip


def ask_and_watch(page, question: str, word: str) -> dict[str, float | None]:
    """Milliseconds from Enter to the first token on screen, and where that time went."""
    page.evaluate(ARM_ANSWER, word)
    ask(page, question)
    page.wait_for_function("() => window.__bench.frame !== null", timeout=120_000)
    mark = page.evaluate("() => window.__bench")
    messages = server_messages(page)
    settled(page)
    runs, token, t0 = full_runs(messages), first_token_message(messages, word), mark["t0"]
    start = runs[0]["start"] if runs else None
    return {
        "first_token_ms": mark["frame"] - t0,
        "first_token_dom_ms": mark["dom"] - t0,
        "enter_to_run_start_ms": start - t0 if start is not None else None,
        "run_start_to_token_message_ms": token - start if None not in (token, start) else None,
        "token_message_to_screen_ms": mark["frame"] - token if token is not None else None,
    }


def click_and_watch(page, label: str) -> dict[str, Any]:
    """Milliseconds from a click on citation `label` of the newest answer to its page on screen."""
    old = page_image(page).get_attribute("src")
    page.evaluate(ARM_IMAGE, [IMAGE, old])
    newest = page.locator('[data-testid="stChatMessage"]').last
    newest.locator('[data-testid="stButtonGroup"] button', has_text=label).click()
    page.wait_for_function("() => window.__bench.frame !== null", timeout=60_000)
    mark = page.evaluate("() => window.__bench")
    run = settled(page)
    image = first_image_message(server_messages(page), run["start"])
    return {
        "ms": mark["frame"] - mark["t0"],
        "loaded_ms": mark["loaded"] - mark["t0"],
        "click_to_run_start_ms": run["start"] - mark["t0"],
        "run_start_to_image_message_ms": image - run["start"] if image is not None else None,
        "image_message_to_screen_ms": mark["frame"] - image if image is not None else None,
        "run_server_ms": run["end"] - run["start"],
        "src": mark["src"],
    }


def first_image_message(messages: list[tuple[float, Any]], after: float) -> float | None:
    return next((t for t, msg in messages if t >= after and element_kind(msg) == "imgs"), None)


def element_kind(msg: Any) -> str | None:
    """What a ForwardMsg draws: "markdown", "imgs", ...; None when it draws nothing."""
    if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
        return None
    return msg.delta.new_element.WhichOneof("type")


def idle_rerun_in_browser(page) -> dict[str, float]:
    """Press R (Streamlit's rerun key) with nothing focused; the run's time on the server is
    between its new_session and script_finished messages."""
    page.evaluate(ARM_KEY, "r")
    page.keyboard.press("r")
    run = settled(page, timeout=60)
    t0 = page.evaluate("() => window.__bench.t0")
    return {"server_ms": run["end"] - run["start"], "key_to_finish_ms": run["end"] - t0}
