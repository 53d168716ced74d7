"""The tamper-evident audit trail: one hash-chained JSON line per question, appended safely.

Records. `append()` stores a record as one line of ``logs/audit.jsonl`` (``AUDITOR_AUDIT_LOG``),
adding ``id``, ``ts`` (UTC), ``user`` (the OS user unless given), ``seq`` (its 0-based place
in the chain), ``prev_hash`` (the previous record's hash; 64 zeros for the first) and
``hash``: the SHA-256 of the record's canonical JSON without ``hash``, that is
``json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``. The line is
exactly those canonical bytes with ``,"hash":"..."`` added before the closing brace, so
the chain check (`chain_check.py`) hashes a record's own bytes: any changed byte shows, and no
re-serialisation can disagree with the writer. ``seq`` lets `verify` tell a deleted record
from reordered ones, and lets an append check the log against its head from the last line.

Appends. Writers hold an exclusive ``flock`` on the log (it serialises threads as well as
processes: each append opens its own descriptor). The line goes out in one ``write()``
(continued only if the kernel writes it short) and is fsynced (``AUDITOR_AUDIT_FSYNC``), so a
record exists once, whole, with its newline as its last byte.

The head. A deleted tail leaves a chain that is intact as far as it goes, so truncation can
only be seen against something outside the log: ``audit.jsonl.head``, a fixed-size file
holding the record count and the last hash, rewritten in place under the same lock. An
append writes the head twice: first an intent naming the hash of the record about to be
written (``next``), then, after the line is written and fsynced, the new count and hash.
The head is not fsynced: its copy in the page cache survives any process crash, and the
second fsync it would need doubles the cost of an append.

Crashes. A process killed (even with ``kill -9``) during an append leaves one of three states,
each of which the next `append` recognises and `verify` accepts:

- nothing written: the head has an unfulfilled intent, which the next append overwrites;
- a torn line, some bytes with no newline after the last record, while the complete
  records still match the head: a record never exists without its newline, so these bytes
  are no record. `verify` notes them; the next `append` moves them to
  ``audit.jsonl.torn`` (kept, with their offset) and truncates the log back to the last
  newline before writing;
- the whole line written but the head not yet updated: the last record's hash equals the
  head's ``next``, so it is the record the head announced. The next append adopts it.

Truncation stays visible: torn bytes are only removed when the complete records match the
head, so cutting off whole records, or cutting into the last one, leaves fewer records than
the head counts; `verify` reports a truncated tail and `append` refuses to write (it raises
`AuditIntegrityError`) rather than chain new records onto a damaged log. A forged record
appended after the last one is caught too: it is past the head and is not the announced
``next``. What a hash chain cannot catch is a rewrite of the log *and* its head together by
someone who can write both; copy the head (``verify`` prints it) somewhere they cannot.
After a power loss the unsynced head may lag the log by the last few records; `verify` then
reports records past the head, and a person decides.

This module reads and writes plain JSON lines and imports no heavy library, so that the
command that checks the trail (``python -m compliance_auditor.audit verify``) starts at once.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from compliance_auditor import config
from compliance_auditor.logs import get_logger
from compliance_auditor.records import CHAIN_FIELDS, ChainedRecord
from compliance_auditor.team.identity import os_user

log = get_logger("audit", "audit_events.jsonl")

GENESIS = "0" * 64
RESERVED = CHAIN_FIELDS
HEAD_SIZE = 256
_HASH_KEY = b',"hash":"'
_SEAL_LEN = len(_HASH_KEY) + 64 + 2  # ,"hash":"<64 hex>"}


class AuditIntegrityError(RuntimeError):
    """The log no longer matches its head; nothing is appended until a person has looked."""


# --------------------------------------------------------------------------- files


def log_path(path: str | Path | None = None) -> Path:
    return Path(path) if path else config.get_settings().audit_log_path


def head_path(log_file: Path) -> Path:
    return log_file.with_name(log_file.name + ".head")


def torn_path(log_file: Path) -> Path:
    return log_file.with_name(log_file.name + ".torn")


@dataclass(frozen=True)
class Head:
    """What the log should end with: its record count, last hash, and an announced next hash."""

    count: int
    hash: str
    next: str | None = None

    def to_bytes(self) -> bytes:
        text = json.dumps({"count": self.count, "hash": self.hash, "next": self.next}, separators=(",", ":"))
        return text.ljust(HEAD_SIZE - 1).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> Head | None:
        if not data.strip():
            return None
        try:
            fields = orjson.loads(data)
            return cls(int(fields["count"]), str(fields["hash"]), fields.get("next"))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise AuditIntegrityError(f"the head file is unreadable: {exc}") from exc


def read_head(log_file: Path) -> Head | None:
    try:
        return Head.from_bytes(head_path(log_file).read_bytes())
    except FileNotFoundError:
        return None


# --------------------------------------------------------------------------- sealing


def canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def seal(record: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The record with its hash, and its line: the canonical bytes with the hash added last."""
    body = canonical({k: v for k, v in record.items() if k != "hash"}).encode()
    digest = hashlib.sha256(body).hexdigest()
    return {**record, "hash": digest}, body[:-1] + _HASH_KEY + digest.encode() + b'"}\n'


