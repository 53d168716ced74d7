"""How long the Procedures tab takes to redraw a 50-cell matrix when nothing happens (issue 12;
not a test).

    .venv/bin/python -m bench.procedure_matrix [--runs 30] [--out bench/out/procedure_matrix.json]

Builds the 5-filing index and the 10-item procedure of `bench.procedures` in a temporary
folder, runs it against the OpenAI-protocol test server (no latency: only the finished cells
matter here), signs off one filing's column, and opens the app with AppTest: the newest run is
shown with its matrix of 50 cells, and its first cell opened (answer, citations, page image).
Then `--runs` idle reruns are timed as `bench.ui_latency` times them: the script's own time with
app.py compiled once (as `streamlit run` does) plus the full garbage collection the server makes
after every run; a one-line script's rerun is AppTest's own share, reported beside it. The
target is 50 ms of server time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.procedures import build, new_run
from bench.ui_latency import compiled_once, timed_runs
from compliance_auditor import config
from tests.support.fake_llm import FakeLLM
from tests.support.filings import ROOT
from tests.support.scripted import careful_model


def finished_run(root: Path) -> str:
    """A finished 10 × 5 run with one filing signed off; its id."""
    from compliance_auditor import config
    from compliance_auditor.procedures.execute import work_on
    from compliance_auditor.procedures.review import sign_off
    from compliance_auditor.procedures.runs import RunStore

    index, procedure, names = build(root)
    spec = new_run(index, procedure, names, concurrency=2)
    work_on(spec.id, settings=config.get_settings(), index=index)
    store = RunStore(config.get_settings().runs_dir)
    sign_off(store, spec.id, "bench", "approved", doc_sha256=spec.filings[0].doc_sha256)
    return str(spec.id)


def idle_reruns(runs: int) -> dict[str, list[float]]:
    from streamlit.testing.v1 import AppTest

    with compiled_once():
        floor = AppTest.from_string("import streamlit as st\nst.write('idle')").run()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        assert not at.exception, at.exception
        matrix = next(d for d in at.dataframe if d.key == "matrix").value
        assert matrix.shape == (10, 6), matrix.shape  # 10 items, 5 filings and the item column
        assert at.get("image"), "the first cell's page is not shown"
        scripts, collections = timed_runs(at, runs)
        harness = timed_runs(floor, runs)[0]
    return {"script_s": scripts, "gc_s": collections, "harness_s": harness}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "procedure_matrix.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeLLM() as server:
        root = Path(tmp)
        os.environ.update(AUDITOR_DB_URI=str(root / "db"), AUDITOR_LOGS_DIR=str(root / "logs"),
                          AUDITOR_DATA_DIR=str(root / "data"), AUDITOR_LLM_ENDPOINT=server.url)  # fmt: skip
        config.get_settings.cache_clear()  # importing the logs read the settings before these
        server.responder = careful_model()
        run_id = finished_run(root)
        times = idle_reruns(args.runs)
    totals = [s + g for s, g in zip(times["script_s"], times["gc_s"], strict=True)]
    result: dict[str, Any] = {
        "run": run_id,
        "cells": 50,
        "idle_rerun_ms": round(statistics.median(totals) * 1000, 1),
        "script_ms": round(statistics.median(times["script_s"]) * 1000, 1),
        "gc_ms": round(statistics.median(times["gc_s"]) * 1000, 1),
        "harness_ms": round(statistics.median(times["harness_s"]) * 1000, 1),
        "target_ms": 50,
        "rounds": times,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
