"""The admins' Settings panel: every setting with its value and where it comes from, and a
change written to `.env` for the next start (checked first, recorded in the audit trail)."""

from __future__ import annotations

import streamlit as st

from compliance_auditor.audit.access import record_access
from compliance_auditor.env_file import set_in_env_file, setting_rows
from compliance_auditor.records import Identity
from compliance_auditor.workbench.display import shown
from compliance_auditor.workbench.resources import Workbench
from compliance_auditor.workbench.signin import allowed, permitted


def render(wb: Workbench, identity: Identity) -> None:
    if permitted(identity, "manage_settings"):
        return  # not an admin: nothing to show
    with st.expander("Settings (admin)"):
        rows = setting_rows(wb.settings)
        st.dataframe(
            [{"setting": r.variable, "value": r.value, "from": r.source, "what": r.description}
             for r in rows], hide_index=True, key="settings-table",
        )  # fmt: skip
        names = [r.variable for r in rows if r.editable]
        variable = st.selectbox(
            "Change", names, index=None, key="settings-pick", placeholder="Choose a setting"
        )
        if variable is None:
            st.caption("Sign-in, the address served and secrets are set where the app is started, not here.")
            return
        value = st.text_input("New value", key="settings-value")
        if not st.button("Save for the next start", key="settings-save") or not allowed(
            identity, "manage_settings"
        ):
            return
        name = variable.removeprefix("AUDITOR_").lower()
        try:
            before = set_in_env_file(name, value.strip())
        except ValueError as exc:
            st.error(f"{shown(variable)}: {shown(str(exc))}")
            return
        change = f"{variable} in .env: {before!r} -> {value.strip()!r} (applies at the next start)"
        record_access("changed", identity, "manage_settings", change)
        overridden = next(r.source == "environment" for r in rows if r.variable == variable)
        st.success(f"Saved {shown(variable)} to .env: it applies when the app is started again"
                   + (", unless the environment sets it (it does now)" if overridden else "."))  # fmt: skip
