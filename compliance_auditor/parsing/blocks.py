"""Stage 3 of parsing: a page's lines become blocks (titles, paragraphs, tables) in reading order.

Two or more lines with figures after a label make a table, with the heading lines just above
it moved in as its header; the rest are titles or paragraphs. Running headers, footers and
page numbers are dropped. Each block is tagged with its 10-K/10-Q Item and the latest title
above it, carried across pages, so a statement's continuation keeps its name.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from compliance_auditor.parsing.metadata import statement_kind
from compliance_auditor.parsing.pdf import Line, PageText
from compliance_auditor.records import FORM_10K, FORM_10Q

NUMERIC_RE = re.compile(r"^[\$€£(]*\s*[-–—]?\s*[\d.,]*\d[\d.,]*\s*%?\)?%?$|^[-–—]+$|^\$?\s*\(?[-–—]\)?$")
# An Item's heading, as a line: "ITEM 1A. RISK FACTORS", "Item 7 - Management's Discussion ...",
# "Item 1A Risk Factors 18" in a table of contents. A heading is short and not a sentence, so a
# line that goes on after the number in lower case or with a comma ("Item 1A of this report",
# "Item 7, Management's ..."), that holds a sentence break, or an 8-K's "Item 5.02" is not one.
ITEM_RE = re.compile(
    r"^\s*(?i:item)\s+(\d{1,2}[A-Ca-c]?)\b(?!\.\d)\s*(?:[.:\-—–]\s*)?"
    r"(?![a-z,;])(?!.*[a-z]{2}[.?!]\s+\S)(\S.{0,200}?)?\s*$"
)
PART_RE = re.compile(r"^\s*part\s+(i{1,3}|iv)\b", re.IGNORECASE)
YEAR_RE = re.compile(r"\b(?:19|20)\d\d\b")
_UNITS_RE = re.compile(r"in (millions|thousands|billions)|\((millions|thousands|dollars)", re.I)
_PAGE_NUMBER_RE = re.compile(r"^(?:page\s+)?[-–]?\s*(?:\d{1,3}|[ivxl]{1,6})\s*[-–]?$", re.IGNORECASE)


@dataclass
class Block:
    """A paragraph, title or table on one page, before it becomes an `unstructured` element."""

    kind: str  # "title", "text" or "table"
    page: int
    lines: list[Line]
    item: str = ""
    part: str = ""
    header_rows: int = 0
    heading: str = ""

    @property
    def bbox(self) -> list[float]:
        return union_box([[ln.x0, ln.top, ln.x1, ln.bottom] for ln in self.lines])

    def rows(self) -> list[list[str]]:
        return [table_cells(line.segments) for line in self.lines]

    @property
    def text(self) -> str:
        if self.kind == "table":
            return "\n".join(" | ".join(cells) for cells in self.rows())
        return join_wrapped(line.text for line in self.lines)


def union_box(boxes: Iterable[list[float]]) -> list[float]:
    boxes = list(boxes)
    return [
        round(min(b[0] for b in boxes), 2),
        round(min(b[1] for b in boxes), 2),
        round(max(b[2] for b in boxes), 2),
        round(max(b[3] for b in boxes), 2),
    ]


def join_wrapped(lines: Iterable[str]) -> str:
    text = ""
    for line in lines:
        if text.endswith("-") and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}" if text else line
    return text


_NUMBER_TOKEN_RE = re.compile(r"^[\$€£]?\(?[-–—]?[\d.,]*\d[\d.,]*%?\)?%?$|^[-–—]+$")


def table_cells(segments: list[str]) -> list[str]:
    """Cells of a row: a figure column split off even where columns sit close together."""
    pieces: list[str] = []
    for n, seg in enumerate(segments):
        tokens = seg.replace("$ ", "$").replace("€ ", "€").replace("£ ", "£").split()
        if n > 0 and len(tokens) > 1 and all(_NUMBER_TOKEN_RE.match(t) for t in tokens):
            pieces.extend(tokens)
        else:
            pieces.append(" ".join(tokens))
    return _merge_currency(pieces)


def _merge_currency(segments: list[str]) -> list[str]:
    """Glue a lone "$" or "%" or ")" onto the number it belongs to."""
    cells: list[str] = []
    for seg in segments:
        if cells and cells[-1] in ("$", "€", "£"):
            cells[-1] = f"{cells[-1]}{seg}"
        elif cells and seg in ("%", ")", "%)") and len(cells) > 1:
            cells[-1] += seg
        else:
            cells.append(seg)
    return cells


def is_row(line: Line) -> bool:
    cells = table_cells(line.segments)
    return len(cells) >= 2 and any(NUMERIC_RE.match(c) for c in cells[1:])


def is_header(line: Line) -> bool:
    """Column headings above a table: years, several segments, or a units note."""
    return (
        len(line.segments) >= 2
        or bool(YEAR_RE.search(line.text) and len(line.text) < 80)
        or bool(_UNITS_RE.search(line.text))
    )


def _is_title(line: Line) -> bool:
    text = line.text
    if (ITEM_RE.match(text) or PART_RE.match(text)) and len(text) < 200:
        return True
    if len(text) > 120 or text.endswith((".", ",", ";", ":")) or NUMERIC_RE.match(text):
        return False
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 3:
        return False
    upper = sum(c.isupper() for c in letters) / len(letters)
    words = [w for w in text.split() if w[:1].isalpha() and len(w) > 3]
    capitalised = sum(w[0].isupper() for w in words) / len(words) if words else 0
    return upper > 0.7 or (capitalised > 0.8 and len(text) < 80)


def running_lines(pages: list[PageText]) -> set[str]:
    """Headers and footers: the same text near the top or bottom of many pages."""
    counts: Counter[str] = Counter()
    for page in pages:
        for line in page.lines:
            if line.top < 0.08 * page.height or line.bottom > 0.92 * page.height:
                counts[re.sub(r"\d+", "#", line.text.lower())] += 1
    threshold = max(3, len(pages) // 4)
    return {text for text, n in counts.items() if n >= threshold}


def content_lines(page: PageText, running: set[str]) -> list[Line]:
    kept = []
    last = len(page.lines) - 1
    for n, line in enumerate(page.lines):
        edge = line.top < 0.08 * page.height or line.bottom > 0.92 * page.height
        if edge and re.sub(r"\d+", "#", line.text.lower()) in running:
            continue
        if n in (0, last) and _PAGE_NUMBER_RE.match(line.text):
            continue
        kept.append(line)
    return kept


def _page_blocks(lines: list[Line], page: int) -> list[Block]:
    """Split a page's lines into tables (two or more numeric rows) and paragraphs."""
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        end = _table_end(lines, i) if is_row(lines[i]) else i
        rows = lines[i : end + 1]
        if sum(is_row(r) for r in rows) >= 2:
            header = _take_header(blocks, lines[i])
            blocks.append(Block("table", page, header + rows, header_rows=len(header)))
            i = end + 1
            continue
        _add_text_line(blocks, lines[i], page)
        i += 1
    return blocks


