"""Page-role accuracy on the hand-labelled sample (issue 14 target: primary statements ≥ 0.95).

    .venv/bin/python -m bench.page_roles [--filings DIR] [--cache DIR] [--json]

Every filing of `tests/data/page_roles.jsonl` (from DIR, default ../shared/financebench/pdfs)
is parsed as ingestion parses it, and each labelled page's role (`parsing.roles.page_roles`)
is compared with its label. A page with no chunks and no boilerplate kind is "other". Reported:
accuracy overall, per labelled role, on the primary statements' pages (the five statement
roles), the statements' precision (pages called a statement that are that statement), the
confusions, and the milliseconds roles take per page. `--cache` keeps the parsed chunks (JSON)
so that trying a lever does not parse again.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

from compliance_auditor.page_roles import OTHER, STATEMENT_ROLES, page_roles
from compliance_auditor.parsing.converter import ParseOptions, parse_document
from compliance_auditor.records import Chunk
from tests.support.filings import DATA, ROOT

SAMPLE = DATA / "page_roles.jsonl"


def parsed(pdf: Path, cache: Path | None) -> dict:
    """The filing's chunks (page, Item, Part, heading, kind, text), form and boilerplate pages."""
    stored = cache / f"{pdf.stem}.json" if cache else None
    if stored and stored.exists():
        return json.loads(stored.read_text())
    filing = parse_document(pdf, ParseOptions.from_settings(tokenizer_file=None, max_tokens=256), {})
    fields = ("page", "item", "part", "heading", "kind", "text")
    result = {
        "form": filing.meta.form_type, "boilerplate": {str(k): v for k, v in filing.boilerplate.items()},
        "chunks": [{f: getattr(c, f) for f in fields} for c in filing.chunks],
    }  # fmt: skip
    if stored:
        stored.parent.mkdir(parents=True, exist_ok=True)
        stored.write_text(json.dumps(result))
    return result


def predicted_roles(filing: dict) -> tuple[dict[int, str], float]:
    """Page -> role, and the seconds it took."""
    chunks = [Chunk(bbox=[], **c) for c in filing["chunks"]]
    started = time.perf_counter()
    roles = page_roles(chunks, filing["form"], {int(k): v for k, v in filing["boilerplate"].items()})
    return {page: r.role for page, r in roles.items()}, time.perf_counter() - started


def score(labels: list[dict], predicted: dict[tuple[str, int], str]) -> dict:
    per_role: dict[str, list[bool]] = defaultdict(list)
    confusions: Counter[tuple[str, str]] = Counter()
    wrong = []
    for label in labels:
        guess = predicted[(label["filing"], label["page"])]
        per_role[label["role"]].append(guess == label["role"])
        if guess != label["role"]:
            confusions[(label["role"], guess)] += 1
            wrong.append(
                f"{label['filing']} p{label['page']}: {label['role']} -> {guess} ({label['reason']})"
            )
    statements = [ok for role in STATEMENT_ROLES for ok in per_role[role]]
    called = [(lab["role"], predicted[(lab["filing"], lab["page"])]) for lab in labels]
    called_statement = [truth == guess for truth, guess in called if guess in STATEMENT_ROLES]
    return {
        "pages": len(labels),
        "accuracy": round(sum(ok for oks in per_role.values() for ok in oks) / len(labels), 3),
        "primary_statements": round(sum(statements) / len(statements), 3),
        "primary_statement_pages": len(statements),
        "statement_precision": round(sum(called_statement) / max(1, len(called_statement)), 3),
        "per_role": {role: f"{sum(oks)}/{len(oks)}" for role, oks in sorted(per_role.items())},
        "confusions": {f"{truth} -> {guess}": n for (truth, guess), n in confusions.most_common()},
        "wrong": wrong,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--filings", type=Path, default=ROOT.parent / "shared" / "financebench" / "pdfs")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    labels = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    predicted: dict[tuple[str, int], str] = {}
    seconds, pages = 0.0, 0
    for name in sorted({label["filing"] for label in labels}):
        roles, took = predicted_roles(parsed(args.filings / name, args.cache))
        seconds, pages = seconds + took, pages + max(roles, default=-1) + 1
        predicted.update({(name, label["page"]): roles.get(label["page"], OTHER) for label in labels
                          if label["filing"] == name})  # fmt: skip
    result = {**score(labels, predicted), "ms_per_page": round(1000 * seconds / max(1, pages), 4)}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for key, value in result.items():
        if isinstance(value, list):
            print(f"{key}:", *value, sep="\n  ")
        else:
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
