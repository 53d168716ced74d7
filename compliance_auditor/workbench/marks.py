"""An answer as the analyst reads it: the text first, each problem marked where it is, one
summary line, and the situation (no model, a remote endpoint, passages left out) in one notice.

Everything the model or a filing wrote is escaped (`display.shown`); only the marks are markup.
"""

from __future__ import annotations

import re

from compliance_auditor.records import AnswerRecord, NumberCheck
from compliance_auditor.verification.numbers import numbers_in
from compliance_auditor.verification.sentences import sentences_of
from compliance_auditor.workbench.display import shown

_VERIFICATION = re.compile(r"^(citation \[|number |no citation supports)")


def marked_answer(result: AnswerRecord) -> str:
    """The answer as Markdown, with its problems marked inline: a number not in the evidence, found
    as another line item or copied at the wrong scale; a sentence with no source; citations the
    verifier added."""
    if result.mode == "evidence_only":
        return evidence_lines(result)
    answer, checks = result.answer, result.verification
    marks: list[tuple[int, int, str, str]] = []  # start, end, style, note
    cursor = 0
    for index, (sentence, _) in enumerate(sentences_of(answer)):
        start = answer.find(sentence.split()[0], cursor) if sentence.split() else cursor
        start = max(start, cursor)
        cursor = start + len(sentence)
        for number in (
            c for c in checks.numbers if c.sentence == index and c.verdict not in ("quoted", "computed")
        ):
            at = answer.find(number.text, start, cursor)
            if at >= 0:
                marks.append((at, at + len(number.text), "orange-background", _note(number)))
        if sentence in checks.unsupported_sentences:
            marks.append((cursor, cursor, "orange", "no source"))
        for repair in (r for r in checks.repairs if r.sentence == index):
            added = "".join(f"[{n}]" for n in repair.citations)
            marks.append((cursor, cursor, "blue", f"{added} added by the verifier"))
    return _render(answer, sorted(marks))


def _note(check: NumberCheck) -> str:
    if check.verdict == "wrong_metric":
        return f"found as {check.found_as}, not as {check.named_as}"
    if check.verdict == "wrong_scale":
        return f"asked for: {check.expected}"
    if check.source:  # given to the model, but under another [n]
        return f"not in the cited evidence; stands in {check.source}"
    return "not in the cited evidence"


def _render(text: str, marks: list[tuple[int, int, str, str]]) -> str:
    out, position = [], 0
    for start, end, style, note in marks:
        if start < position:
            continue  # overlapping marks: the first one stands
        out.append(shown(text[position:start]))
        if end > start:
            out.append(f":{style}[{shown(text[start:end])}]")
        out.append(f" :{style}[({shown(note)})]")
        position = end
    out.append(shown(text[position:]))
    return "".join(out)


def evidence_lines(result: AnswerRecord) -> str:
    """With no model: the ranked passages, each by the line that best answers, figures picked out."""
    intro = result.answer.splitlines()[0] if result.answer else ""
    lines = [shown(intro), ""]
    for c in result.evidence:
        line = c.answer_line or c.text[:200]
        heading = f" :gray[({shown(c.heading)})]" if c.heading else ""
        lines.append(f"- **\\[{c.n}\\]** {shown(c.label())}: {_figures(line)}{heading}")
    return "\n".join(lines)


def _figures(line: str) -> str:
    out, position = [], 0
    for number in numbers_in(line):
        at = line.find(number.text, max(position, number.start - 2))
        if at < position:
            continue
        out += [shown(line[position:at]), f":blue-background[{shown(number.text)}]"]
        position = at + len(number.text)
    return "".join([*out, shown(line[position:])])


def summary_line(result: AnswerRecord) -> str:
    """One line under the answer: verified, or how many problems and of which kind."""
    checks = result.verification
    if result.mode != "answered":
        return ""
    if checks.ok:
        quoted = sum(n.verdict == "quoted" for n in checks.numbers)
        computed = sum(n.verdict == "computed" for n in checks.numbers)
        counts = f"{len(checks.citations)} citations resolve, {quoted} numbers quoted, {computed} recomputed"
        added = sum(len(r.citations) for r in checks.repairs)
        return f":material/verified: Verified: {counts}" + (
            f"; {added} citation(s) added by the verifier" if added else ""
        )
    problems = [w for w in result.warnings if _VERIFICATION.match(w)]
    return f":material/warning: Not fully verified: {len(problems)} problem(s), marked in the answer"


def notices(result: AnswerRecord) -> list[str]:
    """What the analyst must know about how the answer came about, not about its text."""
    return [w for w in result.warnings if not _VERIFICATION.match(w)]


def problems(result: AnswerRecord) -> list[str]:
    return [w for w in result.warnings if _VERIFICATION.match(w)]
