"""A filing's tie-out kept with the index: computed at ingestion from the tables the parser read,
or on demand from the filing's PDF for one indexed before the tie-out existed (or by an older
version of it), then stored beside its chunks and deleted with them.
"""

from __future__ import annotations

from pathlib import Path

from compliance_auditor.index.schema import now
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.records import FilingTieOut, StatementTable
from compliance_auditor.tieout.filing import check_tables, read_statements

TIEOUT_VERSION = 5
"""Raised whenever a change to parsing or checking would change a stored tie-out: stored ones of
an older version are re-run when asked for."""


class TieOutUnavailable(Exception):
    """The filing is not indexed, or its PDF is no longer where it was indexed from."""


def tie_out_tables(
    tables: list[StatementTable], doc_sha256: str, doc_name: str, index_version: int
) -> FilingTieOut:
    """The tie-out of a filing's parsed tables, as it is stored."""
    return FilingTieOut(
        doc_sha256=doc_sha256, doc_name=doc_name, version=TIEOUT_VERSION, index_version=index_version,
        computed_at=now(), tables=tables, checks=check_tables(tables, doc_sha256),
    )  # fmt: skip


def filing_tieout(index: AuditIndex, sha256: str, recompute: bool = False) -> FilingTieOut:
    """The stored tie-out of an indexed filing; computed from its PDF and stored when there is
    none, it is of an older version, or `recompute` asks for a fresh one."""
    stored = None if recompute else index.tieout(sha256)
    if stored is not None and stored.version == TIEOUT_VERSION:
        return stored
    doc = index.get_document(sha256)
    if doc is None or doc["status"] == "failed":
        raise TieOutUnavailable(f"no indexed filing {sha256[:12]}")
    path = Path(doc["path"])
    if not path.is_file():
        raise TieOutUnavailable(f"{doc['filename']}: its PDF is no longer at {path}")
    tieout = tie_out_tables(read_statements(path), sha256, doc["filename"], int(doc["table_version"] or 0))
    index.put_tieout(tieout)
    return tieout
