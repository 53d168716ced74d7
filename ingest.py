"""PDF parsing, filing metadata and chunking; the `python ingest.py PATH...` CLI.

Parsing reads every character's box with pypdfium2 (Apache/BSD, about 80
pages/s here) and rebuilds lines by position, so a table row keeps its label
beside its numbers. The lines become `unstructured` elements (Title,
NarrativeText, Table) with page coordinates, and `chunk_by_title` groups them.
Image-only pages go to tesseract. Each document is parsed in a child process
with a time limit and a memory cap.

With ``AUDITOR_PARSER=hi_res`` (or ``auto`` when its layout model is already in
the local Hugging Face cache), `unstructured`'s hi_res model finds the titles,
paragraphs and tables instead; table rows still come from the character boxes.

Pages that are only navigation or formality (table of contents, exhibit index,
signatures, certifications) are counted but not embedded: about 4% of a 10-K's
chunks, with no loss in retrieval (docs/benchmarks.md).

Coordinates: every box is ``[x0, top, x1, bottom]`` in PDF points (1/72 inch)
measured from the page's top-left corner, so a renderer at D dpi draws it at
``box * D / 72`` pixels with no flip.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import html
import importlib.util
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import config
import metrics

log = config.get_logger("ingest", "ingest.jsonl")

PDF_MAGIC = b"%PDF-"


class IngestError(Exception):
    """A document that cannot be indexed, with a reason fit to show a user."""


@dataclass(frozen=True)
class ParseOptions:
    """Everything the parser child needs, passed explicitly: it must not read stale settings."""

    max_pages: int
    ocr: bool
    ocr_dpi: int
    ocr_lang: str
    chunk_max_chars: int
    tokenizer_file: str | None
    max_tokens: int
    timeout_s: float
    memory_mb: int
    parser: str = "layout"
    parser_note: str = ""
    hi_res_model: str = "yolox"
    skip_boilerplate: bool = True

    @classmethod
    def from_settings(cls, tokenizer_file: str | None, max_tokens: int) -> ParseOptions:
        s = config.get_settings()
        parser, note = choose_parser(s.parser, s.hi_res_model)
        return cls(
            max_pages=s.max_pages,
            ocr=s.ocr and shutil.which("tesseract") is not None,
            ocr_dpi=s.ocr_dpi,
            ocr_lang=s.ocr_lang,
            chunk_max_chars=s.chunk_max_chars,
            tokenizer_file=tokenizer_file,
            max_tokens=max_tokens,
            timeout_s=s.parse_timeout_s,
            memory_mb=s.parse_memory_mb,
            parser=parser,
            parser_note=note,
            hi_res_model=s.hi_res_model,
            skip_boilerplate=s.skip_boilerplate,
        )


# --------------------------------------------------------------------------- layout


@dataclass
class Line:
    """One visual line of a page: text segments split where the gap is wide."""

    page: int
    x0: float
    top: float
    x1: float
    bottom: float
    segments: list[str]

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def text(self) -> str:
        return " ".join(self.segments)


@dataclass
class PageText:
    """The lines of one page and its size in points."""

    index: int
    width: float
    height: float
    lines: list[Line]
    ocr: bool = False
    image_only: bool = False


_SKIP_CHARS = {0x20, 0x0D, 0x0A, 0x09, 0xA0, 0xFFFE, 0x02, 0x00}


def _page_chars(textpage, page_index: int, top: float, left: float) -> list[tuple]:
    """(char, x0, top, x1, bottom, space_before) for every visible character."""
    from pypdfium2 import raw

    rect = raw.FS_RECTF()
    chars: list[tuple] = []
    space = False
    handle = textpage.raw
    for i in range(raw.FPDFText_CountChars(handle)):
        code = raw.FPDFText_GetUnicode(handle, i)
        if code in _SKIP_CHARS or code < 0x20:
            space = True
            continue
        raw.FPDFText_GetLooseCharBox(handle, i, ctypes.byref(rect))
        if rect.right <= rect.left:
            continue
        chars.append(
            (chr(code), rect.left - left, top - rect.top, rect.right - left, top - rect.bottom, space)
        )
        space = False
    return chars


def _group_lines(chars: list[tuple], page_index: int) -> list[Line]:
    """Cluster characters into lines by vertical centre, then split by horizontal gaps."""
    if not chars:
        return []
    chars.sort(key=lambda c: (c[2] + c[4]) / 2)
    rows: list[list[tuple]] = [[chars[0]]]
    centre = (chars[0][2] + chars[0][4]) / 2
    for c in chars[1:]:
        mid = (c[2] + c[4]) / 2
        height = max(c[4] - c[2], 1.0)
        if abs(mid - centre) <= 0.35 * height:
            rows[-1].append(c)
        else:
            rows.append([c])
            centre = mid
    return [line for row in rows if (line := _make_line(row, page_index))]


def _make_line(row: list[tuple], page_index: int) -> Line | None:
    row.sort(key=lambda c: c[1])
    height = statistics.median(c[4] - c[2] for c in row) or 1.0
    segments: list[str] = []
    current: list[str] = []
    prev_x1 = None
    for ch, x0, _top, x1, _bottom, space_before in row:
        if prev_x1 is not None:
            gap = x0 - prev_x1
            if gap > 0.9 * height:
                segments.append("".join(current).strip())
                current = []
            elif gap > 0.25 * height or (space_before and gap > -0.1 * height):
                current.append(" ")
        if prev_x1 is not None and x1 <= prev_x1 and x0 < prev_x1 - 0.5 * height:
            continue  # overprinted duplicate glyph (fake bold)
        current.append(ch)
        prev_x1 = max(x1, prev_x1 or x1)
    segments.append("".join(current).strip())
    segments = [s for s in segments if s]
    if not segments:
        return None
    return Line(
        page=page_index,
        x0=min(c[1] for c in row),
        top=min(c[2] for c in row),
        x1=max(c[3] for c in row),
        bottom=max(c[4] for c in row),
        segments=segments,
    )


def _ocr_lines(page, page_index: int, opts: ParseOptions) -> list[Line]:
    """Render an image-only page and read it with tesseract (TSV gives word boxes)."""
    scale = opts.ocr_dpi / 72
    image = page.render(scale=scale).to_pil()
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "page.png"
        image.save(png)
        out = subprocess.run(
            ["tesseract", str(png), "stdout", "-l", opts.ocr_lang, "tsv"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    words: list[tuple] = []
    for row in out.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or not cols[11].strip() or float(cols[10]) < 30:
            continue
        left, top, width, height = (int(v) / scale for v in cols[6:10])
        # Each word becomes one pseudo-character so the same line grouping applies.
        words.append((cols[11].strip(), left, top, left + width, top + height, True))
    return _group_lines(words, page_index)


def extract_pages(path: Path, opts: ParseOptions) -> list[PageText]:
    """Every page's lines, with OCR for pages that carry no text layer."""
    import pypdfium2 as pdfium

    pdf = _open_pdf(path, opts.max_pages)
    pages: list[PageText] = []
    try:
        for index in range(len(pdf)):
            page = pdf[index]
            left, bottom, right, top = page.get_bbox()
            width, height = right - left, top - bottom
            textpage = page.get_textpage()
            lines = _group_lines(_page_chars(textpage, index, top, left), index)
            info = PageText(index=index, width=width, height=height, lines=lines)
            if not lines and _has_images(page, pdfium):
                info.image_only = True
                if opts.ocr:
                    info.lines, info.ocr = _ocr_lines(page, index, opts), True
            pages.append(info)
    finally:
        pdf.close()
    return pages


