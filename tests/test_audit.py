"""The audit trail: sealed, chained records; tampering caught; crashes survived; answers replayed."""

from __future__ import annotations

import getpass
import hashlib
import json
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from compliance_auditor.audit import chain, chain_check, cli
from compliance_auditor.audit.replay import replay, tag_version
from compliance_auditor.audit.signoff import signoff, signoff_state
from compliance_auditor.index import store
from compliance_auditor.ingestion import ingest_paths
from compliance_auditor.records import PassageRef, Reflection
from tests.support.answers import answer_record
from tests.support.filings import AMCOR_8K, ROOT, ULTA

PROJECT = ROOT


def question(n: int) -> dict:
    return {"kind": "answer", "question": f"question {n}: net sales?", "answer": f"answer {n} [1]", "k": 5}


def run_child(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=PROJECT, capture_output=True, timeout=120)


# --------------------------------------------------------------------------- records


def test_each_record_is_one_line_sealed_with_the_hash_of_its_canonical_json(tmp_path):
    path = tmp_path / "audit.jsonl"
    stored = [chain.append(question(n), path) for n in range(3)]

    lines = path.read_bytes().splitlines()
    assert len(lines) == 3
    previous = chain.GENESIS
    for line, record in zip(lines, stored, strict=True):
        parsed = json.loads(line)
        assert parsed == record
        body = {k: v for k, v in parsed.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert parsed["hash"] == hashlib.sha256(canonical.encode()).hexdigest()
        assert parsed["prev_hash"] == previous
        assert datetime.fromisoformat(parsed["ts"]).utcoffset() == timedelta(0)
        assert parsed["user"]  # the OS user when the caller gives none
        previous = parsed["hash"]
    assert chain.read_head(path) == chain.Head(3, previous)


def test_the_log_lives_where_the_settings_say(set_env, tmp_path):
    set_env(audit_log=tmp_path / "trail" / "answers.jsonl")
    chain.append(question(1))
    assert chain_check.verify_chain().records == 1
    assert (tmp_path / "trail" / "answers.jsonl.head").exists()


def test_a_record_cannot_set_what_the_trail_sets_or_hold_non_json(tmp_path):
    path = tmp_path / "audit.jsonl"
    with pytest.raises(ValueError, match="sets"):
        chain.append({**question(1), "hash": "0" * 64}, path)
    with pytest.raises(ValueError, match="plain JSON"):
        chain.append({**question(1), "latency_s": float("nan")}, path)
    with pytest.raises(ValueError, match="kind"):
        chain.append({"question": "no kind"}, path)
    assert not path.exists() or path.read_bytes() == b""


APPEND_MANY = """
import sys
from compliance_auditor.audit import chain
for n in range(int(sys.argv[2])):
    chain.append({"kind": "answer", "question": f"from a process {n}"}, sys.argv[1])
"""


def test_threads_and_processes_appending_at_once_form_one_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    children = [
        subprocess.Popen([sys.executable, "-c", APPEND_MANY, str(path), "25"], cwd=PROJECT) for _ in range(2)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: chain.append(question(n), path), range(100)))
    assert [child.wait(timeout=120) for child in children] == [0, 0]

    report = chain_check.verify_chain(path)
    assert report.ok, report.summary()
    assert report.records == 150
    assert sorted(r["seq"] for r in chain.records(path)) == list(range(150))


# --------------------------------------------------------------------------- verify


