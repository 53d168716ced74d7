"""An answer's sentences, and the passages each cites as [n] (lists and ranges too: [1, 3], [2-4])."""

from __future__ import annotations

import re

from compliance_auditor.verification.numbers import CITATION


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
        if out and not CITATION.sub("", part).strip(" .;,"):
            out[-1] = (f"{out[-1][0]} {part}", out[-1][1] + cited)
        else:
            out.append((part, cited))
    return out


def cited_numbers(text: str) -> list[int]:
    ns: list[int] = []
    for group in CITATION.findall(text):
        for piece in re.split(r"\s*,\s*", group):
            bounds = [int(x) for x in re.split(r"\s*[-–]\s*", piece) if x]
            if len(bounds) == 2 and 0 < bounds[1] - bounds[0] < 20:
                ns.extend(range(bounds[0], bounds[1] + 1))
            else:
                ns.extend(bounds)
    return ns