def _has_images(page, pdfium) -> bool:
    from pypdfium2 import raw

    return any(obj.type == raw.FPDF_PAGEOBJ_IMAGE for obj in page.get_objects())


def _open_pdf(path: Path, max_pages: int):
    """Open a PDF or raise IngestError with a reason a user can act on."""
    import pypdfium2 as pdfium

    with open(path, "rb") as handle:
        head = handle.read(1024)
    if not head:
        raise IngestError("empty file (0 bytes)")
    if PDF_MAGIC not in head:
        raise IngestError("not a PDF: the file does not start with a PDF header")
    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise IngestError("encrypted PDF: a password is required to open it") from exc
        if re.search(rb"/Count\s+0\b", path.read_bytes()[-65536:]):
            raise IngestError("the PDF has zero pages") from exc  # pdfium refuses an empty page tree
        raise IngestError(f"corrupt or truncated PDF ({exc})") from exc
    if len(pdf) == 0:
        pdf.close()
        raise IngestError("the PDF has zero pages")
    if len(pdf) > max_pages:
        count = len(pdf)
        pdf.close()
        raise IngestError(f"too many pages: {count} > limit {max_pages} (AUDITOR_MAX_PAGES)")
    return pdf


# --------------------------------------------------------------------------- filing metadata

FORM_10K, FORM_10Q, FORM_8K, FORM_EARNINGS = "10-K", "10-Q", "8-K", "earnings release"
FORM_TYPES = (FORM_10K, FORM_10Q, FORM_8K, FORM_EARNINGS)

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


@dataclass
class FilingMetadata:
    """What a filing is: read from its cover page, the filename as fallback."""

    company: str = ""
    ticker: str = ""
    cik: str = ""
    form_type: str = ""
    fiscal_year: int | None = None
    fiscal_period: str = ""
    period_end: str = ""
    sources: dict[str, str] = field(default_factory=dict)

    def context_line(self, item: str = "", heading: str = "") -> str:
        """The short header prepended to every chunk before embedding and indexing."""
        parts = [self.company or "Unknown company"]
        if self.ticker:
            parts.append(f"({self.ticker})")
        parts.append(self.form_type or "filing")
        if self.fiscal_year:
            parts.append(f"FY{self.fiscal_year}")
        if self.fiscal_period and self.fiscal_period != "FY":
            parts.append(self.fiscal_period)
        if item:
            parts.append(f"Item {item}")
        if heading:
            parts.append(f"· {heading}")
            if kind := statement_kind(heading):
                parts.append(f"({kind})")
        return " ".join(parts)


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
    for key in ("company", "ticker", "cik", "form_type", "fiscal_year", "fiscal_period", "period_end"):
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


# --------------------------------------------------------------------------- elements

_NUMERIC_RE = re.compile(r"^[\$€£(]*\s*[-–—]?\s*[\d.,]*\d[\d.,]*\s*%?\)?%?$|^[-–—]+$|^\$?\s*\(?[-–—]\)?$")
_ITEM_RE = re.compile(r"^\s*item\s+(\d{1,2}[a-c]?)\s*[.:\-—–]?\s*(.*)$", re.IGNORECASE)
_PART_RE = re.compile(r"^\s*part\s+(i{1,3}|iv)\b", re.IGNORECASE)
_YEAR_RE = re.compile(r"\b(?:19|20)\d\d\b")
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
        return _union([[ln.x0, ln.top, ln.x1, ln.bottom] for ln in self.lines])

    def rows(self) -> list[list[str]]:
        return [_table_cells(line.segments) for line in self.lines]

    @property
    def text(self) -> str:
        if self.kind == "table":
            return "\n".join(" | ".join(cells) for cells in self.rows())
        return _join_wrapped(line.text for line in self.lines)


def _union(boxes: Iterable[list[float]]) -> list[float]:
    boxes = list(boxes)
    return [
        round(min(b[0] for b in boxes), 2),
        round(min(b[1] for b in boxes), 2),
        round(max(b[2] for b in boxes), 2),
        round(max(b[3] for b in boxes), 2),
    ]


