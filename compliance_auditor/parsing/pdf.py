"""Stage 1 of parsing: open a PDF and rebuild its lines from every character's box.

pypdfium2 (Apache/BSD, about 80 pages/s here) gives each character and its box; characters
are clustered into lines by vertical centre, and a line is split into segments where the gap
is wide, so a table row keeps its label beside its figures. Pages with no text layer go to
OCR (`ocr.py`) when it is available.

Coordinates: every box is ``[x0, top, x1, bottom]`` in PDF points (1/72 inch) measured from
the page's top-left corner, so a renderer at D dpi draws it at ``box * D / 72`` pixels.
"""

from __future__ import annotations

import ctypes
import re
import statistics
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compliance_auditor.parsing.fonts import BOLD, ITALIC, FontStyles

if TYPE_CHECKING:
    from compliance_auditor.parsing.converter import ParseOptions

PDF_MAGIC = b"%PDF-"

# A character as the line builder sees it: (char, x0, top, x1, bottom, space_before, style),
# style being the BOLD | ITALIC bits of `fonts.py` (0 when fonts are not read).
Char = tuple[str, float, float, float, float, bool, int]


class IngestError(Exception):
    """A document that cannot be indexed, with a reason fit to show a user."""


@dataclass
class Line:
    """One visual line of a page: text segments split where the gap is wide."""

    page: int
    x0: float
    top: float
    x1: float
    bottom: float
    segments: list[str]
    spans: list[tuple[float, float]] = field(default_factory=list)
    """Each segment's left and right edge (x0, x1); empty where unknown (OCR, hi_res)."""
    bold: bool = False
    italic: bool = False
    """(Nearly) all its letters are set in a bold / an italic font; read only when
    `extract_pages` is asked for fonts, False otherwise."""

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


def _page_chars(textpage: Any, top: float, left: float, fonts: FontStyles | None = None) -> list[Char]:
    """(char, x0, top, x1, bottom, space_before, style) for every visible character.

    With `fonts`, the style is read at the start of each word and kept for the rest of it:
    a font changes between words, and asking at every character would cost far more.
    """
    from pypdfium2 import raw

    rect = raw.FS_RECTF()
    chars: list[Char] = []
    space, style = False, 0
    handle = textpage.raw
    for i in range(raw.FPDFText_CountChars(handle)):
        code = raw.FPDFText_GetUnicode(handle, i)
        if code in _SKIP_CHARS or code < 0x20:
            space = True
            continue
        raw.FPDFText_GetLooseCharBox(handle, i, ctypes.byref(rect))
        if rect.right <= rect.left:
            continue
        if fonts is not None and (space or not chars):
            style = fonts.of_char(handle, i)
        box = (rect.left - left, top - rect.top, rect.right - left, top - rect.bottom)
        chars.append((chr(code), *box, space, style))
        space = False
    return chars


def group_lines(chars: list[Char], page_index: int) -> list[Line]:
    """Cluster characters into lines by vertical centre, then split by horizontal gaps."""
    if not chars:
        return []
    chars.sort(key=lambda c: (c[2] + c[4]) / 2)
    rows: list[list[Char]] = [[chars[0]]]
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


def _make_line(row: list[Char], page_index: int) -> Line | None:
    row.sort(key=lambda c: c[1])
    height = statistics.median(c[4] - c[2] for c in row) or 1.0
    segments: list[str] = []
    spans: list[tuple[float, float]] = []
    current: list[str] = []
    prev_x1: float | None = None
    start = row[0][1]
    for ch, x0, _top, x1, _bottom, space_before, _style in row:
        if prev_x1 is not None:
            gap = x0 - prev_x1
            if gap > 0.9 * height:
                segments.append("".join(current).strip())
                spans.append((start, prev_x1))
                current, start = [], x0
            elif gap > 0.25 * height or (space_before and gap > -0.1 * height):
                current.append(" ")
        if prev_x1 is not None and x1 <= prev_x1 and x0 < prev_x1 - 0.5 * height:
            continue  # overprinted duplicate glyph (fake bold)
        current.append(ch)
        prev_x1 = x1 if prev_x1 is None else max(x1, prev_x1)
    segments.append("".join(current).strip())
    spans.append((start, prev_x1 if prev_x1 is not None else start))
    kept = [(s, span) for s, span in zip(segments, spans, strict=True) if s]
    if not kept:
        return None
    bold, italic = _line_style(row)
    segments, spans = [s for s, _ in kept], [span for _, span in kept]
    return Line(
        page=page_index,
        x0=min(c[1] for c in row),
        top=min(c[2] for c in row),
        x1=max(c[3] for c in row),
        bottom=max(c[4] for c in row),
        segments=segments,
        spans=spans,
        bold=bold,
        italic=italic,
    )


def _line_style(row: list[Char]) -> tuple[bool, bool]:
    """Bold, italic: whether 90% of a line's letters are set so (a styled word does not count)."""
    if not any(c[6] for c in row):
        return False, False
    letters = [c[6] for c in row if c[0].isalpha()] or [0]
    share = [sum(1 for s in letters if s & style) / len(letters) for style in (BOLD, ITALIC)]
    return share[0] >= 0.9, share[1] >= 0.9


def extract_pages(
    path: Path, opts: ParseOptions, fonts: bool = False, only: Collection[int] | None = None
) -> list[PageText]:
    """Every page's lines, with OCR for pages that carry no text layer.

    `fonts` also reads whether each line is bold or italic (`Line.bold`, `Line.italic`), at
    about a fifth more time; ingestion does not need it. `only` parses just those pages
    (0-based), for a reader that knows where to look.
    """
    from compliance_auditor.parsing.ocr import read_words

    pdf = open_pdf(path, opts.max_pages)
    pages: list[PageText] = []
    styles = FontStyles() if fonts else None
    try:
        for index in range(len(pdf)):
            if only is not None and index not in only:
                continue
            page = pdf[index]
            left, bottom, right, top = page.get_bbox()
            width, height = right - left, top - bottom
            textpage = page.get_textpage()
            if styles is not None:
                styles.new_page()
            lines = group_lines(_page_chars(textpage, top, left, styles), index)
            info = PageText(index=index, width=width, height=height, lines=lines)
            if not lines and _has_images(page):
                info.image_only = True
                if opts.ocr:
                    info.lines, info.ocr = group_lines(read_words(page, opts), index), True
            pages.append(info)
    finally:
        pdf.close()
    return pages


def _has_images(page: Any) -> bool:
    from pypdfium2 import raw

    return any(obj.type == raw.FPDF_PAGEOBJ_IMAGE for obj in page.get_objects())


def open_pdf(path: Path, max_pages: int) -> Any:
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
        # The page tree first: pdfium refuses an empty one without an error code of its own, so
        # its message may still be the last file's ("password required") in a process that
        # opened an encrypted file before.
        if re.search(rb"/Count\s+0\b", path.read_bytes()[-65536:]):
            raise IngestError("the PDF has zero pages") from exc
        if "password" in str(exc).lower():
            raise IngestError("encrypted PDF: a password is required to open it") from exc
        raise IngestError(f"corrupt or truncated PDF ({exc})") from exc
    if len(pdf) == 0:
        pdf.close()
        raise IngestError("the PDF has zero pages")
    if len(pdf) > max_pages:
        count = len(pdf)
        pdf.close()
        raise IngestError(f"too many pages: {count} > limit {max_pages} (AUDITOR_MAX_PAGES)")
    return pdf
