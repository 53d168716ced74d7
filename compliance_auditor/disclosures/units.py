"""Split an Item into the units the comparison matches: risk factors by their headings in Item
1A, paragraphs (and tables) under their headings elsewhere.

Lines become paragraphs where the gap between them opens, or where the font changes between
a styled heading and plain text. A paragraph cut by a page break (running headers, footers and
page numbers are already gone) is joined again when its last line ends mid-sentence.

A 10-K heads each risk factor with a sentence set in bold or italic; the heading style is the
one most paragraphs of the Item are set in. A short styled line that is not such a sentence
("Risks Related to Our Business") is a group heading, carried on each unit as its section.
Italic alone may also mark a note in the body, which is why one style is chosen.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from compliance_auditor.disclosures.items import ItemText
from compliance_auditor.disclosures.records import DisclosureFiling, DisclosureUnit, PageBox
from compliance_auditor.parsing.blocks import is_row, join_wrapped, union_box
from compliance_auditor.parsing.pdf import Line

_PARAGRAPH_GAP = 0.5  # of a line's height: wider than the leading of a paragraph's lines
_TERMINAL_RE = re.compile(r"[.!?:;][\"”’)]*$")
_GROUP_HEADING_WORDS = 12
_BULLET_RE = re.compile(r"^[•●◦▪\uf0b7\uf0a7·]\s*")

Style = tuple[bool, bool]  # bold, italic
PLAIN: Style = (False, False)


@dataclass
class Paragraph:
    """Lines that belong together, and the style they share (PLAIN when they do not)."""

    lines: list[Line]

    @property
    def style(self) -> Style:
        styles = {(line.bold, line.italic) for line in self.lines}
        return styles.pop() if len(styles) == 1 else PLAIN

    @property
    def text(self) -> str:
        if self.is_table:
            return "\n".join(line.text for line in self.lines)
        return join_wrapped(_BULLET_RE.sub("• ", line.text) for line in self.lines)

    @property
    def is_table(self) -> bool:
        return sum(is_row(line) for line in self.lines) >= 2

    def is_group_heading(self) -> bool:
        """Short and not a sentence: a heading over several units, or a paragraph's heading."""
        text = self.text
        short = len(text.split()) <= _GROUP_HEADING_WORDS
        return short and not _TERMINAL_RE.search(text) and text[:1].isupper()


def paragraphs(lines: list[Line]) -> list[Paragraph]:
    """Group an Item's lines into paragraphs, across page breaks where a sentence runs on."""
    found: list[Paragraph] = []
    for line in lines:
        if found and _continues(found[-1].lines[-1], line):
            found[-1].lines.append(line)
        else:
            found.append(Paragraph([line]))
    return found


def _continues(above: Line, line: Line) -> bool:
    if (above.bold, above.italic) != (line.bold, line.italic) or _BULLET_RE.match(line.text):
        return False
    if line.page != above.page:
        return not _TERMINAL_RE.search(above.text) or line.text[:1].islower()
    return line.top - above.bottom <= _PARAGRAPH_GAP * max(above.height, 1.0)


def heading_style(found: list[Paragraph]) -> Style | None:
    """The style risk factors are headed in: the commonest among styled sentences (bold first
    on a tie); None when no sentence is styled."""
    counts = Counter(p.style for p in found if p.style != PLAIN and not p.is_group_heading())
    if not counts:
        return None
    preference = [(True, True), (True, False), (False, True)]
    return max(counts, key=lambda s: (counts[s], -preference.index(s)))


def split_units(item: ItemText, filing: DisclosureFiling) -> list[DisclosureUnit]:
    """The Item's units in reading order: risk factors where the Item is 1A and its headings
    are styled, else paragraphs and tables under their headings."""
    found = paragraphs(item.lines)
    style = heading_style(found) if item.item == "1A" else None
    groups = _risk_factors(found, style) if style else _blocks(found)
    units: list[DisclosureUnit] = []
    for kind, heading, section, members in groups:
        unit = DisclosureUnit(
            doc_name=filing.doc_name, doc_sha256=filing.doc_sha256, item=item.item, position=len(units),
            kind=kind, heading=heading, section=section, text="\n".join(p.text for p in members),
            boxes=_boxes([line for p in members for line in p.lines]),
        )  # fmt: skip
        units.append(unit)
    return units


Group = tuple[str, str, str, list[Paragraph]]  # kind, heading, section, paragraphs


def _risk_factors(found: list[Paragraph], style: Style) -> list[Group]:
    """A unit per heading in `style` with the paragraphs under it; the Item's introduction, before
    the first heading, as paragraphs; styled short lines as sections."""
    groups: list[Group] = []
    section = ""
    current: Group | None = None
    for n, par in enumerate(found):
        following = found[n + 1] if n + 1 < len(found) else None
        is_heading = _heads(par, style)
        if is_heading and following is not None and _heads(following, style):
            is_heading = False  # two headings in a row: the first heads a group
        if is_heading:
            current = ("risk factor", par.text, section, [par])
            groups.append(current)
        elif (par.style != PLAIN and par.is_group_heading()) or par.style == style:
            section, current = par.text, None
        elif current is not None:
            current[3].append(par)
        else:
            groups.append(("table" if par.is_table else "paragraph", section, "", [par]))
    return groups


def _heads(par: Paragraph, style: Style) -> bool:
    return par.style == style and not par.is_group_heading()


def _blocks(found: list[Paragraph]) -> list[Group]:
    """A unit per paragraph or table, under the latest heading above it."""
    groups: list[Group] = []
    heading = ""
    for par in found:
        if par.is_group_heading() and not par.is_table:
            heading = par.text
        else:
            groups.append(("table" if par.is_table else "paragraph", heading, "", [par]))
    return groups


def _boxes(lines: list[Line]) -> list[PageBox]:
    """One box per page, around the unit's lines on it, in reading order."""
    pages: dict[int, list[list[float]]] = {}
    for line in lines:
        pages.setdefault(line.page, []).append([line.x0, line.top, line.x1, line.bottom])
    return [PageBox(page=page, box=union_box(boxes)) for page, boxes in pages.items()]
