"""`python -m compliance_auditor.tieout FILING.pdf [--json]`: foot a filing's statements."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from compliance_auditor.files import file_sha256
from compliance_auditor.tieout.filing import tie_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compliance_auditor.tieout", description=__doc__)
    parser.add_argument("pdf", type=Path, help="a filing (PDF)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    args = parser.parse_args(argv)
    if not args.pdf.is_file():
        print(f"error: no file {args.pdf}", file=sys.stderr)
        return 2
    checks = tie_out(args.pdf, file_sha256(args.pdf))
    if args.json:
        print(json.dumps([c.model_dump(mode="json") for c in checks], indent=2))
        return 0
    for check in sorted(checks, key=lambda c: c.outcome != "off"):  # mismatches first
        label = check.total[0].label if check.total else "?"
        where = f"p. {check.page + 1}, {check.statement}"
        detail = check.reason or "; ".join(check.arithmetic[:1])
        print(f"{check.outcome.upper():9} {label[:44]:44} {where:32} {detail}")
    counts = {o: sum(1 for c in checks if c.outcome == o) for o in ("ties", "off", "unchecked")}
    tally = f"{counts['ties']} tie, {counts['off']} off, {counts['unchecked']} could not be checked"
    print(f"{len(checks)} totals: {tally}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
