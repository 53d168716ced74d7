"""The Tie-out tab: a filing's statements footed and tied to each other, mismatches first; any
check opens its page with every figure boxed (components green, the total blue), and the whole
tie-out downloads as a workpaper.

The checks were made at ingestion and stored with the index; a filing indexed before the tie-out
existed (or by an older version of it) is checked when first opened here, then stored.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from compliance_auditor.records import FilingTieOut, TieCheck
from compliance_auditor.snapshots import snapshot, stored_file
from compliance_auditor.tieout.prior import indexed_prior_period_checks
from compliance_auditor.tieout.report import (
    OUTCOME_LABELS,
    PRIOR_GROUP,
    boxes_by_page,
    check_title,
    explanation,
    grouped,
    tally,
)
from compliance_auditor.tieout.stored import TIEOUT_VERSION, TieOutUnavailable, filing_tieout
from compliance_auditor.workbench.display import shown
from compliance_auditor.workbench.resources import Workbench
from compliance_auditor.workpaper import tieout_html

_MARKS = {"off": "✗", "revised": "⟳", "unchecked": "◦", "ties": "✓"}
LEGEND = (
    "✗ does not tie · ⟳ revised or restated since the earlier filing · ◦ could not be checked · ✓ ties · "
    "boxes: components green, total blue"
)


def render_tab(wb: Workbench) -> None:
    filings = {d["sha256"]: d for d in wb.searchable}
    if not filings:
        st.caption("No filings yet: add some in the Library tab.")
        return
    sha = st.selectbox("Filing", list(filings), format_func=lambda s: shown(filings[s]["filename"]),
                       key="tieout-filing")  # fmt: skip
    tieout = _tieout(wb, sha)
    if tieout is None:
        return
    if not tieout.checks:
        st.info("No primary statement (income statement, balance sheet, cash flow) was found in this filing.")
        return
    checks = tieout.checks + indexed_prior_period_checks(wb.index, sha)
    st.caption(f"{tally(checks)} · index version {tieout.index_version} · {LEGEND}")
    ordered = [c for _, found in grouped(checks) for c in found]
    for statement, found in grouped(checks):
        notable = any(c.outcome in ("off", "revised") for c in found)
        title = statement.capitalize() + (_earlier_name(wb, found[0]) if statement == PRIOR_GROUP else "")
        with st.expander(f"{title}: {tally(found)}", expanded=notable):
            st.dataframe(_rows(found), hide_index=True, width="stretch")
    picked = st.selectbox("Open a check", range(len(ordered)), format_func=lambda i: _label(ordered[i]),
                          key=f"tieout-check-{sha}")  # fmt: skip
    _show_check(wb, tieout, ordered[picked])
    st.download_button("Tie-out workpaper (HTML)", data=lambda: _workpaper(wb, tieout),
                       file_name=f"tieout-{tieout.doc_name or sha[:12]}.html", mime="text/html",
                       key=f"tieout-export-{sha}")  # fmt: skip


def _tieout(wb: Workbench, sha: str) -> FilingTieOut | None:
    stored = wb.index.tieout(sha)
    if stored is not None and stored.version == TIEOUT_VERSION:
        return stored
    try:
        with st.status("Tying out the statements of this filing…") as status:
            tieout = filing_tieout(wb.index, sha)
            status.update(label=tally(tieout.checks), state="complete")
        return tieout
    except TieOutUnavailable as exc:
        st.error(f"This filing cannot be tied out: {exc}")
        return None


def _label(check: TieCheck) -> str:
    return f"{_MARKS[check.outcome]} {shown(check_title(check))} · {check.statement}"


def _rows(checks: list[TieCheck]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"": _MARKS[c.outcome], "total": check_title(c), "outcome": OUTCOME_LABELS[c.outcome],
          "arithmetic / reason": explanation(c)} for c in checks]
    )  # fmt: skip


def _show_check(wb: Workbench, tieout: FilingTieOut, check: TieCheck) -> None:
    """The check's arithmetic, column by column, then each page it involves with its figures boxed
    (a prior-period check's in both filings)."""
    st.markdown(f"**{shown(check_title(check))}** · {check.statement} · {OUTCOME_LABELS[check.outcome]}")
    if check.reason:
        st.caption(shown(check.reason))
    for line in check.arithmetic:
        st.text(line)
    pages = boxes_by_page(check, check.column if check.outcome == "off" else 0)
    for (sha, page), boxes in list(pages.items())[:3]:
        doc = next((d for d in wb.documents if d["sha256"] == sha), None)
        path = stored_file(doc, sha)
        name = doc["filename"] if doc else sha[:12]
        if path is None:
            st.warning(
                f"The stored file of {shown(name)} is missing or has changed; its page cannot be shown."
            )
            continue
        st.caption(f"Page {page + 1}" + ("" if sha == tieout.doc_sha256 else f" of {shown(name)}"))
        st.image(snapshot(path, page, boxes), width="stretch", output_format="PNG")


def _earlier_name(wb: Workbench, check: TieCheck) -> str:
    sha = check.components[0].doc_sha256 if check.components else ""
    doc = next((d for d in wb.documents if d["sha256"] == sha), None)
    return f" ({shown(doc['filename'])})" if doc else ""


def _workpaper(wb: Workbench, tieout: FilingTieOut) -> str:
    doc = next((d for d in wb.documents if d["sha256"] == tieout.doc_sha256), None)
    return tieout_html(tieout, stored_file(doc, tieout.doc_sha256))
