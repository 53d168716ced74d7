"""The settings: every one an ``AUDITOR_*`` environment variable or a line in ``.env``.

    from config import get_settings
    get_settings().db_uri

They are defined, with their defaults and meanings, in `compliance_auditor/config.py`, which
every part of the auditor reads and which imports nothing of the project; the README's
Configuration table lists them all.
"""

from __future__ import annotations

from compliance_auditor.config import PROJECT_DIR, Settings, get_settings

__all__ = ["PROJECT_DIR", "Settings", "get_settings"]
