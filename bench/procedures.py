"""Audit procedure runs against single-slot model endpoints (not a test).

    .venv/bin/python -m bench.procedures [--repeats 3] [--endpoints 1 2 4] [--kills 3] [--extra-cells 1]
        [--latency-ms 300] [--per-token-ms 10] [--out bench/out/procedures.json]

A 10-item procedure (six amounts, scoped to Items 7 and 8 as the starter procedures scope
theirs: these filings have no Items, so they are searched whole; two yes/no and two text items)
over 5 filings, 50 cells, against the OpenAI-protocol test server with 300 ms to the first token
and 10 ms per token (the replies of `bench.agent_overhead`: a grading reply of 8 tokens, a
streamed answer of 111; 1.79 s of model time per cell). Each endpoint is one
`FakeLLM(slots=1)`: it serves one request at a time, as a single-slot llama-server on one GPU
does. For 1, 2 and 4 endpoints (AUDITOR_LLM_ENDPOINT lists them all) a fresh run with one cell
more at once than endpoints (`--extra-cells 1`, as the app does; 0: one per endpoint) is timed
around `work_on`, and compared with the ideal: the time the
endpoints spent serving (`served`, summed) divided by the endpoints. Medians of --repeats runs.
The test servers run in a process of their own so that they do not share this process's
interpreter lock with the run (2 cores: that would stretch `served`). Each run's requests per
endpoint are reported, to show how the pool spread the calls.

Then kill -9: a run (as many cells at once as the most endpoints) is started in the background
as the app starts one (`start_background`); its process group is killed with SIGKILL --kills
times at evenly spaced points, each time started again in the background, and finally resumed
in this process. Counted from cells.jsonl and the audit trail: cells lost, cells answered
twice, and the model calls repeated (cells that were under way at a kill are asked again).

Filings: only two are committed (tests/data), so three more are copies of them with a few
bytes appended after %%EOF: the same content, a different sha256, hence three more filings to
the index. The index is built once in a temporary folder, not timed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml

from bench.agent_overhead import grade_or_answer
from tests.support.fake_llm import FakeLLM, tokens_of
from tests.support.filings import AMCOR_8K, ROOT, ULTA

AMOUNTS = [
    ("net_sales", "What were net sales for the fiscal year?", "USD millions", "fiscal year"),
    ("gross_profit", "What was gross profit for the fiscal year?", "USD millions", "fiscal year"),
    ("operating_income", "What was operating income for the fiscal year?", "USD millions", "fiscal year"),
    ("net_income", "What was net income for the fiscal year?", "USD millions", "fiscal year"),
    (
        "diluted_eps",
        "What were diluted earnings per share for the fiscal year?",
        "USD per share",
        "fiscal year",
    ),
    ("cash", "What were cash and cash equivalents at the end of the period?", "USD millions", "period end"),
]
OTHERS = [
    ("repurchases", "Did the company repurchase its own shares?", "yes_no"),
    ("new_debt", "Did the company issue new debt?", "yes_no"),
    ("outlook", "What does the company expect for the next fiscal year?", "text"),
    ("events", "What material events does the filing report?", "text"),
]
COPIES = [(ULTA, 1), (ULTA, 2), (AMCOR_8K, 1)]


# ----- the endpoints, in a process of their own


def _serve(conn: Connection, endpoints: int, latency_s: float, per_token_s: float) -> None:
    """The child: `endpoints` single-slot test servers; answers "stats" until "stop"."""
    nominal: list[list[float]] = [[] for _ in range(endpoints)]

    def responder(n: int) -> Callable[[dict[str, Any]], str]:
        def reply(request: dict[str, Any]) -> str:
            text = grade_or_answer(request)
            nominal[n].append(latency_s + per_token_s * len(tokens_of(text)))
            return text

        return reply

    with ExitStack() as stack:
        servers = [stack.enter_context(FakeLLM(latency_s=latency_s, per_token_s=per_token_s, slots=1))
                   for _ in range(endpoints)]  # fmt: skip
        for n, server in enumerate(servers):
            server.responder = responder(n)
        conn.send([s.url for s in servers])
        while conn.recv() == "stats":
            # A reply's last bytes can reach the client before its `served` is noted.
            deadline = time.monotonic() + 10
            while any(len(s.served) < len(s.requests) for s in servers) and time.monotonic() < deadline:
                time.sleep(0.005)
            conn.send([{"requests": len(s.requests), "served": list(s.served), "nominal": list(nominal[n])}
                       for n, s in enumerate(servers)])  # fmt: skip


class Endpoints:
    """The test servers' process: `urls`, and `stats()` per endpoint (requests, served, nominal)."""

    def __init__(self, endpoints: int, latency_s: float, per_token_s: float) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, endpoints, latency_s, per_token_s),
                                       daemon=True)  # fmt: skip
        self.urls: list[str] = []

    def __enter__(self) -> Endpoints:
        self.process.start()
        self.urls = self.conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.send("stop")
        self.process.join(timeout=10)

    def stats(self) -> list[dict[str, Any]]:
        self.conn.send("stats")
        return self.conn.recv()


