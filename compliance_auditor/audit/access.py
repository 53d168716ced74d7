"""Logins, logouts, refusals and admins' changes (filings deleted, metadata edited, procedures
added or removed), as records of the audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from compliance_auditor.audit.chain import append
from compliance_auditor.logs import get_logger
from compliance_auditor.records import ChainedRecord, Identity

log = get_logger("access", "access.jsonl")

AccessEvent = Literal["login", "logout", "refused", "changed"]


class AccessRecord(ChainedRecord):
    """Someone signed in, out, was refused an action (or refused entry: no identity at all), or
    changed what others rely on (`changed`: the action, and in `reason` what was changed)."""

    kind: Literal["access"] = "access"
    event: AccessEvent
    action: str = ""
    reason: str = ""


def record_access(
    event: AccessEvent, identity: Identity | None, action: str = "", reason: str = "",
    path: str | Path | None = None,
) -> AccessRecord:  # fmt: skip
    """Seal an access event into the trail (a refusal with no identity names the caller's address)."""
    user = identity.label if identity else "anonymous"
    record = AccessRecord(event=event, identity=identity, user=user, action=action, reason=reason)
    append(record, path)
    log.info("access", extra={"fields": {"event": event, "user": user, "action": action, "reason": reason}})
    return record
