"""Who is asking, in the browser: the identity `team.identity` decides, from what Streamlit holds.

The page stops here (with a clear message, recorded) until someone may use it: an app bound
beyond loopback with no authentication, a proxy header from an untrusted address, a lapsed
token. A login is recorded once per browser session, a logout when the user clicks it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NoReturn

import streamlit as st

from compliance_auditor.audit.access import record_access
from compliance_auditor.config import Settings
from compliance_auditor.records import Identity
from compliance_auditor.team.identity import (
    header_identity,
    oidc_identity,
    os_identity,
    startup_problem,
    token_expired,
)
from compliance_auditor.team.roles import Action, Author, NotAllowed, RoleMapping, check, load_mapping
from compliance_auditor.team.sessions import revoke, revoked, session_key
from compliance_auditor.workbench.display import shown


def who_is_asking(settings: Settings) -> Identity:
    """The signed-in identity; stops the page when there is none to serve."""
    problem = startup_problem(settings, st.get_option("server.address"), _auth_block())
    if problem:
        _refuse(None, "serve", problem)
    mapping = _mapping(settings.auth_roles_file, settings.auth_default_roles)
    if settings.auth == "os":
        return _signed_in(os_identity(mapping))
    if settings.auth == "header":
        found = header_identity(dict(st.context.headers), _peer(), settings, mapping)
        if found is None:
            _refuse(None, "sign in", f"No signed-in user: sign in through the proxy "
                    f"({settings.auth_user_header} from a trusted address).")  # fmt: skip
        return _signed_in(found)
    return _signed_in(_oidc(settings, mapping))


def signed_in_line(identity: Identity, settings: Settings) -> None:
    """The sidebar's line saying who is signed in, with their roles, and a way out (OIDC)."""
    st.caption(f"Signed in as **{shown(identity.label)}** ({', '.join(identity.roles) or 'no role'})")
    if identity.method == "oidc" and st.button("Log out"):
        _sign_out(identity, settings, "")


def _sign_out(identity: Identity, settings: Settings, reason: str) -> None:
    """Record the logout, put the session on the signed-out list, and end it."""
    record_access("logout", identity, reason=reason)
    revoke(session_key(st.user.to_dict()), _revoked_list(settings))
    st.session_state.pop("signed_in", None)
    st.logout()
    st.stop()


def _revoked_list(settings: Settings) -> Path:
    return settings.data_dir / "signed-out-sessions"


def _oidc(settings: Settings, mapping: RoleMapping) -> Identity:
    if not st.user.is_logged_in:
        st.title("Financial Compliance Auditor")
        st.button("Log in", on_click=st.login, type="primary")
        st.stop()
    claims = st.user.to_dict()
    try:
        identity = oidc_identity(claims, settings.auth_groups_claim, mapping)
    except ValueError as exc:
        _refuse(None, "sign in", str(exc))
    if revoked(session_key(claims), _revoked_list(settings)):
        record_access("refused", identity, "sign in", "a signed-out session's cookie was presented again")
        st.session_state.pop("signed_in", None)
        st.logout()
        st.stop()
    if token_expired(claims, time.time()):
        _sign_out(identity, settings, "the identity provider's token expired")
    return identity


def _signed_in(identity: Identity) -> Identity:
    if st.session_state.get("signed_in") != (identity.issuer, identity.subject):
        st.session_state["signed_in"] = (identity.issuer, identity.subject)
        if identity.method != "os":
            record_access("login", identity, reason=f"roles: {', '.join(identity.roles) or 'none'}")
    return identity


def _refuse(identity: Identity | None, action: str, reason: str) -> NoReturn:
    key = f"refused {action}: {reason}"
    if not st.session_state.get(key):  # once per browser session, not once per rerun
        st.session_state[key] = True
        record_access("refused", identity, action, f"{reason} (from {_peer()})")
    st.error(reason)
    st.stop()


def _peer() -> str:
    """The address that connected. Streamlit reports 127.0.0.1 and ::1 as None: this machine."""
    return st.context.ip_address or "127.0.0.1"


def _auth_block() -> dict[str, Any] | None:
    try:
        return dict(st.secrets.get("auth", {}))
    except Exception:  # no secrets.toml at all, or an unreadable one
        return None


@st.cache_resource(show_spinner=False)
def _load_mapping(path: str | None, default: str, mtime: float) -> RoleMapping:
    return load_mapping(Path(path) if path else None, default)


def _mapping(path: Path | None, default: str) -> RoleMapping:
    """The roles file, read again when it changes."""
    mtime = path.stat().st_mtime if path and path.exists() else 0.0
    return _load_mapping(str(path) if path else None, default, mtime)


def visible_companies(identity: Identity, settings: Settings) -> tuple[str, ...] | None:
    """The companies whose filings `identity` sees (their workspaces'); None: every filing."""
    mapping = _mapping(settings.auth_roles_file, settings.auth_default_roles)
    return mapping.workspaces.companies(identity.workspaces)


def permitted(identity: Identity, action: Action, author: Author = None) -> str:
    """ "" when `identity` may take `action`, else why not (for a disabled button's help)."""
    try:
        check(identity, action, author)
    except NotAllowed as refusal:
        return refusal.reason
    return ""


def allowed(identity: Identity, action: Action, author: Author = None) -> bool:
    """Check an action on the server as it is taken: a refusal is shown and recorded."""
    reason = permitted(identity, action, author)
    if reason:
        record_access("refused", identity, action, reason)
        st.error(reason)
    return not reason
