"""One answer in the chat (its text, verdict, sources, workpaper and sign-off) and the page viewer
that opens a cited source beside it, with the quoted text highlighted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from compliance_auditor.audit.replay import read_answer
from compliance_auditor.audit.signoff import feedback, signoff, signoff_state
from compliance_auditor.records import VERDICTS, AnswerRecord, Identity
from compliance_auditor.snapshots import citation_snapshots, snapshot, stored_file
from compliance_auditor.workbench.display import shown
from compliance_auditor.workbench.marks import marked_answer, notices, problems, summary_line
from compliance_auditor.workbench.resources import Workbench
from compliance_auditor.workbench.signin import allowed, permitted
from compliance_auditor.workpaper import render_html, render_markdown, stored_tieouts


def select_citation(i: int) -> None:
    """Open the citation picked under answer `i` in the page viewer."""
    state = st.session_state
    n = state.get(f"cite-{i}")
    if n is not None:
        result = state.history[i]["result"]
        citation = next(c for c in result.evidence if c.n == n)
        state.view = {"answer": i, "n": n, "page": citation.page}


def show_answer(wb: Workbench, i: int, result: AnswerRecord, identity: Identity) -> None:
    """The answer first, its problems marked where they are, then one summary line, the sources,
    and one notice for how it came about (no model, a remote endpoint, passages left out)."""
    show_checked_answer(result)
    sources = result.citations if result.mode == "answered" else result.evidence
    if sources:
        pages = {c.n: f"[{c.n}]{'⁺' if c.added else ''} p.{c.page + 1}" for c in sources}
        st.pills("Sources", list(pages), format_func=pages.__getitem__, key=f"cite-{i}",
                 on_change=select_citation, args=(i,))  # fmt: skip
    if situation := notices(result):
        st.warning(" · ".join(shown(n) for n in situation))
    st.caption(
        f"{result.mode} · {result.llm_calls} model calls · {result.latency_s:.1f} s · "
        f"{shown(result.model)} · index version {result.table_version}"
    )
    if result.hash:
        answer_tools(wb, i, result, identity)


def show_checked_answer(result: AnswerRecord) -> None:
    """The answer with its problems marked inline, the check's summary line, and the problems."""
    st.markdown(marked_answer(result))
    if line := summary_line(result):
        st.caption(line)
    if found := problems(result):
        with st.expander(f"{len(found)} problem(s) found by the check"):
            st.markdown("\n".join(f"- {shown(p)}" for p in found))


def answer_tools(wb: Workbench, i: int | str, result: AnswerRecord, identity: Identity) -> None:
    """The workpaper downloads, the sign-off state, feedback and sign-off; `i` keys the widgets."""
    cols = st.columns(3)
    for col, fmt, mime in ((cols[0], "html", "text/html"), (cols[1], "md", "text/markdown")):
        col.download_button(
            f"Workpaper ({fmt.upper()})", data=_workpaper_later(wb, result.hash, fmt),
            file_name=f"workpaper-{result.id}.{fmt}", mime=mime, key=f"export-{fmt}-{i}",
        )  # fmt: skip
    signed = signoff_state(result.hash)
    cols[2].caption(
        f"Sign-off: {signed.verdict} by {shown(signed.reviewer)}" if signed else "Sign-off: none yet"
    )
    with st.expander("Feedback and sign-off"):
        rating = st.feedback("thumbs", key=f"rating-{i}")
        comment = st.text_input("Comment", key=f"comment-{i}")
        if st.button("Send feedback", key=f"send-{i}", disabled=rating is None):
            feedback(result.hash, identity.label, "up" if rating == 1 else "down", comment, identity=identity)
            st.toast("Feedback recorded in the audit trail")
        verdict = st.selectbox("Verdict", VERDICTS, key=f"verdict-{i}")
        author = result.identity or result.user
        cannot = permitted(identity, "sign_off", author)
        if st.button("Sign off", key=f"signoff-{i}", disabled=bool(cannot), help=cannot or None) and allowed(
            identity, "sign_off", author
        ):
            signoff(result.hash, identity.label, verdict, comment, identity=identity)
            st.rerun()


def _workpaper_later(wb: Workbench, answer_hash: str, fmt: str) -> Callable[[], str]:
    """The workpaper, made only when the analyst clicks to download it."""
    return lambda: workpaper_text(wb, answer_hash, fmt)


def workpaper_text(wb: Workbench, answer_hash: str, fmt: str) -> str:
    """The workpaper of an answer as the audit trail holds it, as HTML or Markdown."""
    record = read_answer(answer_hash)
    snapshots = citation_snapshots(record, wb.index)
    signed = signoff_state(record.hash)
    if fmt == "html":
        cited = stored_tieouts(wb.index, [c.doc_sha256 for c in record.citations or record.evidence[:1]])
        return render_html(record, snapshots, signed, cited)
    return render_markdown(record, snapshots, signed)


def show_source(wb: Workbench, view: dict[str, Any], result: AnswerRecord, key: str = "ask") -> None:
    """The cited page (`view`: the citation `n` and the `page` shown), with the citation's box
    highlighted, and buttons to step through pages; `key` tells apart viewers on one page."""
    citation = next(c for c in [*result.citations, *result.evidence] if c.n == view["n"])
    doc = next((d for d in wb.documents if d["sha256"] == citation.doc_sha256), {})
    meta = " · ".join(str(v) for v in (citation.company, citation.form_type, citation.fiscal_year) if v)
    st.subheader(f"[{citation.n}] {shown(citation.doc_name)}")
    pages = doc.get("pages") or citation.page + 1
    st.caption(f"{shown(meta)} · page {view['page'] + 1} of {pages} · sha256 {citation.doc_sha256[:12]}…")
    back, ahead = st.columns(2)
    if back.button("◀ Previous page", disabled=view["page"] <= 0, width="stretch", key=f"{key}-back"):
        view["page"] -= 1
        st.rerun()
    if ahead.button("Next page ▶", disabled=view["page"] + 1 >= pages, width="stretch", key=f"{key}-ahead"):
        view["page"] += 1
        st.rerun()
    path = stored_file(doc, citation.doc_sha256)
    if path is None:
        st.warning("The stored file of this filing is missing or has changed; only the quoted text is shown.")
    else:
        on_page = view["page"] in (citation.pages or [citation.page])
        boxes = [(f"[{citation.n}]", citation.bbox)] if on_page and view["page"] == citation.page else []
        st.image(snapshot(path, view["page"], boxes), width="stretch", output_format="PNG")
    st.caption("Quoted text")
    st.text(citation.text)
