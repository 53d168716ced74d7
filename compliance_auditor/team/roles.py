"""Roles and the actions they allow, checked on the server before anything is done.

- analyst: ask, run procedures, upload filings;
- reviewer: sign off answers and runs, never their own;
- admin: delete filings, edit metadata, manage procedures.

Roles come from the identity provider's groups (`AUDITOR_AUTH_GROUPS_CLAIM`, or the proxy's
groups header) through a mapping file (`AUDITOR_AUTH_ROLES_FILE`), which may also name users:

    [users]
    "alice@example.com" = ["analyst", "reviewer"]
    [groups]
    "audit-reviewers" = ["reviewer"]
    "auditor-admins" = ["admin"]

A signed-in user the mapping does not name gets `AUDITOR_AUTH_DEFAULT_ROLES` (analyst). The OS
user of an app bound to loopback (one analyst on their own machine) holds every role, unless
the mapping's [users] names them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from compliance_auditor.records import Identity
from compliance_auditor.team.workspaces import Workspaces, parse_workspaces

Role = Literal["analyst", "reviewer", "admin"]
ROLES: tuple[Role, ...] = ("analyst", "reviewer", "admin")

Action = Literal["ask", "run_procedure", "upload", "sign_off", "delete_filing", "edit_metadata",
                 "manage_procedures", "manage_settings"]  # fmt: skip
ALLOWED: dict[Action, tuple[Role, ...]] = {
    "ask": ("analyst",),
    "run_procedure": ("analyst",),
    "upload": ("analyst", "admin"),
    "sign_off": ("reviewer",),
    "delete_filing": ("admin",),
    "edit_metadata": ("admin",),
    "manage_procedures": ("admin",),
    "manage_settings": ("admin",),
}
"""Which roles may take each action."""

DESCRIBED: dict[Action, str] = {
    "ask": "ask questions", "run_procedure": "run procedures", "upload": "upload filings",
    "sign_off": "sign off", "delete_filing": "delete filings", "edit_metadata": "edit a filing's metadata",
    "manage_procedures": "manage procedures", "manage_settings": "change settings",
}  # fmt: skip


class NotAllowed(PermissionError):
    """An action the identity's roles do not allow; the message says why, for the user."""

    def __init__(self, identity: Identity, action: Action, reason: str) -> None:
        super().__init__(reason)
        self.identity, self.action, self.reason = identity, action, reason


Author = Identity | str | None | list[Identity | str]


def check(identity: Identity, action: Action, author: Author = None) -> None:
    """Raise NotAllowed unless `identity` may take `action`. `author` is who made what a sign-off
    is about (an answer's or a run's identity, or its user name; a run's several preparers):
    nobody signs off their own, except the one user of a loopback-only app, who holds every role."""
    allowed = ALLOWED[action]
    if not set(identity.roles) & set(allowed):
        held = ", ".join(identity.roles) or "no role"
        needed = " or ".join(allowed)
        reason = f"{identity.label} ({held}) may not {DESCRIBED[action]}: that takes the {needed} role"
        raise NotAllowed(identity, action, reason)
    authors = author if isinstance(author, list) else [author]
    if action == "sign_off" and identity.method != "os" and any(_same_person(identity, a) for a in authors):
        raise NotAllowed(identity, action, f"{identity.label} may not sign off their own work")


def _same_person(identity: Identity, author: Identity | str | None) -> bool:
    if isinstance(author, Identity):
        return (author.subject, author.issuer) == (identity.subject, identity.issuer)
    # Records made before team mode carry a name only: the same name is the same person.
    return bool(author) and author in {identity.subject, identity.name}


@dataclass(frozen=True)
class RoleMapping:
    """Users and groups to roles, from the mapping file; `default` for users it does not name."""

    users: dict[str, tuple[Role, ...]] = field(default_factory=dict)
    groups: dict[str, tuple[Role, ...]] = field(default_factory=dict)
    default: tuple[Role, ...] = ("analyst",)
    workspaces: Workspaces = field(default_factory=Workspaces)

    def roles_of(self, names: list[str], groups: list[str]) -> list[str]:
        """The roles of a user known by any of `names` (subject, e-mail) in `groups`."""
        granted = {r for n in names for r in self.users.get(n, ())}
        granted |= {r for g in groups for r in self.groups.get(g, ())}
        named = any(n in self.users for n in names) or any(g in self.groups for g in groups)
        return [r for r in ROLES if r in (granted if named else set(self.default))]


def load_mapping(path: Path | None, default: str) -> RoleMapping:
    """The mapping file (none: everybody gets `default`). A malformed file is an error at start."""
    fallback = _roles(default.split(","), "AUDITOR_AUTH_DEFAULT_ROLES")
    if path is None:
        return RoleMapping(default=fallback)
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"roles file {path}: {exc}") from exc
    tables = {key: data.get(key, {}) for key in ("users", "groups")}
    if unknown := set(data) - {*tables, "workspaces"}:
        raise ValueError(
            f"roles file {path}: unknown table(s) {sorted(unknown)}; use [users], [groups], [workspaces]"
        )
    mapped = {key: {str(k): _roles(v, f"{path} [{key}] {k}") for k, v in table.items()}
              for key, table in tables.items()}  # fmt: skip
    return RoleMapping(users=mapped["users"], groups=mapped["groups"], default=fallback,
                       workspaces=parse_workspaces(data.get("workspaces"), Path(path)))  # fmt: skip


def _roles(values: object, where: str) -> tuple[Role, ...]:
    names = [str(v).strip() for v in values] if isinstance(values, list) else None
    if names is None or any(n and n not in ROLES for n in names):
        raise ValueError(f"{where}: roles must be a list of {', '.join(ROLES)}; got {values!r}")
    return tuple(r for r in ROLES if r in names)
