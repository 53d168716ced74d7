"""The sidebar: whether each model endpoint answers, the index, and the scope of the questions."""

from __future__ import annotations

from typing import Any

import streamlit as st

from compliance_auditor.llm.breakers import reset_breakers
from compliance_auditor.questions import by_company
from compliance_auditor.workbench.display import shown
from compliance_auditor.workbench.resources import Workbench, endpoint_health


def render(wb: Workbench) -> dict[str, Any] | None:
    """Draw the sidebar; returns the questions' filters (None: derive them)."""
    st.header("Model")
    _model_health(wb)
    st.header("Index")
    stats = wb.stats
    st.caption(
        f"{stats['searchable']} filings · {stats['pages']} pages · {stats['chunks']} chunks · "
        f"version {stats['version']}"
    )
    embedder = wb.index.embedder
    st.caption(f"Embeddings: {shown(embedder.name)} ({embedder.backend}, {embedder.device})")
    if wb.metrics_line:
        st.caption(shown(wb.metrics_line))
    st.header("Scope")
    searchable = wb.searchable
    # One entry per company, however its covers spelled the name; picking it takes every spelling.
    companies = {name: sorted({d["company"] for d in docs})
                 for name, docs in by_company(d for d in searchable if d["company"]).items()}  # fmt: skip
    picked = st.multiselect("Company", sorted(companies))
    scope = {
        "company": sorted({spelling for name in picked for spelling in companies[name]}),
        "form_type": st.multiselect("Form", sorted({d["form_type"] for d in searchable if d["form_type"]})),
        "fiscal_year": st.multiselect(
            "Fiscal year", sorted({d["fiscal_year"] for d in searchable if d["fiscal_year"]}, reverse=True)
        ),
        "item": st.text_input("Item (e.g. 7, 1A)").strip().upper(),
    }
    return {k: v for k, v in scope.items() if v} or None


def _model_health(wb: Workbench) -> None:
    pool = wb.pool
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
        reset_breakers()
        st.rerun()
