"""A filing's tie-out as the auditor reads it: grouped by statement, mismatches first, each check
with the boxes of its figures per page (components and total told apart), and one tally line.
The browser's Tie-out view, the workpaper and the CLI all show it this way."""

from __future__ import annotations

from collections import defaultdict

from compliance_auditor.records import TieCheck, TieFigure

OUTCOME_ORDER = {"off": 0, "revised": 1, "unchecked": 2, "ties": 3}
OUTCOME_LABELS = {
    "off": "does not tie",
    "revised": "revised or restated",
    "unchecked": "could not be checked",
    "ties": "ties",
}
STATEMENT_ORDER = ("income statement", "balance sheet", "cash flow statement", "between statements")
PRIOR_GROUP = "against the earlier filing"

Box = tuple[str, list[float], str]
"""(label, box in points, role): the role is "component" or "total" (`snapshots.STYLES`)."""


def grouped(checks: list[TieCheck]) -> list[tuple[str, list[TieCheck]]]:
    """(statement, its checks) with the statements holding mismatches first, then in the order
    a filing prints them; within each, mismatches, then revisions, the unchecked, the ties, by
    page. Checks against an earlier filing form a group of their own, after the filing's."""
    groups: dict[str, list[TieCheck]] = defaultdict(list)
    for check in checks:
        groups[PRIOR_GROUP if check.kind == "prior" else check.statement].append(check)
    for found in groups.values():
        found.sort(key=lambda c: (OUTCOME_ORDER[c.outcome], c.page))

    def place(statement: str) -> tuple[bool, int, int]:
        order = STATEMENT_ORDER.index(statement) if statement in STATEMENT_ORDER else len(STATEMENT_ORDER)
        prior = statement == PRIOR_GROUP
        return (prior, -sum(c.outcome == "off" for c in groups[statement]), order)

    return [(statement, groups[statement]) for statement in sorted(groups, key=place)]


def tally(checks: list[TieCheck]) -> str:
    """'24 checks: 20 tie, 1 do not tie, 3 could not be checked' (and how many were revised)."""
    counts = {o: sum(c.outcome == o for c in checks) for o in OUTCOME_ORDER}
    revised = f", {counts['revised']} revised or restated" if counts["revised"] else ""
    return (f"{len(checks)} checks: {counts['ties']} tie, {counts['off']} do not tie{revised}, "
            f"{counts['unchecked']} could not be checked")  # fmt: skip


def check_title(check: TieCheck) -> str:
    """'Gross profit, p. 6' — what a check is about, as a one-line name."""
    label = check.total[0].label if check.total else "?"
    return f"{label}, p. {check.page + 1}"


def explanation(check: TieCheck) -> str:
    """The reason where there is one, else the first column's arithmetic."""
    return check.reason or (check.arithmetic[0] if check.arithmetic else "")


def boxes_by_page(check: TieCheck, column: int | None = None) -> dict[tuple[str, int], list[Box]]:
    """Every figure of the check by (filing sha256, page): the components as "component", the
    total as "total"; only `column`'s figures when given (by default the mismatched column, if
    any). A prior-period check's earlier figure is on a page of the earlier filing."""
    column = check.column if column is None else column
    pages: dict[tuple[str, int], list[Box]] = defaultdict(list)

    def add(figures: list[TieFigure], role: str) -> None:
        for figure in figures:
            if column is None or figure.column == column or check.kind == "prior":
                place = (figure.doc_sha256 or check.doc_sha256, figure.page)
                pages[place].append((_sign_label(check, figure, role), figure.box, role))

    add(check.components, "component")
    add(check.total, "total")
    return dict(sorted(pages.items(), key=lambda kv: (kv[0][0] != check.doc_sha256, kv[0][1])))


def _sign_label(check: TieCheck, figure: TieFigure, role: str) -> str:
    if role == "total":
        return "="
    if check.kind != "foot" or not check.signs:
        return ""
    labels = [f.label for f in check.components if f.column == figure.column]
    at = labels.index(figure.label) if figure.label in labels else 0
    return "−" if check.signs[at % len(check.signs)] < 0 else "+"
