"""Team mode under load: 8 analysts asking, 2 uploading filings and 1 reviewer signing off at
once, for 2 minutes (not a test).

    .venv/bin/python -m bench.team_load [--seconds 120] [--analysts 8] [--uploaders 2]
        [--latency-ms 300] [--per-token-ms 10] [--out bench/out/team_load.json]

The parts are the ones a served app shares between browser sessions: one index, one model
pool, one background ingestion worker (`workbench.resources`), one audit trail. Each user is a
thread, as each browser session is in Streamlit's server, signed in with an identity of their
own. The model is the OpenAI-protocol test server in a process of its own (300 ms to the first
token, 10 ms per token, no slot limit: a pool that serves everyone at once).

First, one analyst alone asks the same questions: time to the first answer token, p50 and p95.
Then everyone at once; afterwards it checks that every question asked has exactly one answer
record, the chain verifies, every upload is indexed once and whole (its chunks all committed,
none left over), and a filing uploaded twice is stored once.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.agent_overhead import QUESTIONS, grade_or_answer
from tests.support.fake_llm import FakeLLM
from tests.support.filings import AMCOR_8K, ROOT, ULTA


def _serve(conn: Any, latency_s: float, per_token_s: float) -> None:
    with FakeLLM(latency_s=latency_s, per_token_s=per_token_s) as server:
        server.responder = grade_or_answer
        conn.send(server.url)
        conn.recv()


def person(subject: str, *roles: str) -> Any:
    from compliance_auditor.records import Identity

    return Identity(subject=subject, issuer="https://idp.example.com", name=subject.title(), method="oidc",
                    roles=list(roles))  # fmt: skip


def first_token_s(index: Any, pool: Any, question: str, who: Any) -> float:
    """Seconds from the question to its first answer token (the whole run if none came)."""
    from compliance_auditor.agent.graph import stream

    started, first = time.perf_counter(), None
    for event in stream(question, index=index, pool=pool, identity=who):
        if event.kind == "token" and first is None:
            first = time.perf_counter() - started
    return first if first is not None else time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))] if values else 0.0


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_s": round(percentile(values, 0.5), 3),
        "p95_s": round(percentile(values, 0.95), 3),
    }


class Team:
    """The users' threads and what each did."""

    def __init__(self, index: Any, pool: Any, worker: Any, root: Path, until: float) -> None:
        self.index, self.pool, self.worker, self.root, self.until = index, pool, worker, root, until
        self.asked: list[str] = []
        self.first_tokens: list[float] = []
        self.uploaded: list[tuple[str, Path]] = []
        self.signed = 0
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def analyst(self, n: int) -> None:
        who, k = person(f"analyst{n}", "analyst"), 0
        while time.monotonic() < self.until:
            question = f"{QUESTIONS[(n + k) % len(QUESTIONS)]} (analyst {n}, question {k})"
            with self.lock:
                self.asked.append(question)
            seconds = first_token_s(self.index, self.pool, question, who)
            with self.lock:
                self.first_tokens.append(seconds)
            k += 1

    def uploader(self, n: int) -> None:
        who, k = person(f"uploader{n}", "analyst"), 0
        while time.monotonic() < self.until - 20:
            source = (ULTA, AMCOR_8K)[k % 2]
            path = self.root / f"upload{n}-{k}.pdf"
            path.write_bytes(source.read_bytes() + f"\n% upload {n} {k}\n".encode())
            files = [(path, f"{source.stem} (upload {n}.{k}).pdf")]
            if n == 0 and k == 1:  # the same file twice in one batch, and again in the next
                files.append((path, files[0][1]))
            self.worker.submit(files, who.label)
            with self.lock:
                self.uploaded.append((files[0][1], path))
            k += 1
            time.sleep(15)

    def reviewer(self) -> None:
        from compliance_auditor.audit.chain import records
        from compliance_auditor.audit.signoff import signoff, signoff_state

        who = person("reviewer", "reviewer")
        while time.monotonic() < self.until:
            time.sleep(5)
            answers = [r for r in records() if r["kind"] == "answer"]
            for answer in answers[-3:]:
                if signoff_state(answer["hash"]) is None:
                    signoff(answer["hash"], who.label, "approved", identity=who)
                    self.signed += 1


