"""Team mode in a real browser: Debian's Chromium signs in through a real OpenID Provider
(node's oidc-provider on 127.0.0.1) to `streamlit run app.py` with `AUDITOR_AUTH=oidc`.

An analyst asks and may not delete; a reviewer signs off the analyst's answer and may not sign
off their own; a session whose ID token has lapsed is sent back to the login. Nothing the
browser loads comes from anywhere but 127.0.0.1.
"""

from __future__ import annotations

import shutil
import time
from urllib.parse import urlparse

import pytest

from compliance_auditor.audit import chain
from compliance_auditor.audit.signoff import signoff_state
from tests.support.browser import app_env, ask, browser, open_tab, running_app, wait_until_ready
from tests.support.fake_llm import FakeLLM, free_port
from tests.support.oidc import openid_provider, secrets_toml
from tests.support.scripted import QUESTION, careful_model

pytestmark = [
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="node and npm are not installed"),
]

ROLES = """
[groups]
"audit-staff" = ["analyst"]
"audit-reviewers" = ["reviewer"]
"auditor-admins" = ["admin"]
"""


def log_in(page, url: str, user: str) -> None:
    """Through the provider's login form (any password passes; consent is given at once)."""
    page.goto(url)
    page.get_by_role("button", name="Log in").click()
    page.locator('input[name="login"]').fill(user)
    page.locator('input[name="password"]').fill("any password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").wait_for(timeout=60_000)
    wait_until_ready(page)


def off_loopback(requests: list[str]) -> list[str]:
    return [
        u for u in requests if not u.startswith("data:") and urlparse(u).hostname not in ("127.0.0.1", None)
    ]


def test_analysts_ask_reviewers_sign_off_others_answers_and_nobody_exceeds_their_role(ulta, tmp_path):
    roles = tmp_path / "roles.toml"
    roles.write_text(ROLES)
    port = free_port()
    redirect = f"http://127.0.0.1:{port}/oauth2callback"
    with FakeLLM() as model, openid_provider(redirect) as provider:
        model.responder = careful_model()
        secrets = secrets_toml(tmp_path / "secrets.toml", provider, redirect)
        env = app_env(AUDITOR_LLM_ENDPOINT=model.url, AUDITOR_AUTH="oidc", AUDITOR_AUTH_ROLES_FILE=str(roles))
        with running_app(env, port=port, args=("--secrets.files", str(secrets))) as url:
            with browser() as (page, requests):
                log_in(page, url, "ana")
                assert page.get_by_text("Signed in as Ana Analyst (analyst)").count()
                ask(page, QUESTION)
                page.get_by_text("Sign-off: none yet").wait_for(timeout=120_000)
                open_tab(page, "Library")
                assert page.get_by_role("button", name="Delete filing").is_disabled()
                assert not page.get_by_role("tab", name="Review").count()  # analysts do not review
                assert not off_loopback(requests)
            with browser() as (page, requests):
                log_in(page, url, "rex")
                ask(page, QUESTION)  # his own answer...
                own = page.get_by_role("tabpanel", name="Ask")
                own.get_by_text("Sign-off: none yet").wait_for(timeout=120_000)
                own.get_by_text("Feedback and sign-off").click()
                assert own.get_by_role("button", name="Sign off").is_disabled()  # ...he may not sign off
                open_tab(page, "Review")  # Ana's is there, his own is not
                page.get_by_text("Asked by Ana Analyst").wait_for(timeout=60_000)
                review = page.get_by_role("tabpanel", name="Review")
                review.get_by_text("Feedback and sign-off").click()
                review.get_by_role("button", name="Sign off").click()
                review.get_by_text("Sign-off: approved by Rex Reviewer").wait_for(timeout=60_000)
                assert not off_loopback(requests)
    answers = [r for r in chain.records() if r["kind"] == "answer"]
    assert [a["identity"]["subject"] for a in answers] == ["ana", "rex"]
    assert {a["identity"]["issuer"] for a in answers} == {provider.url}
    signed = signoff_state(answers[0]["hash"])
    assert signed is not None and signed.identity is not None and signed.identity.subject == "rex"
    assert signoff_state(answers[1]["hash"]) is None
    logins = [r for r in chain.records() if r["kind"] == "access" and r["event"] == "login"]
    assert [r["identity"]["subject"] for r in logins] == ["ana", "rex"]


def test_a_lapsed_sign_in_is_sent_back_to_the_login(ulta, tmp_path):
    port = free_port()
    redirect = f"http://127.0.0.1:{port}/oauth2callback"
    with FakeLLM() as model, openid_provider(redirect, id_token_ttl_s=8) as provider:
        secrets = secrets_toml(tmp_path / "secrets.toml", provider, redirect)
        env = app_env(AUDITOR_LLM_ENDPOINT=model.url, AUDITOR_AUTH="oidc")
        app = running_app(env, port=port, args=("--secrets.files", str(secrets)))
        with app as url, browser() as (page, _):
            log_in(page, url, "ana")
            time.sleep(9)  # the ID token lapses
            page.reload()
            page.get_by_role("button", name="Log in").wait_for(timeout=60_000)
    [logout] = [r for r in chain.records() if r["kind"] == "access" and r["event"] == "logout"]
    assert logout["identity"]["subject"] == "ana" and "expired" in logout["reason"]


def test_a_copied_session_cookie_is_refused_after_its_logout_and_a_forged_one_never_signs_in(ulta, tmp_path):
    port = free_port()
    redirect = f"http://127.0.0.1:{port}/oauth2callback"
    with FakeLLM() as model, openid_provider(redirect) as provider:
        secrets = secrets_toml(tmp_path / "secrets.toml", provider, redirect)
        env = app_env(AUDITOR_LLM_ENDPOINT=model.url, AUDITOR_AUTH="oidc")
        with running_app(env, port=port, args=("--secrets.files", str(secrets))) as url:
            with browser() as (page, _):
                log_in(page, url, "ana")
                copied = page.context.cookies()
                page.get_by_role("button", name="Log out").click()
                page.get_by_role("button", name="Log in").wait_for(timeout=60_000)
            with browser() as (page, _):
                page.context.add_cookies(copied)  # the cookie as it was before the logout
                page.goto(url)
                page.get_by_role("button", name="Log in").wait_for(timeout=60_000)
                assert not page.get_by_text("Signed in as").count()
            with browser() as (page, _):
                forged = [{**c, "value": c["value"][:-6] + "AAAAAA"} for c in copied]
                page.context.add_cookies(forged)
                page.goto(url)
                page.get_by_role("button", name="Log in").wait_for(timeout=60_000)
    events = [(r["event"], r.get("reason", "")) for r in chain.records() if r["kind"] == "access"]
    assert events[:2] == [("login", "roles: analyst"), ("logout", "")]
    assert ("refused", "a signed-out session's cookie was presented again") in events
    assert [e for e, _ in events].count("login") == 1  # neither the copy nor the forgery signed in
