"""Team mode in the workbench, driven with AppTest: who is signed in, what is refused, and that
refusals happen on the server (a forced click on a disabled button changes nothing)."""

from __future__ import annotations

import getpass

import pytest
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from compliance_auditor.audit import chain
from compliance_auditor.index.store import AuditIndex
from tests.support.filings import ROOT
from tests.support.scripted import QUESTION

APP = str(ROOT / "app.py")


def start() -> AppTest:
    return AppTest.from_file(APP, default_timeout=120).run()


def forced(widget):
    """A disabled widget, enabled on the client side only: what a forged browser message sends."""
    widget.proto.disabled = False
    return widget


@pytest.fixture
def bound_to():
    """Serve the app (as far as it can tell) on another address; back to loopback afterwards."""
    original = streamlit_config.get_option("server.address")
    yield lambda address: streamlit_config.set_option("server.address", address)
    streamlit_config.set_option("server.address", original)


@pytest.fixture
def as_reviewer_only(tmp_path, set_env):
    """The OS user named in the roles file as a reviewer, and nothing else."""
    roles = tmp_path / "roles.toml"
    roles.write_text(f'[users]\n"{getpass.getuser()}" = ["reviewer"]\n')
    set_env(auth_roles_file=roles)


def test_on_loopback_the_os_user_is_signed_in_and_there_is_no_name_to_type(server):
    at = start()
    assert not at.exception
    assert any(f"Signed in as **{getpass.getuser()}**" in c.value for c in at.sidebar.caption)
    assert "Analyst" not in [t.label for t in at.text_input]


def test_serving_beyond_this_machine_without_authentication_is_refused_and_recorded(server, bound_to):
    bound_to("0.0.0.0")
    at = start()
    assert not at.exception
    assert "AUDITOR_AUTH=oidc" in at.error[0].value and not at.tabs and not at.chat_input
    [refusal] = [r for r in chain.records() if r["kind"] == "access"]
    assert refusal["event"] == "refused" and refusal["user"] == "anonymous"


def test_a_proxy_header_from_nowhere_is_not_a_sign_in(server, set_env, monkeypatch):
    set_env(auth="header")
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "none")
    at = start()
    assert "No signed-in user" in at.error[0].value and not at.tabs


def test_oidc_without_its_secrets_says_what_is_missing(server, set_env):
    set_env(auth="oidc")
    at = start()
    assert "client_secret" in at.error[0].value and not at.tabs


def test_a_reviewer_cannot_ask_upload_or_delete_even_by_forcing_the_button(server, ulta, as_reviewer_only):
    at = start()
    assert not at.exception
    assert at.chat_input[0].disabled and "may not ask questions" in at.chat_input[0].placeholder
    library = next(tab for tab in at.tabs if tab.label == "Library")
    assert not at.file_uploader and any("may not upload filings" in c.value for c in library.caption)
    delete = next(b for b in at.button if b.label == "Delete filing")
    assert delete.disabled and "admin role" in delete.help
    assert next(b for b in at.button if b.label == "Save metadata").disabled
    at.checkbox(key="confirm-delete").check().run()
    forced(next(b for b in at.button if b.label == "Delete filing")).click().run()
    assert len(AuditIndex().list_documents()) == 1
    forced(at.chat_input[0]).set_value("What were net sales?").run()
    assert not at.session_state.history and not server.requests


def test_a_role_taken_away_while_the_page_is_open_is_refused_at_the_click(server, ulta, tmp_path, set_env):
    roles = tmp_path / "roles.toml"
    roles.write_text(f'[users]\n"{getpass.getuser()}" = ["admin"]\n')
    set_env(auth_roles_file=roles)
    at = start()
    at.checkbox(key="confirm-delete").check().run()
    delete = next(b for b in at.button if b.label == "Delete filing")
    assert not delete.disabled  # the page as the admin saw it
    roles.write_text(f'[users]\n"{getpass.getuser()}" = ["analyst"]\n')
    delete.click().run()  # the click of a page drawn before the role was taken away
    assert len(AuditIndex().list_documents()) == 1
    assert next(b for b in at.button if b.label == "Delete filing").disabled


def test_the_question_history_survives_a_restart(server, ulta):
    at = start()
    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception and len(at.session_state.history) == 1
    again = start()  # a new browser session, as after a restart
    [item] = again.session_state.history
    assert item["question"] == QUESTION
    assert item["result"].hash == at.session_state.history[0]["result"].hash


def test_an_admin_changes_a_setting_for_the_next_start_checked_and_recorded(server, tmp_path, monkeypatch,
                                                                           bound_to):  # fmt: skip
    monkeypatch.chdir(tmp_path)  # the .env the settings read is the one where the app starts
    bound_to("127.0.0.1")  # as the checkout's .streamlit/config.toml says, not found from here
    at = start()
    pick = at.selectbox(key="settings-pick")
    assert "AUDITOR_AGENT_K" in pick.options
    assert not {"AUDITOR_AUTH", "AUDITOR_SERVER_ADDRESS", "AUDITOR_LLM_API_KEY"} & set(pick.options)
    pick.set_value("AUDITOR_AGENT_K").run()
    at.text_input(key="settings-value").set_value("lots").run()
    at.button(key="settings-save").click().run()
    assert any("AUDITOR" in e.value and "integer" in e.value for e in at.error), [e.value for e in at.error]
    assert not (tmp_path / ".env").exists()
    at.text_input(key="settings-value").set_value("12").run()
    at.button(key="settings-save").click().run()
    assert (tmp_path / ".env").read_text() == "AUDITOR_AGENT_K=12\n"
    assert any("applies when the app is started again" in s.value for s in at.success)
    [change] = [r for r in chain.records() if r["kind"] == "access" and r["event"] == "changed"]
    assert change["action"] == "manage_settings" and "'' -> '12'" in change["reason"]


def test_settings_are_not_shown_to_anyone_but_an_admin(server, tmp_path, set_env):
    roles = tmp_path / "roles.toml"
    roles.write_text(f'[users]\n"{getpass.getuser()}" = ["analyst", "reviewer"]\n')
    set_env(auth_roles_file=roles)
    at = start()
    assert not [s for s in at.selectbox if s.key == "settings-pick"]
    assert "Settings (admin)" not in [e.label for e in at.expander]
