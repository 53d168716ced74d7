"""Team mode: who is asking, what their roles let them do, and what is refused (and recorded)."""

from __future__ import annotations

import getpass

import pytest

from compliance_auditor import config
from compliance_auditor.audit.chain import append, records
from compliance_auditor.audit.history import answers_of
from compliance_auditor.audit.signoff import signoff
from compliance_auditor.records import AnswerRecord, Identity
from compliance_auditor.team.identity import (
    header_identity,
    is_loopback,
    oidc_identity,
    os_identity,
    startup_problem,
    token_expired,
)
from compliance_auditor.team.roles import ALLOWED, ROLES, NotAllowed, check, load_mapping

ROLES_FILE = """
[users]
"carol@example.com" = ["admin"]
[groups]
"audit-staff" = ["analyst"]
"audit-reviewers" = ["reviewer"]
"""


def person(subject: str, *roles: str, issuer: str = "https://idp.example.com") -> Identity:
    return Identity(subject=subject, issuer=issuer, name=f"{subject.title()} Example", method="oidc",
                    roles=list(roles))  # fmt: skip


@pytest.fixture
def mapping(tmp_path):
    path = tmp_path / "roles.toml"
    path.write_text(ROLES_FILE)
    return load_mapping(path, "analyst")


# --------------------------------------------------------------------------- who is asking


@pytest.mark.parametrize(
    ("address", "local"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("127.0.0.2", True),
     ("0.0.0.0", False), ("10.0.0.5", False), ("", False), (None, False)],
)  # fmt: skip
def test_only_loopback_counts_as_this_machine(address, local):
    assert is_loopback(address) is local


def test_serving_beyond_loopback_without_authentication_is_refused_and_says_how(set_env):
    message = startup_problem(config.get_settings(), "0.0.0.0", None)
    assert "0.0.0.0" in message and "AUDITOR_AUTH=oidc" in message and "AUDITOR_AUTH=header" in message
    assert startup_problem(config.get_settings(), "127.0.0.1", None) == ""
    set_env(auth="header")
    assert startup_problem(config.get_settings(), "0.0.0.0", None, {"FORWARDED_ALLOW_IPS": "none"}) == ""
    # Unless the server keeps the address that connected, a forged X-Forwarded-For passes for the proxy.
    assert "FORWARDED_ALLOW_IPS=none" in startup_problem(config.get_settings(), "0.0.0.0", None, {})


def test_oidc_without_its_secrets_is_refused_with_the_missing_keys(set_env):
    set_env(auth="oidc")
    message = startup_problem(config.get_settings(), "0.0.0.0", {"client_id": "auditor"})
    assert "cookie_secret" in message and "server_metadata_url" in message and "client_id" not in message


def test_an_id_token_names_the_user_and_its_groups_their_roles(mapping):
    claims = {"sub": "u-42", "iss": "https://idp.example.com", "name": "Dana Reviewer", "exp": 2e9,
              "email": "dana@example.com", "groups": ["audit-staff", "audit-reviewers"]}  # fmt: skip
    dana = oidc_identity(claims, "groups", mapping)
    assert (dana.subject, dana.issuer, dana.name, dana.method) == ("u-42", "https://idp.example.com",
                                                                  "Dana Reviewer", "oidc")  # fmt: skip
    assert dana.roles == ["analyst", "reviewer"]
    carol = oidc_identity({"sub": "u-7", "iss": "https://idp.example.com", "email": "carol@example.com"},
                          "groups", mapping)  # fmt: skip
    assert carol.roles == ["admin"]  # named in [users]: no default on top
    newcomer = oidc_identity({"sub": "u-9", "iss": "https://idp.example.com"}, "groups", mapping)
    assert newcomer.roles == ["analyst"]  # signed in, named nowhere: the default role
    with pytest.raises(ValueError, match="no subject"):
        oidc_identity({"iss": "https://idp.example.com"}, "groups", mapping)


def test_a_lapsed_token_is_expired():
    assert token_expired({"exp": 1000}, now=1000.0) and not token_expired({"exp": 1001}, now=1000.0)
    assert token_expired({"exp": "soon"}, now=0.0)  # unreadable: not trusted


