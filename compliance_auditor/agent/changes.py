"""Questions about what changed in a disclosure ("which risk factors were added in 2017?") are
answered from the change report of the company's two 10-Ks, not from a search.

The report (`compliance_auditor/disclosures/`) pairs the two years' units without a model; its
added, removed and changed units become the answer's passages, each at its place in its
filing: an added or changed unit in the later 10-K, a removed one in the earlier. When the
company does not have two 10-Ks in the index, or the Item cannot be read, the question goes to
the search like any other.
"""

from __future__ import annotations

import re
import time
from typing import Any, Literal

from langgraph.runtime import Runtime

from compliance_auditor.agent.state import AgentState, Context, say, timed
from compliance_auditor.disclosures.indexed import filing_pair, indexed_changes
from compliance_auditor.disclosures.items import DisclosureError
from compliance_auditor.disclosures.records import DisclosureUnit, UnitChange
from compliance_auditor.records import Passage, Reflection

_CHANGE_WORDS = re.compile(
    r"\b(added|adds?|new(ly)?|removed?|dropped|deleted|eliminated|changed?|changes|revised|reworded|"
    r"modified|updated|differ(ent|ences?)?|compared? (to|with))\b",
    re.IGNORECASE,
)
ITEM_TOPICS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"risk factors?|item 1a\b", re.IGNORECASE), "1A"),
    (re.compile(r"legal proceedings|item 3\b", re.IGNORECASE), "3"),
    (re.compile(r"market risk|item 7a\b", re.IGNORECASE), "7A"),
    (re.compile(r"controls and procedures|internal control|item 9a\b", re.IGNORECASE), "9A"),
]
_YEAR = re.compile(r"\b(19|20)\d\d\b")
_ORDER = {"added": 0, "removed": 1, "changed": 2}


def asked_items(question: str) -> list[str]:
    """The Items a question asks what changed in; empty when it asks no such thing."""
    if not _CHANGE_WORDS.search(question):
        return []
    return [item for pattern, item in ITEM_TOPICS if pattern.search(question)]


def route_question(state: AgentState) -> Literal["compare_disclosures", "retrieve"]:
    """A question about changes in a disclosure goes to the change report first."""
    return "compare_disclosures" if asked_items(state.question) else "retrieve"


def compare_disclosures(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    """The change report's added, removed and changed units as the answer's evidence; nothing
    (so the search runs) when there is no pair of 10-Ks to compare."""
    started, ctx = time.perf_counter(), runtime.context
    filters = state.filters or ctx.index.derive_filters(state.question)
    years = [int(y.group()) for y in _YEAR.finditer(state.question)]
    pair = filing_pair(ctx.index, filters.get("company") or [], max(years) if years else None)
    if pair is None:
        return timed(ctx, "compare_disclosures", started, "no two 10-Ks of one company: searching")
    old, new = pair
    say(runtime, "compare_disclosures", f"Comparing {old['filename']} with {new['filename']}")
    try:
        report = indexed_changes(ctx.index, old["sha256"], new["sha256"], asked_items(state.question))
    except DisclosureError as exc:
        return timed(ctx, "compare_disclosures", started, f"could not compare ({exc}): searching")
    changes = sorted((c for item in report.items for c in item.changes if c.status in _ORDER),
                     key=lambda c: _ORDER[c.status])  # fmt: skip
    passages = [_passage(c, new["fiscal_year"], old["fiscal_year"]) for c in changes]
    passages = passages[: ctx.settings.max_evidence]
    counts = ", ".join(f"{sum(c.status == s for c in changes)} {s}" for s in _ORDER)
    reason = (f"answered from the change report of {old['filename']} and {new['filename']} "
              f"(Item {', '.join(i.item for i in report.items)}): {counts}")  # fmt: skip
    return {
        "evidence": passages, "shown": passages, "candidates": passages,
        "reflections": [Reflection(decision="generate", reason=reason)],
        **timed(ctx, "compare_disclosures", started, counts),
    }  # fmt: skip


def route_after_compare(state: AgentState) -> Literal["generate", "retrieve"]:
    """Answer from the report when it gave evidence; otherwise search."""
    return "generate" if state.evidence else "retrieve"


def _passage(change: UnitChange, new_year: int, old_year: int) -> Passage:
    """A unit as a passage at its place: the later filing's for an added or changed one."""
    unit: DisclosureUnit | None = change.old if change.status == "removed" else change.new
    assert unit is not None
    what = {
        "added": f"Added in fiscal {new_year} (not in fiscal {old_year})",
        "removed": f"Removed after fiscal {old_year} (not in fiscal {new_year})",
        "changed": f"Reworded in fiscal {new_year} (+{change.words_added}/-{change.words_removed} words)",
    }[change.status]
    box = unit.boxes[0]
    return Passage(
        chunk_id=f"change-{change.status}-{unit.doc_sha256[:12]}-{unit.item}-{unit.position}",
        doc_sha256=unit.doc_sha256, doc_name=unit.doc_name, item=unit.item, heading=unit.heading,
        kind=unit.kind, page=box.page, pages=unit.pages, bbox=box.box,
        fiscal_year=new_year if unit is change.new else old_year,
        text=f"{what}, Item {unit.item} {unit.kind}: {_shortened(unit.text)}",
    )  # fmt: skip


def _shortened(text: str, limit: int = 1500) -> str:
    """A long risk factor cut at a word, so eight of them fit a small model's window."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
