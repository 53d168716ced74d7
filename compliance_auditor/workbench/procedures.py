"""The Procedures tab: run a checklist over filings, watch it, open any cell of its matrix with
its answer and highlighted page, sign it off, and export the workpaper.

Runs work in a background process of their own (`procedures.cli.start_background`), so they go
on when the browser closes or the app restarts; this tab only reads what they write.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from compliance_auditor.audit.replay import read_answer
from compliance_auditor.procedures.cli import start_background
from compliance_auditor.procedures.library import Listed, list_procedures, procedure_files
from compliance_auditor.procedures.matrix import Matrix, build_matrix
from compliance_auditor.procedures.report import gather
from compliance_auditor.procedures.review import CellReview, reviews, sign_off, summary
from compliance_auditor.procedures.runs import FilingRef, RunBusy, RunSpec, RunStore, Scope
from compliance_auditor.procedures.scope import ScopeError, resolve_among
from compliance_auditor.procedures.workbook import STATUS_FILLS, workbook_bytes
from compliance_auditor.procedures.workpaper import run_workpaper_html
from compliance_auditor.questions import by_company
from compliance_auditor.records import VERDICTS, Identity
from compliance_auditor.team.roles import NotAllowed
from compliance_auditor.workbench import procedure_admin
from compliance_auditor.workbench.answers import show_checked_answer, show_source
from compliance_auditor.workbench.display import shown
from compliance_auditor.workbench.resources import Workbench
from compliance_auditor.workbench.signin import allowed, permitted

_ACTIVE = ("queued", "running")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEGEND = (
    "✓ verified · ! numbers unverified · ◦ evidence only (no model) · ∅ not found · ✗ error · "
    "⚠ the next year's filing reports this year differently · ✔ signed off (by) · ⟲ sign-off lapsed"
)


def render_tab(wb: Workbench, identity: Identity) -> None:
    store = RunStore(wb.settings.runs_dir)
    visible = wb.visible  # a workspace sees the runs over its filings only
    run_ids = [
        r for r in store.run_ids() if all(f.doc_sha256 in visible for f in _spec(store.runs_dir, r).filings)
    ]
    with st.expander("New run", expanded=not run_ids):
        _new_run(wb, store, identity)
    procedure_admin.render(wb, identity)
    if not run_ids:
        st.caption("No runs yet: pick a procedure and a scope above, then start a run.")
        return
    run_id = st.selectbox("Run", run_ids, format_func=lambda r: _run_label(store, r), key="run")
    spec = _spec(wb.settings.runs_dir, run_id)
    _progress(store, spec, identity)
    cells = store.cells(run_id)
    matrix = build_matrix(spec, _procedure(wb.settings.runs_dir, run_id), cells)
    review = reviews(store, run_id, wb.settings.audit_log)
    st.caption(f"{shown(spec.procedure_label)} · {shown(spec.scope.describe())} · {summary(review, cells)}")
    _matrix(matrix, review)
    _cell(wb, store, spec, matrix, review, identity)
    _run_tools(wb, store, spec)


@st.cache_resource(show_spinner=False, max_entries=4)
def _procedures(signature: tuple[tuple[str, int, int], ...]) -> list[Listed]:
    """The procedures on offer, parsed again only when a file changes (`signature`)."""
    return list_procedures()


def _offered(wb: Workbench) -> list[Listed]:
    files = procedure_files(wb.settings)
    return _procedures(tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files if p.exists()))


def _new_run(wb: Workbench, store: RunStore, identity: Identity) -> None:
    listed = _offered(wb)
    for broken in (p for p in listed if p.error):
        st.error(f"{shown(broken.path.name)} cannot be used: {shown(broken.error)}")
    usable = [p for p in listed if p.loaded]
    if not usable:
        st.info(f"No usable procedure: add a YAML file to {wb.settings.procedures_dir}.")
        return
    chosen = st.selectbox("Procedure", usable, format_func=_procedure_label, key="new-procedure")
    assert chosen.loaded is not None
    st.caption(shown(chosen.loaded.procedure.description))
    scope = _scope(wb)
    try:
        filings = resolve_among(wb.searchable, scope)
    except ScopeError as exc:
        st.info(str(exc).capitalize())
        return
    items = len(chosen.loaded.procedure.items)
    st.caption(f"{items} items × {len(filings)} filing(s) = {items * len(filings)} cells")
    cannot = permitted(identity, "run_procedure")
    if st.button(
        "Start run", type="primary", key="start-run", disabled=bool(cannot), help=cannot or None
    ) and (allowed(identity, "run_procedure")):
        spec = store.create(
            chosen.loaded,
            scope,
            filings,
            user=identity.label,
            identity=identity,
            concurrency=wb.settings.run_concurrency,
        )
        start_background(spec.id)
        st.session_state.run = spec.id
        st.rerun()


def _procedure_label(listed: Listed) -> str:
    assert listed.loaded is not None
    procedure = listed.loaded.procedure
    return f"{procedure.name} v{procedure.version} · {len(procedure.items)} items"


def _scope(wb: Workbench) -> Scope:
    searchable = wb.searchable
    by = st.radio("Scope", ["Company, forms and years", "Chosen filings"], horizontal=True, key="new-by")
    if by == "Chosen filings":
        names = st.multiselect("Filings", sorted(d["filename"] for d in searchable), key="new-filings",
                               placeholder="Choose filings")  # fmt: skip
        return Scope(filings=names)
    left, middle, right = st.columns(3)
    companies = sorted(by_company(d for d in searchable if d["company"]))  # one per company
    company = left.selectbox("Company", companies, index=None, key="new-company")
    forms = middle.multiselect("Forms", sorted({d["form_type"] for d in searchable if d["form_type"]}),
                               key="new-forms")  # fmt: skip
    years = sorted({d["fiscal_year"] for d in searchable if d["fiscal_year"]}, reverse=True)
    return Scope(company=company or "", forms=forms,
                 fiscal_years=right.multiselect("Fiscal years", years, key="new-years"))  # fmt: skip


@lru_cache(maxsize=256)
def _spec(runs_dir: Path, run_id: str) -> RunSpec:
    """A run's spec and its copy of the procedure never change once written: read them once.
    (An lru_cache, not st.cache_resource: hashing the arguments costs that 0.6 ms a call.)"""
    return RunStore(runs_dir).spec(run_id)


@lru_cache(maxsize=64)
def _procedure(runs_dir: Path, run_id: str) -> Any:
    return RunStore(runs_dir).procedure(run_id).procedure


def _run_label(store: RunStore, run_id: str) -> str:
    """A run as the picker lists it; nothing that changes as it works, or the picker would reset."""
    spec = _spec(store.runs_dir, run_id)
    return f"{run_id} · {spec.procedure_label} · {spec.scope.describe()}"


def _progress(store: RunStore, spec: RunSpec, identity: Identity) -> None:
    active = store.status(spec.id).state in _ACTIVE

    @st.fragment(run_every=2.0 if active else None)
    def run_progress() -> None:
        status = store.status(spec.id)
        done = f"{status.done}/{status.total} cells"
        eta = f" · about {status.eta_s:.0f} s left" if status.eta_s and status.state == "running" else ""
        st.progress(status.done / max(status.total, 1), text=f"{status.state.capitalize()}: {done}{eta}")
        per_filing = len(spec.filings) and status.total // len(spec.filings)
        st.caption(" · ".join(f"{shown(f.label)} {status.by_filing.get(f.doc_sha256, 0)}/{per_filing}"
                              for f in spec.filings))  # fmt: skip
        if status.message and status.state not in ("done",):
            st.caption(shown(status.message))
        _run_buttons(store, spec.id, status.state, identity)
        seen = st.session_state.setdefault("run-seen", {})
        if seen.get(spec.id) not in (None, status.done) or (active and status.state not in _ACTIVE):
            seen[spec.id] = status.done
            st.rerun(scope="app")  # new cells: draw the matrix again
        seen[spec.id] = status.done

    run_progress()


def _run_buttons(store: RunStore, run_id: str, state: str, identity: Identity) -> None:
    """Cancel, resume, ask again: each takes the analyst role, checked as it is clicked; the
    cells asked again are asked in the clicker's name."""
    left, right = st.columns(2)
    reason = permitted(identity, "run_procedure")
    cannot: dict[str, Any] = {"disabled": bool(reason), "help": reason or None}
    clicked = left.button("Cancel run", key="cancel-run", **cannot) if state in _ACTIVE else False
    if clicked and allowed(identity, "run_procedure"):
        store.request_cancel(run_id)
        st.toast("Cancelling: the cells under way finish first")
    resumable = state in ("interrupted", "cancelled")
    clicked = left.button("Resume run", key="resume-run", **cannot) if resumable else False
    if clicked and allowed(identity, "run_procedure"):
        store.clear_cancel(run_id)
        store.ask_as(run_id, identity)
        start_background(run_id)
        st.rerun(scope="app")
    redo = [k for k, c in store.cells(run_id).items() if c.status in ("evidence_only", "error")]
    if redo and state not in _ACTIVE and right.button(f"Ask the {len(redo)} cell(s) no model answered again",
                                                      key="rerun-cells", **cannot):  # fmt: skip
        if not allowed(identity, "run_procedure"):
            return
        try:
            store.reopen(run_id, redo)
        except RunBusy as exc:
            st.error(str(exc))
            return
        store.ask_as(run_id, identity)
        start_background(run_id)
        st.rerun(scope="app")


