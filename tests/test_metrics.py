"""Prometheus metrics, scraped over HTTP the way Prometheus scrapes them.

The exposition is the real server on 127.0.0.1; questions go through the real agent to the
OpenAI-protocol test server, and filings through the real ingestion. The counters belong to
the whole test process, so each test compares a scrape taken before with one taken after.
"""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from compliance_auditor import config, metrics
from compliance_auditor.ingestion import ingest_paths
from compliance_auditor.llm.breakers import reset_breakers
from tests.support.fake_llm import dead_url, free_port
from tests.support.scripted import QUESTION, run


class Scrape:
    """One scrape of /metrics: the value of a sample by name and labels (0 when absent)."""

    def __init__(self, url: str) -> None:
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        self.samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def __call__(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def since(self, before: Scrape, name: str, **labels: str) -> float:
        return self(name, **labels) - before(name, **labels)


@pytest.fixture(scope="module")
def metrics_url() -> str:
    return metrics.serve(0)  # any free port, on 127.0.0.1


def test_an_answered_question_counts_its_outcome_node_times_model_calls_and_tokens(
    metrics_url, server, ulta_index
):
    before = Scrape(metrics_url)
    result, _ = run(QUESTION, ulta_index)
    after = Scrape(metrics_url)
    assert result.mode == "answered"
    assert after.since(before, "auditor_questions_total", outcome="answered") == 1
    for node in ("retrieve", "grade", "reflect", "generate", "verify"):
        assert after.since(before, "auditor_node_seconds_count", node=node) == 1
    assert after.since(before, "auditor_node_seconds_sum", node="generate") > 0
    assert after.since(before, "auditor_llm_calls_total", endpoint=server.url, outcome="ok") == 2
    tokens = after.since(before, "auditor_llm_tokens_total", endpoint=server.url, kind="input")
    assert tokens == result.usage.input_tokens > 0
    assert after("auditor_endpoint_up", endpoint=server.url) == 1


def test_a_dead_endpoint_shows_down_and_its_question_as_evidence_only(metrics_url, ulta_index, set_env):
    endpoint = dead_url()
    set_env(llm_endpoint=endpoint, llm_connect_timeout_s=1)
    reset_breakers()
    before = Scrape(metrics_url)
    result, _ = run(QUESTION, ulta_index)
    after = Scrape(metrics_url)
    assert result.mode == "evidence_only"
    assert after.since(before, "auditor_questions_total", outcome="evidence_only") == 1
    assert after("auditor_endpoint_up", endpoint=endpoint) == 0
    # Grading finds the connection refused; the breaker then spares the answer a second try.
    assert after.since(before, "auditor_llm_calls_total", endpoint=endpoint, outcome="connect") == 1
    assert after.since(before, "auditor_llm_calls_total", endpoint=endpoint, outcome="skipped") == 1


def test_ingestion_counts_documents_pages_and_failures(metrics_url, index, workdir):
    (workdir / "notes.pdf").write_bytes(b"this is not a PDF")
    before = Scrape(metrics_url)
    summary = ingest_paths([workdir], index, show_progress=False)
    after = Scrape(metrics_url)
    assert summary.added == 1 and summary.failed == 1
    assert after.since(before, "auditor_documents_ingested_total", status="ok") == 1
    assert after.since(before, "auditor_pages_ingested_total") == summary.pages > 0
    assert after.since(before, "auditor_ingest_failures_total") == 1


def test_every_outcome_is_zero_before_its_first_question(metrics_url):
    scrape = Scrape(metrics_url)
    for outcome in ("answered", "evidence_only", "refused", "error"):
        assert ("auditor_questions_total", frozenset({("outcome", outcome)})) in scrape.samples


def test_nothing_is_served_unless_a_port_is_set(set_env):
    assert config.get_settings().metrics_port is None
    assert metrics.expose() is None
    set_env(metrics_port="")  # as compose passes on an unset variable
    assert metrics.expose() is None


def test_asking_again_for_the_same_port_keeps_the_one_server():
    """Streamlit re-runs app.py on every click; a second bind of the port would fail."""
    port = free_port()
    url = metrics.serve(port)
    assert metrics.serve(port) == url == f"http://127.0.0.1:{port}/metrics"
    assert ("auditor_ingest_failures_total", frozenset()) in Scrape(url).samples


def test_endpoint_labels_carry_no_credentials():
    label = metrics.endpoint_label("https://user:s3cret@gpu-host:8443/v1?api-key=abc")
    assert label == "https://gpu-host:8443/v1"
