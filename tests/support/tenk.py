"""Small generated 10-Ks whose risk factors are known exactly: a cover page (company, form,
fiscal year), contents, Item 1 (which names Item 1A in a sentence), Item 1A with a bold heading
over each risk factor, Item 1B, and Item 7."""

from __future__ import annotations

from pathlib import Path

from tests.support.pdfs import text_pdf

BOLD = "Helvetica-Bold"
CONTENTS = ["TABLE OF CONTENTS", "Item 1. Business 3", "Item 1A. Risk Factors 3",
            "Item 1B. Unresolved Staff Comments 4", "Item 2. Properties 4",
            "Item 7. Management's Discussion 5"]  # fmt: skip
RISKS = {
    "cold": ["Our widgets may fail in cold weather.",
             "Widgets are tested at room temperature only. Customers in northern markets",
             "may see failures in winter, and returns could reduce our revenue."],
    "supplier": ["We depend on a single supplier of sprockets.",
                 "All sprockets come from one plant in Ohio. A fire or a strike there would",
                 "stop our production for months."],
    "tax": ["Changes in tax law could reduce our earnings.",
            "We pay taxes in twelve countries. New rules on the taxation of digital",
            "services could raise our effective tax rate."],
    "tax reworded": ["Changes in tax law could reduce our earnings.",
                     "We pay taxes in fourteen countries. New rules on the taxation of digital",
                     "services and a global minimum tax could raise our effective tax rate."],
    "rivals": ["Competition from larger firms could lower our prices.",
               "Three rivals sell similar widgets, and each has more cash than we do to spend",
               "on marketing and on price cuts."],
    "cyber": ["A cyber attack could disrupt our factories.",
              "Our plants run on networked controllers; an intruder could halt a line or",
              "damage equipment, and insurance may not cover the loss."],
}  # fmt: skip
"""Risk factors by name: a heading, then its lines."""


def cover(year: int) -> list[str]:
    return ["UNITED STATES SECURITIES AND EXCHANGE COMMISSION", "FORM 10-K", "ACME WIDGETS, INC.",
            f"For the fiscal year ended December 31, {year}"]  # fmt: skip


def ten_k(path: Path, risks: list[str], extra_item_1: str = "", year: int = 2016) -> Path:
    """Acme Widgets' 10-K for fiscal `year` with the named risk factors of `RISKS`, in order."""
    body: list[str | tuple[str, str]] = [
        "ITEM 1A. RISK FACTORS", "", "Investing in our shares involves the risks below.", ""
    ]  # fmt: skip
    for name in risks:
        heading, *text = RISKS[name]
        body += [(BOLD, heading), "", *text, ""]
    item_1 = ["ITEM 1. BUSINESS", "", "We make widgets for industrial customers. The risks we face are in",
              "Item 1A of this report. You should read them with care.", extra_item_1]  # fmt: skip
    item_7 = ["ITEM 1B. UNRESOLVED STAFF COMMENTS", "", "None.", "", "ITEM 7. MANAGEMENT'S DISCUSSION",
              "", (BOLD, "Results of Operations"), "", "Revenue grew 4% on higher widget volumes.", "",
              "Costs rose 2% as steel prices increased."]  # fmt: skip
    return text_pdf(path, [cover(year), CONTENTS, item_1, body, item_7])