def _join_wrapped(lines: Iterable[str]) -> str:
    text = ""
    for line in lines:
        if text.endswith("-") and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}" if text else line
    return text


_NUMBER_TOKEN_RE = re.compile(r"^[\$€£]?\(?[-–—]?[\d.,]*\d[\d.,]*%?\)?%?$|^[-–—]+$")


def _table_cells(segments: list[str]) -> list[str]:
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


def _is_row(line: Line) -> bool:
    cells = _table_cells(line.segments)
    return len(cells) >= 2 and any(_NUMERIC_RE.match(c) for c in cells[1:])


def _is_header(line: Line) -> bool:
    """Column headings above a table: years, several segments, or a units note."""
    return (
        len(line.segments) >= 2
        or bool(_YEAR_RE.search(line.text) and len(line.text) < 80)
        or bool(_UNITS_RE.search(line.text))
    )


def _is_title(line: Line) -> bool:
    text = line.text
    if (_ITEM_RE.match(text) or _PART_RE.match(text)) and len(text) < 200:
        return True
    if len(text) > 120 or text.endswith((".", ",", ";", ":")) or _NUMERIC_RE.match(text):
        return False
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 3:
        return False
    upper = sum(c.isupper() for c in letters) / len(letters)
    words = [w for w in text.split() if w[:1].isalpha() and len(w) > 3]
    capitalised = sum(w[0].isupper() for w in words) / len(words) if words else 0
    return upper > 0.7 or (capitalised > 0.8 and len(text) < 80)