def test_verify_prints_the_count_and_exits_0_on_an_intact_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    for n in range(4):
        chain.append(question(n), path)
    done = subprocess.run(
        [sys.executable, "-m", "compliance_auditor.audit", "verify", str(path)],
        cwd=PROJECT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0
    assert done.stdout.splitlines()[0] == "4 records, chain intact"


def test_verify_names_the_broken_record_and_exits_non_zero(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    stored = [chain.append(question(n), path) for n in range(4)]
    path.write_bytes(path.read_bytes().replace(b"answer 2 [1]", b"answer 9 [1]"))

    assert cli.main(["verify", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"chain broken at line 3 (record {stored[2]['id']}): changed" in out


def test_an_empty_log_is_intact_and_a_missing_one_is_an_error(tmp_path, capsys):
    (tmp_path / "audit.jsonl").touch()
    assert cli.main(["verify", str(tmp_path / "audit.jsonl")]) == 0
    assert cli.main(["verify", str(tmp_path / "absent.jsonl")]) == 2
    assert "0 records, chain intact" in capsys.readouterr().out


def test_a_deleted_log_is_a_truncation_when_its_head_remains(tmp_path):
    path = tmp_path / "audit.jsonl"
    chain.append(question(1), path)
    path.unlink()
    assert chain_check.verify_chain(path).kind == "truncated"
    with pytest.raises(chain.AuditIntegrityError):
        chain.append(question(2), path)


def test_a_copy_without_its_head_is_checked_only_with_no_head(tmp_path):
    path = tmp_path / "audit.jsonl"
    for n in range(3):
        chain.append(question(n), path)
    chain.head_path(path).unlink()

    assert chain_check.verify_chain(path).kind == "unanchored"
    report = chain_check.verify_chain(path, use_head=False)
    assert report.ok and report.records == 3 and "truncated tail cannot be seen" in report.notes[0]


# --------------------------------------------------------------------------- tampering


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[bytes, bytes]:
    """A log of 30 records (answers and sign-offs) and its head, to tamper with."""
    path = tmp_path_factory.mktemp("pristine") / "audit.jsonl"
    for n in range(30):
        record = chain.append(question(n), path)
        if n % 7 == 3:
            signoff(record["hash"], "Dana Reviewer", "approved", f"checked {n}", path)
    return path.read_bytes(), chain.head_path(path).read_bytes()


def forged(template: bytes, seq: int, prev_hash: str, text: str) -> bytes:
    """A record that is valid in itself: whoever forged it computed its hash."""
    record = {k: v for k, v in json.loads(template).items() if k != "hash"}
    record.update(seq=seq, prev_hash=prev_hash, answer=text)
    return chain.seal(record)[1]


def changed(lines: list[bytes], rng: random.Random, case: int) -> list[bytes]:
    at = rng.randrange(len(lines))
    if case % 3 == 2:  # rewritten and re-hashed: valid alone, but no longer what the chain holds
        record = json.loads(lines[at])
        lines[at] = forged(lines[at], record["seq"], record["prev_hash"], "a better answer")
        return lines
    line = bytearray(lines[at])
    offset = rng.randrange(1, len(line) - 1)  # any byte but the newline
    line[offset] = rng.choice([c for c in b"0123456789abcdefXYZ:,{" if c != line[offset]])
    lines[at] = bytes(line)
    return lines


def deleted(lines: list[bytes], rng: random.Random, case: int) -> list[bytes]:
    count = 1 + case % 3
    at = rng.randrange(len(lines) - count)  # the last record stays: that would be a truncation
    return lines[:at] + lines[at + count :]


def reordered(lines: list[bytes], rng: random.Random, case: int) -> list[bytes]:
    first, second = sorted(rng.sample(range(len(lines)), 2))
    if case % 2:
        lines[first], lines[second] = lines[second], lines[first]
    else:
        lines.insert(second, lines.pop(first))
    return lines


def truncated(lines: list[bytes], rng: random.Random, case: int) -> list[bytes]:
    lines = lines[: len(lines) - rng.randrange(case % 3, 4)]
    if case % 3 == 0:  # cut into the (new) last record
        lines[-1] = lines[-1][: rng.randrange(1, len(lines[-1]) - 1)]
    return lines


def inserted(lines: list[bytes], rng: random.Random, case: int) -> list[bytes]:
    at = rng.randrange(1, len(lines))
    previous = json.loads(lines[at - 1])["hash"]
    style = case % 4
    if style == 0:  # forged and chained to the record before it
        return [*lines[:at], forged(lines[at], at, previous, "forged"), *lines[at:]]
    if style == 1:  # a copy of a genuine record
        return [*lines[:at], lines[rng.randrange(len(lines))], *lines[at:]]
    if style == 2:  # forged and appended after the last record, properly chained
        last = json.loads(lines[-1])
        return [*lines, forged(lines[-1], last["seq"] + 1, last["hash"], "forged")]
    return [*lines[:at], forged(lines[at], at, "f" * 64, "forged"), *lines[at:]]


TAMPERING = {f.__name__: f for f in (changed, deleted, reordered, truncated, inserted)}


@pytest.mark.parametrize("kind", TAMPERING)
def test_every_generated_tampering_case_is_caught_and_named(kind, pristine, tmp_path):
    content, head = pristine
    path = tmp_path / "audit.jsonl"
    missed = []
    for case in range(12):
        rng = random.Random(f"{kind}-{case}")
        lines = TAMPERING[kind]([line + b"\n" for line in content.splitlines()], rng, case)
        tampered = b"".join(lines)
        assert tampered != content
        path.write_bytes(tampered)
        chain.head_path(path).write_bytes(head)
        report = chain_check.verify_chain(path)
        if report.ok or report.kind != kind or report.line is None:
            missed.append((case, report.summary()))
    assert not missed


# --------------------------------------------------------------------------- crashes


KILLED_WHILE_APPENDING = """
import sys
from compliance_auditor.audit import chain
print("appending", flush=True)
while True:
    chain.append({"kind": "answer", "question": "long", "answer": "x" * 300_000}, sys.argv[1])
"""


def test_a_process_killed_with_sigkill_while_appending_leaves_a_chain_that_verifies(tmp_path):
    path = tmp_path / "audit.jsonl"
    rng = random.Random(6)
    for _ in range(4):
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_WHILE_APPENDING, str(path)], cwd=PROJECT, stdout=subprocess.PIPE
        )
        child.stdout.readline()
        time.sleep(rng.uniform(0.05, 0.4))  # let it get somewhere, then kill it mid-stride
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        report = chain_check.verify_chain(path)
        assert report.ok, report.summary()

        chain.append(question(report.records), path)
        assert chain_check.verify_chain(path).records == report.records + 1


TORN_WRITE = """
import os, signal, sys
from compliance_auditor.audit import chain
real_write = os.write
def write_half_then_die(fd, data):
    real_write(fd, data[: len(data) // 2])
    os.kill(os.getpid(), signal.SIGKILL)
os.write = write_half_then_die
chain.append({"kind": "answer", "question": "never finished"}, sys.argv[1])
"""


def test_a_torn_line_from_a_killed_append_is_quarantined_by_the_next_append(tmp_path):
    path = tmp_path / "audit.jsonl"
    for n in range(3):
        chain.append(question(n), path)
    intact = path.stat().st_size
    assert run_child(TORN_WRITE, str(path)).returncode == -signal.SIGKILL
    torn = path.read_bytes()[intact:]
    assert torn.startswith(b'{"id"') and not torn.endswith(b"\n")

    report = chain_check.verify_chain(path)
    assert report.ok and report.records == 3
    assert "torn" in report.notes[0]

    chain.append(question(3), path)
    assert chain_check.verify_chain(path).records == 4 and not chain_check.verify_chain(path).notes
    kept = json.loads(chain.torn_path(path).read_text())
    assert (kept["offset"], kept["length"]) == (intact, len(torn))


DIES_BEFORE_HEAD_UPDATE = """
import os, signal, sys
from compliance_auditor.audit import chain
os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
chain.append({"kind": "answer", "question": "written, head not updated"}, sys.argv[1])
"""


def test_a_record_written_whole_before_a_kill_is_adopted_by_the_next_append(tmp_path):
    path = tmp_path / "audit.jsonl"
    for n in range(3):
        chain.append(question(n), path)
    assert run_child(DIES_BEFORE_HEAD_UPDATE, str(path)).returncode == -signal.SIGKILL
    assert chain.read_head(path).count == 3

    report = chain_check.verify_chain(path)
    assert report.ok and report.records == 4
    assert "interrupted before its head update" in report.notes[0]

    chain.append(question(4), path)
    assert chain.read_head(path).count == 5
    assert [r["question"] for r in chain.records(path)][3] == "written, head not updated"


def test_cutting_records_off_is_never_mistaken_for_a_torn_write(tmp_path):
    path = tmp_path / "audit.jsonl"
    for n in range(5):
        chain.append(question(n), path)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) - 40])  # into the last record

    assert chain_check.verify_chain(path).kind == "truncated"
    with pytest.raises(chain.AuditIntegrityError, match="ends at record 4"):
        chain.append(question(5), path)
    assert path.read_bytes() == content[: len(content) - 40]  # left as found, for the auditors


