"""Disclosure changes between periods: what a company added, removed or reworded in an Item of
its 10-K (risk factors first) since an earlier filing, with every unit's pages and boxes.

    items.py      find an Item's body in a filing parsed from its PDF
    units.py      split it into risk factors, or paragraphs under their headings
    matching.py   pair the units of two years: the same text, shared wording, the same meaning
    meaning.py    the index's embedding model, for rewrites
    worddiff.py   the word-level difference of a changed unit
    records.py    the typed records: `DisclosureReport`, `ItemComparison`, `UnitChange`, ...
    compare.py    `compare(old, new, items)`: the `DisclosureReport`
    report.py     the report as text, added and removed first
    workpaper.py  the report as a self-contained HTML workpaper

`python -m compliance_auditor.disclosures OLD.pdf NEW.pdf [--item 1A ...] [--json] [--html FILE]`
"""

from compliance_auditor.disclosures.compare import compare
from compliance_auditor.disclosures.items import DisclosureError
from compliance_auditor.disclosures.records import (
    DisclosureFiling,
    DisclosureReport,
    DisclosureUnit,
    ItemComparison,
    PageBox,
    UnitChange,
    WordSpan,
)

__all__ = [
    "DisclosureError",
    "DisclosureFiling",
    "DisclosureReport",
    "DisclosureUnit",
    "ItemComparison",
    "PageBox",
    "UnitChange",
    "WordSpan",
    "compare",
]