def _column_names(filings: list[FilingRef]) -> list[str]:
    """Column headings: each filing's label, told apart by its hash when two share one."""
    labels = [f.label for f in filings]
    return [f"{f.label} ({f.doc_sha256[:6]})" if labels.count(f.label) > 1 else f.label for f in filings]


def _matrix(matrix: Matrix, review: dict[tuple[str, str], CellReview]) -> None:
    names = dict(zip((f.doc_sha256 for f in matrix.filings), _column_names(matrix.filings), strict=True))
    rows, colours = [], []
    for item, cells in matrix.rows:
        row, colour = {"Item": item.id}, {"Item": ""}
        by_sha = {c.filing.doc_sha256: c for c in cells}
        for filing, change in matrix.columns():
            cell, name = by_sha[filing.doc_sha256], names[filing.doc_sha256]
            if change:
                row[f"{name} Δ y/y"], colour[f"{name} Δ y/y"] = cell.change, ""
                continue
            row[name] = cell.text + _review_mark(review.get((item.id, filing.doc_sha256)))
            status = cell.cell.status if cell.cell else "not_asked"
            colour[name] = f"background-color: #{STATUS_FILLS[status]}"
        rows.append(row)
        colours.append(colour)
    frame = pd.DataFrame(rows)
    styled = frame.style.apply(lambda _: pd.DataFrame(colours, index=frame.index), axis=None)
    event = st.dataframe(
        styled, hide_index=True, on_select="rerun", selection_mode="single-cell", key="matrix",
        column_config={"Item": st.column_config.TextColumn(width="medium", pinned=True)},
    )  # fmt: skip
    st.caption(LEGEND)
    picked = event.selection.cells if event else []
    state = st.session_state
    by_name = {name: sha for sha, name in names.items()}
    if picked and picked[0] != state.get("matrix-picked") and picked[0][1] in by_name:
        row_at, column = picked[0]
        state["matrix-picked"] = picked[0]
        state["cell-item"] = matrix.rows[row_at][0].id
        state["cell-filing"] = by_name[column]


