"""Workspaces: the filings a group may see, by company, from the roles file's `[workspaces]`.

    [workspaces]
    "retail" = { companies = ["Ulta Beauty", "Best Buy"], groups = ["retail-team"], users = ["ann"] }

Without a `[workspaces]` table everybody sees every filing. With one, a user sees the filings
of the companies of the workspaces that name them or one of their groups, and nothing else
(fail closed: a user in no workspace sees no filing); admins see every filing, since they
delete and correct them. The index enforces it: a handle restricted to the companies
(`AuditIndex.within`) adds them to every search's filter and lists no other filing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Workspace:
    """A set of filings (by company) and who may see them."""

    companies: tuple[str, ...]
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Workspaces:
    """Every workspace of the roles file; `defined` is False when the file has none."""

    by_name: dict[str, Workspace] = field(default_factory=dict)
    defined: bool = False

    def of(self, names: Sequence[str], groups: Sequence[str], roles: Sequence[str]) -> list[str] | None:
        """The workspaces of a user known by any of `names` in `groups`; None: every filing
        (no workspaces defined, or an admin)."""
        if not self.defined or "admin" in roles:
            return None
        return sorted(
            n for n, w in self.by_name.items() if set(names) & set(w.users) or set(groups) & set(w.groups)
        )

    def companies(self, workspaces: list[str] | None) -> tuple[str, ...] | None:
        """The companies a member of `workspaces` sees (None: every company)."""
        if workspaces is None:
            return None
        return tuple(sorted({c for n in workspaces if n in self.by_name for c in self.by_name[n].companies}))


def parse_workspaces(table: object, path: Path) -> Workspaces:
    """The `[workspaces]` table of the roles file; a malformed one is an error at start."""
    if table is None:
        return Workspaces()
    if not isinstance(table, dict):
        raise ValueError(f"roles file {path}: [workspaces] must be a table of workspaces")
    by_name = {}
    for name, entry in table.items():
        if not isinstance(entry, dict) or set(entry) - {"companies", "users", "groups"}:
            raise ValueError(f"roles file {path}: workspace {name!r} takes companies, users and groups")
        lists = {key: entry.get(key, []) for key in ("companies", "users", "groups")}
        if not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in lists.values()):
            raise ValueError(
                f"roles file {path}: workspace {name!r}: companies, users and groups are lists of names"
            )
        by_name[str(name)] = Workspace(
            *(tuple(x.strip() for x in lists[k]) for k in ("companies", "users", "groups"))
        )
    return Workspaces(by_name, defined=True)
