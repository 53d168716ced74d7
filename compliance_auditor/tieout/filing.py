"""A filing's tie-out: its primary statements footed, then tied to each other.

`check_tables` works on the tables the parser read (at ingestion, in the parser's process, for
free); `tie_out` parses a PDF for them first, with the layout parser (no OCR, no embedding):
about 0.1–2 s a filing.
"""

from __future__ import annotations

from pathlib import Path

from compliance_auditor.parsing.blocks import build_blocks
from compliance_auditor.parsing.converter import ParseOptions
from compliance_auditor.parsing.metadata import extract_metadata
from compliance_auditor.parsing.pdf import extract_pages
from compliance_auditor.parsing.statements import statement_tables
from compliance_auditor.records import StatementTable, TieCheck
from compliance_auditor.tieout.eps import eps_checks
from compliance_auditor.tieout.footing import foot_tables
from compliance_auditor.tieout.ties import cross_ties


def read_statements(path: Path) -> list[StatementTable]:
    """The tables of a filing's primary statements, parsed from its PDF."""
    options = ParseOptions.from_settings(tokenizer_file=None, max_tokens=256)
    pages = extract_pages(path, options)
    return statement_tables(build_blocks(pages, extract_metadata(pages, path.name).form_type))


def check_tables(tables: list[StatementTable], doc_sha256: str = "") -> list[TieCheck]:
    """Every total of the tables, checked, then the ties between them and earnings per share."""
    footed = foot_tables(tables, doc_sha256)
    return footed + cross_ties(tables, doc_sha256) + eps_checks(tables, doc_sha256)


def tie_out(path: Path, doc_sha256: str = "") -> list[TieCheck]:
    """Every total of the filing's primary statements, checked, then the ties between them."""
    return check_tables(read_statements(path), doc_sha256)
