"""What the procedure-run tests share: a three-item procedure, a model that answers it, both
committed filings in the settings' own index, and the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter

import pytest

from compliance_auditor import config
from compliance_auditor.audit import chain
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.procedures.library import find_procedure
from compliance_auditor.procedures.runs import RunStore, Scope
from compliance_auditor.procedures.scope import resolve
from tests.support.fake_llm import FakeLLM
from tests.support.filings import AMCOR_8K, ULTA
from tests.support.scripted import NET_SALES, grader_keeping, is_answer_request, net_sales_answer, number_of

THREE_ITEMS = """\
name: Quick check
version: 1
items:
  - id: net_sales
    question: What were net sales in the fourth quarter?
    answer: amount
    unit: USD millions
    period: fourth quarter
  - id: new_stores
    question: Did the company open new stores?
    answer: yes_no
  - id: outlook
    question: What does the company expect for the next fiscal year?
    answer: text
"""


def procedure_model(request):
    """Grades keeping the net-sales rows; answers net sales from them, and yes to the rest."""
    if not is_answer_request(request):
        return grader_keeping(NET_SALES, "stores", "fiscal 2023")(request)
    prompt = request["messages"][-1]["content"]
    if "What were net sales" in prompt and NET_SALES in prompt:
        return net_sales_answer(request)
    return f"Yes, as the release states [{number_of(request, '')}]."


@pytest.fixture
def both_filings(ulta_index, isolated_settings):
    """The settings' own database, holding both committed filings."""
    shutil.copytree(ulta_index.uri, isolated_settings / "db")
    return AuditIndex()


@pytest.fixture
def procedure_file(tmp_path):
    path = tmp_path / "quick_check.yaml"
    path.write_text(THREE_ITEMS)
    return path


@pytest.fixture
def model_server(set_env, isolated_settings):
    with FakeLLM() as fake:
        set_env(llm_endpoint=fake.url, llm_connect_timeout_s=1, llm_read_timeout_s=5,
                runs_dir=isolated_settings / "runs", run_concurrency=2)  # fmt: skip
        fake.responder = procedure_model
        yield fake


def new_run(procedure_file, index, **scope):
    loaded = find_procedure(str(procedure_file))
    scope_ = Scope(**scope) if scope else Scope(filings=[ULTA.name, AMCOR_8K.name])
    store = RunStore(config.get_settings().runs_dir)
    return store, store.create(loaded, scope_, resolve(index, scope_), user="tester", concurrency=2)


def trail_cells(run_id):
    tagged = [r["cell"] for r in chain.records() if r.get("kind") == "answer" and r.get("cell")]
    return Counter((c["item_id"], c["doc_sha256"]) for c in tagged if c["run_id"] == run_id)


def cli(*args, check=True):
    done = subprocess.run([sys.executable, "-m", "compliance_auditor.procedures", *args],
                          capture_output=True, text=True, timeout=300, env=os.environ.copy())  # fmt: skip
    assert not check or done.returncode == 0, done.stderr[-2000:]
    return done
