"""Procedure files: the two that ship, and clear errors for the ones that are not procedures."""

from __future__ import annotations

import pytest

from compliance_auditor import config
from compliance_auditor.procedures.library import find_procedure, list_procedures
from compliance_auditor.procedures.spec import ProcedureError, load_procedure

THREE_ITEMS = """\
name: Ulta quick check
version: 1
description: Three figures of an earnings release.
items:
  - id: net_sales
    question: What were net sales in the fourth quarter?
    answer: amount
    unit: USD millions
    period: fourth quarter
  - id: stores
    question: How many stores did the company open in the quarter?
    answer: text
  - id: buybacks
    question: Did the company repurchase shares in the quarter?
    answer: yes_no
    guidance: Say how much if it did.
"""


def write(tmp_path, text: str, name: str = "check.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path, text: str) -> list[str]:
    with pytest.raises(ProcedureError) as caught:
        load_procedure(write(tmp_path, text))
    return caught.value.problems


def test_the_starter_procedures_ship_and_load():
    listed = {p.key: p for p in list_procedures()}
    figures = listed["10k_key_figures"].loaded
    review = listed["10k_disclosure_review"].loaded
    assert figures and review
    assert [i.id for i in figures.procedure.items][:5] == [
        "revenue", "gross_profit", "operating_income", "net_income", "diluted_eps",
    ]  # fmt: skip
    assert len(figures.procedure.items) == 14 and len(review.procedure.items) == 10
    assert all(i.unit and i.period for i in figures.procedure.items)
    assert review.procedure.item("material_weakness").sections == ["9A"]


def test_a_procedure_loads_with_its_hash(tmp_path):
    loaded = load_procedure(write(tmp_path, THREE_ITEMS))
    assert loaded.procedure.version == "1"  # a bare number is read as the version's text
    assert len(loaded.sha256) == 64 and loaded.key == "check"
    assert loaded.procedure.item("net_sales").prompt().endswith("in USD millions for the fourth quarter.")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("answer: text\n", "answer: essay\n"),
            "line 12: items[1].answer: Input should be 'amount', 'percent'",
        ),
        (("    unit: USD millions\n", ""), "line 5: items[0]: an amount needs its unit and its period"),
        (
            ("  - id: stores\n", "  - id: net_sales\n"),
            "line 10: items[1].id: 'net_sales' is already the id of items[0]",
        ),
        (("    guidance:", "    hint:"), "line 16: items[2].hint: not a field of an item"),
        (("name: Ulta quick check\n", ""), "line 1: name: Field required"),
        (("version: 1\n", "version: 1\nversion: 2\n"), "line 3: version: given twice"),
        (("  - id: stores\n", "  - id: two words\n"), "line 10: items[1].id: use letters, digits"),
        (
            ("answer: amount\n", "answer: amount\n    sections: [7, Item 8, MD&A]\n"),
            "'MD&A' is not a 10-K/10-Q Item",
        ),
    ],
)
def test_a_malformed_procedure_names_the_line_and_the_field(tmp_path, change, expected):
    old, new = change
    assert old in THREE_ITEMS
    found = problems(tmp_path, THREE_ITEMS.replace(old, new, 1))
    assert any(p.startswith(expected) or expected in p for p in found), found


def test_sections_are_read_as_item_names(tmp_path):
    text = THREE_ITEMS.replace("answer: text\n", "answer: text\n    sections: [1, Item 7, 9a]\n")
    assert load_procedure(write(tmp_path, text)).procedure.item("stores").sections == ["1", "7", "9A"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "a procedure is a mapping"),
        ("name: x\nversion: 1\nitems: []\n", "items: List should have at least 1 item"),
    ],
)
def test_files_that_are_not_procedures_say_why(tmp_path, text, expected):
    assert any(expected in p for p in problems(tmp_path, text))


def test_a_file_too_large_is_refused_before_it_is_parsed(tmp_path):
    path = write(tmp_path, THREE_ITEMS + "#" * 300_000)
    with pytest.raises(ProcedureError, match="a procedure may be 256,000"):
        load_procedure(path)


def test_a_binary_file_is_not_a_procedure(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ProcedureError, match="not UTF-8"):
        load_procedure(path)


def test_the_users_folder_is_listed_with_broken_files_explained(tmp_path):
    write(tmp_path, THREE_ITEMS, "quick.yaml")
    write(tmp_path, "name: broken\n", "broken.yaml")
    settings = config.Settings(procedures_dir=tmp_path)
    listed = {p.key: p for p in list_procedures(settings)}
    assert listed["quick"].loaded and not listed["broken"].loaded
    assert "items: Field required" in listed["broken"].error
    assert find_procedure("quick", settings).procedure.name == "Ulta quick check"
    with pytest.raises(LookupError, match="no procedure named 'nope'"):
        find_procedure("nope", settings)
