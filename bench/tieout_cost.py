"""What the tie-out adds to ingestion (issue 13 target: ≤ 5% of ingestion time; not a test).

    PYTHONPATH=. .venv/bin/python -m bench.tieout_cost [--filings DIR] [--count 6]

The first `--count` 10-Ks of DIR (default ../shared/financebench/pdfs) are ingested into a
fresh index in a temporary folder, as `ingest.py` would; the tie-out's share is what it adds
there: reading the statements' tables from the parsed blocks (in the parser's process) plus
checking and storing them (`IngestSummary.tieout_seconds`). The first is measured apart, on the
same files' blocks, since it runs inside the parse. Medians per filing and the totals' ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from compliance_auditor import config
from compliance_auditor.parsing.blocks import build_blocks
from compliance_auditor.parsing.converter import ParseOptions
from compliance_auditor.parsing.metadata import extract_metadata
from compliance_auditor.parsing.pdf import extract_pages
from compliance_auditor.parsing.statements import statement_tables
from tests.support.filings import ROOT


def reading_seconds(pdf: Path) -> float:
    """Time to read the statements' tables from blocks already built (the parse's extra work)."""
    options = ParseOptions.from_settings(tokenizer_file=None, max_tokens=256)
    pages = extract_pages(pdf, options)
    blocks = build_blocks(pages, extract_metadata(pages, pdf.name).form_type)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        statement_tables(blocks)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--filings", type=Path, default=ROOT.parent / "shared" / "financebench" / "pdfs")
    parser.add_argument("--count", type=int, default=6)
    args = parser.parse_args()
    pdfs = sorted(args.filings.glob("*10K*.pdf"))[: args.count]
    with tempfile.TemporaryDirectory() as folder:
        import os

        os.environ["AUDITOR_DB_URI"] = str(Path(folder) / "db")
        os.environ["AUDITOR_DATA_DIR"] = folder
        config.get_settings.cache_clear()
        from compliance_auditor.index.store import AuditIndex
        from compliance_auditor.ingestion import ingest_paths

        summary = ingest_paths(pdfs, AuditIndex(), show_progress=False)
    reading = [reading_seconds(pdf) for pdf in pdfs]
    added = summary.tieout_seconds + sum(reading)
    result = {
        "filings": len(pdfs), "pages": summary.pages, "ingestion_s": round(summary.seconds, 2),
        "reading_tables_s": round(sum(reading), 3),
        "reading_tables_median_s": round(statistics.median(reading), 4),
        "checking_and_storing_s": round(summary.tieout_seconds, 3),
        "tieout_share_of_ingestion": round(added / summary.seconds, 4) if summary.seconds else None,
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
