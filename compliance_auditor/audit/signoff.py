"""Review: a reviewer's verdict on an answer, and an analyst's feedback, as records of the trail.

A sign-off references the answer by its hash; the latest sign-off of an answer is its state.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import orjson

from compliance_auditor.audit.chain import append, find, log_path
from compliance_auditor.records import VERDICTS, FeedbackRecord, Identity, SignOffRecord
from compliance_auditor.team.roles import check


def signoff(
    answer_hash: str, reviewer: str, verdict: str, comment: str = "", path: str | Path | None = None,
    identity: Identity | None = None,
) -> SignOffRecord:  # fmt: skip
    """Append a reviewer's verdict on an answer (found by its hash, or a prefix of it).

    With `identity` (who is signing, as authenticated), their roles are checked first: a
    reviewer, and not the one who asked (`team.roles.NotAllowed` otherwise)."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
    if not reviewer.strip():
        raise ValueError("a sign-off needs the reviewer's name")
    answer = find(answer_hash, path)
    if answer.get("kind") != "answer":
        raise ValueError(f"{answer_hash} is a {answer.get('kind')} record, not an answer")
    if identity is not None:
        asked_by = answer.get("identity")
        check(identity, "sign_off", Identity.model_validate(asked_by) if asked_by else answer.get("user"))
    record = SignOffRecord.model_validate(
        {"answer_hash": answer["hash"], "answer_id": answer["id"], "reviewer": reviewer.strip(),
         "verdict": verdict, "comment": comment, "identity": identity}
    )  # fmt: skip
    append(record, path)
    return record


def feedback(
    answer_hash: str, user: str, rating: str, comment: str = "", path: str | Path | None = None,
    identity: Identity | None = None,
) -> FeedbackRecord:  # fmt: skip
    """Append an analyst's thumbs up or down ("up" or "down") on an answer."""
    record = FeedbackRecord.model_validate(
        {"answer_hash": answer_hash, "user": user, "rating": rating, "comment": comment, "identity": identity}
    )
    append(record, path)
    return record


def signoff_state(answer_hash: str, path: str | Path | None = None) -> SignOffRecord | None:
    """The latest sign-off of an answer, or None when nobody has signed it off."""
    return _signoffs(log_path(path).resolve()).latest(answer_hash)


def signoff_states(answer_hashes: list[str], path: str | Path | None = None) -> dict[str, SignOffRecord]:
    """The latest sign-off of each answer that has one (the trail read once for them all)."""
    return _signoffs(log_path(path).resolve()).latest_of(answer_hashes)


class SignOffs:
    """The latest sign-off of every answer in one log, read incrementally.

    The workbench asks for every answer on screen on every rerun; each call reads only what
    was appended since the last one, never the whole (possibly very long) trail again.
    """

    def __init__(self, log_file: Path) -> None:
        self.log_file = log_file
        self.offset = 0
        self.inode = 0
        self.by_answer: dict[str, SignOffRecord] = {}
        self._lock = threading.Lock()

    def latest(self, answer_hash: str) -> SignOffRecord | None:
        with self._lock:
            self._catch_up()
            return self.by_answer.get(answer_hash)

    def latest_of(self, answer_hashes: list[str]) -> dict[str, SignOffRecord]:
        with self._lock:
            self._catch_up()
            return {h: self.by_answer[h] for h in answer_hashes if h in self.by_answer}

    def _catch_up(self) -> None:
        stat = self.log_file.stat() if self.log_file.exists() else None
        size, inode = (stat.st_size, stat.st_ino) if stat else (0, 0)
        if size < self.offset or inode != self.inode:  # a new or replaced log: start again
            self.offset, self.inode, self.by_answer = 0, inode, {}
        if size == self.offset:
            return
        with open(self.log_file, "rb") as handle:
            handle.seek(self.offset)
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # a torn or unfinished tail: read it again once it is whole
                self.offset += len(line)
                if b'"kind":"signoff"' in line:
                    record = orjson.loads(line)
                    if record.get("kind") == "signoff":
                        self.by_answer[record["answer_hash"]] = SignOffRecord.model_validate(record)


@lru_cache(maxsize=8)
def _signoffs(log_file: Path) -> SignOffs:
    return SignOffs(log_file)
