"""Ingestion: index SEC filings (PDF) into the local LanceDB index, and manage what is indexed.

    .venv/bin/python ingest.py path/to/filings/ another.pdf     # files or folders
    .venv/bin/python ingest.py --list                            # what is indexed
    .venv/bin/python ingest.py report.pdf --replace              # re-ingest a file
    .venv/bin/python ingest.py --delete FILENAME_OR_SHA256       # remove one
    .venv/bin/python ingest.py memo.pdf --company "Acme Corp" --form 10-Q --fiscal-year 2023

    import ingest
    summary = ingest.ingest_paths(["filings/"])    # an IngestSummary

The pipeline (`compliance_auditor/ingestion.py`) hashes each file, parses it in a child
process (`compliance_auditor/parsing/`: character boxes to lines, metadata, blocks, chunks,
boilerplate pages), embeds the chunks with their context line and commits them in one write.
"""

from __future__ import annotations

import argparse
import json
import sys

from compliance_auditor.index.store import AuditIndex
from compliance_auditor.ingestion import IngestSummary, ingest_paths
from compliance_auditor.records import FILING_FIELDS, FORM_TYPES

__all__ = ["IngestSummary", "ingest_paths", "main"]


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ingest.py", description="Index SEC filings (PDF) into the local LanceDB index."
    )
    parser.add_argument("paths", nargs="*", help="PDF files or folders of PDFs")
    parser.add_argument("--db", help="LanceDB URI (default: AUDITOR_DB_URI)")
    parser.add_argument("--replace", action="store_true", help="re-ingest files already indexed")
    parser.add_argument("--delete", metavar="SHA256_OR_FILENAME", action="append", default=[],
                        help="remove a document and its chunks from the index")  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list the indexed documents")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    for name in ("company", "ticker", "cik", "fiscal-period", "period-end"):
        parser.add_argument(f"--{name}", help=f"override the {name.replace('-', ' ')} read from the filing")
    parser.add_argument("--form", dest="form_type", choices=FORM_TYPES, help="override the form type")
    parser.add_argument("--fiscal-year", type=int, help="override the fiscal year")
    # Each override's destination is the name of the filing field it sets (records.FILING_FIELDS).
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    index = AuditIndex(args.db)
    for target in args.delete:
        matches = [d for d in index.list_documents() if target in (d["sha256"], d["filename"])]
        if not matches:
            print(f"no indexed document matches {target!r}", file=sys.stderr)
            return 1
        for doc in matches:
            index.delete_document(doc["sha256"])
            print(f"deleted {doc['filename']} ({doc['sha256'][:12]})")
    if args.list:
        for doc in index.list_documents():
            print(f"{doc['sha256'][:12]}  {doc['status']:<9} {doc['form_type'] or '?':<16} "
                  f"FY{doc['fiscal_year'] or '?':<5} {doc['pages'] or 0:>4}p {doc['chunks'] or 0:>5}c  "
                  f"{doc['company'] or '?'}  [{doc['filename']}] {doc['error'] or ''}")  # fmt: skip
    if not args.paths:
        return 0
    overrides = {field: getattr(args, field) for field in FILING_FIELDS}
    try:
        summary = ingest_paths(args.paths, index, overrides, replace=args.replace)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        _print_summary(summary)
    return 0 if summary.failed == 0 else 1


def _print_summary(summary: IngestSummary) -> None:
    print(
        f"\n{summary.added} added, {summary.skipped} skipped, {summary.failed} failed; "
        f"{summary.pages} pages ({summary.boilerplate_pages} of them boilerplate, not indexed), "
        f"{summary.chunks} chunks in {summary.seconds:.1f} s "
        f"({summary.pages_per_s:.1f} pages/s)"
    )
    for name, reason in summary.failures:
        print(f"  FAILED {name}: {reason}")
    for name, note in summary.notes:
        print(f"  NOTE {name}: {note}")


if __name__ == "__main__":
    sys.exit(main())
