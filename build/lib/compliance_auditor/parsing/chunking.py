"""Stage 5 of parsing: blocks become chunks that fit the embedding model's window.

Tables are split by rows, each part repeating the table's header, and also kept as HTML;
prose is grouped by `unstructured`'s `chunk_by_title`, one page at a time. Every chunk, with
its context line, fits the window (256 word pieces for all-MiniLM-L6-v2), counted with the
model's own tokenizer.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from compliance_auditor.parsing.blocks import NUMERIC_RE, YEAR_RE, Block, is_header, union_box
from compliance_auditor.parsing.metadata import context_line
from compliance_auditor.records import Chunk, FilingMetadata


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
                bbox=union_box([[ln.x0, ln.top, ln.x1, ln.bottom] for ln in lines]),
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
        figures = [c for c in cells[1:] if NUMERIC_RE.match(c) and not YEAR_RE.fullmatch(c.strip())]
        if figures or n >= 4 or not is_header(line):
            break
        n += 1
    return n if n < len(block.lines) else block.header_rows


def chunk_blocks(
    blocks: list[Block], meta: FilingMetadata, fitter: WindowFitter, max_chars: int
) -> list[Chunk]:
    """Tables split by rows with their header; prose grouped by `chunk_by_title`, one page at a time."""
    chunks: list[Chunk] = []
    prose: list[Block] = []
    for block in blocks:
        if block.kind == "table":
            block.header_rows = _leading_header_rows(block)
            chunks.extend(_table_parts(block, context_line(meta, block.item, block.heading), fitter))
        else:
            prose.append(block)
    for text, members in _titled_groups(prose, max_chars):
        first = members[0]
        context = context_line(meta, first.item, first.heading)
        bbox = union_box(m.bbox for m in members)
        if fitter.fits(context, text):
            texts = [text]
        else:
            texts = [part for part, _ in fitter.pack(context, _sentences(text), [], " ")]
        chunks += [
            Chunk(piece, "text", first.page, bbox, first.item, first.part, pages=[first.page],
                  heading=first.heading)
            for piece in texts
        ]  # fmt: skip
    chunks.sort(key=lambda c: (c.page, c.bbox[1]))
    return chunks


def _titled_groups(blocks: list[Block], max_chars: int) -> list[tuple[str, list[Block]]]:
    """Prose blocks grouped into sections by `chunk_by_title`: each section's text and blocks.

    One page at a time: chunk_by_title's combining step would otherwise join small sections
    across a page break even with multipage_sections=False.
    """
    from unstructured.chunking.title import chunk_by_title

    elements, origin = [], {}
    for block in blocks:
        element = _element(block)
        origin[element.id] = block
        elements.append(element)
    by_page: dict[int, list[Any]] = {}
    for element in elements:
        by_page.setdefault(origin[element.id].page, []).append(element)
    groups: list[tuple[str, list[Block]]] = []
    for page_elements in by_page.values():
        for group in chunk_by_title(
            page_elements,
            max_characters=max_chars,
            new_after_n_chars=int(max_chars * 0.8),
            combine_text_under_n_chars=int(max_chars * 0.4),
            multipage_sections=False,
            include_orig_elements=True,
        ):
            members = [origin[e.id] for e in group.metadata.orig_elements or [] if e.id in origin]
            if members:
                groups.append((group.text, members))
    return groups


def _element(block: Block) -> Any:
    """A title or paragraph block as an `unstructured` element, with its box on its page."""
    from unstructured.documents.coordinates import PixelSpace
    from unstructured.documents.elements import CoordinatesMetadata, ElementMetadata, NarrativeText, Title

    x0, top, x1, bottom = block.bbox
    coords = CoordinatesMetadata(
        points=((x0, top), (x0, bottom), (x1, bottom), (x1, top)),
        system=PixelSpace(width=10_000, height=10_000),
    )
    cls = Title if block.kind == "title" else NarrativeText
    return cls(text=block.text, metadata=ElementMetadata(page_number=block.page + 1, coordinates=coords))


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.;:])\s+(?=[A-Z(“\"•·])", text) if s]
