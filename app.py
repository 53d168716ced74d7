"""Financial Compliance Auditor: the analyst's workbench in the browser.

Ask a question about the indexed filings and watch the agent work; the answer streams in,
every claim cited. Pick a citation to see its page with the quoted text highlighted. Upload
filings, fix their metadata, export an answer as a workpaper, sign it off. Run it with
``./launch.sh``. Everything is served from this machine: no CDN, no fonts, no telemetry.
"""

from __future__ import annotations

import gc
import getpass
import queue
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

import agent
import audit
import config
import database
import ingest
import llm
import metrics
import workpaper

settings = config.get_settings()
st.set_page_config(page_title="Financial Compliance Auditor", page_icon="📑", layout="wide")


def shown(text: str) -> str:
    """Model and filing text as Markdown that displays it literally: no links, images, HTML or math."""
    escaped = workpaper.md_escape(text).replace("$", "\\$").replace(":", "\\:")
    return escaped.replace("\n", "  \n")


# ----------------------------------------------------------------- shared, process-wide resources


@st.cache_resource(show_spinner="Loading the embedding model…")
def get_index(db_uri: str) -> database.AuditIndex:
    return database.AuditIndex(db_uri, embedder=database.get_embedder())


@dataclass
class IngestJob:
    """One upload batch, ingested by the background worker while everyone keeps working."""

    names: list[str]
    done: list[tuple[str, str, str]] = field(default_factory=list)
    state: str = "queued"
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])


