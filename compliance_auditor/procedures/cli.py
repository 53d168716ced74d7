"""The procedures CLI: what the browser does with runs, for scripts and terminals.

    python -m compliance_auditor.procedures list
    python -m compliance_auditor.procedures start 10k_key_figures --company "Ulta Beauty" --form 10-K
    python -m compliance_auditor.procedures status RUN_ID
    python -m compliance_auditor.procedures show RUN_ID
    python -m compliance_auditor.procedures resume RUN_ID
    python -m compliance_auditor.procedures cancel RUN_ID
    python -m compliance_auditor.procedures runs
    python -m compliance_auditor.procedures rerun RUN_ID [--status evidence_only] [--item ID]
    python -m compliance_auditor.procedures signoff RUN_ID --verdict approved [--filing F] [--item ID]
    python -m compliance_auditor.procedures export RUN_ID --xlsx run.xlsx --html run.html

Every command takes --json for scripts. `start` and `resume` work in the foreground with a
progress bar (Ctrl-C stops; `resume` carries on), or with --background in a process of their
own, which the browser shows too.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from compliance_auditor import config
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.llm.pool import LLMPool
from compliance_auditor.procedures.cells import STATUS_LABELS
from compliance_auditor.procedures.execute import work_on
from compliance_auditor.procedures.library import find_procedure, list_procedures
from compliance_auditor.procedures.matrix import as_text, build_matrix
from compliance_auditor.procedures.report import gather
from compliance_auditor.procedures.review import sign_off
from compliance_auditor.procedures.runs import RunBusy, RunStatus, RunStore, Scope
from compliance_auditor.procedures.scope import ScopeError, resolve
from compliance_auditor.procedures.spec import ProcedureError
from compliance_auditor.procedures.workbook import workbook_bytes
from compliance_auditor.procedures.workpaper import run_workpaper_html
from compliance_auditor.records import VERDICTS
from compliance_auditor.team.identity import cli_identity, companies_seen_by, os_user


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.command(args) or 0)
    except (ProcedureError, ScopeError, LookupError, ValueError, RunBusy, PermissionError) as exc:
        _fail(args, str(exc))
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m compliance_auditor.procedures", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--json", action="store_true", help="print JSON for scripts")
        sub.set_defaults(command=handler)
        return sub

    command("list", list_command, "the procedures on offer")
    command("runs", runs_command, "every run, newest first, with its status")
    start = command("start", start_command, "start a run of a procedure over a scope of filings")
    start.add_argument("procedure", help="a procedure's name (see list) or a path to a YAML file")
    start.add_argument("--company", default="", help="company name or ticker")
    start.add_argument("--form", action="append", default=[], help="10-K, 10-Q, 8-K, ... (repeatable)")
    start.add_argument("--year", action="append", type=int, default=[], help="fiscal year (repeatable)")
    start.add_argument("--filing", action="append", default=[], help="a filing's file name or sha256 prefix")
    start.add_argument("--concurrency", type=int, help="cells at once (default: AUDITOR_RUN_CONCURRENCY)")
    start.add_argument("--background", action="store_true", help="work in a background process")
    for name, handler, help_text in (
        ("status", status_command, "where a run stands"),
        ("show", show_command, "a run's results matrix"),
        ("resume", resume_command, "carry on with an unfinished run"),
        ("cancel", cancel_command, "stop a run after the cells under way"),
    ):
        sub = command(name, handler, help_text)
        sub.add_argument("run_id")
        if name == "resume":
            sub.add_argument("--background", action="store_true", help="work in a background process")
    _review_commands(command)
    return parser


def _review_commands(command: Any) -> None:
    rerun = command("rerun", rerun_command, "ask finished cells again (by default those no model answered)")
    rerun.add_argument("run_id")
    rerun.add_argument(
        "--status",
        action="append",
        choices=list(STATUS_LABELS),
        help="re-ask cells with this status (repeatable; default: evidence_only and error)",
    )
    rerun.add_argument("--all", action="store_true", help="re-ask every cell")
    for sub in (rerun, signoff := command("signoff", signoff_command, "sign off cells, a filing or a run")):
        sub.add_argument("--item", help="only this item's cells")
        sub.add_argument("--filing", help="only this filing's cells (file name or sha256 prefix)")
    rerun.add_argument("--background", action="store_true", help="work in a background process")
    signoff.add_argument("run_id")
    signoff.add_argument("--verdict", required=True, choices=list(VERDICTS))
    signoff.add_argument("--comment", default="")
    export = command("export", export_command, "write the run's workpaper (XLSX and/or HTML)")
    export.add_argument("run_id")
    export.add_argument("--xlsx", type=Path, help="write the workbook here")
    export.add_argument("--html", type=Path, help="write the self-contained HTML workpaper here")


def list_command(args: argparse.Namespace) -> int:
    listed = list_procedures()
    rows = [{"key": p.key, "path": str(p.path), "name": p.loaded.procedure.name if p.loaded else "",
             "version": p.loaded.procedure.version if p.loaded else "",
             "items": len(p.loaded.procedure.items) if p.loaded else 0,
             "sha256": p.loaded.sha256 if p.loaded else "", "error": p.error} for p in listed]  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
    for row in [] if args.json else rows:
        print(f"{row['key']:<28} {row['name']} v{row['version']}, {row['items']} items" if not row["error"]
              else f"{row['key']:<28} INVALID: {row['error']}")  # fmt: skip
    return 0


def runs_command(args: argparse.Namespace) -> int:
    store = _store()
    rows = []
    for run_id in store.run_ids():
        spec, status = store.spec(run_id), store.status(run_id)
        rows.append({"run_id": run_id, "procedure": spec.procedure_label, "scope": spec.scope.describe(),
                     "state": status.state, "done": status.done, "total": status.total})  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
    for row in [] if args.json else rows:
        progress = f"{row['done']}/{row['total']}"
        print(f"{row['run_id']}  {row['state']:<11} {progress:>9}  {row['procedure']} · {row['scope']}")
    return 0


def start_command(args: argparse.Namespace) -> int:
    settings = config.get_settings()
    loaded = find_procedure(args.procedure, settings)
    scope = Scope(company=args.company, forms=args.form, fiscal_years=args.year, filings=args.filing)
    identity = cli_identity()
    index = AuditIndex().within(companies_seen_by(identity))
    filings = resolve(index, scope)
    spec = _store().create(
        loaded,
        scope,
        filings,
        user=_user(),
        concurrency=args.concurrency or settings.run_concurrency,
        identity=identity,
    )
    if not args.json:
        size = f"{len(loaded.procedure.items)} items × {len(filings)} filings"
        print(f"run {spec.id}: {spec.procedure_label}, {size}")
    return _work(spec.id, args, index)


def resume_command(args: argparse.Namespace) -> int:
    store = _store()
    store.clear_cancel(args.run_id)
    return _work(args.run_id, args)


def cancel_command(args: argparse.Namespace) -> int:
    store = _store()
    store.request_cancel(args.run_id)
    if not store.is_worked_on(args.run_id):  # nobody to notice the request: settle it now
        status = store.status(args.run_id)
        if status.done < status.total:
            status.state, status.message = "cancelled", "cancelled"
            store.write_status(args.run_id, status)
    return status_command(args)


def status_command(args: argparse.Namespace) -> int:
    store = _store()
    spec, status = store.spec(args.run_id), store.status(args.run_id)
    if args.json:
        print(json.dumps({"run_id": spec.id, **status.model_dump(mode="json")}, indent=2))
        return 0
    print(f"run {spec.id}: {status.state}, {status.done}/{status.total} cells · {spec.procedure_label}")
    for filing in spec.filings:
        print(f"  {filing.label:<40} {status.by_filing.get(filing.doc_sha256, 0)} done")
    if status.eta_s is not None and status.state == "running":
        print(f"  about {status.eta_s:.0f} s left")
    return 0


def show_command(args: argparse.Namespace) -> int:
    store = _store()
    spec = store.spec(args.run_id)
    cells = store.cells(args.run_id)
    if args.json:
        found = [c.model_dump(mode="json") for c in cells.values()]
        print(json.dumps({"run": spec.model_dump(mode="json"), "cells": found}, indent=2))
        return 0
    print(as_text(build_matrix(spec, store.procedure(args.run_id).procedure, cells)))
    return 0


def rerun_command(args: argparse.Namespace) -> int:
    store = _store()
    statuses = set(args.status or ("evidence_only", "error"))
    sha = _filing_sha(store, args.run_id, args.filing)
    keys = [
        key
        for key, cell in store.cells(args.run_id).items()
        if (args.all or cell.status in statuses) and args.item in (None, key[0]) and sha in (None, key[1])
    ]
    reopened = store.reopen(args.run_id, keys)
    if not args.json:
        print(f"run {args.run_id}: {reopened} cell(s) to ask again")
    return _work(args.run_id, args) if reopened else status_command(args)


def signoff_command(args: argparse.Namespace) -> int:
    store = _store()
    sha = _filing_sha(store, args.run_id, args.filing)
    audit_log = config.get_settings().audit_log
    records = sign_off(
        store,
        args.run_id,
        _user(),
        args.verdict,
        args.comment,
        item_id=args.item,
        doc_sha256=sha,
        audit_log=audit_log,
        identity=cli_identity(),
    )
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
    else:
        print(f"run {args.run_id}: {len(records)} cell(s) signed off as {args.verdict} by {_user()}")
    return 0


def export_command(args: argparse.Namespace) -> int:
    if not (args.xlsx or args.html):
        raise ValueError("say where to write the workpaper: --xlsx FILE and/or --html FILE")
    settings = config.get_settings()
    report = gather(_store(), args.run_id, settings.audit_log)
    written = []
    if args.xlsx:
        args.xlsx.write_bytes(workbook_bytes(report))
        written.append(str(args.xlsx))
    if args.html:
        args.html.write_text(
            run_workpaper_html(report, AuditIndex(), settings.snapshot_dpi), encoding="utf-8"
        )
        written.append(str(args.html))
    print(
        json.dumps({"run_id": args.run_id, "written": written})
        if args.json
        else "wrote " + ", ".join(written)
    )
    return 0


def _filing_sha(store: RunStore, run_id: str, filing: str | None) -> str | None:
    """The run's filing a name or sha256 prefix means."""
    if not filing:
        return None
    found = [
        f.doc_sha256
        for f in store.spec(run_id).filings
        if f.doc_name == filing or f.doc_sha256.startswith(filing)
    ]
    if len(found) != 1:
        raise LookupError(f"{filing!r} matches {len(found)} filings of run {run_id}")
    return found[0]


