"""`python -m compliance_auditor.disclosures OLD.pdf NEW.pdf [--item 1A ...] [--json] [--html FILE]`:
what changed in a 10-K's Items since an earlier one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compliance_auditor.disclosures.compare import compare
from compliance_auditor.disclosures.items import ITEM_TITLES, DisclosureError
from compliance_auditor.disclosures.report import format_report
from compliance_auditor.disclosures.workpaper import report_html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compliance_auditor.disclosures", description=__doc__)
    parser.add_argument("old", type=Path, help="the earlier filing (PDF)")
    parser.add_argument("new", type=Path, help="the later filing (PDF)")
    items = ", ".join(f"{n} {t}" for n, t in ITEM_TITLES.items())
    parser.add_argument(
        "--item",
        action="append",
        dest="items",
        metavar="ITEM",
        help=f"an Item to compare ({items}); 1A by default",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON, for scripts")
    parser.add_argument(
        "--html", type=Path, metavar="FILE", help="also write the report as an HTML workpaper"
    )
    args = parser.parse_args(argv)
    try:
        report = compare(args.old, args.new, args.items or ["1A"])
    except DisclosureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.html:
        args.html.write_text(report_html(report), encoding="utf-8")
    print(report.model_dump_json(indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
