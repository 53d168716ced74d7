"""The tamper-evident audit trail: one hash-chained JSON line per question, and its CLI.

    python audit.py verify [FILE] [--no-head]
    python audit.py replay RECORD_ID
    python audit.py export RECORD_ID --format md|html [--out PATH]
    python audit.py signoff ANSWER_HASH --reviewer NAME --verdict approved|rejected|needs-work --comment TEXT

Records. `append()` stores a record as one line of ``logs/audit.jsonl`` (``AUDITOR_AUDIT_LOG``),
adding ``id``, ``ts`` (UTC), ``user`` (the OS user unless given), ``seq`` (its 0-based place
in the chain), ``prev_hash`` (the previous record's hash; 64 zeros for the first) and
``hash``: the SHA-256 of the record's canonical JSON without ``hash``, that is
``json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``. The line is
exactly those canonical bytes with ``,"hash":"..."`` added before the closing brace, so
`verify` checks a record by hashing its own bytes: any changed byte shows, and no
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

Reproduction. The agent calls `tag_version()` with the search's table versions; the tag keeps
that version of the chunks and documents tables through `AuditIndex.optimize()`, and `replay`
searches them again. `export` writes a workpaper (see `workpaper.py`); `signoff` appends a
reviewer's verdict on an answer.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import getpass
import hashlib
import json
import os
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import orjson

import config

log = config.get_logger("audit", "audit_events.jsonl")

GENESIS = "0" * 64
RESERVED = ("id", "ts", "seq", "prev_hash", "hash")
VERDICTS = ("approved", "rejected", "needs-work")
HEAD_SIZE = 256
_HASH_KEY = b',"hash":"'
_SEAL_LEN = len(_HASH_KEY) + 64 + 2  # ,"hash":"<64 hex>"}
_READ_BLOCK = 1 << 22


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


def append(record: dict[str, Any], path: str | Path | None = None) -> dict[str, Any]:
    """Seal `record` into the chain and return it as stored (with id, ts, user, seq, prev_hash, hash).

    Raises ValueError for a record that sets a reserved field or is not JSON, and
    AuditIntegrityError when the log does not match its head (see the module docstring).
    """
    entry = _new_entry(record)
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
        "user": record.get("user") or _os_user(),
    }
    try:
        canonical(entry)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"an audit record must be plain JSON: {exc}") from exc
    return entry


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no name
        return f"uid {os.getuid()}"


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
            f"{head.count} ({head.hash[:12]}): run `python audit.py verify`"
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


# --------------------------------------------------------------------------- verifying


@dataclass
class VerifyReport:
    """The outcome of `verify`: intact, or the first broken record and what broke."""

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


def verify(path: str | Path | None = None, use_head: bool = True) -> VerifyReport:
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


def _read_entries(handle) -> tuple[list[Entry], bytes]:
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


# --------------------------------------------------------------------------- sign-off


def signoff(
    answer_hash: str, reviewer: str, verdict: str, comment: str = "", path: str | Path | None = None
) -> dict[str, Any]:
    """Append a reviewer's verdict on an answer (found by its hash, or a prefix of it)."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
    if not reviewer.strip():
        raise ValueError("a sign-off needs the reviewer's name")
    answer = find(answer_hash, path)
    if answer.get("kind") != "answer":
        raise ValueError(f"{answer_hash} is a {answer.get('kind')} record, not an answer")
    return append(
        {"kind": "signoff", "answer_hash": answer["hash"], "answer_id": answer["id"],
         "reviewer": reviewer.strip(), "verdict": verdict, "comment": comment},
        path,
    )  # fmt: skip


def signoff_state(answer_hash: str, path: str | Path | None = None) -> dict[str, Any] | None:
    """The latest sign-off of an answer, or None when nobody has signed it off."""
    return _signoffs(log_path(path).resolve()).latest(answer_hash)


class SignOffs:
    """The latest sign-off of every answer in one log, read incrementally.

    The workbench asks for every answer on screen on every rerun; each call reads only what
    was appended since the last one, never the whole (possibly very long) trail again.
    """

    def __init__(self, log_file: Path) -> None:
        self.log_file = log_file
        self.offset = 0
        self.inode = 0
        self.by_answer: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def latest(self, answer_hash: str) -> dict[str, Any] | None:
        with self._lock:
            self._catch_up()
            return self.by_answer.get(answer_hash)

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
                        self.by_answer[record["answer_hash"]] = record


@lru_cache(maxsize=8)
def _signoffs(log_file: Path) -> SignOffs:
    return SignOffs(log_file)


# --------------------------------------------------------------------------- reproducing


def version_tag(table_version: int) -> str:
    return f"audit-v{int(table_version)}"


def tag_version(index, table_version: int, documents_version: int | None = None) -> str:
    """Tag the chunk-table version an answer used (and the documents version) so `optimize()`
    keeps it; returns the tag. Call it with `SearchResult.table_version` and `.documents_version`."""
    tag = version_tag(table_version)
    index.tag_version(tag, table_version, documents_version)
    return tag


