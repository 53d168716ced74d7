"""The index on S3-compatible object storage (AUDITOR_DB_URI=s3://...), against moto's S3 server
started here on 127.0.0.1: ingest, search, version tags, replay and compaction."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

import pytest

from compliance_auditor.audit import chain
from compliance_auditor.audit.replay import replay, tag_version
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.ingestion import ingest_paths
from tests.support.answers import answer_record
from tests.support.filings import AMCOR_8K, ULTA

BUCKET = "auditor-team"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server in a child process, bound to 127.0.0.1, with one bucket."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.1)
        request = urllib.request.Request(f"{url}/{BUCKET}", method="PUT")
        urllib.request.urlopen(request, timeout=5).close()
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def s3_index(s3_endpoint, set_env, monkeypatch, embedder, request):
    """An AuditIndex at s3://BUCKET/<test>, reached through the standard AWS variables."""
    for name, value in {
        "AWS_ENDPOINT": s3_endpoint, "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    set_env(db_uri=f"s3://{BUCKET}/{request.node.name}")
    return AuditIndex(embedder=embedder)


def test_an_index_on_s3_ingests_searches_tags_replays_and_compacts(
    s3_index, s3_endpoint, set_env, monkeypatch, tmp_path
):
    index, trail = s3_index, tmp_path / "audit.jsonl"
    assert index.uri.startswith("s3://")
    assert ingest_paths([ULTA], index, show_progress=False).added == 1
    asked = "How much did gross profit and net sales grow in the fourth quarter?"
    result = index.search(asked, k=5, filters={})
    assert result.hits and {h.doc_name for h in result.hits} == {ULTA.name}
    tag_version(index, result.table_version, result.documents_version)
    record = chain.append(answer_record(asked, result, k=5), trail)

    assert ingest_paths([AMCOR_8K], index, show_progress=False).added == 1
    index.optimize(cleanup_older_than=timedelta(0))
    assert result.table_version in [v["version"] for v in index.chunks.list_versions()]
    replayed = replay(record["id"], index, trail)
    assert replayed.same and replayed.same_order

    # A colleague's process on the same URI, the endpoint given as storage options rather than
    # AWS_ENDPOINT, sees both filings; after a deletion the tagged version still replays.
    monkeypatch.delenv("AWS_ENDPOINT")
    set_env(db_storage_options=json.dumps({"endpoint": s3_endpoint, "allow_http": "true"}))
    other = AuditIndex(embedder=index.embedder)
    assert other.stats()["searchable"] == 2
    assert other.delete_document(result.hits[0].doc_sha256)
    assert all(h.doc_name != ULTA.name for h in index.search(asked, k=5, filters={}).hits)
    assert replay(record["id"], index, trail).same
