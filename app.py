"""Financial Compliance Auditor: the browser workbench.

Upload filings into the local index and search it for evidence: every result names the
filing, the page and the box on the page. Run it with ``./launch.sh``.
"""

from __future__ import annotations

import uuid

import streamlit as st

import config
import database
import ingest

settings = config.get_settings()
st.set_page_config(page_title="Financial Compliance Auditor", page_icon="📑", layout="wide")


@st.cache_resource(show_spinner="Loading the embedding model…")
def get_index(db_uri: str) -> database.AuditIndex:
    return database.AuditIndex(db_uri, embedder=database.get_embedder())


index = get_index(settings.db_uri)
documents = index.list_documents()
searchable = [d for d in documents if d["status"] in database.SEARCHABLE_STATUS]

# ----------------------------------------------------------------- sidebar: library and scope
with st.sidebar:
    st.header("Library")
    uploads = st.file_uploader("Add filings (PDF)", type=["pdf"], accept_multiple_files=True, key="uploads")
    if uploads and st.button("Ingest", type="primary"):
        target = settings.data_dir / "uploads"
        target.mkdir(parents=True, exist_ok=True)
        saved = []
        for upload in uploads:
            # Stored under a generated name; the user's filename is kept only as metadata.
            path = target / f"{uuid.uuid4().hex}.pdf"
            path.write_bytes(upload.getvalue())
            saved.append((path, upload.name))
        with st.status(f"Ingesting {len(saved)} filing(s)…", expanded=True) as status:
            for path, name in saved:
                summary = ingest.ingest_paths([path], index, show_progress=False, display_names={path: name})
                if summary.failures:
                    st.error(f"{name}: {summary.failures[0][1]}")
                elif summary.skipped:
                    st.info(f"{name}: already indexed")
                else:
                    st.write(f"{name}: {summary.pages} pages, {summary.chunks} chunks")
            status.update(label="Ingestion finished", state="complete")
        st.rerun()

    stats = index.stats()
    st.caption(
        f"{stats['searchable']} filings · {stats['pages']} pages · {stats['chunks']} chunks · "
        f"index version {stats['version']}"
    )
    st.caption(f"Embeddings: {index.embedder.name} ({index.embedder.backend}, {index.embedder.device})")

    st.header("Scope")
    companies = sorted({d["company"] for d in searchable if d["company"]})
    forms = sorted({d["form_type"] for d in searchable if d["form_type"]})
    years = sorted({d["fiscal_year"] for d in searchable if d["fiscal_year"]}, reverse=True)
    scope = {
        "company": st.multiselect("Company", companies),
        "form_type": st.multiselect("Form", forms),
        "fiscal_year": st.multiselect("Fiscal year", years),
        "item": st.text_input("Item (e.g. 7, 1A)").strip().upper(),
    }
    mode = st.radio("Search mode", ["hybrid", "vector", "fts"], horizontal=True)

# ----------------------------------------------------------------- main: evidence search
st.title("Financial Compliance Auditor")

if not searchable:
    st.info(
        "The index is empty. Add a 10-K, 10-Q, 8-K or earnings release in the sidebar, "
        "or ingest from a terminal: `python ingest.py path/to/filings/`."
    )

query = st.chat_input("Search the filings for evidence…")
if query:
    filters = {k: v for k, v in scope.items() if v} or None
    result = index.search(query, k=settings.search_k, filters=filters, mode=mode)
    shown = ", ".join(f"{k}={v}" for k, v in result.filters.items()) or "none"
    origin = "derived from the question" if result.filters_derived else "from the sidebar"
    st.caption(f"{len(result.hits)} results · filter {origin}: {shown} · {result.seconds * 1000:.0f} ms")
    if result.relaxed:
        st.caption(f"No match with the full filter; relaxed: {', '.join(result.relaxed)}")
    if not result.hits:
        st.warning("No evidence found. Try other words or a wider scope.")
    for n, hit in enumerate(result.hits, 1):
        label = f"[{n}] {hit.doc_name} · page {hit.page + 1}"
        meta = " · ".join(str(v) for v in (hit.company, hit.form_type, hit.fiscal_year) if v)
        with st.expander(f"{label} · {meta}", expanded=n <= 3):
            st.text(hit.text)  # plain text: filing content is never rendered as HTML
            x0, top, x1, bottom = hit.bbox
            st.caption(
                f"Box (points from top-left): x {x0:.0f}–{x1:.0f}, y {top:.0f}–{bottom:.0f}"
                f"{' · Item ' + hit.item if hit.item else ''} · score {hit.score:.4f}"
            )

# ----------------------------------------------------------------- filings table
if documents:
    st.subheader("Filings")
    st.dataframe(
        [
            {
                "company": d["company"],
                "form": d["form_type"],
                "fiscal year": d["fiscal_year"],
                "pages": d["pages"],
                "chunks": d["chunks"],
                "status": d["status"],
                "error": d["error"],
                "file": d["filename"],
                "ingested at": d["ingested_at"],
            }
            for d in documents
        ],
        hide_index=True,
        width="stretch",
    )
    names = {f"{d['filename']} ({d['sha256'][:8]})": d["sha256"] for d in documents}
    doomed = st.selectbox("Delete a filing", ["—", *names])
    if doomed != "—" and st.button("Delete", type="secondary"):
        index.delete_document(names[doomed])
        st.rerun()
