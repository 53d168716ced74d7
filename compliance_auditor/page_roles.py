"""The role of every page, from its headings, tables and Item (no model).

A page is a primary statement (income statement, balance sheet, cash-flow statement,
comprehensive income, shareholders' equity), a note (with its title), a part of the 10-K or
10-Q named by its Item (MD&A, risk factors, business, market risk, controls, legal
proceedings), an exhibit, boilerplate (contents, signatures, certifications) or "other".

Roles are read from what the index also stores of each chunk (page, Item, Part, heading, kind,
text), so an index built before roles existed gets them from its rows without parsing again:
the parser's child calls this as its last stage, and the index on opening an older table. Both
import it, so it sits below them and imports neither.
Each chunk votes for a role with its length; the page takes the role with most text, so a page
that ends one Item and opens the next goes to the one that fills it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from compliance_auditor.records import FORM_10K, FORM_10Q, Chunk

NOTE, OTHER, EXHIBIT, BOILERPLATE = "note", "other", "exhibit", "boilerplate"
STATEMENT_ROLES = (
    "income statement", "balance sheet", "cash flow statement", "comprehensive income statement",
    "statement of shareholders' equity",
)  # fmt: skip
"""The primary statements, named as `parsing.metadata.statement_kind` names them."""
PAGE_ROLES = (
    *STATEMENT_ROLES, NOTE, "mda", "risk factors", "business", "market risk", "controls",
    "legal proceedings", EXHIBIT, BOILERPLATE, OTHER,
)  # fmt: skip

# The sections of a 10-K by Item; a 10-Q numbers its own in two Parts.
_10K_ITEMS = {"1": "business", "1A": "risk factors", "3": "legal proceedings", "7": "mda",
              "7A": "market risk", "8": NOTE, "9A": "controls", "15": EXHIBIT, "16": EXHIBIT}  # fmt: skip
_10Q_ITEMS = {("I", "1"): NOTE, ("I", "2"): "mda", ("I", "3"): "market risk", ("I", "4"): "controls",
              ("II", "1"): "legal proceedings", ("II", "1A"): "risk factors",
              ("II", "6"): EXHIBIT}  # fmt: skip
_BOILERPLATE_KINDS = {"exhibit index": EXHIBIT}
# A statement's heading names it; a heading that names one while being about something else
# (a note's reconciliation, the MD&A's analysis, a parent-only or consolidating schedule) is not it.
_NOT_A_STATEMENT_RE = re.compile(
    r"consolidating|parent|analysis|reconcil|supplement|information|\bdata\b|notes?\b|summar|selected"
    r"|index|schedule|\bsee\b|discussion|\bsegment",
    re.IGNORECASE,
)
_NOTES_RE = re.compile(
    r"notes?\s+to\s+(the\s+)?(condensed\s+)?(consolidated\s+)?financial\s+statements", re.I
)
_NOTE_TITLE_RE = re.compile(r"^\s*(note\s+\d{1,2}\b|\d{1,2}\s*[.:—–-]\s*[A-Z])", re.IGNORECASE)
_AUDITOR_RE = re.compile(
    r"report\s+of\s+independent|critical\s+audit\s+matter|opinions?\s+on\s+the|basis\s+for\s+opinion"
    r"|report\s+of\s+management|management'?s\s+report",
    re.IGNORECASE,
)
_CONTENTS_RE = re.compile(r"^\s*(index\s+to|table\s+of\s+contents)", re.IGNORECASE)
_EXHIBIT_RE = re.compile(r"^\s*exhibit\s+\d", re.IGNORECASE)


@dataclass(frozen=True)
class PageRole:
    """What a page is: one of `PAGE_ROLES`, and for a note its title."""

    role: str
    note_title: str = ""


# Matched on letters only: PDFs split words ("Balance Shee t"). Comprehensive income comes first:
# "Comprehensive Income Statements" also ends in "income statements".
_STATEMENTS = [
    (re.compile(r"statements?of(consolidated)?cashflows?|cashflowsstatements?"), STATEMENT_ROLES[2]),
    (re.compile(r"statements?of(consolidated)?comprehensive(income|loss)|comprehensive(income|loss)statements?"),
     STATEMENT_ROLES[3]),
    (re.compile(r"statements?of(consolidated)?(operations|income|earnings)|incomestatements?"),
     STATEMENT_ROLES[0]),
    (re.compile(r"balancesheets?|statements?of(consolidated)?financial(position|condition)"),
     STATEMENT_ROLES[1]),
    (re.compile(r"statements?of.{0,30}(stockholders|shareholders|owners)equity|statements?of(changesin)?equity"),
     STATEMENT_ROLES[4]),
]  # fmt: skip


def statement_heading(heading: str) -> str:
    """The primary statement a chunk's heading puts it under ("" for none): the statement's own
    title (kept in front of sub-headings as "Balance Sheets › Equity"), not a mention of one."""
    title = heading.split(" › ", 1)[0]
    if _NOT_A_STATEMENT_RE.search(title):
        return ""
    squashed = re.sub(r"[^a-z]", "", title.lower())
    return next((role for pattern, role in _STATEMENTS if pattern.search(squashed)), "")


def titled_statement(chunks: list[Chunk]) -> str:
    """The statement a page's own lines name at the head of a chunk: a statement's title that
    the parser kept as a line of text (above a company name, or among the column headers)."""
    for chunk in chunks:
        for line in chunk.text.splitlines()[:6]:
            if len(line) <= 80 and (statement := statement_heading(line)):
                return statement
    return ""


def chunk_role(chunk: Chunk, form_type: str, titled: str = "") -> str:
    """The role one chunk votes for; `titled` is the statement the page's lines name, if any."""
    heading = chunk.heading
    if _CONTENTS_RE.search(heading):
        return BOILERPLATE
    if chunk.kind == "table" and (statement := statement_heading(heading) or titled):
        return statement
    if _AUDITOR_RE.search(heading):
        return OTHER
    if _NOTES_RE.search(heading) or _NOTE_TITLE_RE.match(heading):
        return NOTE
    item = chunk.item.upper()
    if form_type == FORM_10K:
        role = _10K_ITEMS.get(item, OTHER)
    elif form_type == FORM_10Q:
        part = chunk.part.upper() or ("II" if item in ("1A", "5", "6") else "I")
        role = _10Q_ITEMS.get((part, item), OTHER)
    else:
        role = OTHER
    if role in (NOTE, OTHER) and form_type in (FORM_10K, FORM_10Q) and _EXHIBIT_RE.match(heading):
        return EXHIBIT
    return role


