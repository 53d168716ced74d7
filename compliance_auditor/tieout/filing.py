"""A filing's primary statements, parsed from its PDF, each table footed.

Parsing runs in this process with the layout parser (no OCR, no embedding): about 0.1–2 s a
filing. The tables footed are those under a heading that names a primary statement.
"""

from __future__ import annotations

from pathlib import Path

from compliance_auditor.parsing.blocks import build_blocks
from compliance_auditor.parsing.converter import ParseOptions
from compliance_auditor.parsing.metadata import extract_metadata, statement_kind
from compliance_auditor.parsing.pdf import extract_pages
from compliance_auditor.records import TieCheck
from compliance_auditor.tieout.footing import Row, foot, statement_rows
from compliance_auditor.tieout.ties import cross_ties

PRIMARY = ("income statement", "balance sheet", "cash flow statement")


def statement_tables(path: Path) -> list[tuple[str, str, list[Row]]]:
    """(statement, heading, rows) of every table under a primary statement's heading."""
    options = ParseOptions.from_settings(tokenizer_file=None, max_tokens=256)
    pages = extract_pages(path, options)
    blocks = build_blocks(pages, extract_metadata(pages, path.name).form_type)
    found = []
    for block in blocks:
        statement = statement_kind(block.heading) if block.kind == "table" else ""
        if statement in PRIMARY:
            found.append((statement, block.heading, statement_rows(block)))
    return found


def tie_out(path: Path, doc_sha256: str = "") -> list[TieCheck]:
    """Every total of the filing's primary statements, checked, then the ties between them."""
    tables = statement_tables(path)
    footed = [
        check for statement, heading, rows in tables for check in foot(rows, statement, heading, doc_sha256)
    ]
    return footed + cross_ties(tables, doc_sha256)
