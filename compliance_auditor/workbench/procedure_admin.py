"""Managing procedures in the browser (admins): add a procedure file, checked before it is
kept, replace or remove one of the folder's files. Runs keep their own copy of the procedure
they ran, so a change here changes no run. Each change is a record of the audit trail."""

from __future__ import annotations

import streamlit as st

from compliance_auditor.audit.access import record_access
from compliance_auditor.procedures.library import add_procedure, own_procedures, remove_procedure
from compliance_auditor.procedures.spec import ProcedureError
from compliance_auditor.records import Identity
from compliance_auditor.workbench.display import shown
from compliance_auditor.workbench.resources import Workbench
from compliance_auditor.workbench.signin import allowed, permitted


def render(wb: Workbench, identity: Identity) -> None:
    with st.expander("Manage procedures"):
        if cannot := permitted(identity, "manage_procedures"):
            st.caption(shown(cannot))
            return
        st.caption(f"Your procedures are YAML files in {shown(str(wb.settings.procedures_dir))}.")
        _add(wb, identity)
        _remove(identity)


def _add(wb: Workbench, identity: Identity) -> None:
    state = st.session_state
    state.setdefault("procedure-upload", 0)
    upload = st.file_uploader("Add a procedure (YAML)", type=["yaml", "yml"],
                              key=f"procedure-file-{state['procedure-upload']}")  # fmt: skip
    replace = st.checkbox("Replace a procedure of the same name", key="procedure-replace")
    if upload is None or not st.button("Add procedure", key="procedure-add"):
        return
    if not allowed(identity, "manage_procedures"):
        return
    if upload.size > wb.settings.procedure_max_kb * 1000:
        st.error(f"{shown(upload.name)} is larger than {wb.settings.procedure_max_kb} KB; not added")
        return
    try:
        loaded = add_procedure(upload.name, upload.getvalue(), replace=replace)
    except ProcedureError as exc:
        st.error(shown(str(exc)))
        return
    except FileExistsError as exc:
        st.error(shown(str(exc)))
        return
    record_access("changed", identity, "manage_procedures",
                  f"added {loaded.path.name} ({loaded.procedure.name} v{loaded.procedure.version}, "
                  f"sha256 {loaded.sha256})")  # fmt: skip
    state["procedure-upload"] += 1
    st.toast(f"Added {loaded.procedure.name} v{loaded.procedure.version}")
    st.rerun()


def _remove(identity: Identity) -> None:
    own = {path.stem: path for path in own_procedures()}
    if not own:
        return
    key = st.selectbox("Your procedure files", list(own), key="procedure-pick",
                       format_func=lambda k: own[k].name)  # fmt: skip
    confirm = st.checkbox(f"Yes, remove {shown(own[key].name)}", key="procedure-confirm")
    if not st.button("Remove procedure", key="procedure-remove", disabled=not confirm):
        return
    if not allowed(identity, "manage_procedures"):
        return
    try:
        removed = remove_procedure(key)
    except LookupError as exc:
        st.error(shown(str(exc)))
        return
    record_access("changed", identity, "manage_procedures", f"removed {removed.name}")
    st.toast(f"Removed {removed.name}")
    st.rerun()
