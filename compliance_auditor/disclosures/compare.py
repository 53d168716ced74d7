"""`compare(old, new, items)`: what a company added, removed or reworded in an Item of its 10-K
since an earlier one, unit by unit, each unit with its filing, pages and boxes.

No model writes anything here: units are paired by their text and, for rewrites, by the
index's embedding model; the same two files give the same report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from compliance_auditor import config
from compliance_auditor.disclosures.items import DisclosureError, ReadFiling, read_filing
from compliance_auditor.disclosures.matching import NEAR_IDENTICAL, Pair, moved, pair_units
from compliance_auditor.disclosures.meaning import encoder
from compliance_auditor.disclosures.records import (
    DISCLOSURE_STATUSES,
    DisclosureReport,
    DisclosureUnit,
    ItemComparison,
    UnitChange,
)
from compliance_auditor.disclosures.units import split_units
from compliance_auditor.disclosures.worddiff import counted, word_diff

_ITEM_RE = re.compile(r"^(?:item\s*)?(\d{1,2}[a-c]?)\.?$", re.IGNORECASE)


def item_number(text: str) -> str:
    """'1A' from '1a', 'Item 1A' or '1A.'; DisclosureError for anything else."""
    match = _ITEM_RE.match(text.strip())
    if not match:
        raise DisclosureError(f"not a 10-K Item: {text!r} (for example 1A, 7 or 9A)")
    return match.group(1).upper()


def compare(
    old: Path,
    new: Path,
    items: Sequence[str] = ("1A",),
    encode: Callable[[list[str]], np.ndarray] | None = None,
) -> DisclosureReport:
    """Compare the Items of two filings of one company, the earlier one first.

    `encode` embeds texts as unit-length vectors; by default the index's embedding model
    (`meaning.encoder`), loaded only when some units are left unpaired by their wording.
    Raises `DisclosureError` with a reason for a file that is missing, not a readable PDF,
    or lacks one of the Items.
    """
    numbers = list(dict.fromkeys(item_number(i) for i in items))
    for path in (old, new):
        if not Path(path).is_file():
            raise DisclosureError(f"no file {path}")
    settings = config.get_settings()
    earlier, later = read_filing(Path(old), numbers), read_filing(Path(new), numbers)
    embed = encode or (lambda texts: encoder()(texts))
    thresholds = {
        "near_identical": NEAR_IDENTICAL,
        "text_match": settings.disclosure_text_match,
        "meaning_match": settings.disclosure_meaning_match,
    }
    compared = [_compare_item(earlier, later, item, embed, thresholds) for item in numbers]
    return DisclosureReport(
        old=earlier.record, new=later.record, items=compared,
        embed_model=settings.embed_model, thresholds=thresholds,
    )  # fmt: skip


def _compare_item(
    earlier: ReadFiling,
    later: ReadFiling,
    item: str,
    embed: Callable[[list[str]], np.ndarray],
    thresholds: dict[str, float],
) -> ItemComparison:
    old_units = split_units(earlier.items[item], earlier.record)
    new_units = split_units(later.items[item], later.record)
    pairs = pair_units(
        [_keyed(u) for u in old_units], [_keyed(u) for u in new_units],
        embed, thresholds["text_match"], thresholds["meaning_match"],
    )  # fmt: skip
    changes = changes_of(old_units, new_units, pairs)
    counts = {status: sum(1 for c in changes if c.status == status) for status in DISCLOSURE_STATUSES}
    counts["moved"] = sum(1 for c in changes if c.moved)
    return ItemComparison(
        item=item, old_title=earlier.items[item].title, new_title=later.items[item].title,
        changes=changes, counts=counts,
    )  # fmt: skip


def _keyed(unit: DisclosureUnit) -> tuple[str, str]:
    # A risk factor's heading is its own; a paragraph's is shared with its neighbours.
    return (unit.heading if unit.kind == "risk factor" else "", unit.text)


def changes_of(old: list[DisclosureUnit], new: list[DisclosureUnit], pairs: list[Pair]) -> list[UnitChange]:
    """Every unit's fate: added, removed, then the pairs changed, then those unchanged."""
    moves = moved(pairs)
    paired_old, paired_new = {p.old for p in pairs}, {p.new for p in pairs}
    added = [UnitChange(status="added", new=u) for j, u in enumerate(new) if j not in paired_new]
    removed = [UnitChange(status="removed", old=u) for i, u in enumerate(old) if i not in paired_old]
    matched = [_matched(old[p.old], new[p.new], p, (p.old, p.new) in moves) for p in pairs]
    changed = [c for c in matched if c.status == "changed"]
    unchanged = [c for c in matched if c.status == "unchanged"]
    return added + removed + changed + unchanged


def _matched(old: DisclosureUnit, new: DisclosureUnit, pair: Pair, was_moved: bool) -> UnitChange:
    common = {
        "old": old, "new": new, "matched_by": pair.matched_by, "moved": was_moved,
        "text_similarity": pair.text_similarity, "meaning_similarity": pair.meaning_similarity,
    }  # fmt: skip
    if pair.matched_by == "identical":
        return UnitChange(status="unchanged", **common)
    spans = word_diff(old.text, new.text)
    inserted, deleted = counted(spans)
    if not inserted and not deleted:  # the same words, spaced or quoted differently
        return UnitChange(status="unchanged", **common)
    return UnitChange(status="changed", diff=spans, words_added=inserted, words_removed=deleted, **common)