def since(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What each endpoint did between two `stats()`."""
    return [{"requests": a["requests"] - b["requests"], "served": a["served"][len(b["served"]):],
             "nominal": a["nominal"][len(b["nominal"]):]}
            for b, a in zip(before, after, strict=True)]  # fmt: skip


# ----- set-up


def build(root: Path) -> tuple[Any, Path, list[str]]:
    """The index of the 5 filings, the procedure file, and the filings' names."""
    from compliance_auditor.index.store import AuditIndex
    from compliance_auditor.ingestion import ingest_paths

    folder = root / "filings"
    folder.mkdir()
    for source in (ULTA, AMCOR_8K):
        (folder / source.name).write_bytes(source.read_bytes())
    for source, n in COPIES:  # the same PDF, bytes after %%EOF: another sha256
        (folder / f"{source.stem}_copy{n}.pdf").write_bytes(source.read_bytes() + f"\n% copy {n}\n".encode())
    index = AuditIndex()
    summary = ingest_paths(sorted(folder.glob("*.pdf")), index, show_progress=False)
    assert len(summary.documents) == 5, summary.as_dict()
    index.search("warm up", k=1)
    items = [{"id": i, "question": q, "answer": "amount", "unit": u, "period": p, "sections": ["7", "8"]}
             for i, q, u, p in AMOUNTS]  # fmt: skip
    items += [{"id": i, "question": q, "answer": kind} for i, q, kind in OTHERS]
    procedure = root / "bench_figures.yaml"
    procedure.write_text(
        yaml.safe_dump({"name": "Bench figures", "version": "1", "items": items}, sort_keys=False)
    )
    return index, procedure, sorted(p.name for p in folder.glob("*.pdf"))


def use_endpoints(urls: list[str]) -> Any:
    """Point the settings at the endpoints; the pool, built here (its clients take ~70 ms each)."""
    from compliance_auditor import config
    from compliance_auditor.llm.pool import get_pool

    os.environ["AUDITOR_LLM_ENDPOINT"] = ",".join(urls)
    config.get_settings.cache_clear()
    return get_pool(config.get_settings())


def new_run(index: Any, procedure: Path, names: list[str], concurrency: int) -> Any:
    from compliance_auditor import config
    from compliance_auditor.procedures.library import find_procedure
    from compliance_auditor.procedures.runs import RunStore, Scope
    from compliance_auditor.procedures.scope import resolve

    scope = Scope(filings=names)
    store = RunStore(config.get_settings().runs_dir)
    return store.create(find_procedure(str(procedure)), scope, resolve(index, scope), user="bench",
                        concurrency=concurrency)  # fmt: skip


# ----- scaling


def measure(index: Any, procedure: Path, names: list[str], servers: Endpoints, pool: Any,
            extra: int = 0) -> dict[str, Any]:  # fmt: skip
    """One fresh run, as many cells at once as endpoints (+ `extra`), timed around `work_on`."""
    from compliance_auditor import config
    from compliance_auditor.procedures.execute import work_on
    from compliance_auditor.procedures.runs import RunStore

    endpoints = len(servers.urls)
    spec = new_run(index, procedure, names, concurrency=endpoints + extra)
    before = servers.stats()
    started, cpu = time.perf_counter(), time.process_time()
    status = work_on(spec.id, settings=config.get_settings(), index=index, pool=pool)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    done = since(before, servers.stats())
    cells = RunStore(config.get_settings().runs_dir).cells(spec.id)
    assert status.state == "done" and len(cells) == status.total, status
    busy = [sum(e["served"]) for e in done]
    model, nominal = sum(busy), sum(sum(e["nominal"]) for e in done)
    ideal = model / endpoints
    return {
        "endpoints": endpoints, "concurrency": spec.concurrency, "cells": len(cells), "wall_s": wall,
        "model_s": model, "nominal_model_s": nominal, "ideal_s": ideal, "efficiency": ideal / wall,
        "overhead_share": (wall - ideal) / wall,
        "busiest_endpoint_s": max(busy), "busiest_idle_share": (wall - max(busy)) / wall,
        "requests_per_endpoint": [e["requests"] for e in done], "busy_per_endpoint_s": busy,
        "cell_statuses": dict(Counter(c.status for c in cells.values())), "cpu_s": cpu,
        "load_1m": os.getloadavg()[0], **cell_costs(spec.id),
    }  # fmt: skip


def cell_costs(run_id: str) -> dict[str, float]:
    """Medians over the run's answer records: retrieval, and the agent's time beyond its model calls."""
    from compliance_auditor.audit import chain

    answers = [r for r in chain.records_mentioning(run_id) if r.get("kind") == "answer"]
    beyond = [r["latency_s"] - sum(c["seconds"] for c in r["calls"]) for r in answers]
    one_endpoint = [len({c["endpoint"] for c in r["calls"] if c["ok"]}) == 1 for r in answers]
    return {"retrieve_ms_p50": 1000 * statistics.median(r["timings"]["retrieve"] for r in answers),
            "agent_beyond_calls_ms_p50": 1000 * statistics.median(beyond),
            "same_endpoint_share": sum(one_endpoint) / len(answers)}  # fmt: skip


# ----- kill -9 and resume


def trail_cells(run_id: str) -> Counter[tuple[str, str]]:
    """Answer records of the run in the audit trail, per (item, filing)."""
    from compliance_auditor.audit import chain

    tagged = [
        r["cell"] for r in chain.records_mentioning(run_id) if r.get("kind") == "answer" and r.get("cell")
    ]
    return Counter((c["item_id"], c["doc_sha256"]) for c in tagged if c["run_id"] == run_id)


def wait_for(check: Callable[[], Any], timeout_s: float = 300, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout_s:.0f} s for {what}")
        time.sleep(0.02)
    return found


def kill_once(store: Any, run_id: str, at_cells: int, previous_pid: int | None) -> dict[str, Any]:
    """Start the run in the background, kill -9 its process group once `at_cells` are noted."""
    from compliance_auditor.procedures.cli import start_background

    start_background(run_id)

    def running_pid() -> int | None:
        status = store.status(run_id)
        fresh = status.pid != previous_pid and status.state == "running"
        return status.pid if fresh and len(store.cells(run_id)) >= at_cells else None

    pid = wait_for(running_pid, what=f"{at_cells} cells noted by a new worker")
    os.killpg(pid, signal.SIGKILL)  # start_background makes the worker a session (and group) leader
    wait_for(lambda: not store.is_worked_on(run_id), what="the killed worker's lock")
    noted, sealed = set(store.cells(run_id)), set(trail_cells(run_id))
    return {"at_cells": at_cells, "pid": pid, "noted": len(noted), "sealed": len(sealed),
            "sealed_not_noted": len(sealed - noted), "noted_not_sealed": len(noted - sealed),
            "state_after": store.status(run_id).state}  # fmt: skip


def kill_and_resume(index: Any, procedure: Path, names: list[str], servers: Endpoints, pool: Any,
                    kills: int, extra: int = 0) -> dict[str, Any]:  # fmt: skip
    from compliance_auditor import config
    from compliance_auditor.procedures.execute import work_on
    from compliance_auditor.procedures.runs import RunStore

    store = RunStore(config.get_settings().runs_dir)
    spec = new_run(index, procedure, names, concurrency=len(servers.urls) + extra)
    total = len(spec.filings) * len(store.procedure(spec.id).procedure.items)
    before = servers.stats()
    events: list[dict[str, Any]] = []
    for k in range(kills):
        previous = events[-1]["pid"] if events else None
        events.append(kill_once(store, spec.id, total * (k + 1) // (kills + 1), previous))
    started = time.perf_counter()
    final = work_on(spec.id, settings=config.get_settings(), index=index, pool=pool)
    resume_s = time.perf_counter() - started
    done = since(before, servers.stats())
    asked = trail_cells(spec.id)
    keys = {
        (item.id, f.doc_sha256) for item in store.procedure(spec.id).procedure.items for f in spec.filings
    }
    requests = sum(e["requests"] for e in done)
    return {
        "cells": total, "concurrency": spec.concurrency, "kills": events, "final_state": final.state,
        "cells_noted": len(store.cells(spec.id)), "cells_lost": len(keys - set(store.cells(spec.id))),
        "answers_sealed": sum(asked.values()), "answered_twice": sum(1 for n in asked.values() if n > 1),
        "answers_missing": len(keys - set(asked)), "model_requests": requests,
        "model_requests_repeated": requests - 2 * total, "last_resume_s": resume_s,
    }  # fmt: skip


# ----- report


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per endpoint count."""
    table = []
    for endpoints in sorted({r["endpoints"] for r in rows}):
        mine = [r for r in rows if r["endpoints"] == endpoints]

        def median(key: str, of: list[dict[str, Any]] = mine) -> float:
            return round(statistics.median(r[key] for r in of), 4)

        keys = ("wall_s", "model_s", "nominal_model_s", "ideal_s", "efficiency", "overhead_share",
                "busiest_idle_share", "retrieve_ms_p50", "agent_beyond_calls_ms_p50", "cpu_s",
                "load_1m", "same_endpoint_share")  # fmt: skip
        table.append({"endpoints": endpoints, "concurrency": mine[0]["concurrency"], "runs": len(mine),
                      **{k: median(k) for k in keys},
                      "requests_per_endpoint": [r["requests_per_endpoint"] for r in mine]})  # fmt: skip
    return table


def print_report(table: list[dict[str, Any]], resume: dict[str, Any] | None) -> None:
    print(
        "endpoints  wall s  model s  ideal s  efficiency  overhead  busiest idle  retrieve ms  load  "
        "requests per endpoint"
    )
    for row in table:
        print(f"{row['endpoints']:>9}  {row['wall_s']:6.1f}  {row['model_s']:7.1f}  {row['ideal_s']:7.1f}  "
              f"{row['efficiency']:10.1%}  {row['overhead_share']:8.1%}  {row['busiest_idle_share']:12.1%}  "
              f"{row['retrieve_ms_p50']:11.0f}  {row['load_1m']:4.1f}  "
              f"{row['requests_per_endpoint']}")  # fmt: skip
    if resume:
        kills = ", ".join(f"{k['noted']} noted/{k['sealed']} sealed" for k in resume["kills"])
        print(f"kill -9 x{len(resume['kills'])} ({kills}), then resumed: {resume['final_state']}, "
              f"{resume['cells_noted']}/{resume['cells']} cells, lost {resume['cells_lost']}, "
              f"answered twice {resume['answered_twice']}, "
              f"missing from the trail {resume['answers_missing']}, "
              f"model calls repeated {resume['model_requests_repeated']}")  # fmt: skip


def parse_args() -> argparse.Namespace:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--endpoints", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument(
        "--extra-cells", type=int, default=1, help="cells at once beyond one per endpoint (the app: 1)"
    )
    parser.add_argument("--kills", type=int, default=3, help="kill -9 this many times (0: no resume test)")
    parser.add_argument("--latency-ms", type=float, default=300)
    parser.add_argument("--per-token-ms", type=float, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "procedures.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (index, runs, trail)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    root = Path(tempfile.mkdtemp(prefix="auditor-procedures-"))
    os.environ.update(AUDITOR_DB_URI=str(root / "db"), AUDITOR_LOGS_DIR=str(root / "logs"),
                      AUDITOR_DATA_DIR=str(root / "data"), AUDITOR_RUNS_DIR=str(root / "runs"))  # fmt: skip
    from compliance_auditor import config

    config.get_settings.cache_clear()
    index, procedure, names = build(root)
    model = (args.latency_ms / 1000, args.per_token_ms / 1000)
    rows, resume = [], None
    for endpoints in args.endpoints:
        with Endpoints(endpoints, *model) as servers:
            pool = use_endpoints(servers.urls)
            for _ in range(args.repeats):
                rows.append(measure(index, procedure, names, servers, pool, args.extra_cells))
                print(
                    json.dumps({k: v for k, v in rows[-1].items() if not k.startswith("busy_")}), flush=True
                )
    if args.kills:
        with Endpoints(max(args.endpoints), *model) as servers:
            resume = kill_and_resume(
                index, procedure, names, servers, use_endpoints(servers.urls), args.kills, args.extra_cells
            )
    table = summarise(rows)
    print_report(table, resume)
    load = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model_ms = {"latency_ms": args.latency_ms, "per_token_ms": args.per_token_ms}
    args.out.write_text(json.dumps({"model": model_ms, "filings": names, "load_average": load, "table": table,
                                    "resume": resume, "rows": rows}, indent=2))  # fmt: skip
    if args.keep:
        print(f"kept: {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
