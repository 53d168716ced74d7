"""The auditor agent: ask a question about the indexed filings, get a cited, verified answer.

    .venv/bin/python agent.py "What was 3M's FY2018 capital expenditure?" [--company 3M --year 2018]

    import agent
    result = agent.ask("What was 3M's FY2018 capital expenditure?")   # an AnswerRecord
    for event in agent.stream(question): ...   # status lines, answer tokens, then the result

retrieve → grade → reflect → generate → verify, as a LangGraph graph compiled once in
`compliance_auditor/agent/graph.py`; its nodes are in the same package:
- retrieve searches the index (filters from the caller, or derived from the question);
- grade judges all candidates in ONE model call, which also says whether the kept evidence
  is enough and, if not, what to search for instead (`grading.py`);
- reflect decides from that: answer, search again (a rewritten query, narrowed to the filings
  that held partial evidence or widened past a derived filter), or give up and say what was
  searched and what related evidence exists (`planning.py`);
- generate streams the answer, every claim cited as [n]; with no model reachable it returns
  the ranked evidence instead (evidence-only), never an invented answer (`nodes.py`);
- verify checks the answer without a model (`compliance_auditor/verification/`).

Every answer is sealed into the audit trail (`compliance_auditor/audit/`) before it is returned.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from compliance_auditor.agent.graph import GRAPH, Event, ask, build_graph, stream
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.records import AnswerRecord
from compliance_auditor.team.identity import cli_identity, companies_seen_by

__all__ = ["GRAPH", "AnswerRecord", "Event", "ask", "build_graph", "main", "stream"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ask the auditor a question about the indexed filings.")
    parser.add_argument("question")
    parser.add_argument("--company")
    parser.add_argument("--year", type=int, help="fiscal year")
    parser.add_argument("--form", help="10-K, 10-Q, 8-K or 'earnings release'")
    parser.add_argument("--item", help="10-K/10-Q Item, e.g. 7 or 1A")
    parser.add_argument("--json", action="store_true", help="print the result object as JSON")
    args = parser.parse_args(argv)
    given = {"company": args.company, "fiscal_year": args.year, "form_type": args.form, "item": args.item}
    filters = {k: v for k, v in given.items() if v} or None
    result: AnswerRecord | None = None
    identity = cli_identity()  # a login the roles file keeps to workspaces searches only theirs
    index = AuditIndex().within(companies_seen_by(identity))
    for event in stream(args.question, filters, index=index, identity=identity):
        result = event.result or result
        if not args.json:
            _print_event(event)
    assert result is not None
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        _print_result(result)
    return 0 if result.mode in ("answered", "refused") else 1


def _print_event(event: Event, out: Callable[[str], Any] = sys.stdout.write) -> None:
    if event.kind == "token":
        out(event.text)
    elif event.kind == "status":
        sys.stderr.write(f"· {event.text}\n")
    elif event.kind == "reset":
        out(f"\n[{event.text}]\n" if event.text else "\n")
    sys.stdout.flush()


def _print_result(result: AnswerRecord) -> None:
    if result.mode != "answered":
        print(result.answer)
    print("\n\nCitations:")
    for c in result.citations:
        box = ", ".join(f"{v:.0f}" for v in c.bbox)
        meta = " ".join(str(v) for v in (c.company, c.form_type, c.fiscal_year) if v)
        print(f"  [{c.n}] {c.doc_name} · page {c.page + 1} · box ({box}) · {meta}")
    for warning in result.warnings:
        print(f"WARNING: {warning}")
    verdict = "verified" if result.verification.ok else "NOT fully verified"
    print(f"\n{result.mode} · {verdict} · {result.llm_calls} model calls · {result.latency_s:.1f} s · "
          f"{result.model} at {result.endpoint} · index version {result.table_version}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
