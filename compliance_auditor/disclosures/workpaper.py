"""A disclosure report as one self-contained HTML workpaper: the two filings (name, sha256), the
thresholds and model that paired the units, then per Item the units added and removed, those
changed with their word-level difference, those moved, and the unchanged ones folded away;
every unit with its pages and boxes. No script, no external resource; every text taken from a
filing is escaped, so a filing cannot put markup into the workpaper.
"""

from __future__ import annotations

import html
import json

from compliance_auditor.disclosures.records import (
    DisclosureReport,
    DisclosureUnit,
    ItemComparison,
    UnitChange,
)
from compliance_auditor.disclosures.report import filing_label, unit_label, unit_title

COMMAND = "python -m compliance_auditor.disclosures OLD.pdf NEW.pdf --item ITEM --html FILE"

_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;line-height:1.45}"
    "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;"
    "vertical-align:top}.hash{font-family:monospace;word-break:break-all}"
    "section{border-top:2px solid #333;margin-top:2rem}.unit{border-left:4px solid #999;padding-left:.75rem;"
    "margin:1rem 0}.added{border-color:#2e7d32}.removed{border-color:#c62828}.changed{border-color:#f9a825}"
    ".text{white-space:pre-wrap}ins{background:#c8e6c9;text-decoration:none}del{background:#ffcdd2}"
    "small{color:#555}"
)
_TITLES = {"added": "Added", "removed": "Removed", "changed": "Changed", "unchanged": "Moved, not changed"}


def report_html(report: DisclosureReport) -> str:
    e = html.escape
    title = f"Disclosure changes: {report.old.doc_name} → {report.new.doc_name}"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1><table>"
    ]
    parts += [f"<tr><th>{e(k)}</th><td class='hash'>{e(v)}</td></tr>" for k, v in _facts(report)]
    parts.append("</table>")
    parts += [_item_section(item) for item in report.items]
    parts.append(f"<p>Re-run with <code>{e(COMMAND)}</code>: the same files give the same report.</p>")
    return "".join(parts) + "</body></html>"


def _facts(report: DisclosureReport) -> list[tuple[str, str]]:
    thresholds = ", ".join(f"{name} {value}" for name, value in report.thresholds.items())
    return [
        ("Old filing", filing_label(report.old)),
        ("Old filing SHA-256", report.old.doc_sha256),
        ("New filing", filing_label(report.new)),
        ("New filing SHA-256", report.new.doc_sha256),
        ("Items", ", ".join(item.item for item in report.items)),
        ("Pairing thresholds", thresholds),
        ("Embedding model", report.embed_model),
    ]


def _item_section(item: ItemComparison) -> str:
    e = html.escape
    counts = ", ".join(f"{n} {status}" for status, n in item.counts.items())
    parts = [f"<section><h2>Item {e(item.item)}: {e(item.new_title)}</h2><p>{e(counts)}</p>"]
    for status, heading in _TITLES.items():
        shown = [c for c in item.changes if c.status == status and (status != "unchanged" or c.moved)]
        if shown:
            parts.append(f"<h3>{e(heading)} ({len(shown)})</h3>")
            parts += [_change_html(c) for c in shown]
    unchanged = [c for c in item.changes if c.status == "unchanged"]
    if unchanged:
        listed = "".join(f"<li>{_place(c)}: {e(unit_title(c.new))}</li>" for c in unchanged if c.new)
        parts.append(f"<details><summary>Unchanged ({len(unchanged)})</summary><ul>{listed}</ul></details>")
    return "".join(parts) + "</section>"


def _change_html(change: UnitChange) -> str:
    e = html.escape
    unit = change.new or change.old
    assert unit is not None  # a change always has one side
    head = (
        f"<div class='unit {change.status}'><p><b>{e(unit_title(unit, 200))}</b><br><small>{_place(change)}"
    )
    if change.status == "changed":
        similarity = f"word similarity {change.text_similarity}, paired by {change.matched_by}"
        head += e(f"; +{change.words_added} / -{change.words_removed} words; {similarity}")
        body = "".join(
            f"<{tag}>{e(span.text)}</{tag}> " if (tag := {"insert": "ins", "delete": "del"}.get(span.op)) else
            f"{e(span.text)} "
            for span in change.diff
        )  # fmt: skip
    else:
        body = e(unit.text)
    return f"{head}</small></p><div class='text'>{body}</div></div>"


def _place(change: UnitChange) -> str:
    """Where the unit sits in each filing: its number, pages and boxes."""
    sides = [("old", change.old), ("new", change.new)]
    return "; ".join(f"{side} {_where(unit)}" for side, unit in sides if unit is not None)


def _where(unit: DisclosureUnit) -> str:
    boxes = json.dumps([[b.page, [round(v, 1) for v in b.box]] for b in unit.boxes])
    return html.escape(f"{unit_label(unit)} (page, box: {boxes})")
