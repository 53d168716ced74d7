"""A user's own questions, read back from the audit trail: their history survives a restart."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

from compliance_auditor.audit.chain import records_mentioning
from compliance_auditor.records import AnswerRecord, Identity


def answers_of(identity: Identity, limit: int = 20, path: str | Path | None = None) -> list[AnswerRecord]:
    """The latest `limit` questions `identity` asked in the Ask tab (not procedure cells), oldest first.

    Records carrying an identity match on subject and issuer; records from before team mode
    carry a name only, and count as the OS user's when they hold that name."""
    needle = json.dumps(identity.subject, ensure_ascii=False)  # as the trail writes it, quotes included
    mine: deque[AnswerRecord] = deque(maxlen=limit)
    for record in records_mentioning(needle, path):
        if record.get("kind") != "answer" or record.get("cell"):
            continue
        asked_by = record.get("identity")
        if asked_by:
            ours = (asked_by.get("subject"), asked_by.get("issuer")) == (identity.subject, identity.issuer)
        else:
            ours = identity.method == "os" and record.get("user") == identity.subject
        if ours:
            mine.append(AnswerRecord.model_validate(record))
    return list(mine)
