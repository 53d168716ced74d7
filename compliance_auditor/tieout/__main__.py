"""Foot a filing's statements and tie them to each other.

    python -m compliance_auditor.tieout FILING.pdf [--json]        a PDF, indexed or not
    python -m compliance_auditor.tieout --indexed [NAME ...] [--recompute] [--json]

`--indexed` reads the tie-outs stored with the index (every searchable filing, or those whose
file name or sha256 starts with a NAME), computing and storing any that are missing or were
made by an older version; `--recompute` makes them afresh.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from compliance_auditor.files import file_sha256
from compliance_auditor.records import TieCheck
from compliance_auditor.tieout.filing import tie_out
from compliance_auditor.tieout.report import check_title, explanation, grouped, tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compliance_auditor.tieout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("filings", nargs="*", help="a PDF; with --indexed, file names or sha256 prefixes")
    parser.add_argument("--indexed", action="store_true", help="the filings in the index")
    parser.add_argument("--recompute", action="store_true", help="with --indexed: compute afresh")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    args = parser.parse_args(argv)
    if args.indexed:
        return _indexed(args.filings, args.recompute, args.json)
    if len(args.filings) != 1 or not Path(args.filings[0]).is_file():
        print(f"error: name one PDF that exists (got {args.filings or 'none'})", file=sys.stderr)
        return 2
    pdf = Path(args.filings[0])
    checks = tie_out(pdf, file_sha256(pdf))
    if args.json:
        print(json.dumps([c.model_dump(mode="json") for c in checks], indent=2))
    else:
        _print(checks)
    return 0


def _indexed(names: list[str], recompute: bool, as_json: bool) -> int:
    from compliance_auditor.index.schema import SEARCHABLE_STATUS
    from compliance_auditor.index.store import AuditIndex
    from compliance_auditor.tieout.stored import TieOutUnavailable, filing_tieout

    index = AuditIndex()
    docs = [d for d in index.list_documents(SEARCHABLE_STATUS)
            if not names or any(d["filename"] == n or d["sha256"].startswith(n) for n in names)]  # fmt: skip
    if not docs:
        print("error: no indexed filing matches", file=sys.stderr)
        return 2
    out, failed = [], 0
    for doc in docs:
        try:
            tieout = filing_tieout(index, doc["sha256"], recompute=recompute)
        except TieOutUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if as_json:
            out.append(tieout.model_dump(mode="json", exclude={"tables"}))
        else:
            print(f"\n{doc['filename']} ({doc['sha256'][:12]})")
            _print(tieout.checks)
    if as_json:
        print(json.dumps(out, indent=2))
    return 1 if failed else 0


def _print(checks: list[TieCheck]) -> None:
    for statement, found in grouped(checks):  # mismatches first
        for check in found:
            name = check_title(check)[:52]
            print(f"{check.outcome.upper():9} {name:52} {statement:22} {explanation(check)}")
    print(tally(checks))


if __name__ == "__main__":
    raise SystemExit(main())
