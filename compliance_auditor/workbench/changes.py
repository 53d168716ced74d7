"""The Changes tab: what a company added, removed or reworded in an Item of its 10-K since an
earlier one. Added and removed units come first; any unit opens its page in the old and the new
filing side by side, highlighted, with the changed words marked; the report downloads as a
workpaper. The comparison needs no model: the same two filings give the same report.
"""

from __future__ import annotations

import html
from typing import Any

import streamlit as st

from compliance_auditor.disclosures.indexed import annual_reports, indexed_changes
from compliance_auditor.disclosures.items import DisclosureError
from compliance_auditor.disclosures.records import DisclosureReport, DisclosureUnit, UnitChange, WordSpan
from compliance_auditor.disclosures.report import unit_label, unit_title
from compliance_auditor.disclosures.workpaper import report_html
from compliance_auditor.snapshots import snapshot, stored_file
from compliance_auditor.workbench.display import shown
from compliance_auditor.workbench.resources import Workbench

ITEMS = {"1A": "1A Risk factors", "1": "1 Business", "3": "3 Legal proceedings", "7": "7 MD&A",
         "7A": "7A Market risk", "9A": "9A Controls and procedures"}  # fmt: skip
_MARKS = {"added": "＋", "removed": "－", "changed": "≠", "unchanged": "↕"}


def render_tab(wb: Workbench) -> None:
    picked = _pick(wb)
    if picked is None:
        return
    report = _report(wb, *picked)
    if report is None:
        return
    for item in report.items:
        c = item.counts
        st.markdown(f"**Item {item.item}** {shown(item.new_title)}: {c['added']} added, "
                    f"{c['removed']} removed, {c['changed']} changed, {c['unchanged']} unchanged "
                    f"({c['moved']} moved)")  # fmt: skip
    changes = [c for item in report.items for c in item.changes if c.status != "unchanged" or c.moved]
    if not changes:
        st.success("Nothing was added, removed, reworded or moved.")
    else:
        key = f"changes-unit-{report.old.doc_sha256[:8]}-{report.new.doc_sha256[:8]}"
        at = st.selectbox(
            "Open a unit", range(len(changes)), format_func=lambda i: _label(changes[i]), key=key
        )
        _side_by_side(wb, changes[at])
    st.download_button("Change report workpaper (HTML)", data=lambda: report_html(report),
                       file_name=f"changes-{report.old.doc_name}-{report.new.doc_name}.html",
                       mime="text/html", key="changes-export")  # fmt: skip


def _pick(wb: Workbench) -> tuple[str, str, tuple[str, ...]] | None:
    """The earlier and the later 10-K of one company, and the Items to compare."""
    companies = {c: docs for c, docs in annual_reports(wb.index).items() if len(docs) >= 2}
    if not companies:
        st.caption("Changes compare two 10-Ks of one company: add its 10-Ks for two years in the Library.")
        return None
    company = st.selectbox("Company", list(companies), format_func=shown, key="changes-company")
    docs = {d["sha256"]: d for d in companies[company]}
    label = {s: shown(f"FY{d['fiscal_year']} · {d['filename']}") for s, d in docs.items()}
    shas = list(docs)
    left, right = st.columns(2)
    old = left.selectbox("Earlier 10-K", shas[:-1], index=len(shas) - 2, format_func=label.__getitem__,
                         key="changes-old")  # fmt: skip
    later = [s for s in shas if docs[s]["fiscal_year"] > docs[old]["fiscal_year"]]
    new = right.selectbox("Later 10-K", later, format_func=label.__getitem__, key="changes-new")
    items = st.multiselect("Items", list(ITEMS), default=["1A"], format_func=ITEMS.__getitem__,
                           key="changes-items")  # fmt: skip
    return (old, new, tuple(items)) if items and new else None


def _report(wb: Workbench, old: str, new: str, items: tuple[str, ...]) -> DisclosureReport | None:
    try:
        with st.status("Comparing the two filings…") as status:
            report = indexed_changes(wb.index, old, new, items)
            status.update(label="Compared", state="complete")
        return report
    except DisclosureError as exc:
        st.error(f"These filings cannot be compared: {exc}")
        return None


def _label(change: UnitChange) -> str:
    unit = change.new or change.old
    assert unit is not None
    status = "moved" if change.status == "unchanged" else change.status
    return f"{_MARKS[change.status]} {status} · Item {unit.item} {unit_label(unit)} · {unit_title(unit, 80)}"


def _side_by_side(wb: Workbench, change: UnitChange) -> None:
    """The unit's page in each filing that has it, highlighted; the changed words between them."""
    if change.status == "changed":
        st.html(f"<div style='line-height:1.6'>{_marked_words(change.diff)}</div>")
        st.caption(f"+{change.words_added} / −{change.words_removed} words · paired by {change.matched_by}")
    old_column, new_column = st.columns(2)
    for column, unit, side in ((old_column, change.old, "Earlier"), (new_column, change.new, "Later")):
        with column:
            if unit is None:
                st.caption(f"{side}: not in this filing")
                continue
            st.caption(f"{side}: {shown(unit.doc_name)}, {unit_label(unit)}")
            _pages(wb, unit)


def _pages(wb: Workbench, unit: DisclosureUnit) -> None:
    doc: dict[str, Any] | None = wb.index.get_document(unit.doc_sha256)
    path = stored_file(doc, unit.doc_sha256)
    if path is None:
        st.warning("The stored file of this filing is missing or has changed.")
        st.text(unit.text)
        return
    for page in sorted(set(unit.pages))[:2]:
        boxes = [("", b.box) for b in unit.boxes if b.page == page]
        st.image(snapshot(path, page, boxes), width="stretch", output_format="PNG")


def _marked_words(spans: list[WordSpan]) -> str:
    """The changed unit's words, inserted ones marked green, deleted ones struck through in red;
    every word escaped, so a filing's text never becomes markup."""
    styles = {"insert": "<ins style='background:#c8e6c9;text-decoration:none'>{}</ins>",
              "delete": "<del style='background:#ffcdd2'>{}</del>", "equal": "{}"}  # fmt: skip
    return " ".join(styles[s.op].format(html.escape(s.text)) for s in spans)
