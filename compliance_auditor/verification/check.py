"""The answer check: an answer against its evidence, without a language model.

Each check is a reason to distrust an answer that looks confident:
- every citation `[n]` resolves to a passage of evidence;
- every number is in the evidence its sentence cites (or the answer cites elsewhere), or can be
  recomputed from cited numbers (a sum, a difference, a ratio, a percentage or a percentage
  change) at the statement's scale (thousands, millions);
- a figure found in the evidence stands there for the line item the sentence names, not
  another ("found as comparable sales, not as revenue");
- where the question asks for a scale ("in USD millions"), a statement's bare figure copied at
  its own scale is flagged, with the figure converted; where it asks for a percentage, so is a
  ratio ("0.156" for 15.6%);
- every sentence that states something carries a citation. A sentence that states figures
  without one is repaired when the passages hold them: the verifier adds the citations, marked
  as its own, and checks them like the model's.
"""

from __future__ import annotations

import re

from compliance_auditor.records import CitationCheck, CitationRepair, NumberCheck, Verification
from compliance_auditor.verification.line_items import differ, item_near, row_label
from compliance_auditor.verification.numbers import CITATION, EvidenceNumbers, Number, numbers_in
from compliance_auditor.verification.scales import (
    SCALE_WORDS,
    asked_decimals,
    asked_scale,
    asks_percent,
    convert,
)
from compliance_auditor.verification.sentences import sentences_of

_NO_CLAIM = re.compile(
    r"not (disclosed|stated|provided|found|available|reported|included|specified|mentioned)|"
    r"does not|do not|did not|no (evidence|information|data|passage)|cannot be (determined|verified)|"
    r"insufficient|unable to",
    re.IGNORECASE,
)
Scales = dict[int, float | None]
_YEAR = re.compile(r"(19|20)\d\d")


def check_answer(
    answer: str, passages: dict[int, str], scales: Scales | None = None, question: str = ""
) -> Verification:
    """Check `answer` against `passages` (evidence numbered as the answer cites it)."""
    scales = scales or {}
    sentences = sentences_of(answer)
    all_cited = sorted({n for _, cited in sentences for n in cited})
    citations = [CitationCheck(n=n, resolved=n in passages) for n in all_cited]
    checker = _Checker(passages, scales, question, all_cited)
    numbers: list[NumberCheck] = []
    unsupported: list[str] = []
    repairs: list[CitationRepair] = []
    for index, (sentence, cited) in enumerate(sentences):
        found = numbers_in(sentence)
        own = [n for n in cited if n in passages]
        if not cited and found and (added := _holding(found, passages, scales)):
            repairs.append(CitationRepair(sentence=index, text=sentence, citations=added))
            own = added
        checks = [checker.check(number, index, sentence, own) for number in found]
        numbers.extend(checks)
        if not cited and _states_something(sentence, checks):
            unsupported.append(sentence)
    warnings = _warnings(citations, numbers, unsupported)
    return Verification(ok=not warnings, citations=citations, numbers=numbers, repairs=repairs,
                        unsupported_sentences=unsupported, warnings=warnings)  # fmt: skip


