"""Disclosure changes over pairs of 10-Ks in ../shared/financebench (issue 13, part B; not a test).

    .venv/bin/python -m bench.disclosures [--filings DIR] [--runs 3] [--items 1A]
        [--out bench/out/disclosures.json]

Each pair (Adobe FY2015 -> FY2016 -> FY2017, General Mills FY2019 -> FY2020) is compared
`--runs` times by the CLI in a fresh process, as a user runs it: the wall time includes
starting Python, parsing both PDFs and loading the embedding model. Reports per pair the
median and the slowest run, the units per status and moved, how the changed units were paired,
and whether every run printed the same report.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.support.filings import ROOT

PAIRS = [
    ("ADOBE_2015_10K.pdf", "ADOBE_2016_10K.pdf"),
    ("ADOBE_2016_10K.pdf", "ADOBE_2017_10K.pdf"),
    ("GENERALMILLS_2019_10K.pdf", "GENERALMILLS_2020_10K.pdf"),
]


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--filings", type=Path, default=ROOT.parent / "shared" / "financebench" / "pdfs")
    parser.add_argument("--runs", type=int, default=3, help="comparisons per pair (default 3)")
    parser.add_argument("--items", nargs="+", default=["1A"], help="Items to compare (default 1A)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "disclosures.json")
    args = parser.parse_args()
    rows = [_pair(args.filings / old, args.filings / new, args.items, args.runs) for old, new in PAIRS]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    for row in rows:
        print(json.dumps(row))
    return 0


def _pair(old: Path, new: Path, items: list[str], runs: int) -> dict[str, object]:
    command = [sys.executable, "-m", "compliance_auditor.disclosures", str(old), str(new), "--json"]
    for item in items:
        command += ["--item", item]
    seconds, outputs = [], []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
        seconds.append(time.perf_counter() - started)
        outputs.append(done.stdout)
    report = json.loads(outputs[0])
    counts: Counter[str] = Counter()
    paired_by: Counter[str] = Counter()
    for item in report["items"]:
        counts.update(item["counts"])
        paired_by.update(c["matched_by"] for c in item["changes"] if c["status"] == "changed")
    return {
        "pair": f"{old.name} -> {new.name}",
        "items": items,
        "seconds_median": round(statistics.median(seconds), 2),
        "seconds_max": round(max(seconds), 2),
        "units_old_new": [
            sum(1 for i in report["items"] for c in i["changes"] if c[side]) for side in ("old", "new")
        ],
        "counts": dict(counts),
        "changed_paired_by": dict(paired_by),
        "same_report_every_run": len(set(outputs)) == 1,
    }


if __name__ == "__main__":
    raise SystemExit(main())
