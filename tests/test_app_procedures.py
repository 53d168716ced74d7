"""The Procedures tab, driven like a user with AppTest: start a run over a filing, watch it
finish in its background process, open a cell with its page, sign it off."""

from __future__ import annotations

import getpass
import time

from streamlit.testing.v1 import AppTest

from compliance_auditor import config
from compliance_auditor.audit import chain
from compliance_auditor.audit.signoff import signoff_state
from compliance_auditor.procedures.execute import work_on
from compliance_auditor.procedures.runs import RunStore
from tests.support.fake_llm import dead_url
from tests.support.filings import ULTA
from tests.support.runs import THREE_ITEMS, new_run
from tests.test_app import APP, texts


def matrix(at: AppTest):
    return next(d for d in at.dataframe if d.key == "matrix").value


def wait_until_done(store: RunStore, run_id: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while store.status(run_id).state != "done":
        assert time.monotonic() < deadline, f"the run did not finish: {store.status(run_id)}"
        time.sleep(0.5)


def test_a_run_started_in_the_browser_fills_its_matrix_and_a_cell_opens_with_its_page(
    model_server, both_filings, set_env, isolated_settings
):
    folder = isolated_settings / "procedures"
    folder.mkdir()
    (folder / "quick_check.yaml").write_text(THREE_ITEMS)
    (folder / "broken.yaml").write_text("name: Broken\nversion: 1\nitems: []\n")
    set_env(procedures_dir=folder)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert any("broken.yaml cannot be used" in e.value for e in at.error)
    at.selectbox(key="new-procedure").select_index(
        next(i for i, o in enumerate(at.selectbox(key="new-procedure").options) if "Quick check" in o)
    ).run()
    at.radio(key="new-by").set_value("Chosen filings").run()
    at.multiselect(key="new-filings").select(ULTA.name).run()
    assert "3 items × 1 filing(s) = 3 cells" in texts(at)
    at.button(key="start-run").click().run()
    store = RunStore(config.get_settings().runs_dir)
    (run_id,) = store.run_ids()
    wait_until_done(store, run_id)
    at.run()
    assert not at.exception, at.exception
    assert "Done: 3/3 cells" in at.get("progress")[0].proto.text
    frame = matrix(at)
    assert list(frame["Item"]) == ["net_sales", "new_stores", "outlook"] and "✓ 3,226.8" in frame.iloc[0, 1]
    at.selectbox(key="cell-item").set_value("net_sales").run()
    assert "3,226,773" in texts(at) and len(at.get("image")) == 1  # the answer, and its page
    at.button(key="run-Sign off this cell").click().run()
    cell = store.cells(run_id)[("net_sales", store.spec(run_id).filings[0].doc_sha256)]
    assert signoff_state(cell.answer_hash) is not None
    # The background worker asked every cell in the name of who started the run, not its own.
    asked_by = {(r["user"], (r["identity"] or {}).get("method")) for r in chain.records() if r.get("cell")}
    assert asked_by == {(getpass.getuser(), "os")}
    assert "✔" in matrix(at).iloc[0, 1]


def test_an_evidence_only_run_shows_its_pages_and_offers_to_ask_again(set_env, both_filings, procedure_file):
    set_env(llm_endpoint=dead_url(), llm_connect_timeout_s=0.5)
    _, spec = new_run(procedure_file, both_filings, company="ulta")
    work_on(spec.id, index=both_filings)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    assert all(cell.startswith("◦ p. ") for cell in matrix(at).iloc[:, 1])
    assert "evidence only (no model)" in texts(at) and len(at.get("image")) == 1
    ask_again = next(b for b in at.button if "no model answered again" in b.label)
    assert not ask_again.disabled


def test_only_an_analyst_may_ask_cells_again_checked_at_the_click_and_the_clicker_asks_them(
    set_env, both_filings, procedure_file, tmp_path
):
    set_env(llm_endpoint=dead_url(), llm_connect_timeout_s=0.5)
    store, spec = new_run(procedure_file, both_filings, company="ulta")
    work_on(spec.id, index=both_filings)
    roles = tmp_path / "roles.toml"
    roles.write_text(f'[users]\n"{getpass.getuser()}" = ["analyst"]\n')
    set_env(auth_roles_file=roles)
    at = AppTest.from_file(APP, default_timeout=120).run()
    ask_again = next(b for b in at.button if "no model answered again" in b.label)
    assert not ask_again.disabled  # the page as the analyst saw it
    roles.write_text(f'[users]\n"{getpass.getuser()}" = ["reviewer"]\n')
    ask_again.click().run()  # clicked after the analyst role was taken away: dropped
    assert store.status(spec.id).state == "done" and store.preparers(spec.id) == [spec.created_by]
    ask_again = next(b for b in at.button if "no model answered again" in b.label)
    assert ask_again.disabled and "analyst role" in ask_again.help
    roles.write_text(f'[users]\n"{getpass.getuser()}" = ["analyst"]\n')
    at.run()
    next(b for b in at.button if "no model answered again" in b.label).click().run()
    deadline = time.monotonic() + 120
    while store.is_worked_on(spec.id) or store.status(spec.id).state != "done":
        assert time.monotonic() < deadline, store.status(spec.id)
        time.sleep(0.5)
    again = [r for r in chain.records() if (r.get("cell") or {}).get("attempt") == 1]
    assert again and {r["user"] for r in again} == {getpass.getuser()}  # the clicker, not "tester"


def procedure_uploader(at: AppTest):
    return next(u for u in at.file_uploader if u.label == "Add a procedure (YAML)")


def test_an_admin_adds_a_checked_procedure_and_removes_it_and_each_change_is_recorded(
    model_server, both_filings, set_env, isolated_settings
):
    folder = isolated_settings / "procedures"
    set_env(procedures_dir=folder)
    at = AppTest.from_file(APP, default_timeout=120).run()
    broken = "name: Broken\nversion: 1\nitems:\n  - id: a\n    question: What?\n    answer: maybe\n"
    procedure_uploader(at).set_value(("broken.yaml", broken.encode(), "application/yaml")).run()
    at.button(key="procedure-add").click().run()
    assert any("broken.yaml is not a valid procedure" in e.value and "line 6" in e.value for e in at.error)
    assert not folder.exists() or not list(folder.iterdir())  # nothing kept, not even a temporary file
    procedure_uploader(at).set_value(
        ("../10k_key_figures.yaml", THREE_ITEMS.encode(), "application/yaml")
    ).run()
    at.button(key="procedure-add").click().run()
    assert any("ships with the app" in e.value for e in at.error)
    procedure_uploader(at).set_value(("Quick Check!.yaml", THREE_ITEMS.encode(), "application/yaml")).run()
    at.button(key="procedure-add").click().run()
    assert [p.name for p in folder.iterdir()] == ["quick_check.yaml"]
    assert any("Quick check" in o for o in at.selectbox(key="new-procedure").options)
    at.checkbox(key="procedure-confirm").check().run()
    at.button(key="procedure-remove").click().run()
    assert not list(folder.iterdir())
    changes = [r["reason"] for r in chain.records() if r.get("event") == "changed"]
    assert [c.split(" (")[0] for c in changes] == ["added quick_check.yaml", "removed quick_check.yaml"]


def test_only_an_admin_manages_procedures(model_server, both_filings, set_env, tmp_path):
    roles = tmp_path / "roles.toml"
    roles.write_text(f'[users]\n"{getpass.getuser()}" = ["analyst", "reviewer"]\n')
    set_env(auth_roles_file=roles)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not [u for u in at.file_uploader if u.label == "Add a procedure (YAML)"]
    assert any("manage procedures" in c.value and "admin role" in c.value for c in at.caption), [
        c.value for c in at.caption
    ]