def _work(run_id: str, args: argparse.Namespace, index: AuditIndex | None = None) -> int:
    if args.background:
        start_background(run_id)
        if not args.json:
            print(f"working in the background: python -m compliance_auditor.procedures status {run_id}")
        return status_command(argparse.Namespace(run_id=run_id, json=args.json)) if args.json else 0
    bar = tqdm(total=_store().status(run_id).total, unit="cell", disable=args.json, file=sys.stderr)

    def progress(status: RunStatus) -> None:
        bar.n = status.done
        bar.set_postfix_str(status.message[:40])
        bar.refresh()

    index = index or AuditIndex().within(companies_seen_by(cli_identity()))
    try:
        final = work_on(run_id, index=index, on_progress=progress, user=_user())
    finally:
        bar.close()
    if args.json:
        print(json.dumps({"run_id": run_id, **final.model_dump(mode="json")}, indent=2))
    else:
        print(f"run {run_id}: {final.state}, {final.done}/{final.total} cells")
    return 0


def start_background(run_id: str) -> int:
    """Work on the run in a process of its own that outlives the caller (the app, a terminal);
    returns its pid. What it prints goes to the run's worker.log, which the status reads when
    the worker dies before it could say why."""
    store = _store()
    with open(store.worker_log(run_id), "ab") as log_file:
        worker = subprocess.Popen(
            [sys.executable, "-m", "compliance_auditor.procedures", "worker", run_id],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )
    return worker.pid


def worker(run_id: str) -> int:
    """The background process: work on the run; a second worker on the same run stops at once."""
    try:
        # In the name of whoever started (or resumed) the run; leaving half of the model's slots
        # to the people asking in the browser, whose queue this process cannot join.
        work_on(run_id, pool=LLMPool(background=True))
    except RunBusy:
        return 0
    return 0


def _store() -> RunStore:
    return RunStore(config.get_settings().runs_dir)


def _user() -> str:
    return os_user()


def _fail(args: argparse.Namespace, message: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"error": message}))
    print(f"error: {message}", file=sys.stderr)
