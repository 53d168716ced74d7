"""Stage 2 of parsing: what a filing is (company, ticker, CIK, form, fiscal year and period).

Read from the cover page's lines first, the filename as fallback (``ACME_2023Q2_10Q.pdf``);
`FilingMetadata.sources` says where each field came from. Also the words analysts use for the
primary financial statements, and the context line every chunk is embedded with:
``3M 10-K FY2018 Item 8 · Consolidated Statement of Cash Flows (cash flow statement)``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from compliance_auditor.parsing.pdf import PageText
from compliance_auditor.records import (
    FILING_FIELDS,
    FORM_8K,
    FORM_10K,
    FORM_10Q,
    FORM_EARNINGS,
    FilingMetadata,
)

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DATE = rf"((?:{_MONTHS})\s+\d{{1,2}}\s*,\s*(?:19|20)\d\d)"
_PERIOD_RE = re.compile(
    rf"(?:fiscal\s+year|quarterly\s+period|year|period|quarter)\s*(?:\([^)]{{0,40}}\)\s*)?"
    rf"ended\s*:?\s*{_DATE}",
    re.I,
)
_EVENT_RE = re.compile(rf"date\s+of\s+report[^:]{{0,60}}:?\s*{_DATE}", re.IGNORECASE)
_ANY_DATE_RE = re.compile(_DATE, re.IGNORECASE)
_FORM_RE = re.compile(r"\bFORM\s+(10-?K|10-?Q|8-?K)\b", re.IGNORECASE)
_REGISTRANT_RE = re.compile(r"exact\s+name\s+of\s+registrant", re.IGNORECASE)
_TICKER_RE = re.compile(r"\((?:NYSE|NASDAQ|Nasdaq|NYSE American)\s*:\s*([A-Z][A-Z.]{0,5})\)")
_CIK_RE = re.compile(r"\bCIK\b[\s:#No.]*?(\d{4,10})")
_FISCAL_RE = re.compile(r"\bfiscal\s+(?:year\s+)?((?:19|20)\d\d)\b", re.IGNORECASE)
_QUARTER_WORDS = {"first": "Q1", "second": "Q2", "third": "Q3", "fourth": "Q4"}
_QUARTER_RE = re.compile(r"\b(first|second|third|fourth)\s+quarter\b|\bQ([1-4])\b", re.IGNORECASE)
_EARNINGS_RE = re.compile(
    r"(reports?|announces?|delivers?|posts?)\b.{0,80}\b(results|earnings|quarter|sales)", re.IGNORECASE
)
_STOP_TICKERS = {"NYSE", "NASDAQ", "LLC", "INC", "USD", "NONE", "N/A", "THE", "AND", "ON"}


# Matched on the heading squashed to letters: PDFs often split words ("Balance Shee t").
_STATEMENTS = [
    (re.compile(r"statements?of(consolidated)?cashflows?|cashflowsstatements?"), "cash flow statement"),
    (re.compile(r"statements?of(consolidated)?comprehensive(income|loss)"), "comprehensive income statement"),
    (re.compile(r"statements?of(consolidated)?(operations|income|earnings)|incomestatements?"),
     "income statement"),
    (re.compile(r"balancesheets?|statements?of(consolidated)?financial(position|condition)"),
     "balance sheet"),
    (re.compile(r"statements?of.{0,30}(stockholders|shareholders|owners)equity"),
     "statement of shareholders' equity"),
]  # fmt: skip


def statement_kind(heading: str) -> str:
    """Which primary financial statement a heading names, in the words analysts use."""
    squashed = re.sub(r"[^a-z]", "", heading.lower())
    return next((kind for pattern, kind in _STATEMENTS if pattern.search(squashed)), "")


def _parse_date(text: str) -> date | None:
    try:
        return datetime.strptime(re.sub(r"\s*,\s*", ", ", " ".join(text.split())), "%B %d, %Y").date()
    except ValueError:
        return None


def _cover_form(cover: str) -> str:
    match = _FORM_RE.search(cover)
    if not match:
        return FORM_EARNINGS if _EARNINGS_RE.search(cover[:3000]) else ""
    code = match.group(1).upper().replace("-", "")
    return {"10K": FORM_10K, "10Q": FORM_10Q, "8K": FORM_8K}[code]


_NOT_A_NAME_RE = re.compile(r"commission|file\s+number|\d{3}-\d|registrant|^\(", re.IGNORECASE)


def _cover_company(lines: list[str]) -> str:
    for i, line in enumerate(lines):
        if not _REGISTRANT_RE.search(line):
            continue
        for name in (lines[j].strip(" ,") for j in range(i - 1, max(i - 4, -1), -1)):
            if 2 < len(name) < 80 and not _NOT_A_NAME_RE.search(name):
                # Small caps come out as "R ESORTS": join the stray capital back on.
                return re.sub(r"\b([A-Z]) (?=[A-Z]{2,})", r"\1", " ".join(name.split()))
    return ""


def _cover_ticker(lines: list[str], cover: str) -> str:
    if match := _TICKER_RE.search(cover):
        return match.group(1)
    for i, line in enumerate(lines):
        if re.search(r"trading\s+symbol", line, re.IGNORECASE):
            for following in lines[i + 1 : i + 4]:
                for token in re.findall(r"\b[A-Z]{1,5}\b", following):
                    if token not in _STOP_TICKERS:
                        return token
    return ""


def _period(cover: str, form: str) -> tuple[date | None, str]:
    match = _PERIOD_RE.search(cover) or (form == FORM_8K and _EVENT_RE.search(cover))
    if match:
        return _parse_date(match.group(1)), "cover"
    if form == FORM_EARNINGS and (match := _ANY_DATE_RE.search(cover)):
        return _parse_date(match.group(1)), "cover"
    return None, ""


def _fiscal_year(cover: str, period_end: date | None, form: str) -> int | None:
    """Annual reports: the period end decides. Releases and 10-Qs: the first "fiscal 20XX"
    on the cover, which names the period reported (later ones are comparisons or outlook)."""
    stated = _FISCAL_RE.search(cover[:3000])
    if stated and (period_end is None or form in (FORM_10Q, FORM_EARNINGS)):
        return int(stated.group(1))
    if period_end is None:
        return None
    # 52/53-week years that end in the first days of January belong to the year before.
    if period_end.month == 1 and period_end.day <= 7:
        return period_end.year - 1
    return period_end.year


_FILENAME_FORM = [
    (re.compile(r"10[-_]?K", re.IGNORECASE), FORM_10K),
    (re.compile(r"10[-_]?Q", re.IGNORECASE), FORM_10Q),
    (re.compile(r"(?<![0-9])8[-_]?K", re.IGNORECASE), FORM_8K),
    (re.compile(r"earnings|press[-_ ]?release", re.IGNORECASE), FORM_EARNINGS),
]


def metadata_from_filename(name: str) -> FilingMetadata:
    """Guess metadata from names like ``3M_2018_10K.pdf`` or ``mmm-20181231-10k.pdf``."""
    stem = Path(name).stem
    meta = FilingMetadata()
    for pattern, form in _FILENAME_FORM:
        if pattern.search(stem):
            meta.form_type = form
            break
    if match := re.search(r"(?<!\d)((?:19|20)\d\d)(?:Q([1-4]))?(?!\d)", stem):
        meta.fiscal_year = int(match.group(1))
        meta.fiscal_period = f"Q{match.group(2)}" if match.group(2) else ""
    company = re.split(r"[_\-\s](?:19|20)\d\d|[_\-\s](?:10-?K|10-?Q|8-?K)", stem, maxsplit=1)[0]
    meta.company = company.replace("_", " ").strip()
    meta.sources = {k: "filename" for k in ("company", "form_type", "fiscal_year") if getattr(meta, k)}
    return meta


def extract_metadata(pages: list[PageText], filename: str) -> FilingMetadata:
    """Read company, ticker, CIK, form and period from the first pages; fill gaps from the filename."""
    lines = [line.text for page in pages[:3] for line in page.lines]
    cover = "\n".join(lines)
    meta = FilingMetadata(sources={})
    meta.form_type = _cover_form(cover)
    meta.company = _cover_company(lines)
    meta.ticker = _cover_ticker(lines, cover)
    if match := _CIK_RE.search(cover):
        meta.cik = match.group(1)
    period_end, _ = _period(cover, meta.form_type)
    if period_end:
        meta.period_end = period_end.isoformat()
    meta.fiscal_year = _fiscal_year(cover, period_end, meta.form_type)
    if meta.form_type == FORM_10K:
        meta.fiscal_period = "FY"
    elif match := _QUARTER_RE.search(cover[:4000]):
        word, digit = match.groups()
        meta.fiscal_period = _QUARTER_WORDS[word.lower()] if word else f"Q{digit}"
    for key in FILING_FIELDS:
        if getattr(meta, key):
            meta.sources[key] = "document"
    fallback = metadata_from_filename(filename)
    for key in ("company", "form_type", "fiscal_year", "fiscal_period"):
        if not getattr(meta, key) and getattr(fallback, key):
            setattr(meta, key, getattr(fallback, key))
            meta.sources[key] = "filename"
    if meta.form_type == FORM_10K and not meta.fiscal_period:
        meta.fiscal_period = "FY"
    return meta


def apply_overrides(meta: FilingMetadata, overrides: dict[str, object]) -> FilingMetadata:
    for key, value in overrides.items():
        if value not in (None, ""):
            setattr(meta, key, value)
            meta.sources[key] = "override"
    return meta


def context_line(meta: FilingMetadata, item: str = "", heading: str = "") -> str:
    """The short header prepended to every chunk before embedding and indexing."""
    parts = [meta.company or "Unknown company"]
    if meta.ticker:
        parts.append(f"({meta.ticker})")
    parts.append(meta.form_type or "filing")
    if meta.fiscal_year:
        parts.append(f"FY{meta.fiscal_year}")
    if meta.fiscal_period and meta.fiscal_period != "FY":
        parts.append(meta.fiscal_period)
    if item:
        parts.append(f"Item {item}")
    if heading:
        parts.append(f"· {heading}")
        if kind := statement_kind(heading):
            parts.append(f"({kind})")
    return " ".join(parts)
