"""Answer quality on FinanceBench-format questions, against whatever model is configured (not a test).

    .venv/bin/python -m bench.answers --questions Q.jsonl --pdfs DIR --out OUT.json [--db PATH] [--judge]

Ingests every DIR/<doc_name>.pdf into a fresh temporary database (or reuses --db), asks each
question through the agent (all filings shared, no caller filter; --single-doc restricts each
question to its filing), and scores the answer against the gold answer:
- numeric gold answers by a matcher: $, thousands/millions/billions, parentheses as negatives
  and %, correct within ±1% relative (a missing scale word on either side is forgiven);
- other gold answers by the model as a judge with --judge, else they are left unscored.
It reports accuracy, refusals, evidence-only answers, model calls per question, latency p50/p95
and verification flags. Every question also lands in the audit trail, like any other.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from compliance_auditor.agent.graph import ask
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.ingestion import ingest_paths
from compliance_auditor.llm.pool import LLMUnavailable, get_pool
from compliance_auditor.llm.reasoning import strip_reasoning
from compliance_auditor.records import AnswerRecord
from compliance_auditor.verification.numbers import EvidenceNumbers, numbers_in, statement_scale

SCALE_BRIDGES = (1.0, 1e3, 1e6, 1e9)


def gold_number(gold: str) -> tuple[float, bool] | None:
    """The headline figure of a gold answer (its first number) and whether it is a percentage."""
    found = numbers_in(gold, skip_labels=False)
    return (found[0].value, found[0].percent) if found else None


def matches(gold: str, answer: str, tolerance: float = 0.01) -> bool | None:
    """True when the answer states the gold figure within ±1%; None when the gold is not numeric."""
    target = gold_number(gold)
    if target is None:
        return None
    value, percent = target
    for number in numbers_in(answer):
        candidates = [number.value * b for b in SCALE_BRIDGES] + [number.value / b for b in SCALE_BRIDGES]
        if percent or number.percent:
            candidates += [number.value * 100, number.value / 100]  # 0.25 written as 25%
        for candidate in candidates:
            if abs(abs(candidate) - abs(value)) <= tolerance * max(abs(value), 1e-9):
                return True
    return False


JUDGE = (
    "Gold answer: {gold}\n\nCandidate answer: {answer}\n\nDoes the candidate give the same facts "
    "as the gold answer for the question asked? Reply with one word: yes or no."
)


def judged(question: str, gold: str, answer: str) -> bool | None:
    messages = [("system", "You grade answers to financial questions."),
                ("user", f"Question: {question}\n\n" + JUDGE.format(gold=gold, answer=answer))]  # fmt: skip
    try:
        reply = get_pool().complete(messages, "judge", max_tokens=5)
    except LLMUnavailable:
        return None
    word = strip_reasoning(reply.text).strip().lower()
    return True if word.startswith("yes") else False if word.startswith("no") else None


def flagged_only_for_no_citation(result: AnswerRecord) -> int:
    """Sentences left unsupported for lack of `[n]` although every figure in them is in the evidence.

    Citation repair should leave none: it is the figure the issue's target counts.
    """
    passages = {e.n: e.text for e in result.evidence}
    scales = {e.n: statement_scale(e.heading) for e in result.evidence}
    pool = EvidenceNumbers.of(passages, scales)
    missed = 0
    for sentence in result.verification.unsupported_sentences:
        found = numbers_in(sentence)
        missed += bool(found) and all(pool.quote(n) or pool.compute(n) for n in found)
    return missed


def score(q: dict[str, Any], result: AnswerRecord, judge: bool) -> dict[str, Any]:
    correct = matches(q["answer"], result.answer) if result.mode == "answered" else False
    how = "numeric"
    if correct is None:
        correct, how = (judged(q["question"], q["answer"], result.answer), "judge") if judge else (None, "")
    return {
        "id": q.get("financebench_id"), "question": q["question"], "gold": q["answer"],
        "answer": result.answer, "mode": result.mode, "correct": correct, "scored_by": how,
        "llm_calls": result.llm_calls, "seconds": round(result.latency_s, 3),
        "verified": result.verification.ok,
        "unverified_numbers": sum(n.verdict == "unverified" for n in result.verification.numbers),
        "unsupported_sentences": len(result.verification.unsupported_sentences),
        "wrong_metric": sum(n.verdict == "wrong_metric" for n in result.verification.numbers),
        "wrong_scale": sum(n.verdict == "wrong_scale" for n in result.verification.numbers),
        "citations_repaired": sum(len(r.citations) for r in result.verification.repairs),
        "flagged_only_for_no_citation": flagged_only_for_no_citation(result),
        "passages_left_out": result.passages_left_out,
        "citations": [(c.doc_name, c.page) for c in result.citations],
    }  # fmt: skip


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    scored = [r for r in rows if r["correct"] is not None]
    numeric = [r for r in scored if r["scored_by"] == "numeric"]
    seconds = sorted(r["seconds"] for r in rows)

    def share(items: list[dict[str, Any]], test) -> float:
        return round(sum(1 for r in items if test(r)) / len(items), 3) if items else 0.0

    return {
        "n": len(rows), "scored": len(scored),
        "accuracy": share(scored, lambda r: r["correct"]),
        "numeric": {"n": len(numeric), "accuracy": share(numeric, lambda r: r["correct"])},
        "refusals": sum(r["mode"] == "refused" for r in rows),
        "evidence_only": sum(r["mode"] == "evidence_only" for r in rows),
        "errors": sum(r["mode"] == "error" for r in rows),
        "llm_calls_per_question": round(statistics.fmean(r["llm_calls"] for r in rows), 2) if rows else 0,
        "latency_s": {"p50": _percentile(seconds, 0.5), "p95": _percentile(seconds, 0.95)},
        "verification": {
            "flagged_answers": sum(not r["verified"] for r in rows),
            "unverified_numbers": sum(r["unverified_numbers"] for r in rows),
            "unsupported_sentences": sum(r["unsupported_sentences"] for r in rows),
            "wrong_metric_flags": sum(r["wrong_metric"] for r in rows),
            "wrong_scale_flags": sum(r["wrong_scale"] for r in rows),
            "citations_repaired": sum(r["citations_repaired"] for r in rows),
            "answers_with_repaired_citations": sum(r["citations_repaired"] > 0 for r in rows),
            "flagged_only_for_no_citation": sum(r["flagged_only_for_no_citation"] for r in rows),
            "passages_left_out": sum(r["passages_left_out"] for r in rows),
        },
    }  # fmt: skip


def _percentile(values: list[float], q: float) -> float:
    return round(values[min(len(values) - 1, round(q * (len(values) - 1)))], 3) if values else 0.0


def main() -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--questions", required=True, type=Path)
    parser.add_argument("--pdfs", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--db", help="reuse this database instead of a fresh temporary one")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--single-doc", action="store_true", help="restrict each question to its filing")
    parser.add_argument("--judge", action="store_true", help="let the model judge non-numeric answers")
    args = parser.parse_args()

    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    questions = questions[: args.limit] if args.limit else questions
    names = sorted({q["doc_name"] for q in questions})
    pdfs = [args.pdfs / f"{n}.pdf" for n in names if (args.pdfs / f"{n}.pdf").exists()]
    index = AuditIndex(args.db or tempfile.mkdtemp(prefix="auditor-answers-"))
    ingest_paths(pdfs, index)
    rows = []
    for n, q in enumerate(questions, 1):
        filters = {"doc_name": f"{q['doc_name']}.pdf"} if args.single_doc else None
        started = time.perf_counter()
        result = ask(q["question"], filters, index=index, user="bench/answers.py")
        rows.append(score(q, result, args.judge))
        mark = {True: "✓", False: "✗", None: "·"}[rows[-1]["correct"]]
        print(f"{n:>4}/{len(questions)} {mark} {result.mode:<13} {time.perf_counter() - started:5.1f} s  "
              f"{q['question'][:70]}", file=sys.stderr)  # fmt: skip
    summary = {"model": result.model if rows else "", "endpoint": result.endpoint if rows else "",
               "setting": "single_doc" if args.single_doc else "shared", **summarise(rows)}  # fmt: skip
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({**summary, "questions": rows}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