class Entry(NamedTuple):
    """One line of the log, checked against its own hash."""

    valid: bool
    seq: Any = None
    prev_hash: Any = None
    hash: str = ""
    id: str = ""


def check_line(line: bytes) -> Entry:
    """Parse a line (without its newline) and check that its bytes hash to its `hash`."""
    if len(line) <= _SEAL_LEN or line[-_SEAL_LEN : -_SEAL_LEN + len(_HASH_KEY)] != _HASH_KEY:
        return Entry(False)
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return Entry(False)
    if not isinstance(record, dict):
        return Entry(False)
    stated = line[-66:-2].decode("ascii", "replace")
    body = line[:-_SEAL_LEN] + b"}"
    valid = record.get("hash") == stated and hashlib.sha256(body).hexdigest() == stated
    return Entry(valid, record.get("seq"), record.get("prev_hash"), stated, str(record.get("id", "")))


# --------------------------------------------------------------------------- appending


def append(record: ChainedRecord | dict[str, Any], path: str | Path | None = None) -> dict[str, Any]:
    """Seal `record` into the chain and return it as stored (with id, ts, user, seq, prev_hash, hash).

    A typed record (`records.ChainedRecord`) gets its chain fields set as well. Raises
    ValueError for a record that sets a reserved field or is not JSON, and
    AuditIntegrityError when the log does not match its head (see the module docstring).
    """
    typed = record if isinstance(record, ChainedRecord) else None
    entry = _new_entry(record.to_chain() if isinstance(record, ChainedRecord) else record)
    log_file = log_path(path)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_file, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        head_fd = os.open(head_path(log_file), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            head = _recover(fd, head_fd, log_file)
            stored, line = seal({**entry, "seq": head.count, "prev_hash": head.hash})
            os.pwrite(head_fd, Head(head.count, head.hash, stored["hash"]).to_bytes(), 0)
            _write_all(fd, line)
            if config.get_settings().audit_fsync:
                os.fsync(fd)
            os.pwrite(head_fd, Head(head.count + 1, stored["hash"]).to_bytes(), 0)
        finally:
            os.close(head_fd)
    finally:
        os.close(fd)  # releases the lock
    if typed:
        typed.sealed(stored)
    return stored


def _new_entry(record: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
        raise ValueError("an audit record is a dict with a 'kind'")
    reserved = sorted(set(RESERVED) & set(record))
    if reserved:
        raise ValueError(f"the audit trail sets {reserved} itself")
    entry = {
        **record,
        "id": uuid.uuid4().hex[:16],
        "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
        "user": record.get("user") or os_user(),
    }
    try:
        canonical(entry)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"an audit record must be plain JSON: {exc}") from exc
    return entry


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    while written < len(data):  # a short write (disk nearly full): finish the line
        written += os.write(fd, data[written:])


def _recover(fd: int, head_fd: int, log_file: Path) -> Head:
    """The head the next record chains from, after finishing what a crashed append left."""
    size = os.fstat(fd).st_size
    head = Head.from_bytes(os.pread(head_fd, HEAD_SIZE, 0))
    if head is None:
        if size:
            raise AuditIntegrityError(f"{log_file} has content but its head {head_path(log_file)} is missing")
        return Head(0, GENESIS)
    last, end = _last_line(fd, size)
    found = (0, GENESIS)
    if last is not None:
        entry = check_line(last[:-1])
        if not entry.valid or not isinstance(entry.seq, int):
            raise AuditIntegrityError(f"the last record of {log_file} does not match its hash")
        found = (entry.seq + 1, entry.hash)
    if found == (head.count + 1, head.next):
        head = Head(*found)  # the crashed append's record landed whole: adopt it
        log.info(
            "adopted interrupted append", extra={"fields": {"log": str(log_file), "seq": head.count - 1}}
        )
    elif found != (head.count, head.hash):
        raise AuditIntegrityError(
            f"{log_file} ends at record {found[0]} ({found[1][:12]}) but its head records "
            f"{head.count} ({head.hash[:12]}): run `python -m compliance_auditor.audit verify`"
        )
    if end < size:
        _quarantine(fd, log_file, end, size)
    return head


def _last_line(fd: int, size: int) -> tuple[bytes | None, int]:
    """The last complete line (with its newline) and the offset just past it."""
    buf, start = b"", size
    while start > 0:
        begin = max(0, start - (1 << 16))
        buf, start = os.pread(fd, start - begin, begin) + buf, begin
        end = buf.rfind(b"\n")
        if end < 0:
            continue
        previous = buf.rfind(b"\n", 0, end)
        if previous >= 0 or start == 0:
            return buf[previous + 1 : end + 1], start + end + 1
    return None, 0


def _quarantine(fd: int, log_file: Path, end: int, size: int) -> None:
    """Move a torn tail (bytes after the last newline) to `<log>.torn`, then cut it off."""
    torn = os.pread(fd, size - end, end)
    note = {
        "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
        "offset": end,
        "length": len(torn),
        "sha256": hashlib.sha256(torn).hexdigest(),
        "bytes_b64": base64.b64encode(torn).decode(),
    }
    with open(torn_path(log_file), "a", encoding="utf-8") as out:
        out.write(json.dumps(note) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.ftruncate(fd, end)
    log.warning(
        "torn tail quarantined", extra={"fields": {"log": str(log_file), "offset": end, "bytes": len(torn)}}
    )


# --------------------------------------------------------------------------- reading


def records(path: str | Path | None = None) -> Iterator[dict[str, Any]]:
    """Every complete record, in order (a torn tail is skipped)."""
    log_file = log_path(path)
    if not log_file.exists():
        return
    with open(log_file, "rb") as handle:
        for line in handle:
            if line.endswith(b"\n"):
                yield orjson.loads(line)


def records_mentioning(text: str, path: str | Path | None = None) -> Iterator[dict[str, Any]]:
    """Every complete record whose line holds `text` (a run id, a hash); other lines are not parsed."""
    log_file = log_path(path)
    if not log_file.exists():
        return
    needle = text.encode()
    with open(log_file, "rb") as handle:
        for line in handle:
            if needle in line and line.endswith(b"\n"):
                yield orjson.loads(line)


def find(ref: str, path: str | Path | None = None) -> dict[str, Any]:
    """The record whose id or hash is `ref`, or starts with it (at least 6 characters)."""
    if len(ref) < 6:
        raise ValueError("give at least 6 characters of a record id or hash")
    needle = ref.encode()
    matches = {}
    log_file = log_path(path)
    with open(log_file, "rb") as handle:
        for line in handle:
            if needle in line and line.endswith(b"\n"):
                record = orjson.loads(line)
                if str(record.get("id", "")).startswith(ref) or str(record.get("hash", "")).startswith(ref):
                    matches[record["hash"]] = record
    if not matches:
        raise KeyError(f"no record {ref!r} in {log_file}")
    if len(matches) > 1:
        raise ValueError(f"{ref!r} matches {len(matches)} records; give more characters")
    return next(iter(matches.values()))
