"""An audit procedure: a YAML file of the questions asked of every filing in scope.

    name: 10-K key figures
    version: "1.0"
    description: The headline figures of an annual report.
    items:
      - id: revenue
        question: What was total revenue for the fiscal year?
        answer: amount          # amount, percent, yes_no, date, text or list
        unit: USD millions      # amounts: the unit and scale the matrix reads across
        period: fiscal year     # amounts: the period the figure covers
        sections: ["7", "8"]    # optional: the 10-K/10-Q Items where the answer lives
        guidance: Total net revenue as reported on the income statement.

A file that is not a procedure gets one error per problem, each naming the line and the field.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

AnswerKind = Literal["amount", "percent", "yes_no", "date", "text", "list"]
MAX_ITEMS = 500
_ITEM_NAME = re.compile(r"^(?:item\s+)?(\d{1,2}[a-c]?)$", re.IGNORECASE)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ProcedureItem(BaseModel):
    """One question of a procedure, asked of each filing in scope."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(description="Unique within the procedure: letters, digits, '_', '-', '.'.")
    question: str = Field(min_length=5, max_length=2000)
    answer: AnswerKind = Field(description="The kind of answer expected; it decides the cell's short form.")
    unit: str = Field(
        default="", description="Amounts: the unit and scale, e.g. 'USD millions', 'USD per share'."
    )
    period: str = Field(default="", description="Amounts: the period, e.g. 'fiscal year', 'year end'.")
    sections: list[str] = Field(
        default=[], description="10-K/10-Q Items that scope the search: '7', '8', '9A'."
    )
    guidance: str = Field(default="", max_length=2000, description="Told to the model with the question.")

    @field_validator("id")
    @classmethod
    def _id_is_plain(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("use letters, digits, '_', '-' or '.', at most 64 characters")
        return value

    @field_validator("sections", mode="before")
    @classmethod
    def _sections_are_items(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        names = []
        for section in value:
            match = _ITEM_NAME.match(str(section).strip())
            if not match:
                raise ValueError(f"{section!r} is not a 10-K/10-Q Item: write '7', '8' or 'Item 9A'")
            names.append(match.group(1).upper())
        return names

    @model_validator(mode="after")
    def _amounts_say_unit_and_period(self) -> ProcedureItem:
        if self.answer == "amount" and not (self.unit and self.period):
            raise ValueError("an amount needs its unit and its period")
        return self

    def prompt(self) -> str:
        """The question as the agent is asked it: with the expected form and any guidance."""
        expected = {
            "amount": f"Answer with the amount in {self.unit} for the {self.period}.",
            "percent": "Answer with the percentage.",
            "yes_no": "Answer yes or no first, then the evidence.",
            "date": "Answer with the date.",
            "text": "Answer in a few sentences.",
            "list": "Answer with a list, one entry per line.",
        }[self.answer]
        return " ".join(part for part in (self.question, expected, self.guidance) if part)


class Procedure(BaseModel):
    """A named, versioned checklist of questions."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=40)
    description: str = Field(default="", max_length=4000)
    items: list[ProcedureItem] = Field(min_length=1, max_length=MAX_ITEMS)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    def item(self, item_id: str) -> ProcedureItem:
        return next(i for i in self.items if i.id == item_id)


@dataclass(frozen=True)
class LoadedProcedure:
    """A procedure with the file it came from and that file's hash, which every cell records."""

    procedure: Procedure
    path: Path
    sha256: str

    @property
    def key(self) -> str:
        """How the CLI and the app name it: the file's stem."""
        return self.path.stem


class ProcedureError(ValueError):
    """A file that is not a valid procedure; `problems` says where, line by line."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path, self.problems = path, problems
        super().__init__(f"{path.name} is not a valid procedure:\n" + "\n".join(f"  {p}" for p in problems))


def load_procedure(path: str | Path, max_bytes: int = 256_000) -> LoadedProcedure:
    """Read and check a procedure file; raise ProcedureError naming each bad line and field."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) > max_bytes:
        raise ProcedureError(path, [f"the file is {len(data):,} bytes; a procedure may be {max_bytes:,}"])
    try:
        text = data.decode("utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except UnicodeDecodeError:
        raise ProcedureError(path, ["the file is not UTF-8 text"]) from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise ProcedureError(path, [f"line {line}: not valid YAML: {exc.problem}"]) from None
    lines = _lines(root)
    if not isinstance(raw, dict):
        raise ProcedureError(path, ["line 1: a procedure is a mapping with name, version and items"])
    problems = _duplicate_keys(root) + _duplicate_ids(raw, lines)
    try:
        procedure = Procedure.model_validate(raw)
    except ValidationError as exc:
        problems += [_where(error, lines) for error in exc.errors()]
    if problems:
        raise ProcedureError(path, problems)
    return LoadedProcedure(procedure, path, hashlib.sha256(data).hexdigest())


Location = tuple[str | int, ...]


def _lines(node: yaml.Node | None, at: Location = ()) -> dict[Location, int]:
    """The line (1-based) of every mapping value and list entry, by its location."""
    if node is None:
        return {}
    found = {at: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            found |= _lines(value, (*at, key.value))
            found[(*at, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            found |= _lines(value, (*at, index))
    return found


def _where(error: Any, lines: dict[Location, int]) -> str:
    loc: Location = tuple(error["loc"])
    known = next((loc[:n] for n in range(len(loc), -1, -1) if loc[:n] in lines), ())
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "the file"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "not a field of a procedure" if len(loc) == 1 else "not a field of an item"
    return f"line {lines.get(known, 1)}: {field}: {message}"


def _duplicate_keys(node: yaml.Node | None) -> list[str]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        problems = []
        for key, value in node.value:
            if key.value in seen:
                problems.append(f"line {key.start_mark.line + 1}: {key.value}: given twice")
            seen.add(key.value)
            problems += _duplicate_keys(value)
        return problems
    if isinstance(node, yaml.SequenceNode):
        return [p for value in node.value for p in _duplicate_keys(value)]
    return []


def _duplicate_ids(raw: dict[str, Any], lines: dict[Location, int]) -> list[str]:
    items = raw.get("items")
    if not isinstance(items, list):
        return []
    first: dict[str, int] = {}
    problems = []
    for index, item in enumerate(items):
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, str):
            continue
        line = lines.get(("items", index, "id"), 0)
        if item_id in first:
            problems.append(
                f"line {line}: items[{index}].id: {item_id!r} is already the id of items[{first[item_id]}]"
            )
        first.setdefault(item_id, index)
    return problems
