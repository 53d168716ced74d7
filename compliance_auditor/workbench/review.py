"""The Review tab: the answers others asked, newest first, with their sign-off state; open one
to check it against its pages and sign it off. A reviewer never signs off their own (on a
loopback-only app its one user reviews their own work: there is nobody else)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from compliance_auditor.audit.chain import log_path, records
from compliance_auditor.audit.signoff import signoff_states
from compliance_auditor.records import AnswerRecord, Identity
from compliance_auditor.workbench.answers import answer_tools, show_checked_answer, show_source
from compliance_auditor.workbench.display import shown
from compliance_auditor.workbench.resources import Workbench

SHOWN = 200
"""The latest answers listed."""


def render_tab(wb: Workbench, identity: Identity) -> None:
    trail = log_path(wb.settings.audit_log)
    stamp = (trail.stat().st_size, trail.stat().st_mtime_ns) if trail.exists() else (0, 0)
    answers = [
        a for a in _latest_answers(str(trail), stamp)
        if (identity.method == "os" or not _ours(a, identity)) and _reviewable(a, identity, wb.visible)
    ]  # fmt: skip
    if not answers:
        st.caption("No answers from others to review yet.")
        return
    states = signoff_states([a.hash for a in answers], trail)
    st.dataframe(
        [{"asked": a.ts[:19].replace("T", " "), "by": a.user, "question": a.question, "mode": a.mode,
          "sign-off": f"{states[a.hash].verdict} by {states[a.hash].reviewer}" if a.hash in states else ""}
         for a in answers],
        hide_index=True, width="stretch",
    )  # fmt: skip
    labels = {a.hash: f"{a.user}: {a.question[:90]}" for a in answers}
    picked = st.selectbox("Answer to review", list(labels), format_func=labels.__getitem__, key="review-pick")
    record = next(a for a in answers if a.hash == picked)
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.caption(f"Asked by **{shown(record.user)}** · {record.ts[:19]} · answer {record.hash[:12]}")
        show_checked_answer(record)
        sources = record.citations or record.evidence
        pages = {c.n: f"[{c.n}] p.{c.page + 1}" for c in sources}
        n = st.pills("Sources", list(pages), format_func=pages.__getitem__, key=f"review-cite-{picked[:12]}")
        answer_tools(wb, f"review-{picked[:12]}", record, identity)
    if sources:
        citation = next(c for c in sources if c.n == (n if n is not None else sources[0].n))
        view = st.session_state.setdefault("review-view", {})
        if view.get("hash") != picked or view.get("n") != citation.n:
            view.update(hash=picked, n=citation.n, page=citation.page)
        with right:
            show_source(wb, view, record, key="review")


def _reviewable(answer: AnswerRecord, identity: Identity, visible: set[str]) -> bool:
    """A workspace's reviewer sees answers from its filings only; an answer that found no
    evidence at all (its question may name another workspace's company) only when asked by
    someone sharing one of their workspaces."""
    passages = [*answer.citations, *answer.evidence]
    if not all(p.doc_sha256 in visible for p in passages):
        return False
    if passages or identity.workspaces is None:
        return True
    asked_in = answer.identity.workspaces if answer.identity else None
    return asked_in is not None and bool(set(asked_in) & set(identity.workspaces))


def _ours(answer: AnswerRecord, identity: Identity) -> bool:
    if answer.identity is not None:
        return (answer.identity.subject, answer.identity.issuer) == (identity.subject, identity.issuer)
    return answer.user in {identity.subject, identity.name}


@st.cache_data(show_spinner=False, max_entries=4)
def _latest_answers(trail: str, stamp: tuple[int, int]) -> list[AnswerRecord]:
    """The trail's latest questions (not procedure cells), newest first; read again when it grows."""
    answers = [r for r in records(Path(trail)) if r.get("kind") == "answer" and not r.get("cell")]
    return [AnswerRecord.model_validate(r) for r in reversed(answers[-SHOWN:])]