class _Checker:
    """Numbers of one answer against its passages, at the scale its question asks for."""

    def __init__(self, passages: dict[int, str], scales: Scales, question: str, cited: list[int]) -> None:
        self.passages, self.scales = passages, scales
        self.asked, self.decimals = asked_scale(question), asked_decimals(question)
        self.percent = asks_percent(question)
        self.answer_pool = self.pool([n for n in cited if n in passages])

    def pool(self, numbers: list[int]) -> EvidenceNumbers:
        return EvidenceNumbers.of({n: self.passages[n] for n in numbers}, self.scales)

    def check(self, number: Number, index: int, sentence: str, cited: list[int]) -> NumberCheck:
        own = self.pool(cited)
        at_asked = self._at_asked_scale(number)
        for pool, where in ((own, ""), (self.answer_pool, " (cited elsewhere in the answer)")):
            if ratio := self._ratio_for_percent(number, index, pool):
                return ratio
            for reading in (at_asked, number) if at_asked else (number,):
                found = pool.quoted(reading)
                if reading is at_asked:  # a true value: not a statement's figure read as written
                    found = [o for o in found if o.scale != 1.0 or not o.declared or o.number.scaled]
                if found:
                    return self._quoted(number, reading, index, sentence, found, where)
            if computed := pool.compute(number):
                return NumberCheck(text=number.text, value=number.value, sentence=index,
                                   verdict="computed", source=computed + where)  # fmt: skip
        return NumberCheck(text=number.text, value=number.value, sentence=index, verdict="unverified",
                           source=self._uncited(number, at_asked))  # fmt: skip

    def _uncited(self, number: Number, at_asked: Number | None) -> str:
        """Where the model was given the figure but did not cite it: a path to the source, not support."""
        given = self.pool(sorted(self.passages))
        for reading in (at_asked, number) if at_asked else (number,):
            if found := given.quoted(reading):
                return f"[{found[0].passage}] {found[0].number.text}"
        return ""

    def _ratio_for_percent(self, number: Number, index: int, pool: EvidenceNumbers) -> NumberCheck | None:
        """A ratio ("0.156") where the question asks for a percentage the evidence gives as 15.6%."""
        if not self.percent or number.percent or "$" in number.text or not 0 < abs(number.value) < 10:
            return None
        if any(o.number.percent for o in pool.quoted(number)):
            return None  # "0.6" for 0.6%: the percentage without its sign
        as_percent = Number(number.text, number.value * 100, number.tolerance * 100, True, True, number.start)
        source = pool.quote(as_percent) or pool.compute(as_percent)
        if not source:
            return None
        written = len(number.text.split(".")[1]) if "." in number.text else 0
        places = self.decimals if self.decimals is not None else max(0, written - 2)
        return NumberCheck(text=number.text, value=number.value, sentence=index, verdict="wrong_scale",
                           source=source, expected=f"{number.value * 100:.{places}f}%")  # fmt: skip

    def _at_asked_scale(self, number: Number) -> Number | None:
        """A bare number read at the scale the question asks for ("5,466.3" as millions)."""
        if not self.asked or number.scaled or number.percent:
            return None
        return Number(number.text, number.value * self.asked, number.tolerance * self.asked, False, True,
                      number.start)  # fmt: skip

    def _quoted(
        self, number: Number, reading: Number, index: int, sentence: str, found: list, where: str
    ) -> NumberCheck:
        if "," in number.text:  # "2,017" written with a thousands separator is not the year 2017
            found = [o for o in found if not _YEAR.fullmatch(o.number.text)] or found
        first = found[0]
        check = NumberCheck(text=number.text, value=number.value, sentence=index, verdict="quoted",
                            source=f"[{first.passage}] {first.number.text}{where}")  # fmt: skip
        named = item_near(sentence, number.start)
        items = [row_label(self.passages[o.passage], o.number.start) for o in found]
        if all(differ(named, item) for item in items):
            check.verdict, check.found_as, check.named_as = "wrong_metric", items[0] or "", named or ""
            return check
        copied = [o for o in found if o.scale == 1.0 and o.declared and o.declared != self.asked]
        if self.asked and reading is number and not number.scaled and not number.percent and copied:
            check.verdict = "wrong_scale"
            check.expected = convert(number.value, copied[0].declared or 1.0, self.asked, self.decimals)
            check.source = (
                f"[{copied[0].passage}] {copied[0].number.text}, in {_scale_word(copied[0].declared)}"
            )
        return check


def _holding(numbers: list[Number], passages: dict[int, str], scales: Scales) -> list[int]:
    """The fewest passages that hold the sentence's figures (quoted or recomputed), by number."""
    holds: dict[int, set[int]] = {}
    for n, text in passages.items():
        pool = EvidenceNumbers.of({n: text}, scales)
        covered = {i for i, number in enumerate(numbers) if pool.quote(number) or pool.compute(number)}
        if covered:
            holds[n] = covered
    chosen: list[int] = []
    left = set(range(len(numbers)))
    while left and holds:
        best = max(holds, key=lambda n: (len(holds[n] & left), -n))
        if not holds[best] & left:
            break
        chosen.append(best)
        left -= holds.pop(best)
    return sorted(chosen)


def _scale_word(scale: float | None) -> str:
    return next((word for word, value in SCALE_WORDS.items() if value == scale), "units")


def _states_something(sentence: str, checks: list[NumberCheck]) -> bool:
    plain = CITATION.sub("", sentence).strip()
    if plain.endswith(":") or plain.startswith("#") or _NO_CLAIM.search(plain):
        return False
    if checks:
        return any(c.verdict == "unverified" for c in checks)  # a computation shown from cited figures
    return len(re.findall(r"[A-Za-z]{3,}", plain)) >= 6


def _warnings(
    citations: list[CitationCheck], numbers: list[NumberCheck], unsupported: list[str]
) -> list[str]:
    warnings = [f"citation [{c.n}] does not match any evidence passage" for c in citations if not c.resolved]
    for c in numbers:
        if c.verdict == "unverified" and c.source:
            warnings.append(f"number {c.text} is not in the evidence the answer cites; it stands in "
                            f"{c.source}, which the answer does not cite")  # fmt: skip
        elif c.verdict == "unverified":
            warnings.append(
                f"number {c.text} is not in the cited evidence and could not be recomputed from it"
            )
        elif c.verdict == "wrong_metric":
            warnings.append(f"number {c.text} is found as {c.found_as}, not as {c.named_as} ({c.source})")
        elif c.verdict == "wrong_scale" and c.expected.endswith("%"):
            warnings.append(f"number {c.text} is a ratio; the question asks for a percentage: {c.expected} "
                            f"({c.source})")  # fmt: skip
        elif c.verdict == "wrong_scale":
            warnings.append(f"number {c.text} is copied at the statement's scale ({c.source}); the question "
                            f"asks for another: {c.expected}")  # fmt: skip
    warnings += [f"no citation supports: {s[:160]}" for s in unsupported]
    return warnings
