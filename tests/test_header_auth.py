"""Team mode behind an authenticating proxy: the committed nginx configuration
(`deploy/nginx/auth-proxy.conf`) with a stand-in for oauth2-proxy's auth endpoint, in front of
`streamlit run app.py` with `AUDITOR_AUTH=header`, driven by Debian's Chromium.

nginx connects from 127.0.0.2, the only address the app trusts; the browser reaching the app
directly (from 127.0.0.1) with forged identity headers, even a forged X-Forwarded-For, is not
signed in, and through nginx a forged header is overwritten by the signed-in user's.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from compliance_auditor.audit import chain
from tests.support.browser import app_env, browser, running_app
from tests.support.fake_llm import FakeLLM, free_port
from tests.support.filings import ROOT
from tests.support.nginx import running_nginx

pytestmark = [
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
]

CONF = ROOT / "deploy" / "nginx" / "auth-proxy.conf"
FORGED = {"X-Forwarded-User": "ada", "X-Forwarded-Groups": "auditor-admins", "X-Forwarded-For": "127.0.0.2"}


class SignedIn(BaseHTTPRequestHandler):
    """oauth2-proxy's /oauth2/auth, as it answers for a signed-in user."""

    def do_GET(self) -> None:
        self.send_response(202)
        self.send_header("X-Auth-Request-User", "rex")
        self.send_header("X-Auth-Request-Email", "rex@example.com")
        self.send_header("X-Auth-Request-Groups", "audit-staff,audit-reviewers")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def auth_endpoint() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SignedIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


@contextmanager
def nginx_in_front(tmp_path: Path, app_port: int, auth_port: int) -> Iterator[str]:
    """The committed configuration, on a free port of 127.0.0.1, connecting to the app from 127.0.0.2."""
    port = free_port()
    text = CONF.read_text()
    text = re.sub(r"listen \d+;", f"listen 127.0.0.1:{port};", text)
    text = text.replace("server 127.0.0.1:8503;", f"server 127.0.0.1:{app_port};")
    text = text.replace("server 127.0.0.1:4180;", f"server 127.0.0.1:{auth_port};")
    text = text.replace(
        "proxy_pass http://auditor;", "proxy_pass http://auditor;\n            proxy_bind 127.0.0.2;"
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    with running_nginx(tmp_path, conf, f"http://127.0.0.1:{port}/_stcore/health", timeout_s=60):
        yield f"http://127.0.0.1:{port}"


def test_only_the_proxy_signs_users_in_and_forged_headers_are_ignored(ulta, tmp_path):
    roles = tmp_path / "roles.toml"
    roles.write_text('[groups]\n"audit-staff" = ["analyst"]\n"audit-reviewers" = ["reviewer"]\n')
    app_port = free_port()
    with FakeLLM() as model, auth_endpoint() as auth_port:
        env = app_env(
            AUDITOR_LLM_ENDPOINT=model.url,
            AUDITOR_AUTH="header",
            FORWARDED_ALLOW_IPS="none",
            AUDITOR_AUTH_ROLES_FILE=str(roles),
            AUDITOR_AUTH_TRUSTED_PROXIES="127.0.0.2",
        )
        with (
            running_app(env, port=app_port) as direct,
            nginx_in_front(tmp_path, app_port, auth_port) as proxied,
            browser() as (page, requests),
        ):
            page.set_extra_http_headers(FORGED)
            page.goto(direct)  # straight to the app, claiming to be Ada via the proxy
            page.get_by_text("No signed-in user").wait_for(timeout=120_000)
            assert not page.get_by_role("tab", name="Library").count()
            page.goto(proxied)  # through nginx: Ada's headers are overwritten by Rex's
            page.get_by_text("Signed in as rex@example.com (analyst, reviewer)").wait_for(timeout=120_000)
            assert all(u.startswith(("http://127.0.0.1:", "data:", "blob:")) for u in requests)
    access = [r for r in chain.records() if r["kind"] == "access"]
    assert [(r["event"], r["user"]) for r in access] == [
        ("refused", "anonymous"),
        ("login", "rex@example.com"),
    ]
    assert access[1]["identity"]["issuer"] == "proxy 127.0.0.2" and "127.0.0.1" in access[0]["reason"]
