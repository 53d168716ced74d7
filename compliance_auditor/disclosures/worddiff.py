"""The word-level difference between the two years' text of a changed unit.

Words are compared after the same normalisation as the matching (case, quotes, dashes), but
shown as the filings print them: a span is the new filing's words where they are kept or
inserted, the old filing's where they are deleted.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from compliance_auditor.disclosures.matching import words
from compliance_auditor.disclosures.records import WordSpan


def word_diff(old_text: str, new_text: str) -> list[WordSpan]:
    """Kept, deleted and inserted runs of words, in reading order (a replacement is a deletion
    followed by an insertion)."""
    old_words, new_words = old_text.split(), new_text.split()
    old_keys = [" ".join(words(w)) for w in old_words]
    new_keys = [" ".join(words(w)) for w in new_words]
    spans: list[WordSpan] = []
    matcher = SequenceMatcher(None, old_keys, new_keys, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        # The same letters spaced otherwise ("Acatastrophic") are the text layer's, not the filing's.
        if op == "equal" or "".join(old_keys[i1:i2]) == "".join(new_keys[j1:j2]):
            spans.append(WordSpan(op="equal", text=" ".join(new_words[j1:j2])))
            continue
        if i2 > i1:
            spans.append(WordSpan(op="delete", text=" ".join(old_words[i1:i2])))
        if j2 > j1:
            spans.append(WordSpan(op="insert", text=" ".join(new_words[j1:j2])))
    return spans


def counted(spans: list[WordSpan]) -> tuple[int, int]:
    """Words inserted and words deleted."""
    inserted = sum(len(s.text.split()) for s in spans if s.op == "insert")
    deleted = sum(len(s.text.split()) for s in spans if s.op == "delete")
    return inserted, deleted
