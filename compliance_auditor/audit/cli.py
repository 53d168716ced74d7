"""The audit trail's command line.

    python -m compliance_auditor.audit verify [FILE] [--no-head]
    python -m compliance_auditor.audit replay RECORD_ID
    python -m compliance_auditor.audit export RECORD_ID --format md|html [--out PATH]
    python -m compliance_auditor.audit signoff ANSWER_HASH --reviewer NAME --verdict VERDICT [--comment TEXT]

`verify` loads nothing heavy and starts at once; `replay` and `export` open the index.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from compliance_auditor.audit.chain import AuditIntegrityError
from compliance_auditor.audit.chain_check import verify_chain
from compliance_auditor.audit.signoff import signoff, signoff_state
from compliance_auditor.records import VERDICTS
from compliance_auditor.team.identity import cli_identity


def export(
    ref: str, fmt: str = "html", out: str | Path | None = None, path: str | Path | None = None
) -> Path:
    """Write the workpaper of an answer record; returns its path."""
    from compliance_auditor import workpaper
    from compliance_auditor.audit.replay import read_answer
    from compliance_auditor.index.store import AuditIndex

    record = read_answer(ref, path)
    target = Path(out or f"workpaper-{record.id}.{'md' if fmt == 'md' else 'html'}")
    return workpaper.write(record, target, fmt, AuditIndex(), signoff=signoff_state(record.hash, path))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except (KeyError, ValueError, FileNotFoundError, AuditIntegrityError, PermissionError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    return code


def _run_verify(args: argparse.Namespace) -> int:
    report = verify_chain(args.file, use_head=not args.no_head)
    print(report.summary())
    return 0 if report.ok else 1


def _run_replay(args: argparse.Namespace) -> int:
    from compliance_auditor.audit.replay import replay

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
    stored = signoff(
        args.answer_hash, args.reviewer, args.verdict, args.comment, path=args.log, identity=cli_identity()
    )
    print(f"sign-off {stored.id} ({stored.verdict} by {stored.reviewer}) hash {stored.hash}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m compliance_auditor.audit", description="The tamper-evident audit trail."
    )
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
