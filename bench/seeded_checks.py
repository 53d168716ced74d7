"""Seeded wrong answers on real statement rows: does the answer check catch every one? (not a test)

    .venv/bin/python -m bench.seeded_checks --db PATH [--out bench/out/seeded_checks.json]

Reads the table chunks of an index built by `bench.retrieval` (real filings). For each row
whose label names a known line item and whose first figure appears once in its chunk, it
writes three answers citing that chunk as [1], and checks them as the agent does:
- the right item: "Net sales were $3,226,773 thousand [1]." must pass (a flag is a false alarm);
- another item: "Operating income was $3,226,773 thousand [1]." must be flagged as found under
  the row's item, at that figure;
- where the chunk's statement declares its scale, the bare figure with a question asking for
  another scale: "Net sales were $3,226,773 [1]." asked "in USD millions" must be flagged
  with the converted figure.
For each such row with a percentage (a common-size column, a margin), asked "as a percentage of
net sales": the percentage must pass, and the same figure as a ratio ("0.376" for 37.6%) must be
flagged with the percentage.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import lancedb

from compliance_auditor.verification.check import check_answer
from compliance_auditor.verification.line_items import RELATED, row_label
from compliance_auditor.verification.numbers import numbers_in, statement_scale

# How an answer names each line item (any name the vocabulary knows would do).
NAMES = {
    "revenue": "net sales", "cost of sales": "cost of sales", "gross profit": "gross profit",
    "operating income": "operating income", "net income": "net income", "cash": "cash and cash equivalents",
    "inventory": "inventories", "total assets": "total assets", "total liabilities": "total liabilities",
    "long-term debt": "long-term debt", "income tax": "income taxes", "interest expense": "interest expense",
    "depreciation": "depreciation and amortization", "equity": "shareholders' equity",
}  # fmt: skip
ASK = {1e3: "in USD millions", 1e6: "in USD thousands", 1e9: "in USD millions"}


def rows(db: str) -> list[tuple[str, str, str, str, str]]:
    """(chunk text, row item, figure, statement heading, the row's percentage or "") of every usable row."""
    table = lancedb.connect(db).open_table("chunks")
    chunks = table.search().where("kind = 'table'").select(["text", "heading"]).limit(None).to_list()
    out = []
    for chunk in chunks:
        text = chunk["text"]
        for line in text.splitlines()[1:]:
            figures = [n for n in numbers_in(line) if not n.percent and abs(n.value) >= 100]
            if " | " not in line or not figures:
                continue
            item = row_label(line, figures[0].start)
            if item in NAMES and text.count(figures[0].text.lstrip("$").strip("()")) == 1:
                percents = [n.text for n in numbers_in(line) if re.fullmatch(r"\d+(?:\.\d+)? ?%", n.text)]
                percent = percents[0] if percents and text.count(percents[0]) == 1 else ""
                out.append((text, item, figures[0].text, chunk["heading"] or "", percent))
    return out


def seeded(text: str, item: str, figure: str, heading: str, percent: str) -> dict[str, object]:
    other = next(o for o in NAMES if o != item and frozenset({o, item}) not in RELATED)
    scale = statement_scale(heading) or statement_scale(text)
    scales = {1: scale}  # as the agent passes them: the statement's scale, from its heading
    right = check_answer(f"The {NAMES[item]} was {figure} [1].", {1: text}, scales)
    wrong = check_answer(f"The {NAMES[other]} was {figure} [1].", {1: text}, scales)
    caught = [n for n in wrong.numbers if n.verdict == "wrong_metric" and n.found_as == item]
    result: dict[str, object] = {
        "right_flagged": not right.ok,
        "wrong_item_caught": bool(caught) and figure.lstrip("$").strip("()") in caught[0].source,
    }
    if scale in ASK:
        question = f"What was the {NAMES[item]} {ASK[scale]}?"
        copied = figure.lstrip("$")
        checked = check_answer(f"The {NAMES[item]} was {copied} [1].", {1: text}, scales, question)
        result["wrong_scale_caught"] = any(n.verdict == "wrong_scale" and n.expected for n in checked.numbers)
    if percent:
        result |= seeded_percent(text, item, percent.replace(" ", ""), scales)
    return result


def seeded_percent(text: str, item: str, percent: str, scales: dict) -> dict[str, bool]:
    """The row's percentage asked for as one: right as written, flagged as a ratio."""
    question = f"What was the {NAMES[item]} as a percentage of net sales?"
    places = len(percent.rstrip("%").split(".")[1]) if "." in percent else 0
    ratio = f"{float(percent.rstrip('%')) / 100:.{places + 2}f}"
    right = check_answer(f"The {NAMES[item]} was {percent} [1].", {1: text}, scales, question)
    wrong = check_answer(f"The {NAMES[item]} was {ratio} [1].", {1: text}, scales, question)
    flagged = [n.expected for n in wrong.numbers if n.verdict == "wrong_scale"]
    return {"percent_right_flagged": not right.ok, "ratio_caught": flagged == [percent]}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", required=True)
    parser.add_argument("--out", type=Path, default=Path("bench") / "out" / "seeded_checks.json")
    args = parser.parse_args()
    results = [seeded(*row) for row in rows(args.db)]
    scaled = [r for r in results if "wrong_scale_caught" in r]
    summary = {
        "rows": len(results),
        "false_alarms_on_right_answers": sum(bool(r["right_flagged"]) for r in results),
        "wrong_item_caught": sum(bool(r["wrong_item_caught"]) for r in results),
        "wrong_scale_seeded": len(scaled),
        "wrong_scale_caught": sum(bool(r["wrong_scale_caught"]) for r in scaled),
        "ratio_for_percent_seeded": sum("ratio_caught" in r for r in results),
        "ratio_for_percent_caught": sum(bool(r.get("ratio_caught")) for r in results),
        "false_alarms_on_right_percentages": sum(bool(r.get("percent_right_flagged")) for r in results),
    }
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
