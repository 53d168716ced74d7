"""Fair turns at the model: analysts asking while a procedure run asks many cells at once, on a
server that serves few requests at once (not a test).

    .venv/bin/python -m bench.fair_turns [--seconds 40] [--analysts 3] [--cells 8] [--slots 2]
        [--rounds 2] [--latency-ms 300] [--per-token-ms 10] [--out bench/out/fair_turns.json]

The model is the OpenAI-protocol test server in a process of its own, with `--slots` requests
served at once (as llama-server's `-np`; it says so at /props). Phases, in one run:

- alone: one analyst asks, nobody else;
- then, `--rounds` times, alternated: the analysts ask while a run (one starter's identity)
  keeps `--cells` cells asking at once, with the pool's fair queue (`fair`: no more calls in
  flight than the server's slots, askers served in turn) and without it (`server queue`:
  AUDITOR_LLM_SLOTS=0, every call sent at once and the server's queue decides, first come,
  first served); and with the run's cells in a process of their own, as the browser starts
  runs (`background`: that process's pool takes half the slots, the app's the others).

Reported: the analysts' time to the first answer token, p50 and p95, and its ratio to the one
analyst alone; and the cells the run finished (its throughput is the price of fairness).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.agent_overhead import QUESTIONS, grade_or_answer
from bench.team_load import first_token_s, person, summary
from tests.support.fake_llm import FakeLLM
from tests.support.filings import AMCOR_8K, ROOT, ULTA


def _serve(conn: Any, latency_s: float, per_token_s: float, slots: int) -> None:
    with FakeLLM(latency_s=latency_s, per_token_s=per_token_s, slots=slots) as server:
        server.responder = grade_or_answer
        conn.send(server.url)
        conn.recv()


def _background_run(conn: Any, cells: int) -> None:
    """A run's worker process: `cells` cells asking at once until told to stop; says how many."""
    from compliance_auditor.index.store import AuditIndex
    from compliance_auditor.llm.pool import LLMPool

    index, pool, stop = AuditIndex(), LLMPool(background=True), threading.Event()
    index.embedder  # noqa: B018 -- loaded before the phase starts
    done = [0]

    def cell(n: int) -> None:
        starter, k = person("run-starter", "analyst"), 0
        while not stop.is_set():
            first_token_s(index, pool, f"{QUESTIONS[(n + k) % len(QUESTIONS)]} (background {n}.{k})", starter)
            done[0] += 1
            k += 1

    conn.send("ready")
    conn.recv()
    threads = [threading.Thread(target=cell, args=(n,)) for n in range(cells)]
    for thread in threads:
        thread.start()
    conn.recv()
    stop.set()
    for thread in threads:
        thread.join()
    conn.send(done[0])


def background_phase(index: Any, pool: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The analysts ask in this process while the run's cells ask in a process of their own."""
    context = multiprocessing.get_context("spawn")
    conn, child = context.Pipe()
    worker = context.Process(target=_background_run, args=(child, args.cells), daemon=True)
    worker.start()
    conn.recv()
    conn.send("go")
    result = phase(index, pool, args, with_run=False, analysts=args.analysts)
    conn.send("stop")
    result["cells_done"] = conn.recv()
    worker.join()
    return result


def phase(
    index: Any, pool: Any, args: argparse.Namespace, with_run: bool, analysts: int = 0
) -> dict[str, Any]:
    """The analysts ask for `args.seconds` (with a run's cells asking beside them, if asked)."""
    until = time.monotonic() + args.seconds
    first_tokens: list[float] = []
    cells_done = [0]
    lock = threading.Lock()

    def analyst(n: int) -> None:
        who, k = person(f"analyst{n}", "analyst"), 0
        while time.monotonic() < until:
            seconds = first_token_s(index, pool, f"{QUESTIONS[(n + k) % len(QUESTIONS)]} ({n}.{k})", who)
            with lock:
                first_tokens.append(seconds)
            k += 1

    def cell(n: int) -> None:
        starter, k = person("run-starter", "analyst"), 0
        while time.monotonic() < until:
            first_token_s(index, pool, f"{QUESTIONS[(n + k) % len(QUESTIONS)]} (cell {n}.{k})", starter)
            with lock:
                cells_done[0] += 1
            k += 1

    analysts = analysts or (args.analysts if with_run else 1)
    threads = [threading.Thread(target=analyst, args=(n,)) for n in range(analysts)]
    threads += [threading.Thread(target=cell, args=(n,)) for n in range(args.cells if with_run else 0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"first_token": summary(first_tokens), "cells_done": cells_done[0]}


def ratios(alone: dict[str, Any], rounds: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each phase with its p95 first token as a multiple of the one analyst's alone."""
    single_p95 = alone["first_token"]["p95_s"]
    return {name: [{**r, "p95_ratio": round(r["first_token"]["p95_s"] / single_p95, 2)} for r in phases]
            for name, phases in rounds.items()}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--analysts", type=int, default=3)
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, default=300)
    parser.add_argument("--per-token-ms", type=float, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "fair_turns.json")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="auditor-fair-turns-"))
    os.environ.update(AUDITOR_DB_URI=str(root / "db"), AUDITOR_LOGS_DIR=str(root / "logs"),
                      AUDITOR_DATA_DIR=str(root / "data"), AUDITOR_AUDIT_FSYNC="false")  # fmt: skip
    context = multiprocessing.get_context("spawn")
    conn, child = context.Pipe()
    server = context.Process(
        target=_serve, args=(child, args.latency_ms / 1000, args.per_token_ms / 1000, args.slots), daemon=True
    )
    server.start()
    os.environ["AUDITOR_LLM_ENDPOINT"] = conn.recv()

    from compliance_auditor import config
    from compliance_auditor.index.store import AuditIndex
    from compliance_auditor.ingestion import ingest_paths
    from compliance_auditor.llm.pool import LLMPool

    config.get_settings.cache_clear()
    settings = config.get_settings()
    index = AuditIndex()
    ingest_paths([ULTA, AMCOR_8K], index, show_progress=False)
    pools = {"fair": LLMPool(settings), "server queue": LLMPool(settings.model_copy(update={"llm_slots": 0}))}
    alone = phase(index, pools["fair"], args, with_run=False)
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in [*pools, "background"]}
    for _ in range(args.rounds):
        for name, pool in pools.items():
            rounds[name].append(phase(index, pool, args, with_run=True))
        rounds["background"].append(background_phase(index, pools["fair"], args))
    result = {
        "load_average": os.getloadavg(), "args": {k: str(v) for k, v in vars(args).items()},
        "slots_learned": pools["fair"].slots(), "alone": alone, "with_a_run": ratios(alone, rounds),
    }  # fmt: skip
    conn.send("stop")
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
