"""Who is asking: the OS user on a loopback-only app, else an authenticated identity.

- `os`: one analyst on their own machine; allowed only while the app listens on loopback.
- `oidc`: Streamlit's `st.login`; the ID token's claims become the identity, its groups claim
  the roles, and a lapsed token (`exp`) signs the user out.
- `header`: an authenticating reverse proxy (oauth2-proxy, nginx `auth_request`) puts the user
  in a header; believed only from `AUDITOR_AUTH_TRUSTED_PROXIES`, ignored from anyone else.

This module decides from plain values (claims, headers, the peer's address), so it is tested
without a browser; `workbench/signin.py` feeds it from Streamlit.
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import socket
from collections.abc import Mapping
from typing import Any

from compliance_auditor.config import Settings, get_settings
from compliance_auditor.records import Identity
from compliance_auditor.team.roles import ROLES, RoleMapping, load_mapping

OIDC_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
"""What `st.login` needs in the `[auth]` block of .streamlit/secrets.toml."""


def is_loopback(address: str | None) -> bool:
    """Whether a bind address is reachable from this machine only (unset means every interface)."""
    if not address:
        return False
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


RAW_PEER = ("FORWARDED_ALLOW_IPS", "none")
"""The web server (uvicorn) replaces the peer's address with the X-Forwarded-For a client on
127.0.0.1 sends; trusting no forwarder keeps the address the one that connected, which is what
header mode checks. launch.sh sets it."""


def startup_problem(
    settings: Settings, address: str | None, oidc_block: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None = None,
) -> str:  # fmt: skip
    """Why the app must not serve as configured ("" when it may), worded as how to fix it."""
    if settings.auth == "os" and not is_loopback(address):
        return (
            f"The app listens on {address or 'every interface'}, beyond this machine, and nobody is "
            "authenticated. Set AUDITOR_AUTH=oidc with an [auth] block in .streamlit/secrets.toml "
            f"({', '.join(OIDC_KEYS)}), or AUDITOR_AUTH=header behind an authenticating proxy "
            "listed in AUDITOR_AUTH_TRUSTED_PROXIES; or listen on 127.0.0.1 (AUDITOR_SERVER_ADDRESS)."
        )
    if (
        settings.auth == "header"
        and (environ if environ is not None else os.environ).get(RAW_PEER[0]) != RAW_PEER[1]
    ):
        return (
            "AUDITOR_AUTH=header needs the server to see the address that connected: start it with "
            f"./launch.sh, or set {RAW_PEER[0]}={RAW_PEER[1]} in its environment."
        )
    if settings.auth == "oidc":
        missing = [k for k in OIDC_KEYS if not (oidc_block or {}).get(k)]
        if missing:
            wanted = ", ".join(missing)
            return f"AUDITOR_AUTH=oidc needs {wanted} in the [auth] block of .streamlit/secrets.toml."
    return ""


def os_user() -> str:
    """The operating system's user name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no name
        return f"uid {os.getuid()}"


def os_identity(mapping: RoleMapping | None = None) -> Identity:
    """The operating system's user: every role (the app is theirs alone), unless the roles file
    names them."""
    user = os_user()
    roles = list(mapping.users[user]) if mapping and user in mapping.users else list(ROLES)
    workspaces = mapping.workspaces.of([user], [], roles) if mapping else None
    return Identity(subject=user, issuer=f"os {socket.gethostname()}", name=user, method="os", roles=roles,
                    workspaces=workspaces)  # fmt: skip


def cli_identity(settings: Settings | None = None) -> Identity:
    """Who runs a command on the server (`ingest.py`, the agent's, procedures' and the trail's
    CLIs): its operating-system user, with the roles the roles file gives them (else every role)."""
    settings = settings or get_settings()
    return os_identity(load_mapping(settings.auth_roles_file, settings.auth_default_roles))


def companies_seen_by(identity: Identity, settings: Settings | None = None) -> tuple[str, ...] | None:
    """The companies whose filings `identity` sees (their workspaces'); None: every filing. For
    commands on the server and a run's background worker, which read the roles file afresh."""
    settings = settings or get_settings()
    mapping = load_mapping(settings.auth_roles_file, settings.auth_default_roles)
    return mapping.workspaces.companies(identity.workspaces)


def oidc_identity(claims: Mapping[str, Any], groups_claim: str, mapping: RoleMapping) -> Identity:
    """The identity an ID token's claims describe."""
    subject, issuer = str(claims.get("sub") or ""), str(claims.get("iss") or "")
    if not subject or not issuer:
        raise ValueError("the identity provider's token names no subject or issuer")
    email = str(claims.get("email") or "")
    names = [subject, *(n for n in (email, str(claims.get("preferred_username") or "")) if n)]
    name = str(claims.get("name") or email or claims.get("preferred_username") or subject)
    groups = _listed(claims.get(groups_claim))
    roles = mapping.roles_of(names, groups)
    return Identity(subject=subject, issuer=issuer, name=name, method="oidc", roles=roles,
                    workspaces=mapping.workspaces.of(names, groups, roles))  # fmt: skip


def token_expired(claims: Mapping[str, Any], now: float) -> bool:
    """Whether the ID token has lapsed (Streamlit keeps its cookie past the token's `exp`)."""
    exp = claims.get("exp")
    try:
        return exp is not None and now >= float(exp)
    except (TypeError, ValueError):
        return True  # an expiry nobody can read is no expiry to trust


def trusted(peer: str | None, proxies: str) -> bool:
    """Whether `peer` is one of the proxies (addresses or networks, comma-separated)."""
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    for entry in (p.strip() for p in proxies.split(",") if p.strip()):
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def header_identity(
    headers: Mapping[str, str], peer: str | None, settings: Settings, mapping: RoleMapping
) -> Identity | None:
    """The identity a trusted proxy's headers name; None when there is none to believe: no user
    header, or headers from an address that is not a trusted proxy (those are ignored, never read)."""
    if not trusted(peer, settings.auth_trusted_proxies):
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    user = lowered.get(settings.auth_user_header.lower(), "").strip()
    if not user:
        return None
    name = lowered.get(settings.auth_name_header.lower(), "").strip() or user
    groups = _listed(lowered.get(settings.auth_groups_header.lower(), ""))
    roles = mapping.roles_of([user, name], groups)
    return Identity(subject=user, issuer=f"proxy {peer}", name=name, method="header", roles=roles,
                    workspaces=mapping.workspaces.of([user, name], groups, roles))  # fmt: skip


def _listed(value: object) -> list[str]:
    """A groups claim or header: a list, or a comma-separated string."""
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [g.strip() for g in str(value or "").split(",") if g.strip()]