def _running_lines(pages: list[PageText]) -> set[str]:
    """Headers and footers: the same text near the top or bottom of many pages."""
    counts: Counter[str] = Counter()
    for page in pages:
        for line in page.lines:
            if line.top < 0.08 * page.height or line.bottom > 0.92 * page.height:
                counts[re.sub(r"\d+", "#", line.text.lower())] += 1
    threshold = max(3, len(pages) // 4)
    return {text for text, n in counts.items() if n >= threshold}


def _content_lines(page: PageText, running: set[str]) -> list[Line]:
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
        end = _table_end(lines, i) if _is_row(lines[i]) else i
        rows = lines[i : end + 1]
        if sum(_is_row(r) for r in rows) >= 2:
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
        if _is_row(lines[j]):
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
        if not _is_header(line) or below.top - line.bottom > 2.5 * max(line.height, 1.0):
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


def build_blocks(pages: list[PageText], form_type: str, elements: list | None = None) -> list[Block]:
    """All blocks of a document in reading order, each tagged with its 10-K/10-Q Item.

    With hi_res `elements`, a page's blocks come from them; a page they leave empty while it
    has text falls back to the layout blocks, so no page is silently lost.
    """
    running = _running_lines(pages)
    by_page = blocks_from_elements(elements or [], pages)
    blocks = [
        b for p in pages for b in by_page.get(p.index) or _page_blocks(_content_lines(p, running), p.index)
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
    heads_per_page = Counter(b.page for b in blocks if b.kind == "title" and _ITEM_RE.match(b.lines[0].text))
    item, part = "", ""
    for block in blocks:
        if heads_per_page[block.page] < 4 and block.kind == "title":
            text = block.lines[0].text
            if match := _PART_RE.match(text):
                part, item = match.group(1).upper(), ""
            elif match := _ITEM_RE.match(text):
                item = match.group(1).upper()
        block.item, block.part = item, part


# --------------------------------------------------------------------------- boilerplate pages

_TOC_TITLE_RE = re.compile(r"^(table\s+of\s+contents|contents|index)$", re.IGNORECASE)
_PAGE_REF_RE = re.compile(r"^(\d{1,3}|[ivxl]{1,6}|[A-Z]{1,2}-\d{1,3})$", re.IGNORECASE)
_SIGNATURES_RE = re.compile(r"^(signatures?|power\s+of\s+attorney)$", re.IGNORECASE)
_SIGNED_RE = re.compile(r"/\s?s\s?/", re.IGNORECASE)
_EXHIBIT_HEAD_RE = re.compile(
    r"^(exhibit\s+index|index\s+to\s+exhibits|list\s+of\s+exhibits)$|exhibit\s+(number|no\b)"
    r"|incorporated\s+by\s+reference$",
    re.IGNORECASE,
)
_EXHIBIT_ROW_RE = re.compile(r"^\(?(\d{1,3}\.\d{1,3}(\.\d{1,3})?[A-Z]?|101\.[A-Z]{3}|104)\)?[*†#+]*(\s|$)")
_EXHIBIT_WORDS_RE = re.compile(
    r"incorporated\s+(herein\s+)?by\s+reference|(filed|furnished)\s+herewith|\bform\s+(8|10)-?[kq]\b"
    r"|\bexhibit\b",
    re.IGNORECASE,
)
_CERTIFIED_RE = re.compile(
    r"certify\b.{0,40}\bthat\b.*i have reviewed|18\s*u\.?\s*s\.?\s*c\.?\s*(section\s*)?1350"
    r"|certifying\s+officers?(\(s\))?\s+and\s+i\b|we\s+(hereby\s+)?consent\s+to\s+the\s+incorporation",
    re.IGNORECASE | re.DOTALL,
)


def boilerplate_kind(lines: list[Line]) -> str:
    """What a page is when it holds no content of its own: "table of contents", "exhibit
    index", "signatures" or "certification" (SOX 302/906, auditor's consent); "" otherwise.

    Judged on the page's own lines (running headers removed) by their shape, not by a keyword
    alone: a page that merely mentions its exhibits or signers stays content.
    """
    texts = [ln.text.strip() for ln in lines]
    if len(texts) < 3:
        return ""
    head, page = texts[:8], "\n".join(texts)
    refs = sum(len(ln.segments) >= 2 and bool(_PAGE_REF_RE.match(ln.segments[-1])) for ln in lines)
    items = sum(bool(_ITEM_RE.match(t)) for t in texts)
    if (any(_TOC_TITLE_RE.match(t) for t in head) or items >= 4) and refs >= 0.4 * len(texts):
        return "table of contents"
    rows = sum(bool(_EXHIBIT_ROW_RE.match(t)) for t in texts)
    listed = rows >= 0.25 * len(texts) or any(_EXHIBIT_HEAD_RE.search(t) for t in head)
    # Numbered lines alone could be figures ("17.9 Net earnings") or a plan's sections.
    if rows >= 5 and listed and len(_EXHIBIT_WORDS_RE.findall(page)) >= 3:
        return "exhibit index"
    signed = len(_SIGNED_RE.findall(page))
    if signed >= 4 or (any(_SIGNATURES_RE.match(t) for t in head) and (signed >= 2 or "duly caused" in page)):
        return "signatures"
    if _CERTIFIED_RE.search(page) and (signed or "certify" in page.lower()):
        return "certification"
    return ""


def boilerplate_pages(pages: list[PageText]) -> dict[int, str]:
    """Page index -> kind, for every page that is navigation or formality, not content."""
    running = _running_lines(pages)
    kinds = {p.index: boilerplate_kind(_content_lines(p, running)) for p in pages}
    return {index: kind for index, kind in kinds.items() if kind}


# --------------------------------------------------------------------------- hi_res (optional)

# unstructured_inference's layout models and the hub file each one loads (its models/*.py).
HI_RES_MODELS = {
    "yolox": ("unstructuredio/yolo_x_layout", "yolox_l0.05.onnx"),
    "yolox_tiny": ("unstructuredio/yolo_x_layout", "yolox_tiny.onnx"),
    "yolox_quantized": ("unstructuredio/yolo_x_layout", "yolox_l0.05_quantized.onnx"),
    "detectron2_onnx": ("unstructuredio/detectron2_faster_rcnn_R_50_FPN_3x", "model.onnx"),
}
_UNINDEXED_CATEGORIES = {"Header", "Footer", "PageNumber", "PageBreak", "Image"}


def hi_res_missing(model: str, cache_dir: str | Path | None = None) -> list[str]:
    """Why unstructured's hi_res cannot run offline here; empty when it can.

    Looks only at what is installed and at the local Hugging Face cache: nothing is downloaded.
    """
    from huggingface_hub import try_to_load_from_cache

    missing = []
    if importlib.util.find_spec("unstructured_inference") is None:
        missing.append("unstructured_inference is not installed (pip install '.[hires]')")
    repo, filename = HI_RES_MODELS[model]
    if not isinstance(try_to_load_from_cache(repo, filename, cache_dir=cache_dir), str):
        missing.append(f"layout model {repo}/{filename} is not in the local Hugging Face cache")
    return missing


def choose_parser(requested: str, model: str, cache_dir: str | Path | None = None) -> tuple[str, str]:
    """The parser to run, and why it is not the one explicitly requested ("" when it is)."""
    if requested == "layout":
        return "layout", ""
    missing = hi_res_missing(model, cache_dir)
    if not missing:
        return "hi_res", ""
    # "auto" quietly means layout here; an explicit hi_res request is told why it did not run.
    return "layout", "" if requested == "auto" else "hi_res unavailable, used layout: " + "; ".join(missing)


def hi_res_elements(path: Path, opts: ParseOptions) -> list:
    """unstructured's hi_res elements for a PDF, with every model read from the local cache."""
    # Set in the parser child only: a missing model must fail fast, never start a download;
    # and unstructured's advertisement must not land in the CLI's output.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    if "huggingface_hub" in sys.modules:  # imported before the variable was set: tell it directly
        sys.modules["huggingface_hub"].constants.HF_HUB_OFFLINE = True
    from unstructured.partition.pdf import partition_pdf

    return partition_pdf(
        filename=str(path), strategy="hi_res", hi_res_model_name=opts.hi_res_model,
        languages=[opts.ocr_lang], infer_table_structure=False,
    )  # fmt: skip


def run_hi_res(path: Path, opts: ParseOptions) -> tuple[list, str]:
    """hi_res elements when hi_res was chosen, else none; and why hi_res did not serve, if it did not."""
    if opts.parser != "hi_res":
        return [], opts.parser_note
    try:
        elements = hi_res_elements(path, opts)
    except Exception as exc:  # a missing extra, model or OCR engine: the layout parser takes over
        return [], f"hi_res failed, used layout: {type(exc).__name__}: {exc}"
    if not any((e.text or "").strip() for e in elements):
        return [], "hi_res found no text, used layout"
    return elements, ""


def element_box(coordinates, page_width: float, page_height: float) -> list[float]:
    """An `unstructured` element's box as ``[x0, top, x1, bottom]`` in PDF points from the top left.

    hi_res measures in pixels of the page image it rendered (a PixelSpace of the image's size);
    re-expressed in a top-left space the size of the page in points, it lines up with the
    layout parser's boxes. Any other coordinate system converts the same way.
    """
    from unstructured.documents.coordinates import PixelSpace

    page = PixelSpace(width=page_width, height=page_height)
    corners = coordinates.system.convert_multiple_coordinates_to_new_system(page, coordinates.points)
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    return [round(min(xs), 2), round(min(ys), 2), round(max(xs), 2), round(max(ys), 2)]


def blocks_from_elements(elements: list, pages: list[PageText]) -> dict[int, list[Block]]:
    """hi_res elements as blocks, by page index.

    A table's rows are the layout parser's lines inside the table's box, so each row keeps its
    label next to its figures and its own box; a table region without such rows stays text.
    """
    by_page: dict[int, list[Block]] = {}
    claimed: set[int] = set()
    for element in elements:
        meta, text = element.metadata, " ".join((element.text or "").split())
        if element.category in _UNINDEXED_CATEGORIES or not text or not meta.coordinates:
            continue
        page = pages[(meta.page_number or 1) - 1]
        box = element_box(meta.coordinates, page.width, page.height)
        kind = {"Title": "title", "Table": "table"}.get(element.category, "text")
        lines = [Line(page.index, *box, segments=[text])]
        if kind == "table":
            rows = [ln for ln in page.lines if id(ln) not in claimed and _centre_inside(ln, box)]
            if sum(_is_row(r) for r in rows) >= 2:
                lines = rows
                claimed.update(id(r) for r in rows)
            else:
                kind = "text"
        by_page.setdefault(page.index, []).append(Block(kind, page.index, lines))
    return by_page


def _centre_inside(line: Line, box: list[float], slack: float = 2.0) -> bool:
    x, y = (line.x0 + line.x1) / 2, (line.top + line.bottom) / 2
    return box[0] - slack <= x <= box[2] + slack and box[1] - slack <= y <= box[3] + slack


# --------------------------------------------------------------------------- chunks


@dataclass
class Chunk:
    """One unit of retrieval: text that fits the embedding window, and where it sits."""

    text: str
    kind: str
    page: int
    bbox: list[float]
    item: str = ""
    part: str = ""
    table_html: str = ""
    pages: list[int] = field(default_factory=list)
    heading: str = ""

    def context(self, meta: FilingMetadata) -> str:
        return meta.context_line(self.item, self.heading)


class WindowFitter:
    """Counts word pieces with the embedding model's own tokenizer and splits text to fit."""

    def __init__(self, tokenizer_file: Path | None, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_file)) if tokenizer_file else None
        if self.tokenizer is not None:
            # tokenizer.json ships with padding and truncation at 128: we need true lengths.
            self.tokenizer.no_padding()
            self.tokenizer.no_truncation()
        self.max_tokens = max_tokens

    def count(self, texts: list[str]) -> list[int]:
        if self.tokenizer is None:  # no tokenizer file: a conservative 3 characters a piece
            return [len(t) // 3 + 2 for t in texts]
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=True)]

    def fits(self, context: str, text: str) -> bool:
        return self.count([f"{context}\n{text}"])[0] <= self.max_tokens

    def pack(
        self, context: str, pieces: list[str], header: list[str], sep: str
    ) -> list[tuple[str, list[int]]]:
        """Greedily pack pieces (rows, sentences) into parts that fit, repeating the header.

        Returns each part's text with the indices of the pieces it holds.
        """
        head = sep.join(header)
        budget = self.max_tokens - self.count([f"{context}\n{head}"])[0] - 1
        parts: list[tuple[str, list[int]]] = []
        current: list[int] = []
        used = 0

        def flush() -> None:
            if current:
                parts.append((sep.join(header + [pieces[i] for i in current]), list(current)))
                current.clear()

        for index, cost in enumerate(self.count(pieces)):
            if cost > budget:
                flush()
                parts.extend(
                    (sep.join([*header, words]), [index])
                    for words in self._split_words(pieces[index], budget)
                )
                used = 0
                continue
            if current and used + cost > budget:
                flush()
                used = 0
            current.append(index)
            used += cost
        flush()
        return parts

    def _split_words(self, text: str, budget: int) -> list[str]:
        words = text.split()
        out: list[str] = []
        while words:
            take = len(words)
            while take > 1 and self.count([" ".join(words[:take])])[0] > budget:
                take = max(1, int(take * 0.8))
            out.append(" ".join(words[:take]))
            words = words[take:]
        return out


