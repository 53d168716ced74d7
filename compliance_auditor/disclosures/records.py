"""The records of a disclosure comparison: one typed record per concept, as in
`compliance_auditor/records.py` (kept apart from it to keep each module short).

A `DisclosureReport` holds the two `DisclosureFiling`s and an `ItemComparison` per Item, whose
`UnitChange`s say what became of each `DisclosureUnit` (a risk factor, or a paragraph or table
under its heading), with the word-level difference (`WordSpan`s) of a changed one. Pages are
0-based; boxes are ``[x0, top, x1, bottom]`` in PDF points from the page's top-left corner.
This module imports nothing of the project but pydantic.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

DisclosureStatus = Literal["added", "removed", "changed", "unchanged"]
DISCLOSURE_STATUSES: tuple[str, ...] = ("added", "removed", "changed", "unchanged")


class DisclosureFiling(BaseModel):
    """One of the two filings a disclosure comparison reads."""

    doc_name: str = Field(description="The PDF's file name.")
    doc_sha256: str = Field(description="SHA-256 of the PDF, as the index and the audit trail name it.")
    company: str = Field(default="", description="From the cover page, else the file name.")
    form_type: str = Field(default="", description="10-K, 10-Q, ...")
    fiscal_year: int | None = Field(default=None, description="The fiscal year the filing reports on.")
    page_count: int = Field(description="Pages in the PDF.")


class PageBox(BaseModel):
    """Where part of a unit sits: a page and a box on it."""

    page: int = Field(description="0-based page.")
    box: list[float] = Field(description="x0, top, x1, bottom in PDF points from the page's top-left corner.")


class DisclosureUnit(BaseModel):
    """A risk factor (its heading and body), or a paragraph or table under its heading, of one
    Item of one filing: what the comparison matches across the two years."""

    doc_name: str = Field(description="The filing's file name.")
    doc_sha256: str = Field(description="The filing's SHA-256.")
    item: str = Field(description="The 10-K Item: '1A', '7', ...")
    position: int = Field(description="0-based place among the Item's units, in reading order.")
    kind: Literal["risk factor", "paragraph", "table"] = Field(
        description="risk factor: a heading and the paragraphs under it (Item 1A); paragraph or table: "
        "one block under its heading (elsewhere, and Item 1A's introduction)."
    )
    heading: str = Field(default="", description="A risk factor's own heading; a paragraph's, the one above.")
    section: str = Field(default="", description="The group heading above: 'Risks Related to Our Business'.")
    text: str = Field(description="The whole text: a risk factor's heading, then its paragraphs.")
    boxes: list[PageBox] = Field(description="One box per page the unit covers, in reading order.")

    @property
    def pages(self) -> list[int]:
        """The 0-based pages the unit covers."""
        return [b.page for b in self.boxes]


class WordSpan(BaseModel):
    """A run of words of a changed unit: kept, inserted (new year only) or deleted (old year only)."""

    op: Literal["equal", "insert", "delete"]
    text: str


class UnitChange(BaseModel):
    """What became of one unit between the two filings."""

    status: DisclosureStatus = Field(
        description="added: only in the new filing; removed: only in the old; changed: matched, worded "
        "differently; unchanged: the same text after normalising spaces, quotes and case."
    )
    old: DisclosureUnit | None = Field(default=None, description="The unit in the old filing; None: added.")
    new: DisclosureUnit | None = Field(default=None, description="The unit in the new filing; None: removed.")
    matched_by: Literal["identical", "wording", "meaning"] | None = Field(
        default=None,
        description="How the two were paired: the same normalised text, shared wording (word similarity), or "
        "the same meaning in other words (embedding similarity).",
    )
    text_similarity: float | None = Field(default=None, description="Word-sequence similarity, 0 to 1.")
    meaning_similarity: float | None = Field(
        default=None, description="Cosine of the two units' embeddings, where they were compared by meaning."
    )
    moved: bool = Field(
        default=False, description="The unit left its place in the order (old.position -> new.position)."
    )
    diff: list[WordSpan] = Field(default=[], description="changed: the word-level difference, old to new.")
    words_added: int = Field(default=0, description="changed: words inserted.")
    words_removed: int = Field(default=0, description="changed: words deleted.")


class ItemComparison(BaseModel):
    """One Item of the two filings, unit by unit: added, removed, changed, then unchanged."""

    item: str = Field(description="The 10-K Item: '1A', '7', ...")
    old_title: str = Field(description="The Item's heading as the old filing prints it.")
    new_title: str = Field(description="The Item's heading as the new filing prints it.")
    changes: list[UnitChange] = Field(
        description="Added (by new position), removed (by old position), changed, unchanged (by new one)."
    )
    counts: dict[str, int] = Field(description="Units per status, and 'moved'.")


class DisclosureReport(BaseModel):
    """What changed in the disclosures of one filing against an earlier one, Item by Item."""

    old: DisclosureFiling
    new: DisclosureFiling
    items: list[ItemComparison]
    embed_model: str = Field(description="The embedding model that compared rewritten units by meaning.")
    thresholds: dict[str, float] = Field(description="The similarities from which two units were paired.")
