"""Pair the units of two years, deterministically: the same text first, then shared wording,
then the same meaning in other words.

1. Identical: the same words after normalising case, spaces, quotes and dashes (a hash).
2. Near-identical: word-sequence similarity (difflib's ratio over the word lists) of at least
   `NEAR_IDENTICAL`, pairs taken greedily from the most similar down.
3. Reworded: word similarity of at least `text_match`, greedily again.
4. Rewritten: only what is still unpaired on both sides is embedded (the index's model), and
   pairs whose cosine reaches `meaning_match` are taken greedily. Embedding is the slow step,
   so it is kept for the few units the wording cannot pair.

Greedy means each unit is paired at most once, the best-scoring pair first; ties go to the
earlier unit of the new filing, then of the old, so a re-run pairs the same way.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

NEAR_IDENTICAL = 0.92  # words this similar are one unit with a few edits, whatever else is similar
_PUNCTUATION = str.maketrans(
    {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " ", "\uf0b7": "•", "\uf0a7": "•"}
)
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


Keyed = tuple[str, str]  # a unit's own heading ("" for a paragraph) and its text


@dataclass(frozen=True)
class Pair:
    """Two units paired across the years, by their places in each list."""

    old: int
    new: int
    matched_by: str  # "identical", "wording" or "meaning"
    text_similarity: float
    meaning_similarity: float | None = None


def words(text: str) -> list[str]:
    """The text's words and punctuation marks, normalised: what the comparison reads."""
    clean = unicodedata.normalize("NFKC", text).translate(_PUNCTUATION).lower()
    return _TOKEN_RE.findall(clean)


def fingerprint(text: str) -> str:
    """A hash of the normalised words, joined without spaces: a PDF's text layer sometimes
    drops or adds a space ("Adisruption"), which is no change in the filing."""
    return hashlib.sha256("".join(words(text)).encode()).hexdigest()


def similarity(old: list[str], new: list[str]) -> float:
    """difflib's ratio over two word lists: 1.0 the same words in the same order."""
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    if matcher.real_quick_ratio() == 0.0:
        return 0.0
    return matcher.ratio()


def pair_units(
    old: Sequence[Keyed],
    new: Sequence[Keyed],
    encode: Callable[[list[str]], np.ndarray] | None,
    text_match: float,
    meaning_match: float,
) -> list[Pair]:
    """Pairs of (old, new) unit indices; a unit in no pair was added or removed.

    Units are (own heading, text): a risk factor's heading names the risk, so where both
    units have one, their wording score is the mean of the headings' similarity and the
    texts'; otherwise it is the texts'. `encode` embeds texts (unit-length vectors); it is
    called once, for the units left unpaired on both sides, and may be None to skip meaning.
    """
    texts_old, texts_new = [t for _, t in old], [t for _, t in new]
    pairs = _identical(texts_old, texts_new)
    left_old = [i for i in range(len(old)) if i not in {p.old for p in pairs}]
    left_new = [j for j in range(len(new)) if j not in {p.new for p in pairs}]
    text, score = _wording(old, new, left_old, left_new)
    for floor in (NEAR_IDENTICAL, text_match):
        candidates = [
            (s, i, j) for (i, j), s in score.items() if s >= floor and i in left_old and j in left_new
        ]
        for _, i, j in _greedy(candidates):
            pairs.append(Pair(i, j, "wording", round(text[i, j], 4)))
            left_old.remove(i)
            left_new.remove(j)
    if left_old and left_new and encode is not None:
        cosine = _cosines([texts_old[i] for i in left_old], [texts_new[j] for j in left_new], encode)
        candidates = [
            (float(cosine[a, b]), i, j)
            for a, i in enumerate(left_old)
            for b, j in enumerate(left_new)
            if cosine[a, b] >= meaning_match
        ]
        for meaning, i, j in _greedy(candidates):
            pairs.append(Pair(i, j, "meaning", round(text[i, j], 4), round(meaning, 4)))
    return sorted(pairs, key=lambda p: (p.new, p.old))


def _wording(
    old: Sequence[Keyed], new: Sequence[Keyed], left_old: list[int], left_new: list[int]
) -> tuple[dict[tuple[int, int], float], dict[tuple[int, int], float]]:
    """The texts' similarity and the pairing score of every pair of units left."""
    old_words, new_words = [words(t) for _, t in old], [words(t) for _, t in new]
    text, score = {}, {}
    for j in left_new:
        for i in left_old:
            text[i, j] = score[i, j] = similarity(old_words[i], new_words[j])
            if old[i][0] and new[j][0]:
                score[i, j] = (similarity(words(old[i][0]), words(new[j][0])) + text[i, j]) / 2
    return text, score


def _identical(old: Sequence[str], new: Sequence[str]) -> list[Pair]:
    """Each new unit with the first unpaired old unit of the same normalised text."""
    waiting: dict[str, list[int]] = {}
    for i, text in enumerate(old):
        waiting.setdefault(fingerprint(text), []).append(i)
    pairs = []
    for j, text in enumerate(new):
        if candidates := waiting.get(fingerprint(text)):
            pairs.append(Pair(candidates.pop(0), j, "identical", 1.0))
    return pairs


def _cosines(old: list[str], new: list[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """Cosine of every (old, new) pair of texts, embedded in one call."""
    vectors = encode(old + new)
    return vectors[: len(old)] @ vectors[len(old) :].T


def _greedy(candidates: list[tuple[float, int, int]]) -> list[tuple[float, int, int]]:
    """The best-scoring pairs that share no unit; ties to the earlier new, then old, unit."""
    taken_old: set[int] = set()
    taken_new: set[int] = set()
    chosen = []
    for score, i, j in sorted(candidates, key=lambda c: (-c[0], c[2], c[1])):
        if i not in taken_old and j not in taken_new:
            chosen.append((score, i, j))
            taken_old.add(i)
            taken_new.add(j)
    return chosen


def moved(pairs: list[Pair]) -> set[tuple[int, int]]:
    """The pairs whose units left their place: those outside the longest run of pairs that keep
    their order in both filings (units added or removed around a unit do not move it)."""
    ordered = sorted(pairs, key=lambda p: p.new)
    olds = [p.old for p in ordered]
    # Longest increasing subsequence of the old places, by patience sorting with back-links.
    tails: list[int] = []
    back: list[int] = [-1] * len(olds)
    for n, value in enumerate(olds):
        lo, hi = 0, len(tails)
        while lo < hi:
            mid = (lo + hi) // 2
            if olds[tails[mid]] < value:
                lo = mid + 1
            else:
                hi = mid
        back[n] = tails[lo - 1] if lo else -1
        if lo == len(tails):
            tails.append(n)
        else:
            tails[lo] = n
    kept: set[int] = set()
    at = tails[-1] if tails else -1
    while at != -1:
        kept.add(at)
        at = back[at]
    return {(p.old, p.new) for n, p in enumerate(ordered) if n not in kept}
