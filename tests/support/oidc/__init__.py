"""A real OpenID Provider on 127.0.0.1: node's `oidc-provider` (a certified implementation), from
the npm registry at the version `package-lock.json` pins, installed once into the cache folder.

    with openid_provider(redirect_uri, id_token_ttl_s=60) as provider:
        provider.metadata_url   # for the [auth] block of .streamlit/secrets.toml

Its login form takes any user name and password; `provider.mjs` gives the users `ana`
(analyst), `rex` (analyst and reviewer) and `ada` (admin) their groups.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from compliance_auditor import config
from tests.support.fake_llm import free_port

HERE = Path(__file__).resolve().parent
CLIENT_ID, CLIENT_SECRET = "compliance-auditor", "test-only-client-secret"


def installed() -> Path:
    """The provider's folder with its node modules, installed with `npm ci` when the lock changed."""
    lock = (HERE / "package-lock.json").read_bytes()
    target = config.get_settings().cache_dir / f"oidc-provider-{hashlib.sha256(lock).hexdigest()[:12]}"
    if not (target / "node_modules" / "oidc-provider").is_dir():
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(HERE / name, partial / name)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=partial, check=True,
                       stdin=subprocess.DEVNULL, timeout=600)  # fmt: skip
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    shutil.copy(HERE / "provider.mjs", target / "provider.mjs")
    return target


@dataclass
class Provider:
    url: str

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"


@contextlib.contextmanager
def openid_provider(redirect_uri: str, id_token_ttl_s: int = 600) -> Iterator[Provider]:
    """The provider on a free loopback port, with one client whose redirect URI is `redirect_uri`."""
    folder, port = installed(), free_port()
    command = ["node", "provider.mjs", str(port), CLIENT_ID, CLIENT_SECRET, redirect_uri, str(id_token_ttl_s)]
    proc = subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    provider = Provider(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(provider.metadata_url, timeout=2).status == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                output = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"the OpenID provider did not start: {output}")
            time.sleep(0.2)
        yield provider
    finally:
        proc.terminate()
        proc.wait(10)


def secrets_toml(path: Path, provider: Provider, redirect_uri: str) -> Path:
    """A .streamlit/secrets.toml whose [auth] block signs users in with `provider`."""
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "{redirect_uri}"\n'
        'cookie_secret = "test-only-cookie-secret-0123456789abcdef"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{provider.metadata_url}"\n'
        'client_kwargs = { scope = "openid profile email", prompt = "login" }\n'
    )
    return path
