"""The tie-out over the 10-Ks of ../shared/financebench (issue 13; not a test).

    PYTHONPATH=. .venv/bin/python -m bench.tieout [--filings DIR] [--out bench/out/tieout.json]
        [--tables bench/out/tieout_tables.json [--reuse]]

Every 10-K there, its primary statements read and checked (`compliance_auditor.tieout`). Reports:
- coverage: the share of primary statements (income, balance sheet, cash flow, per filing) that
  were found and whose totals were all checked (tied or off; none "could not check");
- false alarms: published statements are audited and tie, so a check reported "off" is taken
  as our own error;
- seeded errors: in a copy of each table, one component of each tied total is changed (+100,
  or two digits transposed, in its first column), and the mismatch must be reported "off" at
  that total, in that column, with the changed figure's box among its components;
- the ties between statements, EPS, and the time per filing (parsing included).

`--tables` keeps the parsed tables; with `--reuse` they are read back instead of parsing the PDFs
again (to measure a change to the checks alone in seconds).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections import Counter
from pathlib import Path

from compliance_auditor.records import StatementFigure, StatementTable, TieCheck, TieFigure
from compliance_auditor.tieout.filing import check_tables, read_statements
from compliance_auditor.tieout.footing import foot, is_total
from tests.support.filings import ROOT

PRIMARY = ("income statement", "balance sheet", "cash flow statement")
_CONSOLIDATED = re.compile(
    r"^(the )?(consolidated (statements?|balance shee ?ts?)\b(?!.*\b(data|reconciliation)\b)"
    r"|(balance shee ?ts?|(comprehensive )?income statements?|cash flows? statements?)$)",
    re.IGNORECASE,
)
"""The heading of a consolidated statement, not of a note's or the MD&A's table about one."""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--filings", type=Path, default=ROOT.parent / "shared" / "financebench" / "pdfs")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "tieout.json")
    parser.add_argument("--tables", type=Path, help="keep the parsed tables here (JSON)")
    parser.add_argument("--reuse", action="store_true", help="read the tables kept by --tables, do not parse")
    args = parser.parse_args()
    tables = _tables(sorted(args.filings.glob("*10K*.pdf")), args.tables, args.reuse)
    rows = [_filing(name, found, seconds) for name, (found, seconds) in tables.items()]
    summary = _summary(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


def _tables(
    pdfs: list[Path], kept: Path | None, reuse: bool
) -> dict[str, tuple[list[StatementTable], float]]:
    """Each filing's parsed tables and the seconds parsing took."""
    if reuse and kept:
        stored = json.loads(kept.read_text())
        return {
            name: ([StatementTable(**t) for t in v["tables"]], v["seconds"]) for name, v in stored.items()
        }
    found = {}
    for pdf in pdfs:
        started = time.perf_counter()
        found[pdf.name] = (read_statements(pdf), time.perf_counter() - started)
    if kept:
        dumped = {
            n: {"tables": [t.model_dump(mode="json") for t in ts], "seconds": s}
            for n, (ts, s) in found.items()
        }
        kept.write_text(json.dumps(dumped))
    return found


def _filing(name: str, tables: list[StatementTable], parse_seconds: float) -> dict:
    started = time.perf_counter()
    checks = check_tables(tables)
    seconds = parse_seconds + time.perf_counter() - started
    footed = [c for c in checks if c.kind == "foot"]
    counts = Counter(c.outcome for c in footed)
    covered = [s for s in PRIMARY if _covered(s, footed, _primary(tables, s))]
    every_table = [s for s in PRIMARY if _covered(s, footed, {t.heading for t in tables if t.statement == s})]
    seeded = _seeded(tables)
    print(f"{name:34} {counts['ties']:3} tie {counts['off']:2} off {counts['unchecked']:3} unchecked  "
          f"{len(covered)}/3 covered  seeded {seeded['caught']}/{seeded['seeded']}  "
          f"{seconds:5.1f} s")  # fmt: skip
    return {
        "filing": name, "seconds": round(seconds, 2), **{o: counts[o] for o in ("ties", "off", "unchecked")},
        "covered": covered, "covered_every_table": every_table,
        "found": sorted(s for s in PRIMARY if _primary(tables, s)),
        "between": Counter(c.outcome for c in checks if c.kind == "tie"),
        "eps": Counter(c.outcome for c in checks if c.kind == "eps"),
        "off_detail": [f"p.{c.page + 1} {c.total[0].label}: {c.reason}" for c in checks
                       if c.outcome == "off"],
        "unchecked_detail": [f"{c.statement} p.{c.page + 1} {c.total[0].label}" for c in footed
                             if c.outcome == "unchecked"],
        "seeded": seeded,
    }  # fmt: skip


def _primary(tables: list[StatementTable], statement: str) -> set[str]:
    """The headings of the filing's consolidated statement of that kind: the first table under a
    consolidated statement's heading and those going on within the next two pages."""
    mine = [
        t
        for t in tables
        if t.statement == statement and _CONSOLIDATED.match(t.heading.split(" › ")[0].strip())
    ]
    return {t.heading for t in mine if t.page - mine[0].page <= 2} if mine else set()