# --------------------------------------------------------------------------- sign-off


def test_a_signoff_references_the_answer_and_the_latest_verdict_is_its_state(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    answer = chain.append(question(1), path)
    assert signoff_state(answer["hash"], path) is None

    signoff(answer["hash"], "Dana Reviewer", "needs-work", "cite the 10-K", path)
    args = ["signoff", answer["hash"][:12], "--reviewer", "Lee Partner", "--verdict", "approved"]
    assert cli.main([*args, "--comment", "agreed to the filing", "--log", str(path)]) == 0

    state = signoff_state(answer["hash"], path)
    assert state is not None
    assert (state.reviewer, state.verdict, state.comment) == (
        "Lee Partner",
        "approved",
        "agreed to the filing",
    )
    assert state.answer_hash == answer["hash"] and state.answer_id == answer["id"]
    assert "approved by Lee Partner" in capsys.readouterr().out
    assert chain_check.verify_chain(path).records == 3


def test_a_signoff_from_the_command_line_carries_the_os_user_and_their_roles(tmp_path, set_env, capsys):
    path = tmp_path / "audit.jsonl"
    answer = chain.append(question(1), path)
    args = [
        "signoff",
        answer["hash"],
        "--reviewer",
        "Lee Partner",
        "--verdict",
        "approved",
        "--log",
        str(path),
    ]
    assert cli.main(args) == 0
    signed = signoff_state(answer["hash"], path)
    assert signed is not None and signed.identity is not None
    assert (signed.identity.subject, signed.identity.method) == (getpass.getuser(), "os")
    roles = tmp_path / "roles.toml"
    roles.write_text(f'[users]\n"{getpass.getuser()}" = ["analyst"]\n')
    set_env(auth_roles_file=roles)
    assert cli.main(args) == 2  # the roles file says this login is no reviewer
    assert "may not sign off" in capsys.readouterr().err
    assert chain_check.verify_chain(path).records == 2


def test_a_signoff_needs_a_known_answer_and_a_valid_verdict(tmp_path):
    path = tmp_path / "audit.jsonl"
    answer = chain.append(question(1), path)
    with pytest.raises(ValueError, match="verdict"):
        signoff(answer["hash"], "Dana", "fine", path=path)
    with pytest.raises(KeyError):
        signoff("ab" * 32, "Dana", "approved", path=path)
    signed = signoff(answer["hash"], "Dana", "approved", path=path)
    with pytest.raises(ValueError, match="not an answer"):
        signoff(signed.hash, "Dana", "approved", path=path)


# --------------------------------------------------------------------------- replay


def test_replay_returns_the_original_chunks_after_new_filings_cleanup_and_deletion(
    index, tmp_path, monkeypatch, capsys
):
    path = tmp_path / "audit.jsonl"
    ingest_paths([ULTA], index, show_progress=False)
    asked = "How much did gross profit and net sales grow in the fourth quarter?"
    result = index.search(asked, k=5, filters={})
    tag_version(index, result.table_version, result.documents_version)
    record = chain.append(answer_record(asked, result, k=5), path)

    ingest_paths([AMCOR_8K], index, show_progress=False)
    index.optimize(cleanup_older_than=timedelta(0))
    versions = [v["version"] for v in index.chunks.list_versions()]
    assert 1 not in versions and result.table_version in versions  # old versions pruned, the tagged kept
    assert index.stats()["documents"] == 2

    replayed = replay(record["id"], index, path)
    assert replayed.same and replayed.same_order
    assert replayed.original == [h.chunk_id for h in result.hits]

    index.delete_document(result.hits[0].doc_sha256)
    index.optimize(cleanup_older_than=timedelta(0))
    assert all(h.doc_name != ULTA.name for h in index.search(asked, k=5, filters={}).hits)
    monkeypatch.setattr(store, "get_embedder", lambda name=None: index.embedder)
    assert cli.main(["replay", record["id"], "--log", str(path)]) == 0
    assert "same chunks, same order" in capsys.readouterr().out


def test_replay_of_an_untagged_version_says_so(ulta_index, tmp_path):
    path = tmp_path / "audit.jsonl"
    result = ulta_index.search("net sales", k=3, filters={})
    stored = chain.append(answer_record("net sales?", result, table_version=10_000), path)
    with pytest.raises(KeyError, match="no tag audit-v10000"):
        replay(stored["id"], ulta_index, path)


def test_replay_includes_the_searches_of_reflections(ulta_index, tmp_path):
    path = tmp_path / "audit.jsonl"
    asked, again = "What was net income per diluted share?", "comparable sales increase"
    first = ulta_index.search(asked, k=3, filters={"doc_name": ULTA.name})
    second = ulta_index.search(again, k=3, filters={"doc_name": ULTA.name})
    tag_version(ulta_index, first.table_version, first.documents_version)
    reflection = Reflection(decision="retrieve", reason="need comparable sales", query=again,
                            filters=second.filters)  # fmt: skip
    record = answer_record(asked, first, k=3, reflections=[reflection])
    record.retrieved += [PassageRef(chunk_id=h.chunk_id, page=h.page) for h in second.hits]
    stored = chain.append(record, path)

    replayed = replay(stored["id"], ulta_index, path)
    assert [s["query"] for s in replayed.searches] == [asked, again]
    assert replayed.same


def test_replay_runs_the_searches_a_record_lists_as_they_ran(ulta_index, tmp_path):
    path = tmp_path / "audit.jsonl"
    rewritten = "diluted earnings per share fourth quarter"  # the agent searched for this, not the question
    result = ulta_index.search(rewritten, k=4, filters={"doc_name": ULTA.name})
    tag_version(ulta_index, result.table_version, result.documents_version)
    searches = [{"query": rewritten, "filters": result.filters}]
    stored = chain.append(
        answer_record("What did Ulta earn per share?", result, k=4, searches=searches), path
    )

    replayed = replay(stored["id"], ulta_index, path)
    assert [s["query"] for s in replayed.searches] == [rewritten]
    assert replayed.same and replayed.same_order
