"""The chain check: walk the audit trail from its first record and compare its end with the head.

It names the first broken record and what broke it: a changed byte, a deleted record,
reordered records, a truncated tail or an inserted record (see `chain.py` for the format).
Like the chain itself, it imports no heavy library.
"""

from __future__ import annotations

import fcntl
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from compliance_auditor.audit.chain import (
    GENESIS,
    Entry,
    Head,
    check_line,
    log_path,
    read_head,
    torn_path,
)

_READ_BLOCK = 1 << 22


@dataclass
class VerifyReport:
    """The outcome of `verify_chain`: intact, or the first broken record and what broke."""

    path: Path
    records: int
    ok: bool = True
    kind: str | None = None  # changed, deleted, reordered, inserted, truncated, unanchored
    line: int | None = None
    record_id: str = ""
    message: str = ""
    head: Head | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            lines = [f"{self.records} records, chain intact"]
        else:
            where = f"line {self.line}" + (f" (record {self.record_id})" if self.record_id else "")
            lines = [f"chain broken at {where}: {self.kind}: {self.message}"]
        if self.head:
            lines.append(f"head: {self.head.count} records, last hash {self.head.hash}")
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def verify_chain(path: str | Path | None = None, use_head: bool = True) -> VerifyReport:
    """Walk the chain from the first record; compare its end with the head.

    Holds a shared lock while reading, so appends wait (about 2 s per 100,000 records).
    """
    log_file = log_path(path)
    if not log_file.exists() and use_head and (head := read_head(log_file)) and head.count:
        return VerifyReport(log_file, 0, False, "truncated", 1, "", f"the log is gone; its head records "
                            f"{head.count} records", head=head)  # fmt: skip
    with open(log_file, "rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        head = read_head(log_file) if use_head else None
        entries, torn = _read_entries(handle)
    report = _walk(log_file, entries)
    if report is not None:
        return report
    if not use_head:
        return VerifyReport(log_file, len(entries), notes=["no head: a truncated tail cannot be seen"])
    if head is None and (entries or torn):
        return _broken(log_file, entries, len(entries), "unanchored", "the head file is missing")
    return _compare_head(log_file, entries, torn, head or Head(0, GENESIS))


def _read_entries(handle: IO[bytes]) -> tuple[list[Entry], bytes]:
    """Every complete line, checked; and the bytes after the last newline."""
    entries: list[Entry] = []
    rest = b""
    while block := handle.read(_READ_BLOCK):
        lines = (rest + block).split(b"\n")
        rest = lines.pop()
        entries.extend(check_line(line) for line in lines)
    return entries, rest


def _broken(log_file: Path, entries: list[Entry], index: int, kind: str, message: str) -> VerifyReport:
    record_id = entries[index].id if index < len(entries) else ""
    return VerifyReport(log_file, index, False, kind, index + 1, record_id, message)


def _walk(log_file: Path, entries: list[Entry]) -> VerifyReport | None:
    prev, expected = GENESIS, 0
    for index, entry in enumerate(entries):
        if not entry.valid:
            return _broken(log_file, entries, index, "changed", "its bytes do not match its hash")
        if entry.seq != expected or entry.prev_hash != prev:
            kind, at, message = _classify(entries, index, prev, expected)
            return _broken(log_file, entries, at, kind, message)
        prev, expected = entry.hash, expected + 1
    return None


def _classify(entries: list[Entry], index: int, prev: str, expected: int) -> tuple[str, int, str]:
    """Name what broke the chain at `entries[index]`, a record valid in itself."""
    entry = entries[index]
    before_last = entries[index - 2].hash if index >= 2 else GENESIS
    if Counter(e.hash for e in entries)[entry.hash] > 1:
        return "inserted", index, "a copy of another record"
    if index >= 1 and entry.prev_hash == before_last:
        return "inserted", index - 1, f"not in the chain: line {index + 1} chains past it to line {index - 1}"
    if not isinstance(entry.seq, int) or entry.seq < expected:
        return "inserted", index, f"claims seq {entry.seq}, a place earlier in the chain"
    if entry.seq > expected:
        later = next((n for n, e in enumerate(entries) if n > index and e.valid and e.seq == expected), None)
        if later is not None:
            return (
                "reordered",
                index,
                f"the record with seq {entry.seq} stands where seq {expected} belongs (at line {later + 1})",
            )
        missing = f"seq {expected}" if entry.seq == expected + 1 else f"seq {expected} to {entry.seq - 1}"
        return "deleted", index, f"the record(s) with {missing} before it are missing"
    following = entries[index + 1] if index + 1 < len(entries) else None
    if following is not None and following.prev_hash == prev:
        return "inserted", index, f"forged: line {index + 2} chains past it"
    if index == 0:
        return "changed", index, "the first record does not start the chain"
    return "changed", index - 1, f"rewritten and re-hashed: line {index + 1} chains to its original hash"


def _compare_head(log_file: Path, entries: list[Entry], torn: bytes, head: Head) -> VerifyReport:
    count = len(entries)
    last = entries[-1].hash if entries else GENESIS
    report = VerifyReport(log_file, count, head=head)
    if (count, last) == (head.count + 1, head.next):
        report.notes.append(
            "the last append was interrupted before its head update; the next append adopts it"
        )
    elif count < head.count:
        if torn and check_line(torn).valid:
            return _broken(log_file, entries, count, "changed", "the last record has lost its line ending")
        missing = f"{head.count - count} record(s) missing at the end: the head records {head.count}"
        return _broken(
            log_file, entries, count, "truncated", f"{missing}, the last with hash {head.hash[:16]}"
        )
    elif count == head.count and last != head.hash:
        return _broken(
            log_file, entries, count - 1, "changed", "the last record is not the one the head records"
        )
    elif count > head.count:
        first_extra = head.count + (1 if head.next and entries[head.count].hash == head.next else 0)
        return _broken(log_file, entries, first_extra, "inserted", "appended past the head")
    if torn:
        report.notes.append(
            f"{len(torn)} bytes of a torn, interrupted append after the last record: no record; "
            f"the next append moves them to {torn_path(log_file).name}"
        )
    return report