def _review_mark(reviewed: CellReview | None) -> str:
    """ " ✔ Rita" for a signed-off cell (a reviewer's first name), " ⟲" for a lapsed sign-off."""
    if reviewed and reviewed.signoff:
        return f" ✔ {reviewed.signoff.reviewer.split()[0] if reviewed.signoff.reviewer.split() else ''}"
    return " ⟲" if reviewed and reviewed.lapsed else ""


def _cell(wb: Workbench, store: RunStore, spec: RunSpec, matrix: Matrix,
          review: dict[tuple[str, str], CellReview], identity: Identity) -> None:  # fmt: skip
    st.subheader("Cell")
    questions = {item.id: item.question for item, _ in matrix.rows}
    labels = {f.doc_sha256: f.label for f in spec.filings}
    left, right = st.columns(2)
    item_id = left.selectbox("Item", list(questions), key="cell-item",
                             format_func=lambda i: f"{i}: {questions[i]}")  # fmt: skip
    sha = right.selectbox("Filing", list(labels), key="cell-filing", format_func=labels.__getitem__)
    shown_cell = next(c for item, cells in matrix.rows if item.id == item_id for c in cells
                      if c.filing.doc_sha256 == sha)  # fmt: skip
    if shown_cell.cell is None:
        st.info("Not asked yet.")
        return
    state = review.get((item_id, sha), CellReview())
    st.markdown(f"**{shown(shown_cell.text)}** · {shown_cell.status_label} · {shown(state.label)}")
    if shown_cell.disagreement:
        st.warning(f"Prior-year check: {shown(shown_cell.disagreement)}")
    if shown_cell.cell.detail:
        st.caption(shown(shown_cell.cell.detail))
    if shown_cell.cell.answer_hash:
        try:
            record = _record(wb.settings.audit_log, shown_cell.cell.answer_hash)
        except (KeyError, ValueError, OSError) as exc:
            st.error(f"The cell's answer record cannot be read from the audit trail: {shown(str(exc))}")
            return
        _answer(wb, record)
        _sign_off(store, spec, item_id, sha, identity)


