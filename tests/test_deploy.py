"""deploy/: the nginx pool run for real in front of two OpenAI-protocol servers on 127.0.0.1,
the agent answering through it, and the compose file as far as this machine can check it.

nginx runs as a child of the test, on a free port of 127.0.0.1, with its pid file and logs
in a temp folder; the committed configuration is used as is, with only its listen port and
its replicas' addresses rewritten to this machine.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from compliance_auditor.agent.graph import stream
from compliance_auditor.llm.breakers import reset_breakers
from tests.support.fake_llm import FakeLLM, dead_url, free_port
from tests.support.filings import ROOT
from tests.support.nginx import nginx_command, running_nginx
from tests.support.scripted import QUESTION, careful_model

DEPLOY = ROOT / "deploy"
NGINX_CONF = DEPLOY / "nginx" / "nginx.conf"
REPLICAS = DEPLOY / "nginx" / "llm-replicas.conf"
SERVER_LINE = re.compile(r"^server (\S+)(.*;)$", re.M)
PER_TOKEN_S = 0.02  # the test replicas' decoding speed

needs_nginx = pytest.mark.skipif(
    shutil.which("nginx") is None,
    reason="nginx is not installed (./launch.sh --setup --extras dev installs it)",
)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def render(prefix: Path, upstreams: list[str]) -> tuple[Path, int]:
    """The committed configuration, listening on a free port of 127.0.0.1, with these replicas."""
    conf = prefix / "conf"
    conf.mkdir(parents=True)
    port = free_port()
    text, listens = re.subn(r"^(\s*)listen \S+;$", rf"\1listen 127.0.0.1:{port};",
                            NGINX_CONF.read_text(), flags=re.M)  # fmt: skip
    assert listens == 1
    (conf / "nginx.conf").write_text(text)
    params = SERVER_LINE.findall(REPLICAS.read_text())
    assert len(params) == len(upstreams), "the committed file lists one replica per test server"
    lines = [
        f"server 127.0.0.1:{port_of(url)}{rest}" for url, (_, rest) in zip(upstreams, params, strict=True)
    ]
    (conf / "llm-replicas.conf").write_text("\n".join(lines) + "\n")
    # Only this machine's test servers: traffic never goes anywhere else.
    assert all(host.startswith("127.0.0.1:") for host, _ in SERVER_LINE.findall("\n".join(lines)))
    return conf / "nginx.conf", port


@contextmanager
def nginx_pool(tmp_path: Path, upstreams: list[str]) -> Iterator[str]:
    """nginx in the foreground as a child process; yields its /v1 base URL."""
    conf, port = render(tmp_path, upstreams)
    with running_nginx(tmp_path, conf, f"http://127.0.0.1:{port}/health"):
        yield f"http://127.0.0.1:{port}/v1"


# --------------------------------------------------------------------------- static checks


@needs_nginx
def test_the_committed_nginx_configuration_passes_nginx_t(tmp_path):
    done = subprocess.run(
        [*nginx_command(tmp_path, NGINX_CONF), "-t"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_the_nginx_pool_balances_by_least_connections_and_streams():
    conf = NGINX_CONF.read_text()
    upstream = re.search(r"upstream vllm_replicas \{(.*?)\}", conf, re.S).group(1)
    assert "least_conn;" in upstream and "include llm-replicas.conf;" in upstream
    location = re.search(r"location /v1/ \{(.*?)\n        \}", conf, re.S).group(1)
    for directive in ("proxy_buffering off;", "proxy_http_version 1.1;", "chunked_transfer_encoding on;",
                      "proxy_read_timeout 900s;"):  # fmt: skip
        assert directive in location
    assert len(SERVER_LINE.findall(REPLICAS.read_text())) >= 2


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_the_compose_app_talks_to_vllm_and_is_published_on_loopback_only():
    services = compose()["services"]
    assert services["app"]["environment"]["AUDITOR_LLM_ENDPOINT"] == "http://vllm:8000/v1"
    [published] = services["app"]["ports"]
    assert published.startswith("${PUBLISH_ADDRESS:-127.0.0.1}:")
    assert services["app"]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    [gpu] = services["vllm"]["deploy"]["resources"]["reservations"]["devices"]
    assert gpu["driver"] == "nvidia" and gpu["capabilities"] == ["gpu"]
    assert any(v.endswith(":/root/.cache/huggingface") for v in services["vllm"]["volumes"])
    assert any(a.startswith("--tensor-parallel-size=") for a in services["vllm"]["command"])
    # Inside its container the app listens on every interface, so the published port reaches it.
    assert "AUDITOR_SERVER_ADDRESS=0.0.0.0" in (DEPLOY / "Dockerfile").read_text()


def test_docker_compose_accepts_the_file():
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode:
        pytest.skip("no docker compose plugin on this machine")
    done = subprocess.run(
        [docker, "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        env={"AUDITOR_LLM_MODEL": "Qwen/Qwen2.5-7B-Instruct", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- through the pool


@pytest.fixture
def replicas():
    """Two OpenAI-protocol servers that grade and answer like a careful model, a token at a time."""
    with FakeLLM(per_token_s=PER_TOKEN_S) as first, FakeLLM(per_token_s=PER_TOKEN_S) as second:
        for fake in (first, second):
            fake.responder = careful_model()
        reset_breakers()
        yield first, second
    reset_breakers()


@needs_nginx
def test_the_agent_answers_through_nginx_token_by_token_from_both_replicas(
    replicas, ulta_index, set_env, tmp_path
):
    with nginx_pool(tmp_path, [fake.url for fake in replicas]) as url:
        set_env(llm_endpoint=url, llm_connect_timeout_s=2, llm_read_timeout_s=10)
        for _ in range(3):
            arrivals: list[float] = []
            for event in stream(QUESTION, index=ulta_index):
                if event.kind == "token":
                    arrivals.append(time.perf_counter())
                elif event.kind == "result":
                    result = event.result
            assert result.mode == "answered" and result.endpoint == url, result.warnings
            # Streamed, not buffered: each token arrives about when the replica wrote it, 20 ms
            # after the one before (buffered, they would arrive a bufferful at a time).
            assert len(arrivals) > 10
            gaps = sorted(b - a for a, b in itertools.pairwise(arrivals))
            assert gaps[len(gaps) // 2] > 0.5 * PER_TOKEN_S, gaps
    first, second = replicas
    assert first.requests and second.requests  # least_conn spread the calls over both replicas
    assert len(first.requests) + len(second.requests) == 6  # a grade and an answer per question


@needs_nginx
def test_a_replica_that_refuses_connections_is_skipped(tmp_path):
    with FakeLLM(model="the-live-one") as live, nginx_pool(tmp_path, [dead_url(), live.url]) as url:
        for _ in range(4):
            reply = httpx.get(f"{url}/models", timeout=5)
            assert reply.status_code == 200 and reply.json()["data"][0]["id"] == "the-live-one"
