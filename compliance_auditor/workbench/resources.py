"""What every browser session shares, made once per process: the index with its embedding
model, the background ingestion worker, the endpoints' health and the filing list."""

from __future__ import annotations

import gc
import queue
import threading
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import streamlit as st

from compliance_auditor import config, metrics
from compliance_auditor.index.embedder import get_embedder
from compliance_auditor.index.schema import SEARCHABLE_STATUS
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.ingestion import ingest_paths
from compliance_auditor.llm.endpoints import Health, probe
from compliance_auditor.llm.pool import LLMPool, get_pool


@st.cache_resource(show_spinner="Loading the embedding model…")
def get_index(db_uri: str) -> AuditIndex:
    return AuditIndex(db_uri, embedder=get_embedder())


@dataclass
class IngestJob:
    """One upload batch, ingested by the background worker while everyone keeps working."""

    names: list[str]
    by: str = ""
    """Who uploaded them (shown in the Library beside each filing)."""
    done: list[tuple[str, str, str]] = field(default_factory=list)
    state: str = "queued"
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])


class IngestWorker:
    """A single thread that ingests queued uploads one batch at a time, off every session's thread."""

    def __init__(self, index: AuditIndex) -> None:
        self.index = index
        self.jobs: list[IngestJob] = []
        self._queue: queue.Queue[tuple[IngestJob, list[Path], dict[Path, str]]] = queue.Queue()
        threading.Thread(target=self._run, daemon=True, name="ingest-worker").start()

    def submit(self, files: list[tuple[Path, str]], by: str = "") -> IngestJob:
        job = IngestJob(names=[name for _, name in files], by=by)
        self.jobs.append(job)
        self._queue.put((job, [p for p, _ in files], {p: name for p, name in files}))
        return job

    def active(self) -> list[IngestJob]:
        return [j for j in self.jobs if j.state != "finished"]

    def _run(self) -> None:
        while True:
            job, paths, names = self._queue.get()
            job.state = "running"
            try:
                ingest_paths(
                    paths, self.index, show_progress=False, display_names=names, ingested_by=job.by,
                    on_document=lambda *event, done=job.done: done.append(event),
                )  # fmt: skip
            except Exception as exc:  # the worker must survive any batch
                job.done.append(("batch", "failed", f"{type(exc).__name__}: {exc}"))
            job.state = "finished"


@st.cache_resource
def get_worker(db_uri: str) -> IngestWorker:
    return IngestWorker(get_index(db_uri))


@st.cache_resource(show_spinner=False)
def freeze_the_loaded_heap() -> None:
    """Once per process, at the end of its first run, take what is loaded by then out of the
    garbage collector's reach: the embedding model, torch, LanceDB and the agent are ~700k
    objects, and `streamlit run` collects every generation after every run (the ingestion
    fragment's too, every second), which held the GIL ~300 ms each time. Objects made later are
    still collected."""
    gc.collect()
    gc.freeze()


@st.cache_data(ttl=15, show_spinner=False)
def endpoint_health(urls: tuple[str, ...]) -> list[Health]:
    return [probe(url) for url in urls]


@st.cache_data(show_spinner=False, max_entries=4)
def read_library(db_uri: str, versions: tuple[int, int]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The filings and the index's counts. Keyed by both tables' versions, which every write
    moves (this process's or the ingest CLI's), so reruns skip three table scans until then."""
    index = get_index(db_uri)
    return index.list_documents(), index.stats()


def start_metrics(settings: config.Settings) -> str:
    """Where Prometheus can scrape this process, as a line for the sidebar; empty when it is off."""
    try:
        url = metrics.expose(settings)
    except OSError as exc:  # the port is taken: the workbench still works, and says why metrics do not
        return f"Metrics are not served: port {settings.metrics_port}: {exc.strerror or exc}"
    return f"Metrics: {url}" if url else ""


@dataclass
class Workbench:
    """What one run of the app works with: the shared resources and the filings as they are now."""

    settings: config.Settings
    index: AuditIndex
    worker: IngestWorker
    pool: LLMPool
    documents: list[dict[str, Any]]
    stats: dict[str, Any]
    metrics_line: str
    outside: list[dict[str, Any]] = field(default_factory=list)
    """Filings outside the user's workspaces: never shown, except that an uploader is told which
    of theirs landed there (`library.py`)."""

    @property
    def searchable(self) -> list[dict[str, Any]]:
        return [d for d in self.documents if d["status"] in SEARCHABLE_STATUS]

    def seen_by(self, companies: tuple[str, ...] | None) -> Workbench:
        """The workbench as a workspace sees it: its companies' filings only, in every list, and
        an index handle whose searches keep to them (None: everything)."""
        if companies is None:
            return self
        index = self.index.within(companies)
        documents = [d for d in self.documents if index.sees(d)]
        searchable = [d for d in documents if d["status"] in SEARCHABLE_STATUS]
        stats = {**self.stats, "searchable": len(searchable),
                 "pages": sum(d["pages"] or 0 for d in searchable),
                 "chunks": sum(d["chunks"] or 0 for d in searchable)}  # fmt: skip
        outside = [d for d in self.documents if not index.sees(d)]
        return replace(self, index=index, documents=documents, stats=stats, outside=outside)

    @property
    def visible(self) -> set[str]:
        """The sha256 of every filing this workbench shows."""
        return {d["sha256"] for d in self.documents}

    def queue_files(self, files: list[tuple[Path, str]], by: str) -> None:
        self.worker.submit(files, by)
        st.toast(f"Ingesting {len(files)} filing(s) in the background")


def load_workbench(settings: config.Settings) -> Workbench:
    """The shared resources (made on the first run of the process) and the current filings."""
    metrics_line = start_metrics(settings)
    index = get_index(settings.db_uri)
    documents, stats = read_library(settings.db_uri, (index.documents.version, index.version()))
    return Workbench(
        settings=settings, index=index, worker=get_worker(settings.db_uri), pool=get_pool(settings),
        documents=documents, stats=stats, metrics_line=metrics_line,
    )  # fmt: skip