def page_roles(
    chunks: Iterable[Chunk], form_type: str, boilerplate: Mapping[int, str] | None = None
) -> dict[int, PageRole]:
    """The role of every page that has chunks or is boilerplate (`boilerplate.boilerplate_pages`)."""
    votes: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    notes: dict[int, list[str]] = defaultdict(list)
    by_page: dict[int, list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        by_page[chunk.page].append(chunk)
    titled = {page: titled_statement(page_chunks) for page, page_chunks in by_page.items()}
    for chunk in (c for page_chunks in by_page.values() for c in page_chunks):
        role = chunk_role(chunk, form_type, titled[chunk.page])
        votes[chunk.page][role] += len(chunk.text) + 1
        if role == NOTE:
            notes[chunk.page].append(chunk.heading)
    roles = {page: PageRole(*_winner(tally, notes[page])) for page, tally in votes.items()}
    for page, kind in (boilerplate or {}).items():
        roles[page] = PageRole(_BOILERPLATE_KINDS.get(kind, BOILERPLATE))
    return roles


def _winner(tally: Mapping[str, int], note_headings: list[str]) -> tuple[str, str]:
    role = max(tally, key=lambda r: tally[r])
    if role != NOTE:
        return role, ""
    titled = [h for h in note_headings if _NOTE_TITLE_RE.match(h)]
    return role, (titled or note_headings or [""])[0]
