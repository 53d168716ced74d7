"""Signed-out sessions, so that a copied identity cookie cannot be replayed after its logout.

Streamlit's identity cookie is signed, not stored: until its ID token lapses, the cookie a
browser held keeps working wherever it is presented, even after that user logged out. Each
logout (by the button, or by the token lapsing) adds the session's key (a hash of the token's
issuer, subject and issue time) to a list under the data folder; a session on the list is
refused and sent back to the login.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_cache: dict[Path, tuple[int, set[str]]] = {}


def session_key(claims: Mapping[str, Any]) -> str:
    """One signed-in session: its token's issuer, subject and issue time (and session id, when given)."""
    parts = [str(claims.get(k, "")) for k in ("iss", "sub", "iat", "sid")]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def revoke(key: str, path: Path) -> None:
    """Put a session on the signed-out list (appended; never rewritten)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock, open(path, "a", encoding="utf-8") as handle:
        handle.write(key + "\n")


def revoked(key: str, path: Path) -> bool:
    """Whether a session was signed out; the list is read again only when it grew."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    with _lock:
        cached = _cache.get(path)
        if cached is None or cached[0] != size:
            cached = (size, set(path.read_text(encoding="utf-8").split()))
            _cache[path] = cached
        return key in cached[1]
