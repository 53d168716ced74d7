"""The answer check: an answer against its evidence, without a language model.

Three checks, each one a reason to distrust an answer that looks confident:
- every citation `[n]` resolves to a passage of evidence;
- every number in the answer is in the evidence its sentence cites (or the answer cites
  elsewhere), or can be recomputed from cited numbers: a sum, a difference, a ratio, a
  percentage or a percentage change, at the statement's scale (thousands, millions);
- every sentence that states something carries a citation.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

from compliance_auditor.records import CitationCheck, NumberCheck, Verification

SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mm": 1e6, "m": 1e6, "mn": 1e6,
          "billion": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12}  # fmt: skip

_NUMBER = re.compile(
    r"(?P<open>\()?(?P<minus>[-−–](?=\$?\d))?(?P<cur>\$|USD\s?)?\s?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|bn|mm|mn|[kmb])\b)?"
    r"\s?(?P<pct>%|percent\b|per cent\b|basis points\b|bps\b)?(?P<close>\))?",
    re.IGNORECASE,
)
_CITATION = re.compile(r"\[(\d+(?:\s*[-–,]\s*\d+)*)\]")
_LABEL_BEFORE = re.compile(
    r"(item|note|notes|page|pages|part|section|rule|form|schedule|exhibit|q|fy|fiscal|step)\s*$",
    re.IGNORECASE,
)
_MONTHS = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE_BEFORE = re.compile(rf"\b{_MONTHS}\s*$", re.IGNORECASE)
_NO_CLAIM = re.compile(
    r"not (disclosed|stated|provided|found|available|reported|included|specified|mentioned)|"
    r"does not|do not|did not|no (evidence|information|data|passage)|cannot be (determined|verified)|"
    r"insufficient|unable to",
    re.IGNORECASE,
)
_SCALE_NOTE = re.compile(
    r"(in|dollars in|amounts in|\$ in|usd in)\s+(thousands|millions|billions)", re.IGNORECASE
)


@dataclass(frozen=True)
class Number:
    text: str
    value: float
    """In units (dollars, shares), with any scale word applied; percentages as written."""
    tolerance: float
    """Half a unit of the last digit written: `3.2 billion` stands for 3.15 to 3.25 billion."""
    percent: bool
    scaled: bool
    """The number carried its own scale word (or is a percentage), so no statement scale applies."""


def numbers_in(text: str, skip_labels: bool = True) -> list[Number]:
    """The numbers a text states, ignoring years, dates, item and note numbers, and citations."""
    text = _CITATION.sub(" ", text)
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
        found.append(Number(m.group(0).strip(), value, 0.5 * 10**-decimals * scale, pct, pct or scale != 1.0))
    return found


def _is_label(raw: str, m: re.Match[str], before: str, after: str) -> bool:
    plain = "," not in raw and "." not in raw and not m.group("cur") and not m.group("pct")
    if plain and not m.group("scale"):
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


# --------------------------------------------------------------------------- sentences


def sentences_of(answer: str) -> list[tuple[str, list[int]]]:
    """Sentences with the citations each carries; a lone trailing citation joins the sentence before."""
    parts = [
        p.strip()
        for line in answer.splitlines()
        for p in re.split(r"(?<=[.!?])\s+(?=[A-Z(\[$*#-])", line)
        if p.strip()
    ]
    out: list[tuple[str, list[int]]] = []
    for part in parts:
        cited = cited_numbers(part)
        if out and not _CITATION.sub("", part).strip(" .;,"):
            out[-1] = (f"{out[-1][0]} {part}", out[-1][1] + cited)
        else:
            out.append((part, cited))
    return out


def cited_numbers(text: str) -> list[int]:
    ns: list[int] = []
    for group in _CITATION.findall(text):
        for piece in re.split(r"\s*,\s*", group):
            bounds = [int(x) for x in re.split(r"\s*[-–]\s*", piece) if x]
            if len(bounds) == 2 and 0 < bounds[1] - bounds[0] < 20:
                ns.extend(range(bounds[0], bounds[1] + 1))
            else:
                ns.extend(bounds)
    return ns


# --------------------------------------------------------------------------- matching


@dataclass
class EvidenceNumbers:
    """Every value a set of passages supports, in units, each with where it came from."""

    values: np.ndarray
    labels: list[str]

    @classmethod
    def of(cls, passages: dict[int, str], scales: dict[int, float | None]) -> EvidenceNumbers:
        values: list[float] = []
        labels: list[str] = []
        for n, text in passages.items():
            declared = scales.get(n) or statement_scale(text)
            for number in numbers_in(text, skip_labels=False):
                # A bare figure in a table is at the statement's scale; when the passage does not
                # say which, every usual scale is allowed (they differ by 1,000x, so rarely collide).
                options = [1.0] if number.scaled else ([1.0, declared] if declared else [1.0, 1e3, 1e6, 1e9])
                for scale in options:
                    values.append(number.value * scale)
                    labels.append(f"[{n}] {number.text}")
        return cls(np.array(values, dtype=float), labels)

    def quote(self, number: Number) -> str | None:
        if not len(self.values):
            return None
        close = np.abs(np.abs(self.values) - abs(number.value)) <= number.tolerance + 1e-9
        return self.labels[int(np.argmax(close))] if close.any() else None

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


# --------------------------------------------------------------------------- the check


def check_answer(
    answer: str, passages: dict[int, str], scales: dict[int, float | None] | None = None
) -> Verification:
    """Check `answer` against `passages` (evidence numbered as the answer cites it)."""
    scales = scales or {}
    sentences = sentences_of(answer)
    all_cited = sorted({n for _, cited in sentences for n in cited})
    citations = [CitationCheck(n=n, resolved=n in passages) for n in all_cited]
    answer_pool = EvidenceNumbers.of({n: passages[n] for n in all_cited if n in passages}, scales)
    numbers: list[NumberCheck] = []
    unsupported: list[str] = []
    for index, (sentence, cited) in enumerate(sentences):
        pool = EvidenceNumbers.of({n: passages[n] for n in cited if n in passages}, scales)
        checks = [_check(number, index, pool, answer_pool) for number in numbers_in(sentence)]
        numbers.extend(checks)
        if not cited and _states_something(sentence, checks):
            unsupported.append(sentence)
    warnings = _warnings(citations, numbers, unsupported)
    return Verification(ok=not warnings, citations=citations, numbers=numbers,
                        unsupported_sentences=unsupported, warnings=warnings)  # fmt: skip


def _check(number: Number, sentence: int, own: EvidenceNumbers, answer: EvidenceNumbers) -> NumberCheck:
    for pool, where in ((own, ""), (answer, " (cited elsewhere in the answer)")):
        if quoted := pool.quote(number):
            return NumberCheck(text=number.text, value=number.value, sentence=sentence,
                               verdict="quoted", source=quoted + where)  # fmt: skip
        if computed := pool.compute(number):
            return NumberCheck(text=number.text, value=number.value, sentence=sentence,
                               verdict="computed", source=computed + where)  # fmt: skip
    return NumberCheck(text=number.text, value=number.value, sentence=sentence, verdict="unverified")


def _states_something(sentence: str, checks: list[NumberCheck]) -> bool:
    plain = _CITATION.sub("", sentence).strip()
    if plain.endswith(":") or plain.startswith("#") or _NO_CLAIM.search(plain):
        return False
    if checks:
        return any(c.verdict == "unverified" for c in checks)  # a computation shown from cited figures
    return len(re.findall(r"[A-Za-z]{3,}", plain)) >= 6


def _warnings(
    citations: list[CitationCheck], numbers: list[NumberCheck], unsupported: list[str]
) -> list[str]:
    warnings = [f"citation [{c.n}] does not match any evidence passage" for c in citations if not c.resolved]
    warnings += [f"number {c.text} is not in the cited evidence and could not be recomputed from it"
                 for c in numbers if c.verdict == "unverified"]  # fmt: skip
    warnings += [f"no citation supports: {s[:160]}" for s in unsupported]
    return warnings
