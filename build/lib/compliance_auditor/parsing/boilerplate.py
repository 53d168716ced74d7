"""Stage 4 of parsing: pages that are navigation or formality, not content.

A table of contents, an exhibit index, a signature page or a certification (SOX 302/906,
the auditor's consent) is parsed and counted but not embedded: about 4% of a 10-K's chunks,
with no loss in retrieval (docs/benchmarks.md). Pages are judged by their shape, not by a
keyword alone: a page that merely mentions its exhibits or signers stays content.
"""

from __future__ import annotations

import re

from compliance_auditor.parsing.blocks import ITEM_RE, content_lines, running_lines
from compliance_auditor.parsing.pdf import Line, PageText

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
    items = sum(bool(ITEM_RE.match(t)) for t in texts)
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
    running = running_lines(pages)
    kinds = {p.index: boilerplate_kind(content_lines(p, running)) for p in pages}
    return {index: kind for index, kind in kinds.items() if kind}