def test_a_proxy_header_is_believed_only_from_a_trusted_address(set_env, mapping):
    set_env(auth="header", auth_trusted_proxies="127.0.0.1,10.1.0.0/16")
    settings = config.get_settings()
    headers = {"x-forwarded-user": "erin", "X-Forwarded-Email": "erin@example.com",
               "X-Forwarded-Groups": "audit-reviewers"}  # fmt: skip
    erin = header_identity(headers, "10.1.2.3", settings, mapping)
    assert erin is not None and erin.subject == "erin" and erin.issuer == "proxy 10.1.2.3"
    assert erin.name == "erin@example.com" and erin.roles == ["reviewer"]
    assert header_identity(headers, "10.2.0.1", settings, mapping) is None  # forged from elsewhere
    assert header_identity(headers, None, settings, mapping) is None
    assert header_identity({}, "127.0.0.1", settings, mapping) is None  # the proxy named nobody


def test_the_os_user_holds_every_role_unless_the_roles_file_names_them(tmp_path):
    assert os_identity().roles == list(ROLES)
    path = tmp_path / "roles.toml"
    path.write_text(f'[users]\n"{getpass.getuser()}" = ["reviewer"]\n')
    assert os_identity(load_mapping(path, "analyst")).roles == ["reviewer"]


@pytest.mark.parametrize(
    ("text", "error"),
    [("[users]\nbob = 'admin'", "must be a list"), ("[users]\nbob = ['owner']", "must be a list"),
     ("[teams]\nx = ['analyst']", "unknown table"), ("[users", "roles file")],
)  # fmt: skip
def test_a_malformed_roles_file_is_a_clear_error(tmp_path, text, error):
    path = tmp_path / "roles.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=error):
        load_mapping(path, "analyst")


# --------------------------------------------------------------------------- what roles allow


def test_every_action_is_refused_to_every_role_that_does_not_hold_it():
    refused = 0
    for action, allowed in ALLOWED.items():
        for role in ROLES:
            someone = person("frank", role)
            if role in allowed:
                check(someone, action, author=person("grace", "analyst"))
            else:
                with pytest.raises(NotAllowed, match=f"may not .*takes the {allowed[0]}"):
                    check(someone, action, author=person("grace", "analyst"))
                refused += 1
        with pytest.raises(NotAllowed, match="no role"):
            check(person("nobody"), action)
        refused += 1
    assert refused == sum(len(ROLES) - len(a) for a in ALLOWED.values()) + len(ALLOWED)


def test_a_reviewer_never_signs_off_their_own_work():
    heidi = person("heidi", "analyst", "reviewer")
    with pytest.raises(NotAllowed, match="their own work"):
        check(heidi, "sign_off", author=person("heidi", "analyst"))
    with pytest.raises(NotAllowed, match="their own work"):
        check(heidi, "sign_off", author="Heidi Example")  # a record from before team mode: by name
    check(heidi, "sign_off", author=person("heidi", "analyst", issuer="https://other-idp.example.com"))
    # The one user of a loopback app reviews their own work: there is nobody else.
    check(os_identity(), "sign_off", author=os_identity())


def test_a_sign_off_is_checked_against_who_asked_and_recorded_with_the_reviewer(isolated_settings):
    ivan = person("ivan", "analyst")
    answer = AnswerRecord(question="What were net sales?", answer="$3.2 billion", user=ivan.label,
                          identity=ivan)  # fmt: skip
    append(answer)
    with pytest.raises(NotAllowed, match="may not sign off"):
        signoff(answer.hash, ivan.label, "approved", identity=ivan)
    judy = person("judy", "reviewer")
    signed = signoff(answer.hash, judy.label, "approved", identity=judy)
    assert signed.identity == judy
    stored = [r for r in records() if r["kind"] == "signoff"]
    assert len(stored) == 1 and stored[0]["identity"]["subject"] == "judy"


def test_each_user_gets_back_their_own_questions_after_a_restart(isolated_settings):
    kim, lee = person("kim", "analyst"), person("lee", "analyst")
    for who, question in ((kim, "Kim's first"), (lee, "Lee's"), (kim, "Kim's second")):
        append(AnswerRecord(question=question, user=who.label, identity=who))
    append(AnswerRecord(question="asked on the CLI before team mode", user=getpass.getuser()))
    assert [a.question for a in answers_of(kim)] == ["Kim's first", "Kim's second"]
    assert [a.question for a in answers_of(lee)] == ["Lee's"]
    same_name_elsewhere = person("kim", "analyst", issuer="https://other-idp.example.com")
    assert answers_of(same_name_elsewhere) == []
    assert [a.question for a in answers_of(os_identity())] == ["asked on the CLI before team mode"]
