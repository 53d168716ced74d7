"""Change reports between filings already in the index: which two 10-Ks of a company to compare,
and the report itself, kept in memory per pair of files so asking twice costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from compliance_auditor.disclosures.compare import compare
from compliance_auditor.disclosures.items import DisclosureError
from compliance_auditor.disclosures.records import DisclosureReport
from compliance_auditor.index.schema import SEARCHABLE_STATUS
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.questions import by_company
from compliance_auditor.records import FORM_10K


def annual_reports(index: AuditIndex, companies: Sequence[str] = ()) -> dict[str, list[dict[str, Any]]]:
    """Each company's searchable 10-Ks with a fiscal year, earliest first (only `companies` if
    given), under the name its latest 10-K gives."""
    return by_company(
        d for d in index.list_documents(SEARCHABLE_STATUS)
        if d["form_type"] == FORM_10K and d["fiscal_year"] and (not companies or d["company"] in companies)
    )  # fmt: skip


def filing_pair(
    index: AuditIndex, companies: Sequence[str], year: int | None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(earlier, later) 10-Ks of the one company named: the later of `year` (else its latest),
    the earlier the one just before it. None when the company is not one, or has fewer than two."""
    reports = annual_reports(index, companies)
    if len(reports) != 1:
        return None
    (docs,) = reports.values()
    later = [d for d in docs if year is None or d["fiscal_year"] <= year]
    if len(later) < 2 or (year is not None and later[-1]["fiscal_year"] != year):
        return None
    return later[-2], later[-1]


def indexed_changes(
    index: AuditIndex, old_sha256: str, new_sha256: str, items: Sequence[str] = ("1A",)
) -> DisclosureReport:
    """The change report of two indexed filings, from their stored PDFs. Raises DisclosureError."""
    paths = []
    for sha in (old_sha256, new_sha256):
        doc = index.get_document(sha)
        if doc is None or not doc.get("path") or not Path(doc["path"]).is_file():
            raise DisclosureError(f"the stored PDF of {sha[:12]} is missing")
        paths.append(doc["path"])
    return _report(paths[0], paths[1], old_sha256, new_sha256, tuple(items))


@lru_cache(maxsize=16)
def _report(old: str, new: str, old_sha256: str, new_sha256: str, items: tuple[str, ...]) -> DisclosureReport:
    """Keyed by the files' hashes, so a replaced file is compared afresh."""
    return compare(Path(old), Path(new), items)
