"""How fast the workbench feels in a real browser (issue 4; not a test).

    .venv/bin/python -m bench.ui_latency [--repeats 5] [--idle-runs 30] [--latency-ms 300] \
        [--per-token-ms 10] [--out bench/out/ui_latency.json]

Ingests the committed Ulta Beauty earnings release into a temporary index once, starts the
OpenAI-protocol test server with a fixed time to first token and decoding speed, and measures
medians over `--repeats` questions (after one warm-up):
- the agent's own time to its first answer token, in this process (the baseline);
- in Debian's Chromium against `streamlit run app.py`: Enter in the chat input to the answer's
  first token on screen, compared with that baseline (target: at most 300 ms more);
- a citation clicked to its highlighted page loaded and on screen: the first time that page is
  drawn (target 500 ms) and again after switching to another citation (target 100 ms);
- an idle rerun (no question): in-process with Streamlit's AppTest, the script's own time plus
  the full garbage collection `streamlit run` makes after every run, with app.py compiled once as
  the server does (AppTest leaves out the one and repeats the other); and in the browser, the
  server's time between the run's start and finish messages (target 50 ms).

Browser times are read in the page's clock: listeners and a MutationObserver installed before
the key press or click stamp `performance.now()`, and a recorder on the WebSocket stamps every
message from the server, so polling from Python adds nothing. "On screen" is the first
animation frame after the change reached the DOM. Prints the medians and the targets as JSON
and writes them, with every round, to `--out` (bench/out/ is not committed).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.ui_browser import RECORD_WEBSOCKET, ask_and_watch, click_and_watch, idle_rerun_in_browser
from tests.support.filings import ROOT, ULTA

TARGETS_MS = {
    "first_token_over_agent": 300,
    "citation_first_draw": 500,
    "citation_cached": 100,
    "idle_rerun_server": 50,
}
QUESTIONS = [
    "What were Ulta Beauty's net sales in the fourth quarter of fiscal 2022?",
    "How much cash and cash equivalents did Ulta Beauty hold at the end of fiscal 2022?",
    "What was Ulta Beauty's diluted earnings per share for fiscal 2022?",
    "What were Ulta Beauty's merchandise inventories at the end of fiscal 2022?",
    "How many stores did Ulta Beauty open in fiscal 2022?",
    "What was Ulta Beauty's gross profit margin in the fourth quarter of fiscal 2022?",
    "What was Ulta Beauty's operating income in fiscal 2022?",
    "How much stock did Ulta Beauty repurchase in fiscal 2022?",
    "What is Ulta Beauty's outlook for fiscal 2023 net sales?",
]
# Each answer opens with its own word, so the page can tell the new answer's first token from
# the answers already in the chat.
WORDS = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliett",
         "Kilo", "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo", "Sierra", "Tango",
         "Uniform", "Victor", "Whiskey", "Xray", "Yankee", "Zulu"]  # fmt: skip


# ----------------------------------------------------------------- the model's answers


class Answerer:
    """Answers citing two passages on different pages: [a], which the app opens by itself, and
    [b], the one the benchmark clicks, on a page the app has not drawn yet when there is one."""

    def __init__(self) -> None:
        self.word = WORDS[0]
        self.drawn: set[int] = set()  # pages (1-based) the app has rendered
        self.track = False  # only the app's questions draw pages
        self.last: dict[str, Any] = {}

    def __call__(self, request: dict[str, Any]) -> str:
        user = request["messages"][-1]["content"]
        pages = {
            int(n): int(p) for n, p in re.findall(r'<passage n="(\d+)" filing="[^"]*" page="(\d+)"', user)
        }
        a, b = pick(pages, self.drawn)
        self.last = {"a": a, "b": b, "page_a": pages[a], "page_b": pages[b],
                     "b_page_new": pages[b] not in self.drawn}  # fmt: skip
        if self.track:
            self.drawn |= {pages[a], pages[b]}
        return (
            f"{self.word}. According to the filing, the figure asked for is reported in the passage [{a}]. "
            + f"The statement shows the amount for the period and the comparison with the prior year [{a}]. "
            * 4
            + f"The release discusses the same item further [{b}]."
        )


def pick(pages: dict[int, int], drawn: set[int]) -> tuple[int, int]:
    """(a, b) with a < b, so the app opens [a] after the answer and [b] waits for its click."""

    def earlier(b: int) -> list[int]:
        return [m for m in pages if m < b and pages[m] != pages[b]]

    fresh = [n for n in pages if pages[n] not in drawn and earlier(n)]
    if fresh:
        b = max(fresh, key=lambda n: (any(pages[m] in drawn for m in earlier(n)), n))
        a = min(earlier(b), key=lambda m: (pages[m] not in drawn, m))
        return a, b
    if len(pages) < 2:
        raise RuntimeError("the agent sent fewer than two passages: nothing to switch between")
    others = earlier(max(pages)) or sorted(pages)[:1]
    return min(others), max(pages)


# ----------------------------------------------------------------- 1. the agent alone


def agent_first_tokens(index: Any, questions: list[str]) -> list[float]:
    """Seconds from `stream(question)` to its first token event, per question."""
    from compliance_auditor.agent.graph import ask, stream

    ask("What were Ulta Beauty's total net sales?", index=index)  # warm-up
    seconds = []
    for question in questions:
        started, first = time.perf_counter(), None
        for event in stream(question, index=index):
            if event.kind == "token" and first is None:
                first = time.perf_counter() - started
        seconds.append(first if first is not None else float("nan"))
    return seconds


# ----------------------------------------------------------------- 4a. an idle rerun, in-process


def idle_reruns_in_process(question: str, runs: int) -> dict[str, list[float]]:
    """Seconds of `AppTest.run()` with no input, on a fresh session and with one answer and its
    page open (every rerun redraws the chat history and the source viewer), each with the
    collection the server makes after it; of a one-line script (AppTest's own share); and of
    compiling app.py, which AppTest does on every run and `streamlit run` once."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import AppTest

    compile_s = []
    for _ in range(5):
        started = time.perf_counter()
        ScriptCache().get_bytecode(str(ROOT / "app.py"))
        compile_s.append(time.perf_counter() - started)
    with compiled_once():
        floor = AppTest.from_string("import streamlit as st\nst.write('idle')").run()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        assert not at.exception, at.exception
        fresh, fresh_gc = timed_runs(at, runs)
        at.chat_input[0].set_value(question).run()
        assert not at.exception, at.exception
        at.run()  # the first rerun after an answer draws its page
        answered, answered_gc = timed_runs(at, runs)
        harness = timed_runs(floor, runs)[0]
    return {"empty_session_s": fresh, "empty_session_gc_s": fresh_gc, "with_answer_s": answered,
            "with_answer_gc_s": answered_gc, "harness_s": harness, "compile_s": compile_s}  # fmt: skip


@contextlib.contextmanager
def compiled_once() -> Iterator[None]:
    """AppTest gives each run a new script cache, so compiles app.py again every time, which
    `streamlit run` does once; share one cache, as the server does."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import local_script_runner

    shared, original = ScriptCache(), local_script_runner.ScriptCache
    local_script_runner.ScriptCache = lambda: shared
    try:
        yield
    finally:
        local_script_runner.ScriptCache = original


def timed_runs(at, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds of each `at.run()`, and of the full garbage collection that `streamlit run` makes
    after every run (runner.postScriptGC, on by default) and AppTest leaves out."""
    from streamlit import config as streamlit_config

    collect = streamlit_config.get_option("runner.postScriptGC")
    scripts, collections = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        at.run()
        ran = time.perf_counter()
        if collect:
            gc.collect(2)
        scripts.append(ran - started)
        collections.append(time.perf_counter() - ran)
    return scripts, collections


def one_round(page, answerer: Answerer, question: str, word: str) -> dict[str, Any]:
    """Ask, click the citation not yet open, switch to the other one, come back; then rerun idle."""
    answerer.word = word
    row: dict[str, Any] = {"question": question, "word": word, **ask_and_watch(page, question, word)}
    cite = row["citations"] = dict(answerer.last)
    label_a, label_b = f"[{cite['a']}] p.{cite['page_a']}", f"[{cite['b']}] p.{cite['page_b']}"
    row["click_first_draw"] = click_and_watch(page, label_b)
    row["click_switch"] = click_and_watch(page, label_a)
    row["click_cached"] = click_and_watch(page, label_b)
    row["idle_reruns"] = [idle_rerun_in_browser(page) for _ in range(3)]
    return row


def browser_rounds(server_url: str, answerer: Answerer, questions: list[str]) -> list[dict[str, Any]]:
    from tests.support.browser import app_env, browser, running_app, wait_until_ready

    answerer.track = True
    rows = []
    with running_app(app_env(AUDITOR_LLM_ENDPOINT=server_url)) as url, browser(height=1300) as (page, _):
        page.add_init_script(RECORD_WEBSOCKET)
        page.goto(url)
        wait_until_ready(page)
        for i, question in enumerate(questions):
            rows.append(one_round(page, answerer, question, WORDS[i % len(WORDS)]))
    return rows[1:]  # the first round is the warm-up


# ----------------------------------------------------------------- putting it together


def median_ms(values: list[float | None], scale: float = 1.0) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values) * scale, 1) if values else None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(agent_s: list[float], idle: dict[str, list[float]], rows: list[dict], args) -> dict[str, Any]:
    first = [r["first_token_ms"] for r in rows]
    over = [r["first_token_ms"] - s * 1000 for r, s in zip(rows, agent_s, strict=True)]
    idle_total = [a + b for a, b in zip(idle["with_answer_s"], idle["with_answer_gc_s"], strict=True)]
    summary = {
        "repeats": len(rows),
        "model": {"latency_ms": args.latency_ms, "per_token_ms": args.per_token_ms},
        "load_average_at_start": args.load_at_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "targets_ms": TARGETS_MS,
        "agent_first_token_ms_p50": median_ms(agent_s, 1000),
        "browser_first_token_ms_p50": median_ms(first),
        "first_token_over_agent_ms_p50": median_ms(over),
        "enter_to_run_start_ms_p50": median_ms([r["enter_to_run_start_ms"] for r in rows]),
        "run_start_to_token_message_ms_p50": median_ms([r["run_start_to_token_message_ms"] for r in rows]),
        "token_message_to_screen_ms_p50": median_ms([r["token_message_to_screen_ms"] for r in rows]),
        "citation_first_draw_ms_p50": median_ms([r["click_first_draw"]["ms"] for r in rows]),
        "citation_first_draw_new_page": sum(r["citations"]["b_page_new"] for r in rows),
        "citation_switch_ms_p50": median_ms([r["click_switch"]["ms"] for r in rows]),
        "citation_cached_ms_p50": median_ms([r["click_cached"]["ms"] for r in rows]),
        **{
            f"citation_{kind}_{part}_ms_p50": median_ms([r[f"click_{kind}"][f"{part}_ms"] for r in rows])
            for kind in ("first_draw", "cached")
            for part in ("click_to_run_start", "run_start_to_image_message", "image_message_to_screen")
        },
        "idle_rerun_apptest_ms_p50": median_ms(idle_total, 1000),
        "idle_rerun_apptest_ms_p90": round(percentile(idle_total, 0.9) * 1000, 1),
        "idle_rerun_apptest_ms_max": round(max(idle_total) * 1000, 1),
        "idle_rerun_apptest_script_ms_p50": median_ms(idle["with_answer_s"], 1000),
        "idle_rerun_apptest_gc_ms_p50": median_ms(idle["with_answer_gc_s"], 1000),
        "idle_rerun_apptest_harness_ms_p50": median_ms(idle["harness_s"], 1000),
        "app_compile_ms_p50": median_ms(idle["compile_s"], 1000),
        "idle_rerun_apptest_empty_session_ms_p50": median_ms(
            [a + b for a, b in zip(idle["empty_session_s"], idle["empty_session_gc_s"], strict=True)], 1000
        ),
        "idle_rerun_browser_server_ms_p50": median_ms(
            [i["server_ms"] for r in rows for i in r["idle_reruns"]]
        ),
        "idle_rerun_browser_key_to_finish_ms_p50": median_ms(
            [i["key_to_finish_ms"] for r in rows for i in r["idle_reruns"]]
        ),
    }
    figures = {
        "first_token_over_agent": summary["first_token_over_agent_ms_p50"],
        "citation_first_draw": summary["citation_first_draw_ms_p50"],
        "citation_cached": summary["citation_cached_ms_p50"],
        "idle_rerun_server": summary["idle_rerun_apptest_ms_p50"],
    }
    summary["within_target"] = {k: v is not None and v <= TARGETS_MS[k] for k, v in figures.items()}
    return summary


