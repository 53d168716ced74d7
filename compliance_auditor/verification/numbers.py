"""Numbers as texts state them, and the numbers a set of passages supports.

A number is read with its sign (a minus, or parentheses), its scale word (thousand, million,
billion) and whether it is a percentage; years, dates, Item and Note numbers and citations are
not numbers of a claim. A passage supports its figures at its statement's scale ("in
thousands"), and any sum, difference, ratio or percentage of two of them.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mm": 1e6, "m": 1e6, "mn": 1e6,
          "billion": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12}  # fmt: skip

_NUMBER = re.compile(
    r"(?P<open>\()?(?P<minus>[-−–](?=\$?\d))?(?P<cur>\$|USD\s?)?\s?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|bn|mm|mn|[kmb])\b)?"
    r"\s?(?P<pct>%|percent\b|per cent\b|basis points\b|bps\b)?(?P<close>\))?",
    re.IGNORECASE,
)
CITATION = re.compile(r"\[(\d+(?:\s*[-–,]\s*\d+)*)\]")
_LABEL_BEFORE = re.compile(
    r"(item|note|notes|page|pages|part|section|rule|form|schedule|exhibit|q|fy|fiscal|step)\s*$",
    re.IGNORECASE,
)
_MONTHS = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE_BEFORE = re.compile(rf"\b{_MONTHS}\s*$", re.IGNORECASE)
_SCALE_NOTE = re.compile(
    r"(in|dollars in|amounts in|\$ in|usd in)\s+(thousands|millions|billions)", re.IGNORECASE
)


@dataclass(frozen=True)
class Number:
    """A number as a text states it."""

    text: str
    value: float
    """In units (dollars, shares), with any scale word applied; percentages as written."""
    tolerance: float
    """Half a unit of the last digit written: `3.2 billion` stands for 3.15 to 3.25 billion."""
    percent: bool
    scaled: bool
    """The number carried its own scale word (or is a percentage), so no statement scale applies."""
    start: int = 0
    """Where it stands in the text it was read from."""


def numbers_in(text: str, skip_labels: bool = True) -> list[Number]:
    """The numbers a text states, ignoring years, dates, item and note numbers, and citations."""
    text = CITATION.sub(lambda m: " " * len(m.group()), text)  # blanked, so positions still hold
    found: list[Number] = []
    for m in _NUMBER.finditer(text):
        raw = m.group("num")
        before = text[max(0, m.start() - 12) : m.start()]
        if skip_labels and _is_label(raw, m, before, text[m.end() : m.end() + 2]):
            continue
        digits = raw.replace(",", "")
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        scale_word = (m.group("scale") or "").lower()
        scale = SCALES.get(scale_word, 1.0)
        if scale_word in ("m", "b", "k") and not m.group("cur"):
            scale = 1.0  # "5 m" without a currency sign is as likely metres as millions
        pct = bool(m.group("pct"))
        sign = -1.0 if (m.group("minus") or (m.group("open") and m.group("close"))) else 1.0
        value = sign * float(digits) * scale
        tolerance = 0.5 * 10**-decimals * scale
        found.append(Number(m.group(0).strip(), value, tolerance, pct, pct or scale != 1.0, m.start("num")))
    return found


def _is_label(raw: str, m: re.Match[str], before: str, after: str) -> bool:
    plain = "," not in raw and "." not in raw and not m.group("cur") and not m.group("pct")
    bare_letter = len(m.group("scale") or "") == 1  # "3M" the company, not 3 million
    if plain and (not m.group("scale") or bare_letter):
        value = int(raw)
        if 1900 <= value <= 2100 or value <= 12:
            return True  # a year, or a small count ("3 segments", "Q4")
        if _DATE_BEFORE.search(before):
            return True  # "January 28"
    return bool(_LABEL_BEFORE.search(before) or re.match(r"-[KQ]\b", after))  # Item 7, Note 12, 10-K


def statement_scale(text: str) -> float | None:
    """The scale a table declares ('in thousands'), if the text says."""
    m = _SCALE_NOTE.search(text)
    return {"thousands": 1e3, "millions": 1e6, "billions": 1e9}[m.group(2).lower()] if m else None


@dataclass(frozen=True)
class Occurrence:
    """A figure of a passage, read at one scale."""

    passage: int
    number: Number
    scale: float
    """The scale applied to the figure as written: 1.0, or the statement's (1e3 for "in thousands")."""
    declared: float | None
    """The scale the passage's statement declares, if it does."""


@dataclass
class EvidenceNumbers:
    """Every value a set of passages supports, in units, each with where it came from."""

    values: np.ndarray
    labels: list[str]
    occurrences: list[Occurrence]

    @classmethod
    def of(cls, passages: dict[int, str], scales: dict[int, float | None]) -> EvidenceNumbers:
        occurrences: list[Occurrence] = []
        for n, text in passages.items():
            declared = scales.get(n) or statement_scale(text)
            for number in numbers_in(text, skip_labels=False):
                # A bare figure in a table is at the statement's scale; when the passage does not
                # say which, every usual scale is allowed (they differ by 1,000x, so rarely collide).
                options = [1.0] if number.scaled else ([1.0, declared] if declared else [1.0, 1e3, 1e6, 1e9])
                occurrences += [Occurrence(n, number, scale, declared) for scale in options]
        values = np.array([o.number.value * o.scale for o in occurrences], dtype=float)
        return cls(values, [f"[{o.passage}] {o.number.text}" for o in occurrences], occurrences)

    def quoted(self, number: Number) -> list[Occurrence]:
        """Every occurrence of the figure, at the answer's own scale."""
        if not len(self.values):
            return []
        close = np.abs(np.abs(self.values) - abs(number.value)) <= number.tolerance + 1e-9
        return [self.occurrences[i] for i in np.flatnonzero(close)]

    def quote(self, number: Number) -> str | None:
        found = self.quoted(number)
        return f"[{found[0].passage}] {found[0].number.text}" if found else None

    def compute(self, number: Number, limit: int = 60) -> str | None:
        """A sum, difference, ratio or percentage of two cited values that gives this number."""
        unique, first = np.unique(np.round(self.values, 6), return_index=True)
        if len(unique) > limit:
            keep = np.argsort(first)[:limit]
            unique, first = unique[keep], first[keep]
        target, tol = abs(number.value), number.tolerance + 1e-9
        a, b = unique[:, None], unique[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            results = {
                "a + b": a + b, "a - b": a - b,
                "a / b": a / b, "a / b × 100": a / b * 100, "(a - b) / b × 100": (a - b) / b * 100,
            }  # fmt: skip
        for name, grid in results.items():
            close = np.argwhere(np.abs(np.abs(grid) - target) <= tol)
            pairs = [(i, j) for i, j in close if i != j or name == "a + b"]
            if pairs:
                i, j = pairs[0]
                if name == "a - b" and unique[i] < unique[j]:
                    i, j = j, i  # |a - b| matched: name the larger one a
                return f"{name} with a = {self.labels[first[i]]}, b = {self.labels[first[j]]}"
        return self._sum_of_three(unique, first, target, tol) if len(unique) <= 30 else None

    def _sum_of_three(self, unique: np.ndarray, first: np.ndarray, target: float, tol: float) -> str | None:
        for i, j, k in itertools.combinations(range(len(unique)), 3):
            if abs(abs(unique[i] + unique[j] + unique[k]) - target) <= tol:
                return "sum of " + ", ".join(self.labels[first[x]] for x in (i, j, k))
        return None
