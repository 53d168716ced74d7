"""The settings as an admin sees them, and the `.env` file an admin may change them in.

Settings are read once at start from the environment, then `.env` (config.py). A change made
from the browser is written to `.env` and applies at the next start; a variable set in the
environment still wins over it, and the table says so. What decides who may reach the app
(sign-in, the address it serves on) and secrets are not changed from a browser: ops set them
where the app is started.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr, ValidationError

from compliance_auditor import config

ENV_FILE = Path(".env")  # where config.Settings reads it: the directory the app starts in
_PROTECTED = re.compile(r"^(auth|server_|metrics_address)")  # who may reach the app, and from where
_SECRET = re.compile(r"(key|secret|token|password|storage_options)")  # shown as set/unset only


@dataclass(frozen=True)
class SettingRow:
    """One setting as the admin's table shows it."""

    variable: str
    value: str
    source: str
    """`environment`, `.env` or `default`."""
    description: str
    editable: bool


def setting_rows(settings: config.Settings, env_file: Path = ENV_FILE) -> list[SettingRow]:
    in_file = read_env_file(env_file)
    rows = []
    for name, field in type(settings).model_fields.items():
        variable = f"AUDITOR_{name.upper()}"
        value = getattr(settings, name)
        shown = (
            ("set" if value.get_secret_value() else "unset") if isinstance(value, SecretStr) else str(value)
        )
        source = "environment" if variable in os.environ else ".env" if variable in in_file else "default"
        rows.append(SettingRow(variable, shown, source, field.description or "", editable(name)))
    return rows


def editable(name: str) -> bool:
    """Whether an admin may change the setting from the browser."""
    field = config.Settings.model_fields[name]
    return not _PROTECTED.match(name) and not _SECRET.search(name) and field.annotation is not SecretStr


def read_env_file(env_file: Path = ENV_FILE) -> dict[str, str]:
    if not env_file.exists():
        return {}
    pairs = (line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.strip().startswith("#")}


def set_in_env_file(name: str, value: str, env_file: Path = ENV_FILE) -> str:
    """Check `value` for setting `name` and write it to `.env` (other lines kept); returns the
    value it had there before ("" if none). Raises ValueError with pydantic's reason."""
    if name not in config.Settings.model_fields or not editable(name):
        raise ValueError(f"{name} is not a setting that can be changed from the browser")
    if "\n" in value or "\r" in value:
        raise ValueError("a setting's value is one line")
    try:
        config.Settings.model_validate({**_current(), name: value})
    except ValidationError as exc:
        raise ValueError("; ".join(e["msg"] for e in exc.errors())) from None
    variable = f"AUDITOR_{name.upper()}"
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    before = read_env_file(env_file).get(variable, "")
    kept = [line for line in lines if line.split("=", 1)[0].strip() != variable]
    temporary = env_file.with_name(env_file.name + ".tmp")
    temporary.write_text("\n".join([*kept, f"{variable}={value}"]) + "\n")
    os.replace(temporary, env_file)
    return before


def _current() -> dict[str, object]:
    settings = config.get_settings()
    return {name: getattr(settings, name) for name in type(settings).model_fields if editable(name)}