def _table_end(lines: list[Line], start: int) -> int:
    """Index of a table's last row: rows continue across up to two wrapped label lines."""
    end = start
    j = start + 1
    while j < len(lines) and j - end <= 3:
        if lines[j].top - lines[j - 1].bottom > 2.5 * max(lines[j - 1].height, 1.0):
            break
        if is_row(lines[j]):
            end = j
        elif len(lines[j].text) > 120:
            break
        j += 1
    return end


def _take_header(blocks: list[Block], first_row: Line) -> list[Line]:
    """Move heading lines just above a table's first row from the blocks before into the table."""
    header: list[Line] = []
    below = first_row
    while blocks and blocks[-1].kind != "table" and len(header) < 4:
        prev = blocks[-1]
        line = prev.lines[-1]
        if not is_header(line) or below.top - line.bottom > 2.5 * max(line.height, 1.0):
            break
        header.insert(0, prev.lines.pop())
        below = line
        if not prev.lines:
            blocks.pop()
    return header


def _add_text_line(blocks: list[Block], line: Line, page: int) -> None:
    title = _is_title(line)
    if blocks and blocks[-1].kind == "text" and not title:
        last = blocks[-1].lines[-1]
        if line.top - last.bottom < 0.8 * max(last.height, 1.0):
            blocks[-1].lines.append(line)
            return
    blocks.append(Block("title" if title else "text", page, [line]))


def build_blocks(
    pages: list[PageText], form_type: str, hi_res: dict[int, list[Block]] | None = None
) -> list[Block]:
    """All blocks of a document in reading order, each tagged with its 10-K/10-Q Item.

    With `hi_res` blocks (by page, from `hi_res.blocks_from_elements`), a page's blocks come
    from them; a page they leave empty while it has text falls back to the layout blocks, so
    no page is silently lost.
    """
    running = running_lines(pages)
    by_page = hi_res or {}
    blocks = [
        b for p in pages for b in by_page.get(p.index) or _page_blocks(content_lines(p, running), p.index)
    ]
    if form_type in (FORM_10K, FORM_10Q):
        _tag_items(blocks)
    _tag_headings(blocks)
    return blocks


def _tag_headings(blocks: list[Block]) -> None:
    """Give every block the latest title above it, carried across pages until the next title.

    A financial statement's title stays in front of its sub-headings ("Consolidated Balance
    Sheet › Equity") for the rest of its page and any continuation pages.
    """
    heading, statement, item, page = "", "", None, None
    for block in blocks:
        if block.item != item:
            heading, statement, item = "", "", block.item
        if block.page != page:
            page = block.page
            if block.kind == "title" and not statement_kind(block.lines[0].text):
                statement = ""  # a new page that opens with another title ends the statement
        if block.kind == "title":
            text = block.lines[0].text.strip()
            if sum(c.isalpha() for c in text) >= 4:
                heading = text[:80]
                if statement_kind(text):
                    statement = heading
        block.heading = heading if not statement or statement == heading else f"{statement} › {heading}"


def _tag_items(blocks: list[Block]) -> None:
    """Carry the current Item (and Part) forward; table-of-contents pages do not move it."""
    heads_per_page = Counter(b.page for b in blocks if b.kind == "title" and ITEM_RE.match(b.lines[0].text))
    item, part = "", ""
    for block in blocks:
        if heads_per_page[block.page] < 4 and block.kind == "title":
            text = block.lines[0].text
            if match := PART_RE.match(text):
                part, item = match.group(1).upper(), ""
            elif match := ITEM_RE.match(text):
                item = match.group(1).upper()
        block.item, block.part = item, part
