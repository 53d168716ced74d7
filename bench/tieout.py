"""Footing over the 10-Ks of ../shared/financebench (issue 13; not a test).

    .venv/bin/python -m bench.tieout [--filings ../shared/financebench/pdfs] [--out bench/out/tieout.json]

Every 10-K there, its primary statements footed (`compliance_auditor.tieout`). Published
statements are audited and tie, so a total reported "off" is taken as our own false alarm.
Reports totals found, tied, off and could not be checked, per filing and overall, and the time
per filing (parsing included).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from compliance_auditor.tieout.filing import tie_out
from tests.support.filings import ROOT


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--filings", type=Path, default=ROOT.parent / "shared" / "financebench" / "pdfs")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "tieout.json")
    args = parser.parse_args()
    rows = []
    for pdf in sorted(args.filings.glob("*10K*.pdf")):
        started = time.perf_counter()
        checks = tie_out(pdf)
        seconds = time.perf_counter() - started
        counts = {o: sum(1 for c in checks if c.outcome == o) for o in ("ties", "off", "unchecked")}
        statements = {c.statement for c in checks if c.kind == "foot"}
        between = [c.outcome for c in checks if c.kind == "tie"]
        off = [f"p.{c.page + 1} {c.total[0].label}: {c.reason}" for c in checks if c.outcome == "off"]
        rows.append({"filing": pdf.name, "seconds": round(seconds, 2), "statements": sorted(statements),
                     **counts, "ties_between": between, "off_detail": off})  # fmt: skip
        print(f"{pdf.name:40} {counts['ties']:3} tie {counts['off']:2} off {counts['unchecked']:3} unchecked "
              f"{len(statements)} statements {seconds:5.1f} s")  # fmt: skip
    total = {o: sum(r[o] for r in rows) for o in ("ties", "off", "unchecked")}
    checked = total["ties"] + total["off"]
    summary = {
        "filings": len(rows),
        **total,
        "false_alarm_rate": round(total["off"] / checked, 4) if checked else None,
        "tied_share_of_totals": round(total["ties"] / max(1, sum(total.values())), 3),
        "filings_with_all_three_statements": sum(1 for r in rows if len(r["statements"]) == 3),
        "ties_between_statements": {
            o: sum(r["ties_between"].count(o) for r in rows) for o in ("ties", "off", "unchecked")
        },
        "seconds_p50": statistics.median(r["seconds"] for r in rows) if rows else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