def _table_parts(block: Block, context: str, fitter: WindowFitter) -> list[Chunk]:
    rows = [" | ".join(cells) for cells in block.rows()]
    n_head = block.header_rows
    header, body = rows[:n_head], rows[n_head:]
    if not body:
        header, body, n_head = [], rows, 0
    chunks = []
    for text, members in fitter.pack(context, body, header, "\n"):
        lines = [block.lines[n_head + i] for i in members]
        chunks.append(
            Chunk(
                text=text,
                kind="table",
                page=block.page,
                bbox=_union([[ln.x0, ln.top, ln.x1, ln.bottom] for ln in lines]),
                item=block.item,
                part=block.part,
                table_html=_rows_html(text.split("\n"), len(header)),
                pages=[block.page],
                heading=block.heading,
            )
        )
    return chunks


def _rows_html(rows: list[str], header_rows: int) -> str:
    out = ["<table>"]
    for n, row in enumerate(rows):
        tag = "th" if n < header_rows else "td"
        cells = "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in row.split(" | "))
        out.append(f"<tr>{cells}</tr>")
    out.append("</table>")
    return "".join(out)


def _leading_header_rows(block: Block) -> int:
    """Lines moved in above the rows, plus leading rows of years or labels with no figures."""
    n = block.header_rows
    for line, cells in zip(block.lines[n:], block.rows()[n:], strict=True):
        figures = [c for c in cells[1:] if _NUMERIC_RE.match(c) and not _YEAR_RE.fullmatch(c.strip())]
        if figures or n >= 4 or not _is_header(line):
            break
        n += 1
    return n if n < len(block.lines) else block.header_rows


