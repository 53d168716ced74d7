"""Workspaces: a group sees its companies' filings and nothing else, enforced inside the index's
search (not only by hiding them in the page)."""

from __future__ import annotations

import getpass
import shutil
import time

import lancedb
import pytest
from streamlit.testing.v1 import AppTest

import agent
from compliance_auditor.config import get_settings
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.team.identity import oidc_identity
from compliance_auditor.team.roles import load_mapping
from compliance_auditor.workbench.resources import get_worker
from tests.support.filings import AMCOR_8K, ROOT, ULTA

ROLES = """\
[groups]
"retail-team" = ["analyst"]
"packaging-team" = ["analyst"]
"admins" = ["admin"]
[workspaces]
"retail" = { companies = ["Ulta Beauty"], groups = ["retail-team"] }
"packaging" = { companies = ["Amcor"], groups = ["packaging-team"], users = ["pat"] }
"""


def companies(index: AuditIndex) -> set[str]:
    return {d["company"] for d in index.list_documents()}


def claims(subject: str, *groups: str) -> dict:
    return {"sub": subject, "iss": "https://idp.example.com", "groups": list(groups)}


def test_workspaces_come_from_the_roles_file_by_group_or_user(tmp_path):
    path = tmp_path / "roles.toml"
    path.write_text(ROLES)
    mapping = load_mapping(path, "analyst")
    ann = oidc_identity(claims("ann", "retail-team"), "groups", mapping)
    pat = oidc_identity(claims("pat"), "groups", mapping)
    nobody = oidc_identity(claims("nora", "sales"), "groups", mapping)
    admin = oidc_identity(claims("ada", "admins"), "groups", mapping)
    assert (ann.workspaces, pat.workspaces, nobody.workspaces, admin.workspaces) == (
        ["retail"],
        ["packaging"],
        [],
        None,  # fail closed; admins see every filing
    )
    assert mapping.workspaces.companies(ann.workspaces) == ("Ulta Beauty",)
    assert mapping.workspaces.companies(nobody.workspaces) == ()
    path.write_text('[workspaces]\n"retail" = { companies = "Ulta Beauty" }\n')
    with pytest.raises(ValueError, match="lists of names"):
        load_mapping(path, "analyst")


def test_without_workspaces_everybody_sees_every_filing(tmp_path):
    path = tmp_path / "roles.toml"
    path.write_text('[groups]\n"retail-team" = ["analyst"]\n')
    assert (
        oidc_identity(claims("ann", "retail-team"), "groups", load_mapping(path, "analyst")).workspaces
        is None
    )


def test_a_workspace_is_a_filter_inside_the_search(ulta_index):
    assert companies(ulta_index) == {"ULTABEAUTY", "AMCOR PLC"}  # as the parser read them
    retail = ulta_index.within(("Ulta Beauty",))  # case and spaces aside
    assert companies(retail) == {"ULTABEAUTY"}
    amcor = next(d["sha256"] for d in ulta_index.list_documents() if d["company"] == "AMCOR PLC")
    assert retail.get_document(amcor) is None and ulta_index.get_document(amcor) is not None
    # Asked by name, and even with a filter naming the other company: nothing of it comes back.
    for filters in (None, {"company": "Amcor"}, {"doc_sha256": amcor}):
        result = retail.search("What did Amcor announce about its acquisition?", filters=filters)
        assert {p.doc_sha256 for p in result.hits} <= {d["sha256"] for d in retail.list_documents()}
    assert ulta_index.search("What did Amcor announce?", filters={"company": "AMCOR PLC"}).hits


@pytest.mark.parametrize("company", ["", "Ulta Beauty' OR '1'='1", "%", "Amcor\x00"])
def test_a_workspace_naming_nothing_real_sees_nothing(ulta_index, company):
    view = ulta_index.within((company,) if company else ())
    assert not view.search("net sales").hits and not view.list_documents()


def test_in_the_browser_a_workspace_member_sees_and_asks_about_their_companies_only(
    server, ulta_index, isolated_settings, set_env, tmp_path
):
    shutil.copytree(ulta_index.uri, isolated_settings / "db")
    roles = tmp_path / "roles.toml"
    me = getpass.getuser()
    workspace = f'"retail" = {{ companies = ["Ulta Beauty"], users = ["{me}"] }}'
    roles.write_text(f'[users]\n"{me}" = ["analyst", "reviewer"]\n[workspaces]\n{workspace}\n')
    set_env(auth_roles_file=roles)
    # They uploaded the Amcor 8-K themselves: it stays stored, hidden, and they are told why.
    lancedb.connect(isolated_settings / "db").open_table("documents").update(
        where="company = 'AMCOR PLC'", values={"ingested_by": me}
    )
    # Uploads are ingested by one worker for everybody; its reports name only the user's own files.
    worker = get_worker(get_settings().db_uri)
    jobs = [worker.submit([(tmp_path / name, name)], by) for name, by in
            (("packaging-plan.pdf", "pat"), ("mine.pdf", me))]  # fmt: skip
    while any(job.state != "finished" for job in jobs):
        time.sleep(0.05)
    # A packaging analyst's question that found nothing names Amcor: not for a retail reviewer.
    (tmp_path / "packaging.toml").write_text(ROLES)
    pat = oidc_identity(claims("pat"), "groups", load_mapping(tmp_path / "packaging.toml", "analyst"))
    refused = agent.ask(
        "Did Amcor's 8-K announce a plant closure?", index=ulta_index.within(()), identity=pat
    )
    assert not refused.citations and not refused.evidence
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception, at.exception
    review = next(tab for tab in at.tabs if tab.label == "Review")
    assert review.caption[0].value == "No answers from others to review yet."
    library = next(tab for tab in at.tabs if tab.label == "Library")
    assert library.dataframe[0].value["file"].tolist() == [ULTA.name]
    assert AMCOR_8K.name not in str(at.selectbox(key="picked").options)
    assert "ingested as AMCOR PLC, which none of your workspaces includes" in library.warning[0].value
    errors = " ".join(e.value for e in library.error)
    assert "mine.pdf" in errors and "packaging" not in errors
    at.chat_input[0].set_value("What did Amcor announce in its 8-K?").run()
    prompts = " ".join(str(r["messages"]) for r in server.requests)
    assert server.requests and "Amcor" not in prompts.replace("What did Amcor announce in its 8-K?", "")


def test_on_the_server_the_agent_command_keeps_to_the_users_workspace(
    server, ulta_index, isolated_settings, set_env, tmp_path, capsys
):
    shutil.copytree(ulta_index.uri, isolated_settings / "db")
    roles = tmp_path / "roles.toml"
    me = getpass.getuser()
    workspace = f'"retail" = {{ companies = ["Ulta Beauty"], users = ["{me}"] }}'
    roles.write_text(f'[users]\n"{me}" = ["analyst"]\n[workspaces]\n{workspace}\n')  # not an admin
    set_env(auth_roles_file=roles)
    question = "What did Amcor announce in its 8-K?"
    agent.main([question, "--json"])
    prompts = " ".join(str(r["messages"]) for r in server.requests)
    assert server.requests and "Amcor" not in prompts.replace(question, "")
    assert "AMCOR" not in capsys.readouterr().out