def _covered(statement: str, footed: list[TieCheck], headings: set[str]) -> bool:
    """Found, with at least one total, and every total checked."""
    mine = [c for c in footed if c.statement == statement and c.heading in headings]
    return bool(mine) and all(c.outcome != "unchecked" for c in mine)


def _seeded(tables: list[StatementTable]) -> dict:
    """One error seeded per tied total, in one of its components that is not itself a total, in
    a copy of its table, and where it was reported."""
    result: Counter[str] = Counter()
    missed = []
    for table in tables:
        for n, check in enumerate(c for c in foot(table) if c.outcome == "ties"):
            leaves = [f for f in check.components if f.column == 0 and not is_total(f.label)]
            at = _row_of(table, leaves[(n * 7) % len(leaves)]) if leaves else None
            if at is None:
                continue
            seeded, figure = _seed(table, at, transposed=n % 2 == 1)
            result["seeded"] += 1
            where = _reported(foot(seeded), check, figure, len(table.rows[at].figures))
            result[where] += 1
            if where != "caught":
                missed.append(f"p.{check.page + 1} {check.total[0].label} ({figure.text}): {where}")
    return {"seeded": result["seeded"], "caught": result["caught"],
            "missed": {k: v for k, v in result.items() if k not in ("seeded", "caught")},
            "missed_detail": missed}  # fmt: skip


def _row_of(table: StatementTable, figure: TieFigure) -> int | None:
    return next((i for i, r in enumerate(table.rows) if r.label == figure.label and r.page == figure.page
                 and r.figures and r.figures[0].box == figure.box), None)  # fmt: skip


def _seed(table: StatementTable, at: int, transposed: bool) -> tuple[StatementTable, StatementFigure]:
    """The table with its row `at`'s first figure changed: two digits swapped where that changes
    it, else 100 added."""
    cell = table.rows[at].figures[0]
    digits = cell.text
    value = cell.value + 100
    for i in range(len(digits) - 1) if transposed else ():
        if digits[i].isdigit() and digits[i + 1].isdigit() and digits[i] != digits[i + 1]:
            swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]
            number = float("".join(ch for ch in swapped if ch.isdigit() or ch == "."))
            value = -number if cell.value < 0 else number
            break
    text = f"{value:,.0f}" if float(value).is_integer() else str(value)
    figure = cell.model_copy(update={"text": text, "value": value})
    rows = list(table.rows)
    rows[at] = rows[at].model_copy(update={"figures": [figure, *rows[at].figures[1:]]})
    return table.model_copy(update={"rows": rows}), figure


def _reported(checks: list[TieCheck], tied: TieCheck, figure: StatementFigure, columns: int) -> str:
    """'caught' (off at the seeded total, in its column, the seeded figure among the components),
    or why not."""
    total = tied.total[0]
    for check in (c for c in checks if c.outcome == "off" and c.column == 0):
        at_total = check.total[0].label == total.label and check.total[0].box == total.box
        if at_total and any(f.column == 0 and f.box == figure.box and f.value == figure.value
                            for f in check.components):  # fmt: skip
            return "caught"
    if any(c.outcome == "off" for c in checks):
        return "reported off elsewhere"
    if columns == 1:
        return "one column: off needs another column where the same rows tie"
    return "could not check" if any(c.outcome == "unchecked" for c in checks) else "tied regardless"


def _summary(rows: list[dict]) -> dict:
    total = {o: sum(r[o] for r in rows) for o in ("ties", "off", "unchecked")}
    checked = total["ties"] + total["off"]
    seeded = {k: sum(r["seeded"][k] for r in rows) for k in ("seeded", "caught")}
    missed = sum((Counter(r["seeded"]["missed"]) for r in rows), Counter())
    return {
        "filings": len(rows),
        "statements_all_totals_checked": f"{sum(len(r['covered']) for r in rows)} / {3 * len(rows)}",
        "coverage": round(sum(len(r["covered"]) for r in rows) / max(1, 3 * len(rows)), 3),
        "consolidated_statements_found": sum(len(r["found"]) for r in rows),
        "every_table_read_as_a_statement_all_checked": round(
            sum(len(r["covered_every_table"]) for r in rows) / max(1, 3 * len(rows)), 3
        ),
        "totals": total,
        "false_alarm_rate": round(total["off"] / checked, 4) if checked else None,
        "false_alarms": [f"{r['filing']} {d}" for r in rows for d in r["off_detail"]],
        "seeded_errors": {
            **seeded,
            "caught_share": round(seeded["caught"] / max(1, seeded["seeded"]), 4),
            "missed": dict(missed),
        },
        "ties_between_statements": dict(sum((Counter(r["between"]) for r in rows), Counter())),
        "eps": dict(sum((Counter(r["eps"]) for r in rows), Counter())),
        "seconds_p50": statistics.median(r["seconds"] for r in rows) if rows else None,
    }


if __name__ == "__main__":
    raise SystemExit(main())
