"""Which filings a run covers: a company's forms and years, or filings named one by one."""

from __future__ import annotations

import re
from typing import Any

from compliance_auditor.index.schema import SEARCHABLE_STATUS
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.procedures.runs import FilingRef, Scope
from compliance_auditor.questions import by_company


class ScopeError(ValueError):
    """A scope that names nothing, or names filings the index does not hold."""


def resolve(index: AuditIndex, scope: Scope) -> list[FilingRef]:
    """The searchable filings in scope, oldest first within each company."""
    return resolve_among(index.list_documents(SEARCHABLE_STATUS), scope)


def resolve_among(documents: list[dict[str, Any]], scope: Scope) -> list[FilingRef]:
    """The filings of `documents` (the index's searchable ones) in scope, as `resolve`."""
    if scope.filings:
        chosen = [_named(documents, name) for name in scope.filings]
    else:
        if not (scope.company or scope.forms or scope.fiscal_years):
            raise ScopeError("the scope is empty: name a company, forms or fiscal years, or choose filings")
        company = _of_company(documents, scope.company)
        chosen = [d for d in documents if _matches(d, scope, company)]
    if not chosen:
        raise ScopeError(f"no searchable filing matches the scope ({scope.describe()})")
    unique = {d["sha256"]: d for d in chosen}.values()
    ordered = sorted(unique, key=lambda d: (d["company"] or "", d["fiscal_year"] or 0, d["period_end"] or "",
                                             d["filename"]))  # fmt: skip
    return [_ref(d) for d in ordered]


def _named(documents: list[dict[str, Any]], name: str) -> dict[str, Any]:
    name = name.strip()
    found = [
        d for d in documents if d["filename"] == name or (len(name) >= 8 and d["sha256"].startswith(name))
    ]
    if len(found) != 1:
        why = "matches no searchable filing" if not found else f"matches {len(found)} filings"
        raise ScopeError(f"{name!r} {why}")
    return found[0]


def _of_company(documents: list[dict[str, Any]], company: str) -> set[str] | None:
    """The sha256 of every filing of the company named (None: no company named). "Ulta Beauty",
    "ulta" and "ULTA" all name ULTABEAUTY, and with it the company's filings whose covers spell
    its name otherwise."""
    if not (plain := _plain(company)):
        return None
    return {
        d["sha256"] for group in by_company(documents).values()
        if any(_plain(g["company"]).startswith(plain) or plain == _plain(g["ticker"]) for g in group)
        for d in group
    }  # fmt: skip


def _matches(document: dict[str, Any], scope: Scope, company: set[str] | None) -> bool:
    if company is not None and document["sha256"] not in company:
        return False
    if scope.forms and document["form_type"] not in scope.forms:
        return False
    return not scope.fiscal_years or document["fiscal_year"] in scope.fiscal_years


def _plain(name: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (name or "").lower())


def _ref(document: dict[str, Any]) -> FilingRef:
    return FilingRef(
        doc_sha256=document["sha256"], doc_name=document["filename"], company=document["company"] or "",
        form_type=document["form_type"] or "", fiscal_year=document["fiscal_year"],
        fiscal_period=document["fiscal_period"] or "", period_end=document["period_end"] or "",
    )  # fmt: skip