class IngestWorker:
    """A single thread that ingests queued uploads one batch at a time, off every session's thread."""

    def __init__(self, index: database.AuditIndex) -> None:
        self.index = index
        self.jobs: list[IngestJob] = []
        self._queue: queue.Queue[tuple[IngestJob, list[Path], dict[Path, str]]] = queue.Queue()
        threading.Thread(target=self._run, daemon=True, name="ingest-worker").start()

    def submit(self, files: list[tuple[Path, str]]) -> IngestJob:
        job = IngestJob(names=[name for _, name in files])
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
                ingest.ingest_paths(
                    paths, self.index, show_progress=False, display_names=names,
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
def endpoint_health(urls: tuple[str, ...]) -> list[llm.Health]:
    return [llm.probe(url) for url in urls]


@st.cache_data(show_spinner=False, max_entries=4)
def read_library(db_uri: str, versions: tuple[int, int]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The filings and the index's counts. Keyed by both tables' versions, which every write
    moves (this process's or the ingest CLI's), so reruns skip three table scans until then."""
    index = get_index(db_uri)
    return index.list_documents(), index.stats()


def start_metrics() -> str:
    """Where Prometheus can scrape this process, as a line for the sidebar; empty when it is off."""
    try:
        url = metrics.expose(settings)
    except OSError as exc:  # the port is taken: the workbench still works, and says why metrics do not
        return f"Metrics are not served: port {settings.metrics_port}: {exc.strerror or exc}"
    return f"Metrics: {url}" if url else ""


metrics_line = start_metrics()
index = get_index(settings.db_uri)
worker = get_worker(settings.db_uri)
pool = llm.get_pool(settings)
documents, stats = read_library(settings.db_uri, (index.documents.version, index.version()))
searchable = [d for d in documents if d["status"] in database.SEARCHABLE_STATUS]
state = st.session_state
state.setdefault("history", [])  # [{"question", "result"}]
state.setdefault("view", None)  # {"answer": i, "n": n, "page": page}


def queue_files(files: list[tuple[Path, str]]) -> None:
    worker.submit(files)
    st.toast(f"Ingesting {len(files)} filing(s) in the background")


# ----------------------------------------------------------------- sidebar: health and scope
with st.sidebar:
    st.header("Model")
    health = endpoint_health(tuple(pool.urls)) if pool.provider == "openai" else []
    for probe in health:
        if probe.ok:
            served = ", ".join(probe.models[:2]) or "no models listed"
            st.success(f"{shown(probe.url)} answers in {probe.latency_ms:.0f} ms · {shown(served)}")
        else:
            st.error(f"{shown(probe.url)} does not answer: {shown(probe.error[:160])}")
    st.caption(f"Model: {shown(pool.model)} ({pool.provider})")
    if health and not any(p.ok for p in health):
        st.warning("No model answers: questions get **evidence-only** results (ranked passages, no answer).")
    if pool.warning:
        st.error(shown(pool.warning))
    if st.button("Check again", help="Probe the endpoints now and retry any marked dead"):
        endpoint_health.clear()
        llm.reset_breakers()
        st.rerun()

    st.header("Index")
    st.caption(
        f"{stats['searchable']} filings · {stats['pages']} pages · {stats['chunks']} chunks · "
        f"version {stats['version']}"
    )
    st.caption(
        f"Embeddings: {shown(index.embedder.name)} ({index.embedder.backend}, {index.embedder.device})"
    )
    if metrics_line:
        st.caption(shown(metrics_line))

    st.header("Scope")
    scope = {
        "company": st.multiselect("Company", sorted({d["company"] for d in searchable if d["company"]})),
        "form_type": st.multiselect("Form", sorted({d["form_type"] for d in searchable if d["form_type"]})),
        "fiscal_year": st.multiselect(
            "Fiscal year", sorted({d["fiscal_year"] for d in searchable if d["fiscal_year"]}, reverse=True)
        ),
        "item": st.text_input("Item (e.g. 7, 1A)").strip().upper(),
    }
    filters = {k: v for k, v in scope.items() if v} or None
    analyst = st.text_input("Analyst", value=getpass.getuser(), help="Recorded with every answer")

ask_tab, library_tab = st.tabs(["Ask", "Library"])


# ----------------------------------------------------------------- one answer in the chat


def verification_line(result: agent.AuditResult) -> str:
    checks = result.verification
    quoted = sum(n.verdict == "quoted" for n in checks.numbers)
    computed = sum(n.verdict == "computed" for n in checks.numbers)
    if result.mode != "answered":
        return ""
    if checks.ok:
        counts = f"{len(checks.citations)} citations resolve, {quoted} numbers quoted, {computed} recomputed"
        return f":material/verified: Verified: {counts}"
    return f":material/warning: Not fully verified: {len(checks.warnings)} problem(s), listed above"


def select_citation(i: int) -> None:
    n = state.get(f"cite-{i}")
    if n is not None:
        result = state.history[i]["result"]
        citation = next(c for c in result.evidence if c.n == n)
        state.view = {"answer": i, "n": n, "page": citation.page}


def show_answer(i: int, result: agent.AuditResult) -> None:
    for warning in result.warnings:
        st.warning(shown(warning))
    st.markdown(shown(result.answer))
    if line := verification_line(result):
        st.caption(line)
    sources = result.citations if result.mode == "answered" else result.evidence
    if sources:
        pages = {c.n: f"[{c.n}] p.{c.page + 1}" for c in sources}
        st.pills("Sources", list(pages), format_func=pages.get, key=f"cite-{i}",
                 on_change=select_citation, args=(i,))  # fmt: skip
    st.caption(
        f"{result.mode} · {result.llm_calls} model calls · {result.total_s:.1f} s · "
        f"{shown(result.model)} · index version {result.table_version}"
    )
    if result.audit_hash:
        answer_tools(i, result)


def answer_tools(i: int, result: agent.AuditResult) -> None:
    cols = st.columns(3)
    for col, fmt, mime in ((cols[0], "html", "text/html"), (cols[1], "md", "text/markdown")):
        col.download_button(
            f"Workpaper ({fmt.upper()})", data=lambda fmt=fmt: workpaper_text(result.audit_hash, fmt),
            file_name=f"workpaper-{result.audit_id}.{fmt}", mime=mime, key=f"export-{fmt}-{i}",
        )  # fmt: skip
    signed = audit.signoff_state(result.audit_hash)
    cols[2].caption(
        f"Sign-off: {signed['verdict']} by {shown(signed['reviewer'])}" if signed else "Sign-off: none yet"
    )
    with st.expander("Feedback and sign-off"):
        rating = st.feedback("thumbs", key=f"rating-{i}")
        comment = st.text_input("Comment", key=f"comment-{i}")
        if st.button("Send feedback", key=f"send-{i}", disabled=rating is None):
            audit.append({"kind": "feedback", "answer_hash": result.audit_hash, "user": analyst,
                          "rating": "up" if rating == 1 else "down", "comment": comment})  # fmt: skip
            st.toast("Feedback recorded in the audit trail")
        verdict = st.selectbox("Verdict", audit.VERDICTS, key=f"verdict-{i}")
        if st.button("Sign off", key=f"signoff-{i}"):
            audit.signoff(result.audit_hash, analyst, verdict, comment)
            st.rerun()


def workpaper_text(answer_hash: str, fmt: str) -> str:
    record = audit.find(answer_hash)
    snapshots = workpaper.citation_snapshots(record, index)
    signed = audit.signoff_state(record["hash"])
    if fmt == "html":
        return workpaper.render_html(record, snapshots, signed)
    return workpaper.render_markdown(record, snapshots, signed)


# ----------------------------------------------------------------- the source viewer


def show_source(view: dict[str, Any]) -> None:
    result = state.history[view["answer"]]["result"]
    citation = next(c for c in result.evidence if c.n == view["n"])
    doc = next((d for d in documents if d["sha256"] == citation.doc_sha256), {})
    meta = " · ".join(str(v) for v in (citation.company, citation.form_type, citation.fiscal_year) if v)
    st.subheader(f"[{citation.n}] {shown(citation.doc_name)}")
    pages = doc.get("pages") or citation.page + 1
    st.caption(f"{shown(meta)} · page {view['page'] + 1} of {pages} · sha256 {citation.doc_sha256[:12]}…")
    back, ahead = st.columns(2)
    if back.button("◀ Previous page", disabled=view["page"] <= 0, width="stretch"):
        view["page"] -= 1
        st.rerun()
    if ahead.button("Next page ▶", disabled=view["page"] + 1 >= pages, width="stretch"):
        view["page"] += 1
        st.rerun()
    path = workpaper.stored_file(doc, citation.doc_sha256)
    if path is None:
        st.warning("The stored file of this filing is missing or has changed; only the quoted text is shown.")
    else:
        on_page = view["page"] in (citation.pages or [citation.page])
        boxes = [(f"[{citation.n}]", citation.bbox)] if on_page and view["page"] == citation.page else []
        st.image(workpaper.snapshot(path, view["page"], boxes), width="stretch", output_format="PNG")
    st.caption("Quoted text")
    st.text(citation.text)


# ----------------------------------------------------------------- Ask
with ask_tab:
    if not searchable:
        st.info(
            "The index is empty. Add a 10-K, 10-Q, 8-K or earnings release in the Library tab, "
            "or start with the bundled sample filing."
        )
        sample = settings.sample_filing
        if sample.is_file() and st.button(f"Ingest the sample filing ({sample.name})", type="primary"):
            queue_files([(sample, sample.name)])
    chat, source = st.columns([1, 1], gap="large")
    # The source column is filled first (the layout is the same): a clicked citation's page is
    # sent before the whole chat history is drawn again.
    with source:
        if state.view is not None:
            show_source(state.view)
        elif state.history:
            st.caption(
                "Pick a source under an answer to see its page here, with the quoted text highlighted."
            )
    with chat:
        for i, item in enumerate(state.history):
            with st.chat_message("user"):
                st.markdown(shown(item["question"]))
            with st.chat_message("assistant"):
                show_answer(i, item["result"])

question = st.chat_input("Ask about the filings…")
if question:
    with chat:
        with st.chat_message("user"):
            st.markdown(shown(question))
        with st.chat_message("assistant"):
            status = st.status("Retrieving evidence…", expanded=False)
            answer_box = st.empty()
            streamed, result = "", None
            for event in agent.stream(question, filters, index=index, pool=pool, user=analyst):
                if event.kind == "status":
                    status.update(label=event.text)
                    status.write(shown(event.text))
                elif event.kind == "token":
                    streamed += event.text
                    answer_box.markdown(shown(streamed))
                elif event.kind == "reset":
                    streamed = ""
                    answer_box.caption(shown(event.text))
                else:
                    result = event.result
            done = "Answered" if result.mode == "answered" else result.mode.replace("_", "-")
            status.update(label=f"{done} in {result.total_s:.1f} s", state="complete")
    state.history.append({"question": question, "result": result})
    cited = result.citations or result.evidence
    if cited:
        state.view = {"answer": len(state.history) - 1, "n": cited[0].n, "page": cited[0].page}
    st.rerun()


# ----------------------------------------------------------------- Library
with library_tab:
    state.setdefault("uploader", 0)
    uploads = st.file_uploader(
        "Add filings (PDF)", type=["pdf"], accept_multiple_files=True, key=f"uploads-{state.uploader}"
    )
    if uploads and st.button(f"Ingest {len(uploads)} file(s)", type="primary"):
        target = settings.data_dir / "uploads"
        target.mkdir(parents=True, exist_ok=True)
        accepted = []
        for upload in uploads:
            if upload.size > settings.max_file_mb * 1024 * 1024:
                st.error(f"{shown(upload.name)}: larger than {settings.max_file_mb} MB; not ingested")
                continue
            # Stored under a generated name; the user's filename is kept only as metadata.
            path = target / f"{uuid.uuid4().hex}.pdf"
            path.write_bytes(upload.getvalue())
            accepted.append((path, upload.name))
        if accepted:
            queue_files(accepted)
        state.uploader += 1
        st.rerun()

    @st.fragment(run_every=1.0)
    def ingestion_progress() -> None:
        jobs = worker.active()
        for job in jobs:
            finished, total = len(job.done), len(job.names)
            names = shown(", ".join(job.names))[:200]
            st.progress(finished / max(total, 1), text=f"Ingesting {finished}/{total}: {names}")
        for job in worker.jobs:
            for name, status, detail in job.done:
                if status == "failed":
                    st.error(f"{shown(name)}: {shown(detail)}")
        if state.get("active_jobs") and not jobs:
            state.active_jobs = 0
            st.rerun(scope="app")  # refresh the table and the scope lists
        state.active_jobs = len(jobs)

    ingestion_progress()

    if documents:
        st.subheader("Filings")
        st.dataframe(
            [
                {"company": d["company"], "form": d["form_type"], "fiscal year": d["fiscal_year"],
                 "period": d["fiscal_period"], "pages": d["pages"], "chunks": d["chunks"],
                 "status": d["status"], "reason": d["error"], "file": d["filename"],
                 "ingested at": d["ingested_at"]}
                for d in documents
            ],
            hide_index=True, width="stretch",
        )  # fmt: skip
        names = {f"{d['filename']} ({d['sha256'][:8]})": d for d in documents}
        picked = st.selectbox("Filing", list(names), key="picked")
        doc = names[picked]
        with st.form("metadata"):
            st.caption("Metadata (used for filters and citations)")
            left, right = st.columns(2)
            edited = {
                "company": left.text_input("Company", doc["company"] or ""),
                "ticker": right.text_input("Ticker", doc["ticker"] or ""),
                "cik": left.text_input("CIK", doc["cik"] or ""),
                "form_type": right.text_input("Form", doc["form_type"] or ""),
                "fiscal_year": left.number_input("Fiscal year", 1990, 2100, doc["fiscal_year"]),
                "fiscal_period": right.text_input("Fiscal period", doc["fiscal_period"] or ""),
                "period_end": left.text_input("Period end (YYYY-MM-DD)", doc["period_end"] or ""),
            }
            if st.form_submit_button("Save metadata"):
                changed = {
                    k: v for k, v in edited.items() if v != (doc[k] or ("" if k != "fiscal_year" else 2000))
                }
                if changed:
                    index.update_metadata(doc["sha256"], **changed)
                    st.toast(f"Saved: {', '.join(changed)}")
                    st.rerun()
        confirm = st.checkbox(
            f"Yes, delete {shown(doc['filename'])} and all its chunks", key="confirm-delete"
        )
        if st.button("Delete filing", disabled=not confirm):
            index.delete_document(doc["sha256"])
            state.view = None
            st.rerun()
    else:
        st.caption("No filings yet.")

freeze_the_loaded_heap()