def run_team(args: argparse.Namespace, index: Any, pool: Any, worker: Any, root: Path) -> Team:
    team = Team(index, pool, worker, root, time.monotonic() + args.seconds)
    threads = [threading.Thread(target=team.analyst, args=(n,)) for n in range(args.analysts)]
    threads += [threading.Thread(target=team.uploader, args=(n,)) for n in range(args.uploaders)]
    threads.append(threading.Thread(target=team.reviewer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 300
    while worker.active() and time.monotonic() < deadline:
        time.sleep(0.5)
    return team


def check(team: Team, index: Any) -> dict[str, Any]:
    """Lost or doubled records, the chain, and the filings."""
    from compliance_auditor.audit.chain import records
    from compliance_auditor.audit.chain_check import verify_chain

    answers = Counter(r["question"] for r in records() if r["kind"] == "answer")
    per_question = [answers.get(q, 0) for q in team.asked]
    docs = index.list_documents()
    by_name = Counter(d["filename"] for d in docs)
    chunks = Counter(
        r["doc_sha256"] for r in index.chunks.search().select(["doc_sha256"]).limit(10**6).to_list()
    )
    return {
        "questions_asked": len(team.asked),
        "questions_without_a_record": sum(1 for c in per_question if c == 0),
        "questions_with_several_records": sum(1 for c in per_question if c > 1),
        "chain_ok": verify_chain().ok,
        "uploads": len(team.uploaded),
        "uploads_stored_not_once": sum(1 for name, _ in team.uploaded if by_name[name] != 1),
        "documents_not_ok": sum(1 for d in docs if d["status"] != "ok"),
        "documents_half_indexed": sum(1 for d in docs if chunks[d["sha256"]] != d["chunks"]),
        "orphan_chunks": sum(n for sha, n in chunks.items() if sha not in {d["sha256"] for d in docs}),
        "sign_offs": team.signed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--analysts", type=int, default=8)
    parser.add_argument("--uploaders", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, default=300)
    parser.add_argument("--per-token-ms", type=float, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "team_load.json")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="auditor-team-load-"))
    os.environ.update(AUDITOR_DB_URI=str(root / "db"), AUDITOR_LOGS_DIR=str(root / "logs"),
                      AUDITOR_DATA_DIR=str(root / "data"))  # fmt: skip
    context = multiprocessing.get_context("spawn")
    conn, child = context.Pipe()
    server = context.Process(target=_serve, args=(child, args.latency_ms / 1000, args.per_token_ms / 1000),
                             daemon=True)  # fmt: skip
    server.start()
    os.environ["AUDITOR_LLM_ENDPOINT"] = conn.recv()

    from compliance_auditor import config
    from compliance_auditor.index.store import AuditIndex
    from compliance_auditor.ingestion import ingest_paths
    from compliance_auditor.llm.pool import get_pool
    from compliance_auditor.workbench.resources import IngestWorker

    config.get_settings.cache_clear()
    index, pool = AuditIndex(), get_pool(config.get_settings())
    ingest_paths([ULTA, AMCOR_8K], index, show_progress=False)
    alone = person("alone", "analyst")
    single = [first_token_s(index, pool, f"{q} (alone {k})", alone) for k in range(2) for q in QUESTIONS]
    team = run_team(args, index, pool, IngestWorker(index), root)
    result = {
        "load_average": os.getloadavg(), "seconds": args.seconds, "users": {
            "analysts": args.analysts, "uploaders": args.uploaders, "reviewers": 1},
        "first_token_single": summary(single), "first_token_team": summary(team.first_tokens),
        **check(team, index),
    }  # fmt: skip
    result["p95_ratio"] = round(
        result["first_token_team"]["p95_s"] / result["first_token_single"]["p95_s"], 2
    )
    conn.send("stop")
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
