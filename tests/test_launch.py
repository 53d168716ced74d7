"""launch.sh, run for real: its diagnosis, and a start and stop of the app on 127.0.0.1.

The model servers are the OpenAI-protocol test server (a server launch.sh finds running) or
a port where nothing listens (this machine has neither Apple Silicon nor an NVIDIA GPU, so
launch.sh can start no model server and must say how to point the app at one).
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import httpx
import psutil
import pytest

from tests.support.fake_llm import FakeLLM, dead_url, free_port
from tests.support.filings import ROOT

LAUNCH = ROOT / "launch.sh"


def can_start_a_model_server() -> bool:
    """Where launch.sh would start mlx_lm.server or vLLM for a local endpoint."""
    apple_silicon = platform.system() == "Darwin" and platform.machine() == "arm64"
    return apple_silicon or shutil.which("nvidia-smi") is not None


def check(endpoint: str) -> str:
    done = subprocess.run(
        [str(LAUNCH), "--check"], env={**os.environ, "AUDITOR_LLM_ENDPOINT": endpoint},
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_launch_scripts_are_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (./launch.sh --setup --extras dev installs it)")
    scripts = [str(ROOT / name) for name in ("launch.sh", "test.sh", ".ci/run")]
    done = subprocess.run(["shellcheck", *scripts], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_check_lists_the_models_of_a_live_endpoint_and_names_a_dead_one(isolated_settings):
    dead = dead_url()
    with FakeLLM(model="served-by-the-test") as fake:
        out = check(f"{dead},{fake.url}")  # a pool: the diagnosis covers each endpoint
    endpoints = [x for x in out.splitlines() if x.startswith("model endpoint")]
    assert len(endpoints) == 2, out
    assert dead in endpoints[0] and "unreachable" in endpoints[0]
    assert fake.url in endpoints[1] and "up (" in endpoints[1] and "served-by-the-test" in endpoints[1]
    for label in ("python", "streamlit", "langgraph", "tesseract", "embed model", "index", "free disk"):
        assert any(x.startswith(label) for x in out.splitlines()), (label, out)
    assert str(isolated_settings / "db") in out and "'version'" in out
    assert "WARNING" not in out  # 127.0.0.1 is private: no sovereignty warning


# --------------------------------------------------------------------------- a real start


@dataclass
class Launch:
    process: subprocess.Popen
    port: int
    lines: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def health(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/_stcore/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_healthy(self, timeout_s: float = 180) -> float:
        started = time.monotonic()
        while not self.health():
            assert self.process.poll() is None, f"launch.sh exited early:\n{self.output}"
            assert time.monotonic() - started < timeout_s, f"no health after {timeout_s} s:\n{self.output}"
            time.sleep(0.2)
        return time.monotonic() - started


@contextmanager
def launched(endpoint: str, *options: str) -> Iterator[Launch]:
    """./launch.sh with the app on a free port; whatever is left at the end is killed."""
    port = free_port()
    env = {**os.environ, "AUDITOR_LLM_ENDPOINT": endpoint, "AUDITOR_SERVER_PORT": str(port)}
    process = subprocess.Popen(
        [str(LAUNCH), *options], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    run = Launch(process, port)
    reader = threading.Thread(target=lambda: run.lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    started: list[psutil.Process] = []
    try:
        run.wait_healthy()
        started = psutil.Process(process.pid).children(recursive=True)
        yield run
    finally:
        # If the test failed before launch.sh stopped what it started, stop it all here.
        leftovers = started
        if process.poll() is None:
            launcher = psutil.Process(process.pid)
            leftovers = [*launcher.children(recursive=True), launcher]
        for leftover in leftovers:
            with suppress(psutil.NoSuchProcess):
                leftover.kill()
        process.wait(timeout=30)
        reader.join(timeout=5)


def stop_and_wait(run: Launch) -> list[psutil.Process]:
    """SIGTERM to launch.sh alone; returns the processes it had started that are still alive."""
    children = psutil.Process(run.process.pid).children(recursive=True)
    assert any("streamlit" in " ".join(c.cmdline()) for c in children), [c.cmdline() for c in children]
    run.process.send_signal(signal.SIGTERM)
    assert run.process.wait(timeout=30) == 128 + signal.SIGTERM
    _, alive = psutil.wait_procs(children, timeout=15)
    return alive


def test_sigterm_stops_the_app_but_never_a_model_server_it_found_running():
    with FakeLLM(model="already-running") as fake, launched(fake.url) as run:
        assert f"model server at {fake.url}: up" in run.output and "already-running" in run.output
        assert "starting vLLM" not in run.output and "mlx_lm.server" not in run.output
        assert not stop_and_wait(run)
        assert not run.health()
        assert "stopping what this script started" in run.output
        models = httpx.get(f"{fake.url}/models", timeout=5).json()  # the found server still answers
        assert models["data"][0]["id"] == "already-running"


def test_a_local_endpoint_with_no_server_still_serves_the_app_and_says_how_to_add_one():
    if can_start_a_model_server():
        pytest.skip("this machine can start a model server, so launch.sh would start one")
    url = dead_url()
    with launched(url) as run:
        assert f"no model server at {url}" in run.output
        assert "evidence-only mode" in run.output and "AUDITOR_LLM_ENDPOINT=" in run.output
        assert not stop_and_wait(run)


def test_local_model_serves_a_small_model_says_what_it_is_and_stops_it():
    url = dead_url()  # a free local port: llama-server starts there
    with launched(url, "--local-model") as run:
        assert "small demonstration model" in run.output and "answers are weak" in run.output
        assert "llama-server is up" in run.output
        models = httpx.get(f"{url}/models", timeout=5).json()
        assert models["data"][0]["id"] == "qwen2.5-coder-1.5b-instruct"
        assert not stop_and_wait(run)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/models", timeout=2)  # stopped with the app


def test_a_start_beyond_loopback_without_authentication_is_refused_and_says_how():
    port = free_port()
    done = subprocess.run(
        [str(LAUNCH)], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
        env={**os.environ, "AUDITOR_SERVER_ADDRESS": "0.0.0.0", "AUDITOR_SERVER_PORT": str(port),
             "AUDITOR_LLM_ENDPOINT": dead_url()},
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refusing to start" in done.stdout and "AUDITOR_AUTH=oidc" in done.stdout
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)  # nothing was served
