"""The Library tab: upload filings (ingested in the background), see them, correct their
metadata, delete them."""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from compliance_auditor.audit.access import record_access
from compliance_auditor.records import FILING_FIELDS, Identity
from compliance_auditor.workbench.display import shown
from compliance_auditor.workbench.resources import Workbench
from compliance_auditor.workbench.signin import allowed, permitted


def render_tab(wb: Workbench, identity: Identity) -> None:
    _uploads(wb, identity)
    _ingestion_progress(wb, identity)
    _landed_outside(wb, identity)
    if not wb.documents:
        st.caption("No filings yet.")
        return
    st.subheader("Filings")
    st.dataframe(
        [
            {"company": d["company"], "form": d["form_type"], "fiscal year": d["fiscal_year"],
             "period": d["fiscal_period"], "pages": d["pages"], "chunks": d["chunks"],
             "status": d["status"], "reason": d["error"], "file": d["filename"],
             "ingested at": d["ingested_at"], "ingested by": d.get("ingested_by") or ""}
            for d in wb.documents
        ],
        hide_index=True, width="stretch",
    )  # fmt: skip
    names = {f"{d['filename']} ({d['sha256'][:8]})": d for d in wb.documents}
    doc = names[st.selectbox("Filing", list(names), key="picked")]
    _metadata_form(wb, doc, identity)
    cannot = permitted(identity, "delete_filing")
    confirm = st.checkbox(f"Yes, delete {shown(doc['filename'])} and all its chunks", key="confirm-delete")
    if st.button("Delete filing", disabled=not confirm or bool(cannot), help=cannot or None) and allowed(
        identity, "delete_filing"
    ):
        wb.index.delete_document(doc["sha256"])
        record_access(
            "changed", identity, "delete_filing", f"deleted {doc['filename']} (sha256 {doc['sha256']})"
        )
        st.session_state.view = None
        st.rerun()


def _uploads(wb: Workbench, identity: Identity) -> None:
    """The uploader: files are stored under generated names, the user's filename kept as metadata."""
    state, settings = st.session_state, wb.settings
    if cannot := permitted(identity, "upload"):
        st.caption(shown(cannot))
        return
    state.setdefault("uploader", 0)
    uploads = st.file_uploader(
        "Add filings (PDF)", type=["pdf"], accept_multiple_files=True, key=f"uploads-{state.uploader}"
    )
    if not uploads or not st.button(f"Ingest {len(uploads)} file(s)", type="primary"):
        return
    if not allowed(identity, "upload"):
        return
    target = settings.data_dir / "uploads"
    target.mkdir(parents=True, exist_ok=True)
    accepted = []
    for upload in uploads:
        if upload.size > settings.max_file_mb * 1024 * 1024:
            st.error(f"{shown(upload.name)}: larger than {settings.max_file_mb} MB; not ingested")
            continue
        path = target / f"{uuid.uuid4().hex}.pdf"
        path.write_bytes(upload.getvalue())
        accepted.append((path, upload.name))
    if accepted:
        wb.queue_files(accepted, identity.label)
    state.uploader += 1
    st.rerun()


def _ingestion_progress(wb: Workbench, identity: Identity) -> None:
    # Polled each second only while something is being ingested: an idle page has no timer
    # rerunning it (which costs every open session CPU, and can swallow a click meanwhile).
    @st.fragment(run_every=1.0 if wb.worker.active() else None)
    def ingestion_progress() -> None:
        state = st.session_state
        jobs = wb.worker.active()
        # The worker is shared by every session: others' uploads are counted, never named (their
        # file names may belong to another workspace).
        if others := sum(1 for job in jobs if job.by != identity.label):
            st.caption(f"{others} upload batch(es) by others being ingested")
        for job in (j for j in jobs if j.by == identity.label):
            finished, total = len(job.done), len(job.names)
            names = shown(", ".join(job.names))[:200]
            st.progress(finished / max(total, 1), text=f"Ingesting {finished}/{total}: {names}")
        for job in (j for j in wb.worker.jobs if j.by == identity.label):
            for name, status, detail in job.done:
                if status == "failed":
                    st.error(f"{shown(name)}: {shown(detail)}")
        if state.get("active_jobs") and not jobs:
            state.active_jobs = 0
            st.rerun(scope="app")  # refresh the table and the scope lists
        state.active_jobs = len(jobs)

    ingestion_progress()


def _landed_outside(wb: Workbench, identity: Identity) -> None:
    """Tells an uploader which of their filings were ingested under a company none of their
    workspaces includes: they are stored, but hidden from them until an admin acts."""
    for doc in (d for d in wb.outside if d.get("ingested_by") == identity.label):
        st.warning(
            f"{shown(doc['filename'])} was ingested as {shown(doc['company'] or 'no company')}, which "
            "none of your workspaces includes, so you cannot see it. An admin can correct its "
            "company or add the company to your workspace."
        )


def _metadata_form(wb: Workbench, doc: dict[str, Any], identity: Identity) -> None:
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
        assert tuple(edited) == FILING_FIELDS
        cannot = permitted(identity, "edit_metadata")
        if st.form_submit_button("Save metadata", disabled=bool(cannot), help=cannot or None) and allowed(
            identity, "edit_metadata"
        ):
            changed = {
                k: v for k, v in edited.items() if v != (doc[k] or ("" if k != "fiscal_year" else 2000))
            }
            if changed:
                wb.index.update_metadata(doc["sha256"], **changed)
                edits = ", ".join(f"{k}: {doc[k]!r} -> {v!r}" for k, v in changed.items())
                record_access(
                    "changed", identity, "edit_metadata", f"{doc['filename']} ({doc['sha256']}): {edits}"
                )
                st.toast(f"Saved: {', '.join(changed)}")
                st.rerun()
