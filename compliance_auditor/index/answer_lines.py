"""The line of a passage that answers a question: the sentence or table row that matches it best.

With no model to write an answer, the evidence still has to be read quickly: each passage is
shown by its best line (scored with the embedding model already loaded for search), its
figures picked out, ahead of its heading.
"""

from __future__ import annotations

import re

import numpy as np

from compliance_auditor.index.embedder import Embedder
from compliance_auditor.records import Passage
from compliance_auditor.verification.line_items import mentions, row_label
from compliance_auditor.verification.numbers import numbers_in

_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+(?=[A-Z(“\"$])")
MAX_LINE_CHARS = 300
ITEM_BONUS = 0.25


def lines_of(text: str) -> list[str]:
    """A passage's table rows (one a line) and sentences, each at most 300 characters."""
    lines: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        pieces = [line] if " | " in line else _SENTENCE_END.split(line)
        lines += [piece.strip()[:MAX_LINE_CHARS] for piece in pieces if piece.strip()]
    return lines


def answer_lines(embedder: Embedder, question: str, passages: list[Passage]) -> list[tuple[str, float]]:
    """Each passage's line that best answers the question, with its score: the cosine of the
    model's vectors, plus `ITEM_BONUS` when the line states a figure for a line item the question
    names (a row "Net sales | $3,226,773" for "net sales in the fourth quarter", not a sentence on
    operating income that mentions net sales in passing)."""
    lines = [lines_of(p.text) or [p.text[:MAX_LINE_CHARS]] for p in passages]
    flat = [line for passage_lines in lines for line in passage_lines]
    if not flat:
        return []
    vectors = embedder.encode([question, *flat])
    asked = {item for _, _, item in mentions(question)}
    scores = vectors[1:] @ vectors[0] + np.array([ITEM_BONUS * _states(line, asked) for line in flat])
    best, start = [], 0
    for passage_lines in lines:
        block = scores[start : start + len(passage_lines)]
        at = int(np.argmax(block))
        best.append((passage_lines[at], float(block[at])))
        start += len(passage_lines)
    return best


def _states(line: str, items: set[str]) -> bool:
    """The line states a figure for one of `items`: the line item of its first figure is one."""
    figures = numbers_in(line)
    return bool(items and figures and row_label(line, figures[0].start) in items)
