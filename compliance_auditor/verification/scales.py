"""The unit and scale a question asks for, and the figure an answer should then have written.

"What were net sales in USD millions?" asks for millions: a statement's bare "5,466,312" (in
thousands) copied as the answer is the right figure at the wrong scale, and the figure the
question asks for, $5,466.3 million, is computed here from the cited one, never by the model.
Likewise a ratio (0.156) given where the question asks for a percentage (15.6%).
"""

from __future__ import annotations

import re

SCALE_WORDS = {"thousands": 1e3, "millions": 1e6, "billions": 1e9}
_ASKED = re.compile(
    r"\b(?:in|as|using)\s+(?:usd|us\$|\$|u\.s\. dollars|dollars)?\s*(thousands|millions|billions)\b"
    r"|\b(?:usd|us\$|\$)\s*(thousands|millions|billions)\b",
    re.IGNORECASE,
)
_DECIMALS = re.compile(r"\b(?:to|with)\s+(one|two|three|1|2|3)\s+decimal", re.IGNORECASE)
_DECIMAL_WORDS = {"one": 1, "two": 2, "three": 3, "1": 1, "2": 2, "3": 3}
_PERCENT = re.compile(
    r"\b(?:as a|as an?|in|what)\s+(?:%|percent(?:age)?\b)|\bpercent(?:age)?\s+(?:change|of|growth)\b"
    r"|\(%\)|\bin percent",
    re.IGNORECASE,
)


def asked_scale(question: str) -> float | None:
    """The scale the question asks its figures in (1e6 for "in USD millions"), if it says."""
    match = _ASKED.search(question)
    return SCALE_WORDS[(match.group(1) or match.group(2)).lower()] if match else None


def asked_decimals(question: str) -> int | None:
    match = _DECIMALS.search(question)
    return _DECIMAL_WORDS[match.group(1).lower()] if match else None


def asks_percent(question: str) -> bool:
    """The question wants a percentage ("as a % of revenue", "percentage change"), not a ratio."""
    return bool(_PERCENT.search(question))


def convert(value: float, from_scale: float, to_scale: float, decimals: int | None = None) -> str:
    """`value` written at `from_scale`, rewritten at `to_scale`: "$5,466.3 million"."""
    converted = value * from_scale / to_scale
    word = next(w for w, s in SCALE_WORDS.items() if s == to_scale).removesuffix("s")
    places = decimals if decimals is not None else (1 if abs(converted) < 1e5 else 0)
    return f"${converted:,.{places}f} {word}"
