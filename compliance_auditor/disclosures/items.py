"""Find an Item (1A risk factors, 1, 3, 7, 7A, 9A) in a 10-K parsed from its PDF: its body,
not its line in the table of contents nor a sentence that mentions it.

An Item runs from its heading to the next heading of another Item or Part. A table of contents
lists many Items on one page, and its entries span a line each, so the body is the longest
such run. Reading a whole 10-K line by line with fonts takes about 2 s; the Item's pages are
found first in pdfium's plain text (about 0.3 s) and only they are parsed, with two pages
either side so running headers and footers are still recognised by their repetition.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from compliance_auditor.disclosures.records import DisclosureFiling
from compliance_auditor.files import file_sha256
from compliance_auditor.parsing.blocks import ITEM_RE, PART_RE, content_lines, running_lines
from compliance_auditor.parsing.converter import ParseOptions
from compliance_auditor.parsing.metadata import extract_metadata
from compliance_auditor.parsing.pdf import IngestError, Line, PageText, extract_pages, open_pdf

ITEM_TITLES = {
    "1": "Business",
    "1A": "Risk Factors",
    "3": "Legal Proceedings",
    "7": "Management's Discussion and Analysis",
    "7A": "Quantitative and Qualitative Disclosures About Market Risk",
    "9A": "Controls and Procedures",
}
"""The Items compared, with the name a 10-K gives each."""

_TOC_ITEMS = 4  # a page listing this many Items with page numbers is a table of contents
_PAGE_REF_RE = re.compile(r"(\.{3,}|\s\d{1,3})\s*$")  # dot leaders, or a page number at the end
_CONTEXT_PAGES = 2
_METADATA_PAGES = range(3)  # the cover page and what follows it, where `extract_metadata` looks


class DisclosureError(Exception):
    """A filing that cannot be compared, with a reason fit to show a user."""


@dataclass(frozen=True)
class Heading:
    """An Item's or a Part's heading line: the page, the line's place on it, and the number."""

    page: int
    at: int
    number: str  # "1A", or "PART II"
    title: str


@dataclass
class ItemText:
    """An Item of a filing: its heading and its body's lines in reading order."""

    item: str
    title: str
    lines: list[Line]


@dataclass
class ReadFiling:
    """A filing parsed where the Items asked for sit."""

    path: Path
    record: DisclosureFiling
    items: dict[str, ItemText]


def headings(texts: dict[int, list[str]]) -> list[Heading]:
    """The Item and Part headings of the pages given (page -> its lines), minus those on pages
    that list many Items with their page numbers (a table of contents). Part III's Items often
    share a page in the body, without page numbers."""
    found = []
    for page, lines in sorted(texts.items()):
        for at, text in enumerate(lines):
            if match := ITEM_RE.match(text):
                found.append(Heading(page, at, match.group(1).upper(), (match.group(2) or "").strip()))
            elif _is_part_heading(text):
                found.append(Heading(page, at, " ".join(text.split()[:2]).upper().rstrip("."), text))
    listed = Counter(h.page for h in found if _PAGE_REF_RE.search(h.title))
    return [h for h in found if listed[h.page] < _TOC_ITEMS]


def _is_part_heading(text: str) -> bool:
    # "PART II" alone or in capitals, never "Part II, Item 7 of this report" in a sentence.
    return bool(PART_RE.match(text)) and (len(text.strip()) <= 9 or text.isupper())


def item_span(found: list[Heading], item: str) -> tuple[Heading, Heading | None] | None:
    """The Item's heading and the heading that ends it (None: the end of the document).

    Of several headings for the Item, the one followed by the longest run: the body, where
    a table of contents' entry is followed at once by the next entry.
    """
    best: tuple[Heading, Heading | None] | None = None
    best_length = (-1, -1)
    for n, start in enumerate(found):
        if start.number != item:
            continue
        end = next((h for h in found[n + 1 :] if h.number != item), None)
        length = (end.page - start.page, end.at - start.at) if end else (10**6, 0)
        if length > best_length:
            best, best_length = (start, end), length
    return best


def read_filing(path: Path, items: list[str]) -> ReadFiling:
    """Parse the pages of a filing that hold the given Items; each Item's body lines.

    Raises `DisclosureError` for a file that is not a readable PDF, or lacks one of the Items.
    """
    options = dataclasses.replace(ParseOptions.from_settings(tokenizer_file=None, max_tokens=256), ocr=False)
    try:
        page_count, wanted = _pages_to_parse(path, items, options.max_pages)
        pages = extract_pages(path, options, fonts=True, only=wanted)
    except IngestError as exc:
        raise DisclosureError(f"{path.name}: {exc}") from exc
    meta = extract_metadata(pages, path.name)
    record = DisclosureFiling(
        doc_name=path.name, doc_sha256=file_sha256(path), company=meta.company,
        form_type=meta.form_type, fiscal_year=meta.fiscal_year, page_count=page_count,
    )  # fmt: skip
    return ReadFiling(path, record, {item: _item_text(path, pages, item) for item in items})


def _pages_to_parse(path: Path, items: list[str], max_pages: int) -> tuple[int, set[int]]:
    """The page count, and the pages to parse: each Item's, with context, and the cover."""
    pdf = open_pdf(path, max_pages)
    try:
        count = len(pdf)
        texts = {n: pdf[n].get_textpage().get_text_range().splitlines() for n in range(count)}
    finally:
        pdf.close()
    if not any(line.strip() for lines in texts.values() for line in lines):
        raise DisclosureError(f"{path.name}: the PDF has no text layer (a scanned filing?)")
    found = headings(texts)
    wanted = set(_METADATA_PAGES) & set(range(count))
    for item in items:
        span = item_span(found, item)
        if span is None:  # the plain text may order lines oddly: let the full parse decide
            return count, set(range(count))
        first, last = span[0].page, span[1].page if span[1] else count - 1
        wanted |= set(range(max(0, first - _CONTEXT_PAGES), min(count, last + _CONTEXT_PAGES + 1)))
    return count, wanted


def _item_text(path: Path, pages: list[PageText], item: str) -> ItemText:
    running = running_lines(pages)
    lines = {p.index: content_lines(p, running) for p in pages}
    texts = {n: [line.text for line in page_lines] for n, page_lines in lines.items()}
    span = item_span(headings(texts), item)
    if span is None:
        present = sorted({h.number for h in headings(texts) if not h.number.startswith("PART")})
        listed = ", ".join(present) or "none"
        raise DisclosureError(f"{path.name}: no Item {item} found (Items found on the pages read: {listed})")
    start, end = span
    body = [
        line
        for n in sorted(lines)
        for at, line in enumerate(lines[n])
        if (n, at) > (start.page, start.at) and (end is None or (n, at) < (end.page, end.at))
    ]
    title_lines = [lines[start.page][start.at], *_title_continuation(lines[start.page][start.at], body)]
    title = " ".join(line.text for line in title_lines)
    return ItemText(item, title, body[len(title_lines) - 1 :])


def _title_continuation(heading: Line, body: list[Line]) -> list[Line]:
    """The lines an Item's heading wraps onto: capitals, set like it, right below it."""
    taken: list[Line] = []
    above = heading
    for line in body[:2]:
        close = line.page == above.page and line.top - above.bottom < 0.6 * max(above.height, 1.0)
        if not (close and line.text.isupper() and line.bold == heading.bold):
            break
        taken.append(line)
        above = line
    return taken
