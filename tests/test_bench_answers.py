"""The answer evaluation harness, run against the OpenAI-protocol test server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from bench.answers import matches
from tests.support.fake_llm import FakeLLM
from tests.support.filings import ROOT, ULTA
from tests.support.scripted import NET_SALES, model, net_sales_answer, passages


@pytest.mark.parametrize(
    ("gold", "answer", "expected"),
    [
        ("$1577.00", "Capital expenditure was $1,577 million [1].", True),
        ("$1577.00", "Capital expenditure was $1.58 billion [1].", True),
        ("$1577.00", "Capital expenditure was $1,600 million [1].", False),
        ("24.26%", "The margin was 24.3% [2].", True),
        ("0.66", "The quick ratio was 0.66 [1].", True),
        ("0.25", "Payout was 25% of earnings [1].", True),
        ("-$45.1 million", "The operating loss was $(45.1) million [1].", True),
        ("Yes, the company is capital intensive.", "It is [1].", None),
    ],
)
def test_the_numeric_matcher(gold, answer, expected):
    assert matches(gold, answer) is expected


def answer(request: dict) -> str:
    if any(NET_SALES in text for text in passages(request).values()):
        return net_sales_answer(request)
    return "Ulta Beauty sells cosmetics, fragrance and skincare [1]."


def test_the_harness_scores_answers_and_reports(tmp_path, isolated_settings):
    pdfs = tmp_path / "pdfs"
    pdfs.mkdir()
    shutil.copy(ULTA, pdfs / ULTA.name)
    doc = ULTA.stem
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(
                {"financebench_id": f"q{n}", "doc_name": doc, "question": q, "answer": gold, "evidence": []}
            )
            for n, (q, gold) in enumerate(
                [
                    (
                        "What were Ulta Beauty's net sales in the fourth quarter of fiscal 2022?",
                        "$3226.8 million",
                    ),
                    (
                        "What were Ulta Beauty's net sales in the fourth quarter of fiscal 2022, again?",
                        "$4000.0",
                    ),
                    ("Does Ulta Beauty sell cosmetics?", "Yes."),
                ]
            )
        )
    )
    with FakeLLM() as server:
        server.responder = model(lambda r: '{"relevant": [1, 2, 3, 4], "enough": true}', answer)
        env = {**os.environ, "AUDITOR_LLM_ENDPOINT": server.url}
        out = tmp_path / "out.json"
        done = subprocess.run(
            [sys.executable, "-m", "bench.answers", "--questions", str(questions),
             "--pdfs", str(pdfs), "--out", str(out)],
            capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["n"] == 3 and report["scored"] == 2 and report["accuracy"] == 0.5
    assert report["numeric"] == {"n": 2, "accuracy": 0.5}
    assert report["llm_calls_per_question"] == 2 and report["refusals"] == 0
    assert report["latency_s"]["p50"] > 0 and "flagged_answers" in report["verification"]
    assert [q["correct"] for q in report["questions"]] == [True, False, None]
