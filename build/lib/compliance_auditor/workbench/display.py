"""Model and filing text shown in the browser exactly as written, never run as markup."""

from __future__ import annotations

from compliance_auditor.workpaper import md_escape


def shown(text: str) -> str:
    """Model and filing text as Markdown that displays it literally: no links, images, HTML or math."""
    escaped = md_escape(text).replace("$", "\\$").replace(":", "\\:")
    return escaped.replace("\n", "  \n")