@st.cache_resource(show_spinner=False, max_entries=256)
def _record(audit_log: Path | None, answer_hash: str) -> Any:
    """An answer record, read from the trail once (records never change)."""
    return read_answer(answer_hash, audit_log)


def _answer(wb: Workbench, record: Any) -> None:
    answer, source = st.columns([1, 1], gap="large")
    with answer:
        show_checked_answer(record)
        sources = record.citations or record.evidence  # the trail keeps what was cited or shown
        pages = {c.n: f"[{c.n}]{'⁺' if c.added else ''} p.{c.page + 1}" for c in sources}
        n = st.pills(
            "Sources", list(pages), format_func=pages.__getitem__, key=f"cell-cite-{record.hash[:12]}"
        )
    view = st.session_state.setdefault("cell-view", {})
    if n is None and sources:
        n = sources[0].n
    if n is not None:
        citation = next(c for c in [*record.citations, *record.evidence] if c.n == n)
        if view.get("hash") != record.hash or view.get("n") != n:
            view.update(hash=record.hash, n=n, page=citation.page)
        with source:
            show_source(wb, view, record, key="cell")


def _sign_off(store: RunStore, spec: RunSpec, item_id: str, sha: str, identity: Identity) -> None:
    with st.expander("Review and sign-off"):
        verdict = st.selectbox("Verdict", VERDICTS, key="run-verdict")
        comment = st.text_input("Comment", key="run-comment")
        targets: dict[str, dict[str, Any]] = {
            "Sign off this cell": {"item_id": item_id, "doc_sha256": sha},
            "Sign off this filing's column": {"doc_sha256": sha},
            "Sign off the whole run": {},
        }
        author = store.preparers(spec.id)  # its starter and whoever asked cells again
        cannot = permitted(identity, "sign_off", author)
        for column, (label, where) in zip(st.columns(3), targets.items(), strict=True):
            clicked = column.button(label, key=f"run-{label}", disabled=bool(cannot), help=cannot or None)
            if clicked and allowed(identity, "sign_off", author):
                try:
                    signed = sign_off(
                        store, spec.id, identity.label, verdict, comment, identity=identity, **where
                    )
                except (LookupError, ValueError, NotAllowed) as exc:
                    st.error(str(exc))
                    return
                st.toast(f"{len(signed)} cell(s) signed off as {verdict}")
                st.rerun()


def _run_tools(wb: Workbench, store: RunStore, spec: RunSpec) -> None:
    """The workpaper downloads, each made only when clicked."""
    audit_log, dpi = wb.settings.audit_log, wb.settings.snapshot_dpi
    left, right = st.columns(2)
    left.download_button(
        "Workpaper (XLSX)", data=lambda: workbook_bytes(gather(store, spec.id, audit_log)),
        file_name=f"run-{spec.id}.xlsx", mime=XLSX_MIME, key="run-xlsx",
    )  # fmt: skip
    right.download_button(
        "Workpaper (HTML)", file_name=f"run-{spec.id}.html", mime="text/html", key="run-html",
        data=lambda: run_workpaper_html(gather(store, spec.id, audit_log), wb.index, dpi),
    )  # fmt: skip
