"""The README is the first thing a newcomer reads: it must match what the code does."""

from __future__ import annotations

import re

from compliance_auditor.config import Settings
from tests.support.filings import ROOT

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


ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()
PACKAGE = ROOT / "compliance_auditor"


def test_every_module_the_architecture_page_names_exists():
    named = set(re.findall(r"`((?:compliance_auditor|tests|bench)/[\w/]*?(?:\.py|/))`", ARCHITECTURE))
    named |= set(re.findall(r"`(\w+\.(?:py|sh))`", ARCHITECTURE)) - {"pyproject.py"}
    assert len(named) > 30, named
    missing = sorted(name for name in named if not (ROOT / name).exists())
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


def test_the_architecture_page_covers_every_part_of_the_package():
    parts = [p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()]
    parts = [p for p in parts if p not in ("__init__.py", "__main__.py")]
    missing = [p for p in parts if p not in ARCHITECTURE]
    assert not missing, f"docs/architecture.md does not say where these live: {missing}"


def test_the_entry_files_offer_what_the_readme_shows():
    import agent
    import config
    import database
    import ingest

    offered = {
        agent: ["ask", "stream", "AnswerRecord"],
        database: ["AuditIndex", "SearchResult"],
        ingest: ["ingest_paths", "main"],
        config: ["get_settings", "Settings"],
    }
    for module, names in offered.items():
        missing = [n for n in names if not hasattr(module, n)]
        assert not missing, f"{module.__name__}.py does not offer {missing}"
        assert set(module.__all__) <= set(dir(module))
    assert "agent.ask(" in README and "database.AuditIndex()" in README