@dataclass
class Replay:
    """The chunks an answer retrieved, and those the same searches return at its tagged version."""

    record_id: str
    tag: str
    searches: list[dict[str, Any]]
    original: list[str]
    replayed: list[str]

    @property
    def same(self) -> bool:
        return set(self.original) == set(self.replayed)

    @property
    def same_order(self) -> bool:
        return self.original == self.replayed


def replay(ref: str, index=None, path: str | Path | None = None) -> Replay:
    """Re-run an answer's searches against its tagged table version.

    The searches are the record's `searches` ({"query", "filters"} each, the filters a search
    ran with: `SearchResult.filters`), or without them the question with the record's
    `filters`, then each reflection that names a `query`, with its `filters`. Each uses the
    record's `k` and `search_mode`; the chunks are compared as one list, in order, deduplicated.
    """
    import database

    record = find(ref, path)
    if record.get("kind") != "answer":
        raise ValueError(f"{ref} is a {record.get('kind')} record, not an answer")
    tag = version_tag(record["table_version"])
    index = index or database.AuditIndex()
    if tag not in index.chunks.tags.list():
        raise KeyError(
            f"the index has no tag {tag}: the answer's version was never tagged (audit.tag_version)"
        )
    pinned = index.pinned(tag)
    searches, replayed = [], []
    for query, filters in _searches_of(record):
        result = pinned.search(
            query, k=record.get("k"), filters=filters, mode=record.get("search_mode", "hybrid")
        )
        ids = [hit.chunk_id for hit in result.hits]
        searches.append({"query": query, "filters": filters, "chunk_ids": ids})
        replayed.extend(i for i in ids if i not in replayed)
    original = list(dict.fromkeys(r["chunk_id"] for r in record.get("retrieved") or []))
    return Replay(record["id"], tag, searches, original, replayed)


def _searches_of(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if record.get("searches"):
        return [(s["query"], s.get("filters") or {}) for s in record["searches"]]
    reflections = record.get("reflections") or []
    return [(record["question"], record.get("filters") or {})] + [
        (r["query"], r.get("filters") or {}) for r in reflections if r.get("query")
    ]


# --------------------------------------------------------------------------- export


def export(
    ref: str, fmt: str = "html", out: str | Path | None = None, index=None, path: str | Path | None = None
) -> Path:
    """Write the workpaper of an answer record; returns its path."""
    import database
    import workpaper

    record = find(ref, path)
    target = Path(out or f"workpaper-{record['id']}.{'md' if fmt == 'md' else 'html'}")
    state = signoff_state(record["hash"], path)
    return workpaper.write(record, target, fmt, index or database.AuditIndex(), signoff=state)


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (KeyError, ValueError, FileNotFoundError, AuditIntegrityError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2


def _run_verify(args: argparse.Namespace) -> int:
    report = verify(args.file, use_head=not args.no_head)
    print(report.summary())
    return 0 if report.ok else 1


def _run_replay(args: argparse.Namespace) -> int:
    result = replay(args.record_id, path=args.log)
    print(f"record {result.record_id}: replayed at tag {result.tag}")
    for n, search in enumerate(result.searches, 1):
        print(f"search {n}: {search['query']!r} filters={json.dumps(search['filters'])}: "
              f"{len(search['chunk_ids'])} chunks")  # fmt: skip
    print("original: " + " ".join(result.original))
    print("replayed: " + " ".join(result.replayed))
    verdict = "same chunks" if result.same else "DIFFERENT chunks"
    print(f"{verdict}{', same order' if result.same_order else ''}")
    return 0 if result.same else 1


def _run_export(args: argparse.Namespace) -> int:
    print(export(args.record_id, args.format, args.out, path=args.log))
    return 0


def _run_signoff(args: argparse.Namespace) -> int:
    stored = signoff(args.answer_hash, args.reviewer, args.verdict, args.comment, path=args.log)
    print(f"sign-off {stored['id']} ({stored['verdict']} by {stored['reviewer']}) hash {stored['hash']}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audit.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(required=True)
    check = commands.add_parser("verify", help="walk the hash chain and compare it with the head")
    check.add_argument("file", nargs="?", help="the log (default: AUDITOR_AUDIT_LOG)")
    check.add_argument("--no-head", action="store_true", help="check a copy that has no head file")
    check.set_defaults(run=_run_verify)
    again = commands.add_parser("replay", help="re-run an answer's retrieval at its tagged version")
    again.add_argument("record_id")
    again.set_defaults(run=_run_replay)
    paper = commands.add_parser("export", help="write an answer's workpaper")
    paper.add_argument("record_id")
    paper.add_argument("--format", choices=("md", "html"), default="html")
    paper.add_argument("--out", help="output file (default: workpaper-<id>.<format>)")
    paper.set_defaults(run=_run_export)
    sign = commands.add_parser("signoff", help="append a reviewer's verdict on an answer")
    sign.add_argument("answer_hash")
    sign.add_argument("--reviewer", required=True)
    sign.add_argument("--verdict", required=True, choices=VERDICTS)
    sign.add_argument("--comment", default="")
    sign.set_defaults(run=_run_signoff)
    for sub in (again, paper, sign):
        sub.add_argument("--log", help="the audit log (default: AUDITOR_AUDIT_LOG)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
