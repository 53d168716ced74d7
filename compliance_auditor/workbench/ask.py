"""The Ask tab: the chat history beside the page viewer, and a new question answered live."""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from compliance_auditor.agent.graph import stream
from compliance_auditor.records import AnswerRecord, Identity
from compliance_auditor.workbench.answers import show_answer, show_source
from compliance_auditor.workbench.display import shown
from compliance_auditor.workbench.resources import Workbench
from compliance_auditor.workbench.signin import allowed, permitted


def render_tab(wb: Workbench, identity: Identity) -> DeltaGenerator:
    """Draw the tab; returns the chat column, where a new question's answer goes."""
    state = st.session_state
    if not wb.searchable:
        st.info(
            "The index is empty. Add a 10-K, 10-Q, 8-K or earnings release in the Library tab, "
            "or start with the bundled sample filing."
        )
        sample = wb.settings.sample_filing
        cannot = permitted(identity, "upload")
        label = f"Ingest the sample filing ({sample.name})"
        offered = sample.is_file() and st.button(
            label, type="primary", disabled=bool(cannot), help=cannot or None
        )
        if offered and allowed(identity, "upload"):
            wb.queue_files([(sample, sample.name)], identity.label)
    chat, source = st.columns([1, 1], gap="large")
    # The source column is filled first (the layout is the same): a clicked citation's page is
    # sent before the whole chat history is drawn again.
    with source:
        if state.view is not None:
            show_source(wb, state.view, state.history[state.view["answer"]]["result"])
        elif state.history:
            st.caption(
                "Pick a source under an answer to see its page here, with the quoted text highlighted."
            )
    with chat:
        for i, item in enumerate(state.history):
            with st.chat_message("user"):
                st.markdown(shown(item["question"]))
            with st.chat_message("assistant"):
                show_answer(wb, i, item["result"], identity)
    return chat


def answer_question(
    wb: Workbench, chat: DeltaGenerator, question: str, filters: dict[str, Any] | None, identity: Identity
) -> None:
    """Ask the agent, streaming its steps and answer into the chat; then open the first source."""
    with chat:
        with st.chat_message("user"):
            st.markdown(shown(question))
        with st.chat_message("assistant"):
            result = _stream_answer(wb, question, filters, identity)
    state = st.session_state
    state.history.append({"question": question, "result": result})
    cited = result.citations or result.evidence
    if cited:
        state.view = {"answer": len(state.history) - 1, "n": cited[0].n, "page": cited[0].page}
    st.rerun()


def _stream_answer(
    wb: Workbench, question: str, filters: dict[str, Any] | None, identity: Identity
) -> AnswerRecord:
    status = st.status("Retrieving evidence…", expanded=False)
    answer_box = st.empty()
    streamed, result = "", None
    for event in stream(question, filters, index=wb.index, pool=wb.pool, identity=identity):
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
    assert result is not None
    done = "Answered" if result.mode == "answered" else result.mode.replace("_", "-")
    status.update(label=f"{done} in {result.latency_s:.1f} s", state="complete")
    return result
