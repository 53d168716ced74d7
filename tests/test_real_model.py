"""A real model in the loop: llama.cpp's server with a small Qwen, on 127.0.0.1.

The server is built and the model assembled by `./test.sh` (cached outside the checkout).
Whatever a 1.5B model writes, these must hold: the answer streams in pieces and completes,
every citation resolves or is flagged, every number is verified or flagged, the record is
sealed into a chain that verifies, and a prompt too long for the window is trimmed, never
refused. Prompts stay small (three passages) so that each question takes seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest

from compliance_auditor.audit import chain, chain_check
from compliance_auditor.config import get_settings
from compliance_auditor.llm import local_server
from compliance_auditor.llm.breakers import reset_breakers
from compliance_auditor.records import AnswerRecord
from tests.support.browser import app_env, ask, browser, running_app, wait_until_ready, watch_answer_grow
from tests.support.fake_llm import free_port
from tests.support.filings import ROOT
from tests.support.scripted import QUESTION, run

FLAGGED = ("unverified", "wrong_metric", "wrong_scale")


@contextlib.contextmanager
def llama_server(context: int) -> Iterator[str]:
    """llama-server with the small model on a free port of 127.0.0.1; yields its /v1 URL once the
    model is loaded, and stops it at the end."""
    port = free_port()
    process = subprocess.Popen(
        local_server.server_command(port, context=context),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, "llama-server exited"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, "llama-server did not load the model in 180 s"
            time.sleep(0.5)
        yield f"{url}/v1"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def real_model() -> Iterator[str]:
    with llama_server(context=4096) as url:
        yield url


@pytest.fixture
def small_prompts(real_model, set_env) -> str:
    """The agent pointed at the real server, with three passages per search and short answers."""
    name = get_settings().local_model
    set_env(llm_endpoint=real_model, llm_model=name, agent_k=3, max_evidence=3, llm_max_tokens=160,
            llm_read_timeout_s=300, max_iterations=1)  # fmt: skip
    reset_breakers()
    return real_model


def assert_holds_whatever_the_model_wrote(result: AnswerRecord) -> None:
    """What must hold of any answer: complete, citations resolved or flagged, numbers verified or
    flagged, sealed into the audit trail."""
    assert result.mode in ("answered", "refused") and result.complete, result.warnings
    given = {c.n for c in result.evidence}  # what the model was shown (not kept in the trail)
    assert not given or all(c.n in given for c in result.citations)
    for check in result.verification.citations:
        assert check.resolved or any(f"[{check.n}] does not match" in w for w in result.warnings)
    for number in result.verification.numbers:
        assert number.verdict in ("quoted", "computed", *FLAGGED)
        if number.verdict in FLAGGED:
            assert any(number.text in w for w in result.warnings), number
    assert not [c for c in result.calls if c.outcome == "too_long"]
    assert result.hash and chain_check.verify_chain().ok


def test_a_real_model_answers_a_question_about_a_real_filing(small_prompts, ulta_index):
    result, events = run(QUESTION, ulta_index)
    tokens = [e.text for e in events if e.kind == "token"]
    assert result.mode == "answered" and len(tokens) > 5, result.answer  # streamed in pieces
    assert "".join(tokens).strip() == result.answer.strip() or result.answer in "".join(tokens)
    assert_holds_whatever_the_model_wrote(result)
    assert result.model == get_settings().local_model and result.llm_calls == 2


def test_the_cli_asks_the_real_model(small_prompts, ulta):
    env = {key: value for key, value in os.environ.items() if key.startswith("AUDITOR_")}
    done = subprocess.run([sys.executable, str(ROOT / "agent.py"), QUESTION, "--json"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env={**os.environ, **env})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = AnswerRecord.model_validate(json.loads(done.stdout))
    assert result.mode == "answered"
    assert_holds_whatever_the_model_wrote(result)


def test_a_grading_reply_that_is_not_json_keeps_the_retrieval_order(small_prompts, ulta_index, set_env):
    set_env(llm_grade_max_tokens=2)  # the model's JSON is cut off after two tokens: never parseable
    result, _ = run(QUESTION, ulta_index)
    grade_calls = [c for c in result.calls if c.node == "grade"]
    assert len(grade_calls) == 2  # asked once more, then the documented fallback
    assert all(g.relevant for g in result.grades) and result.mode == "answered"
    assert_holds_whatever_the_model_wrote(result)


def test_eight_passages_are_trimmed_to_a_small_window_never_refused(ulta_index, set_env):
    with llama_server(context=1024) as url:
        set_env(llm_endpoint=url, llm_model=get_settings().local_model, agent_k=8, max_evidence=8,
                llm_read_timeout_s=300, max_iterations=1)  # fmt: skip
        reset_breakers()
        result, _ = run(QUESTION, ulta_index)
    assert result.passages_left_out > 0 and len(result.evidence) < 8
    assert any("left out to fit the model's context window" in w for w in result.warnings)
    assert_holds_whatever_the_model_wrote(result)


def test_the_workbench_streams_a_real_models_answer(small_prompts, ulta):
    with running_app(app_env()) as url, browser() as (page, requests):
        page.goto(url)
        wait_until_ready(page)
        ask(page, QUESTION)
        lengths = watch_answer_grow(page, re.compile(r"answered · 2 model calls"), timeout=240)
        assert len(lengths) >= 5, f"the answer arrived in one piece: {lengths}"
    [record] = [r for r in chain.records() if r["kind"] == "answer"]
    assert_holds_whatever_the_model_wrote(AnswerRecord.model_validate(record))
    assert {urlparse(u).hostname for u in requests if urlparse(u).scheme in ("http", "ws")} == {"127.0.0.1"}
