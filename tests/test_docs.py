"""The README is the first thing a newcomer reads: it must match what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_quick_start_is_two_commands_the_app_and_the_tests():
    block = re.search(r"## Quick start\s+```bash\n(.*?)```", README, re.S)
    assert block, "the README has no Quick start code block"
    assert block.group(1).split("\n")[:-1] == ["./launch.sh", "./test.sh"]


def test_ci_runs_the_readmes_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^\./test\.sh\b", ci, re.M)


def test_every_setting_is_in_the_configuration_table():
    table = README[README.index("## Configuration") :]
    missing = [name for name in Settings.model_fields if f"`AUDITOR_{name.upper()}`" not in table]
    assert not missing, f"settings missing from the README's configuration table: {missing}"
