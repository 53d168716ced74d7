"""The code keeps the shape a newcomer can carry: no module over 500 lines, no function over 50."""

from __future__ import annotations

import ast

from tests.support.filings import ROOT

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 50
SOURCES = [
    *sorted((ROOT / "compliance_auditor").rglob("*.py")),
    *[ROOT / name for name in ("app.py", "agent.py", "database.py", "ingest.py", "config.py")],
    *sorted((ROOT / "bench").glob("*.py")),
    *sorted((ROOT / "tests").rglob("*.py")),
]


def test_no_module_is_longer_than_500_lines():
    long = {
        str(p.relative_to(ROOT)): n for p in SOURCES if (n := p.read_text().count("\n")) > MAX_MODULE_LINES
    }
    assert not long, f"split these modules along their jobs: {long}"


def test_no_function_is_longer_than_50_lines():
    long = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert not long, f"these functions no longer fit on a screen: {long}"