def chunk_blocks(
    blocks: list[Block], meta: FilingMetadata, fitter: WindowFitter, max_chars: int
) -> list[Chunk]:
    """Tables split by rows with their header; prose grouped by `chunk_by_title`, one page at a time."""
    from unstructured.chunking.title import chunk_by_title
    from unstructured.documents.coordinates import PixelSpace
    from unstructured.documents.elements import (
        CoordinatesMetadata,
        ElementMetadata,
        NarrativeText,
        Title,
    )

    chunks: list[Chunk] = []
    elements, origin = [], {}
    for block in blocks:
        if block.kind == "table":
            block.header_rows = _leading_header_rows(block)
            chunks.extend(_table_parts(block, meta.context_line(block.item, block.heading), fitter))
            continue
        x0, top, x1, bottom = block.bbox
        coords = CoordinatesMetadata(
            points=((x0, top), (x0, bottom), (x1, bottom), (x1, top)),
            system=PixelSpace(width=10_000, height=10_000),
        )
        cls = Title if block.kind == "title" else NarrativeText
        element = cls(
            text=block.text,
            metadata=ElementMetadata(page_number=block.page + 1, coordinates=coords),
        )
        origin[element.id] = block
        elements.append(element)
    # One page at a time: chunk_by_title's combining step would otherwise join small
    # sections across a page break even with multipage_sections=False.
    by_page: dict[int, list] = {}
    for element in elements:
        by_page.setdefault(origin[element.id].page, []).append(element)
    grouped = [
        group
        for page_elements in by_page.values()
        for group in chunk_by_title(
            page_elements,
            max_characters=max_chars,
            new_after_n_chars=int(max_chars * 0.8),
            combine_text_under_n_chars=int(max_chars * 0.4),
            multipage_sections=False,
            include_orig_elements=True,
        )
    ]
    for group in grouped:
        members = [origin[e.id] for e in group.metadata.orig_elements or [] if e.id in origin]
        if not members:
            continue
        first = members[0]
        context = meta.context_line(first.item, first.heading)
        bbox = _union(m.bbox for m in members)
        if fitter.fits(context, group.text):
            texts = [group.text]
        else:
            texts = [text for text, _ in fitter.pack(context, _sentences(group.text), [], " ")]
        for text in texts:
            chunks.append(
                Chunk(text, "text", first.page, bbox, first.item, first.part,
                      pages=[first.page], heading=first.heading)
            )  # fmt: skip
    chunks.sort(key=lambda c: (c.page, c.bbox[1]))
    return chunks


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.;:])\s+(?=[A-Z(“\"•·])", text) if s]


# --------------------------------------------------------------------------- one document


@dataclass
class ParsedFiling:
    """A parsed document, ready to embed: its chunks, metadata and page facts."""

    path: str
    filename: str
    sha256: str
    meta: FilingMetadata
    page_count: int
    page_sizes: list[tuple[float, float]]
    chunks: list[Chunk]
    ocr_pages: list[int]
    unreadable_pages: list[int]
    seconds: float
    parser: str = "layout"
    parser_note: str = ""
    boilerplate: dict[int, str] = field(default_factory=dict)  # pages left out, and what they are
    cpu_seconds: float = 0.0

    @property
    def status(self) -> str:
        return "needs_ocr" if self.unreadable_pages else "ok"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_document(
    path: Path, opts: ParseOptions, overrides: dict[str, object], display_name: str = ""
) -> ParsedFiling:
    """Parse, describe and chunk one PDF. Raises IngestError for a file that cannot be indexed.

    `display_name` is the name the user knows the file by (an upload is stored under a
    generated name); it is what the index shows and the metadata fallback reads.
    """
    filename = display_name or path.name
    start, cpu_start = time.perf_counter(), time.process_time()
    pages = extract_pages(path, opts)
    unreadable = [p.index for p in pages if p.image_only and not p.ocr]
    if not any(p.lines for p in pages):
        if unreadable:
            reason = "image-only pages and no OCR available (install tesseract-ocr)"
        else:
            reason = "no extractable text on any page"
        raise IngestError(reason)
    meta = apply_overrides(extract_metadata(pages, filename), overrides)
    elements, parser_note = run_hi_res(path, opts)
    blocks = build_blocks(pages, meta.form_type, elements)
    tokenizer = Path(opts.tokenizer_file) if opts.tokenizer_file else None
    chunks = chunk_blocks(blocks, meta, WindowFitter(tokenizer, opts.max_tokens), opts.chunk_max_chars)
    boilerplate = boilerplate_pages(pages) if opts.skip_boilerplate else {}
    content = [c for c in chunks if c.page not in boilerplate]
    if not content:  # a document that is all formality is still indexed, never left empty
        content, boilerplate = chunks, {}
    return ParsedFiling(
        path=str(path),
        filename=filename,
        sha256=file_sha256(path),
        meta=meta,
        page_count=len(pages),
        page_sizes=[(p.width, p.height) for p in pages],
        chunks=content,
        ocr_pages=[p.index for p in pages if p.ocr],
        unreadable_pages=unreadable,
        seconds=time.perf_counter() - start,
        parser="hi_res" if elements else "layout",
        parser_note=parser_note,
        boilerplate=boilerplate,
        cpu_seconds=time.process_time() - cpu_start,
    )


def _child_main(conn, path: str, opts: ParseOptions, overrides: dict[str, object], display_name: str) -> None:
    """Entry point of the parser process: parse, send back the result or the error."""
    try:
        conn.send(("ok", parse_document(Path(path), opts, overrides, display_name)))
    except IngestError as exc:
        conn.send(("error", str(exc)))
    except Exception as exc:  # a parser bug must fail this file, not the batch
        conn.send(("error", f"parser error: {type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _watch(pid: int):
    """A psutil handle on the parser child, or None when it has already finished."""
    import psutil

    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


class ParseJob:
    """One document being parsed in a child process, started now and collected later."""

    _context = None

    def __init__(
        self, path: Path, opts: ParseOptions, overrides: dict[str, object], display_name: str = ""
    ) -> None:
        if ParseJob._context is None:
            method = "forkserver" if sys.platform != "win32" else "spawn"
            ParseJob._context = multiprocessing.get_context(method)
        ctx = ParseJob._context
        self.path, self.opts = path, opts
        self._conn, child_conn = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_child_main,
            args=(child_conn, str(path), opts, overrides, display_name),
            daemon=True,
        )
        self._started = time.monotonic()
        self._proc.start()
        child_conn.close()
        # Watched from its start: `multiprocessing` reaps finished children whenever another
        # process starts, so the pid may be gone by the time the result is collected.
        self._watch = _watch(self._proc.pid)

    def result(self) -> ParsedFiling:
        """Wait for the child within the time limit and memory cap; raise IngestError on failure.

        The cap is on the child's resident memory, checked every 50 ms: an address-space rlimit
        does not bound what glibc's pre-reserved arenas hand out.
        """
        try:
            kind, payload = self._wait()
        except EOFError:
            self._proc.join(5)
            code = self._proc.exitcode
            reason = f"killed by signal {-code}" if code and code < 0 else f"exit code {code}"
            raise IngestError(f"parser crashed ({reason})") from None
        finally:
            self._stop()
        if kind == "error":
            raise IngestError(payload)
        return payload

    def _wait(self) -> tuple[str, object]:
        import psutil

        child = self._watch
        cap = self.opts.memory_mb * 1024 * 1024
        while not self._conn.poll(0.05):
            if time.monotonic() - self._started > self.opts.timeout_s:
                slow = " (hi_res: raise AUDITOR_PARSE_TIMEOUT_S or set AUDITOR_PARSER=layout)"
                hint = slow if self.opts.parser == "hi_res" else ""
                raise IngestError(f"parser timed out after {self.opts.timeout_s:.0f} s{hint}")
            try:
                rss = child.memory_info().rss if child else 0
            except psutil.Error:
                continue  # the child is exiting; poll again for its result or EOF
            if rss > cap:
                raise IngestError(
                    f"parser exceeded its memory cap of {self.opts.memory_mb} MB "
                    f"({rss / 1e6:.0f} MB resident; AUDITOR_PARSE_MEMORY_MB)"
                )
        return self._conn.recv()

    def _stop(self) -> None:
        self._conn.close()
        self._proc.join(1)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()


# --------------------------------------------------------------------------- batches and the CLI


@dataclass
class IngestSummary:
    """What a batch did, as the CLI prints it."""

    added: int = 0
    skipped: int = 0
    failed: int = 0
    pages: int = 0
    chunks: int = 0
    boilerplate_pages: int = 0  # table of contents, signatures...: parsed, not indexed
    seconds: float = 0.0
    # CPU time as well as wall time: on a shared machine it is what a change to the work shows.
    embed_seconds: float = 0.0
    embed_cpu_seconds: float = 0.0
    parse_cpu_seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # indexed, but not as asked

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added, "skipped": self.skipped, "failed": self.failed,
            "pages": self.pages, "chunks": self.chunks, "boilerplate_pages": self.boilerplate_pages,
            "seconds": round(self.seconds, 2), "embed_seconds": round(self.embed_seconds, 2),
            "embed_cpu_seconds": round(self.embed_cpu_seconds, 2),
            "parse_cpu_seconds": round(self.parse_cpu_seconds, 2),
            "pages_per_s": round(self.pages_per_s, 2),
            "failures": [{"file": f, "reason": r} for f, r in self.failures],
            "notes": [{"file": f, "note": n} for f, n in self.notes],
        }  # fmt: skip


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus every *.pdf under folders, each once, in a stable order."""
    found: dict[Path, None] = {}
    for raw_path in paths:
        path = Path(raw_path)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() == ".pdf":
                    found[child.resolve()] = None
        elif path.exists():
            found[path.resolve()] = None
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return list(found)


def _chunk_rows(parsed: ParsedFiling, vectors) -> list[dict[str, object]]:
    meta = parsed.meta
    rows = []
    for n, (chunk, vector) in enumerate(zip(parsed.chunks, vectors, strict=True)):
        width, height = parsed.page_sizes[chunk.page]
        rows.append({
            "chunk_id": f"{parsed.sha256[:16]}-{n:05d}", "doc_sha256": parsed.sha256,
            "doc_name": parsed.filename, "company": meta.company, "ticker": meta.ticker,
            "cik": meta.cik, "form_type": meta.form_type, "fiscal_year": meta.fiscal_year,
            "fiscal_period": meta.fiscal_period, "period_end": meta.period_end,
            "item": chunk.item, "part": chunk.part, "kind": chunk.kind, "page": chunk.page,
            "pages": chunk.pages or [chunk.page], "bbox": chunk.bbox, "page_width": width,
            "page_height": height, "text": chunk.text,
            "search_text": f"{chunk.context(meta)}\n{chunk.text}", "heading": chunk.heading,
            "table_html": chunk.table_html, "vector": vector,
        })  # fmt: skip
    return rows


def _document_row(parsed: ParsedFiling, embed_model: str) -> dict[str, object]:
    meta = parsed.meta
    return {
        "sha256": parsed.sha256, "filename": parsed.filename, "path": parsed.path,
        "company": meta.company, "ticker": meta.ticker, "cik": meta.cik,
        "form_type": meta.form_type, "fiscal_year": meta.fiscal_year,
        "fiscal_period": meta.fiscal_period, "period_end": meta.period_end,
        "status": parsed.status,
        "error": f"no text on pages {parsed.unreadable_pages} (OCR unavailable)"
        if parsed.unreadable_pages else "",
        "pages": parsed.page_count, "ocr_pages": parsed.ocr_pages,
        "unreadable_pages": parsed.unreadable_pages,
        "metadata_sources": json.dumps(meta.sources), "embed_model": embed_model,
        "seconds": round(parsed.seconds, 3),
    }  # fmt: skip


def _harmonise_company(meta: FilingMetadata, index) -> None:
    """A name guessed from the filename yields to the cover-page name of a filing with the same ticker."""
    if meta.sources.get("company") != "filename" or not meta.ticker:
        return
    for doc in index.list_documents():
        sources = json.loads(doc.get("metadata_sources") or "{}")
        if doc["ticker"] == meta.ticker and sources.get("company") == "document":
            meta.company = doc["company"]
            meta.sources["company"] = f"document (same ticker as {doc['filename']})"
            return


def _admit(path: Path, index, replace: bool, max_bytes: int) -> tuple[str, str | None]:
    """The file's sha256 and, when it should not be parsed, why."""
    size = path.stat().st_size
    if size > max_bytes:
        return "", f"file too large: {size / 1e6:.0f} MB > {max_bytes / 1e6:.0f} MB (AUDITOR_MAX_FILE_MB)"
    sha = file_sha256(path)
    existing = index.get_document(sha)
    if existing and existing["status"] != "failed" and not replace:
        return sha, "skip"
    return sha, None


def ingest_paths(
    paths: Iterable[str | Path],
    index=None,
    overrides: dict[str, object] | None = None,
    replace: bool = False,
    show_progress: bool = True,
    on_document=None,
    display_names: dict[Path, str] | None = None,
) -> IngestSummary:
    """Parse, chunk, embed and index files and folders. Bad files fail alone; the batch goes on.

    The next document is parsed in its child process while the current one is embedded.
    `on_document(filename, status, detail)` is called once per file (for UIs).
    `display_names` maps stored paths to the names users know them by (uploads).
    """
    from tqdm import tqdm

    import database

    settings = config.get_settings()
    started = time.perf_counter()
    index = index or database.AuditIndex()
    index.remove_orphans()
    embedder = index.embedder
    opts = ParseOptions.from_settings(embedder.tokenizer_file, embedder.max_tokens)
    summary = IngestSummary()
    files = discover(paths)
    docs_bar = tqdm(total=len(files), desc="documents", unit="doc", disable=not show_progress)
    pages_bar = tqdm(desc="pages", unit="page", disable=not show_progress)
    notify = on_document or (lambda *_: None)
    names = {Path(k).resolve(): v for k, v in (display_names or {}).items()}

    def start(path: Path) -> ParseJob:
        return ParseJob(path, opts, overrides or {}, names.get(path, ""))

    queue: list[tuple[Path, str]] = []
    for path in files:
        sha, verdict = _admit(path, index, replace, settings.max_file_mb * 1024 * 1024)
        if verdict == "skip":
            summary.skipped += 1
            notify(names.get(path, path.name), "skipped", "already indexed (same sha256)")
            docs_bar.update()
        elif verdict:
            _fail(index, summary, path, names.get(path, path.name), sha, verdict, notify)
            docs_bar.update()
        else:
            queue.append((path, sha))

    job = start(queue[0][0]) if queue else None
    for n, (path, sha) in enumerate(queue):
        current, job = job, (start(queue[n + 1][0]) if n + 1 < len(queue) else None)
        try:
            parsed = current.result()
        except IngestError as exc:
            _fail(index, summary, path, names.get(path, path.name), sha, str(exc), notify)
            docs_bar.update()
            continue
        _harmonise_company(parsed.meta, index)
        texts = [f"{c.context(parsed.meta)}\n{c.text}" for c in parsed.chunks]
        embed_started, embed_cpu = time.perf_counter(), time.process_time()
        vectors = embedder.encode(texts, settings.embed_batch_size)
        summary.embed_seconds += time.perf_counter() - embed_started
        summary.embed_cpu_seconds += time.process_time() - embed_cpu
        summary.parse_cpu_seconds += parsed.cpu_seconds
        version = index.add_document(_document_row(parsed, embedder.name), _chunk_rows(parsed, vectors))
        summary.added += 1
        summary.pages += parsed.page_count
        summary.chunks += len(parsed.chunks)
        summary.boilerplate_pages += len(parsed.boilerplate)
        summary.documents.append(parsed.sha256)
        pages_bar.update(parsed.page_count)
        docs_bar.update()
        notify(parsed.filename, parsed.status, f"{parsed.page_count} pages, {len(parsed.chunks)} chunks")
        metrics.document_ingested(parsed.status, parsed.page_count)
        log.info("document indexed", extra={"fields": {
            "file": parsed.filename, "sha256": parsed.sha256, "status": parsed.status,
            "pages": parsed.page_count, "chunks": len(parsed.chunks), "parse_s": round(parsed.seconds, 3),
            "parser": parsed.parser, "table_version": version,
            "boilerplate": dict(Counter(parsed.boilerplate.values())),
            "metadata": parsed.meta.__dict__}})  # fmt: skip
        if parsed.parser_note:
            summary.notes.append((parsed.filename, parsed.parser_note))
            log.warning("parser fallback", extra={"fields": {
                "file": parsed.filename, "requested": settings.parser,
                "reason": parsed.parser_note}})  # fmt: skip
    index.refresh_indexes()
    docs_bar.close()
    pages_bar.close()
    summary.seconds = time.perf_counter() - started
    log.info("batch done", extra={"fields": summary.as_dict()})
    return summary


def _fail(index, summary: IngestSummary, path: Path, name: str, sha: str, reason: str, notify) -> None:
    summary.failed += 1
    summary.failures.append((name, reason))
    if sha:
        index.record_failure(sha, name, str(path), reason)
    notify(name, "failed", reason)
    metrics.ingest_failed()
    log.warning("document failed", extra={"fields": {"file": name, "sha256": sha, "reason": reason}})


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
    parser.add_argument("--form", choices=FORM_TYPES, help="override the form type")
    parser.add_argument("--fiscal-year", type=int, help="override the fiscal year")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import json as _json

    import database

    args = _parse_args(argv)
    index = database.AuditIndex(args.db)
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
    overrides = {
        "company": args.company, "ticker": args.ticker, "cik": args.cik, "form_type": args.form,
        "fiscal_year": args.fiscal_year, "fiscal_period": args.fiscal_period,
        "period_end": args.period_end,
    }  # fmt: skip
    try:
        summary = ingest_paths(args.paths, index, overrides, replace=args.replace)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.json:
        print(_json.dumps(summary.as_dict(), indent=2))
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
