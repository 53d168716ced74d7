"""A disclosure report as text for the terminal: per Item, the units added and removed first,
then those changed (with their changed words), then those that only moved."""

from __future__ import annotations

from compliance_auditor.disclosures.records import (
    DisclosureFiling,
    DisclosureReport,
    DisclosureUnit,
    UnitChange,
    WordSpan,
)

_CONTEXT_WORDS = 6
_MAX_EDITS_SHOWN = 8


def filing_label(filing: DisclosureFiling) -> str:
    year = f" FY{filing.fiscal_year}" if filing.fiscal_year else ""
    return f"{filing.doc_name} ({filing.company or 'company unknown'} {filing.form_type}{year})".replace(
        " )", ")"
    )


def unit_label(unit: DisclosureUnit) -> str:
    """'#3, p. 18-19': the unit's place among the Item's units and its pages, counted from 1."""
    pages = sorted(set(unit.pages))
    shown = f"p. {pages[0] + 1}" + (f"-{pages[-1] + 1}" if len(pages) > 1 else "")
    return f"#{unit.position + 1}, {shown}"


def unit_title(unit: DisclosureUnit, width: int = 100) -> str:
    """A risk factor's heading, or a paragraph's first words."""
    text = unit.heading if unit.kind == "risk factor" else unit.text
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def format_report(report: DisclosureReport) -> str:
    lines = [f"Old: {filing_label(report.old)}", f"New: {filing_label(report.new)}"]
    for item in report.items:
        counts = item.counts
        lines += [
            "",
            f"Item {item.item} ({item.new_title}): {counts['added']} added, {counts['removed']} removed, "
            f"{counts['changed']} changed, {counts['unchanged']} unchanged ({counts['moved']} moved)",
        ]
        for change in item.changes:  # added, removed, changed, then unchanged
            if change.status != "unchanged" or change.moved:
                lines.append(_change_line(change))
            if change.status == "changed":
                lines.append(f"          {diff_summary(change.diff)}")
    return "\n".join(lines)


def _unit(change: UnitChange) -> DisclosureUnit:
    unit = change.new or change.old
    assert unit is not None  # a change always has one side
    return unit


def _change_line(change: UnitChange) -> str:
    if change.status in ("added", "removed"):
        unit = _unit(change)
        return f"{change.status.upper():9} {unit_label(unit):16} {unit_title(unit)}"
    assert change.old is not None and change.new is not None
    where = f"{unit_label(change.old)} -> {unit_label(change.new)}"
    if change.status == "unchanged":
        return f"MOVED     {where}  {unit_title(change.new)}"
    how = f"+{change.words_added}/-{change.words_removed} words, {change.matched_by}"
    moved = ", moved" if change.moved else ""
    return f"CHANGED   {where}  ({how}{moved})  {unit_title(change.new, 70)}"


def diff_summary(spans: list[WordSpan]) -> str:
    """The edits with a few words before each: 'fiscal [-2019,-]{+2020,+} … sugar, {+grain-free+}'."""
    runs: list[str] = []
    before: list[str] = []
    for n, span in enumerate(spans):
        if span.op == "equal":
            before = span.text.split()[-_CONTEXT_WORDS:]
            continue
        mark = f"[-{span.text}-]" if span.op == "delete" else f"{{+{span.text}+}}"
        if n and spans[n - 1].op != "equal":
            runs[-1] += mark  # a replacement: the deletion and the insertion side by side
        else:
            runs.append(" ".join([*before, mark]))
    shown = " … ".join(runs[:_MAX_EDITS_SHOWN])
    more = len(runs) - _MAX_EDITS_SHOWN
    return shown + (f" … and {more} more edits" if more > 0 else "")