def main() -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--idle-runs", type=int, default=30, help="in-process idle reruns (cheap)")
    parser.add_argument("--latency-ms", type=float, default=300)
    parser.add_argument("--per-token-ms", type=float, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "ui_latency.json")
    args = parser.parse_args()
    args.load_at_start = [round(x, 2) for x in os.getloadavg()]
    root = Path(tempfile.mkdtemp(prefix="auditor-ui-"))
    os.environ.update(AUDITOR_DB_URI=str(root / "db"), AUDITOR_LOGS_DIR=str(root / "logs"),
                      AUDITOR_DATA_DIR=str(root / "data"))  # fmt: skip

    from compliance_auditor import config
    from compliance_auditor.index.store import AuditIndex
    from compliance_auditor.ingestion import ingest_paths
    from tests.support.fake_llm import FakeLLM
    from tests.support.scripted import grader_keeping, model

    config.get_settings.cache_clear()
    index = AuditIndex()
    summary = ingest_paths([ULTA], index, show_progress=False)
    if summary.added != 1:
        raise RuntimeError(f"the sample filing was not ingested: {summary.failures}")
    questions = (QUESTIONS * (args.repeats // len(QUESTIONS) + 1))[: args.repeats]
    answerer = Answerer()
    with FakeLLM(latency_s=args.latency_ms / 1000, per_token_s=args.per_token_ms / 1000) as server:
        server.responder = model(grader_keeping(""), answerer)  # "" is in every passage: keep them all
        os.environ["AUDITOR_LLM_ENDPOINT"] = server.url
        config.get_settings.cache_clear()
        agent_s = agent_first_tokens(index, questions)
        idle = idle_reruns_in_process(questions[0], args.idle_runs)
        rows = browser_rounds(server.url, answerer, ["What were Ulta Beauty's total net sales?", *questions])
    result = summarise(agent_s, idle, rows, args)
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**result, "agent_first_token_s": agent_s, "idle_apptest_s": idle,
                                    "rounds": rows}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
