"""The procedures on offer: the two that ship with the app, then the user's own folder."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from compliance_auditor import config
from compliance_auditor.procedures.spec import LoadedProcedure, ProcedureError, load_procedure

BUILTIN_DIR = Path(__file__).parent / "builtin"


@dataclass(frozen=True)
class Listed:
    """A procedure file as the library lists it: loaded, or the reason it cannot be."""

    key: str
    path: Path
    loaded: LoadedProcedure | None
    error: str = ""


def procedure_files(settings: config.Settings | None = None) -> list[Path]:
    settings = settings or config.get_settings()
    own = sorted(settings.procedures_dir.glob("*.y*ml")) if settings.procedures_dir.is_dir() else []
    return [*sorted(BUILTIN_DIR.glob("*.yaml")), *own]


def list_procedures(settings: config.Settings | None = None) -> list[Listed]:
    """Every procedure file, valid or not: a broken file is listed with its error, not hidden."""
    settings = settings or config.get_settings()
    listed = []
    for path in procedure_files(settings):
        try:
            listed.append(Listed(path.stem, path, load_procedure(path, settings.procedure_max_kb * 1000)))
        except (ProcedureError, OSError) as exc:
            listed.append(Listed(path.stem, path, None, str(exc)))
    return listed


def find_procedure(name: str, settings: config.Settings | None = None) -> LoadedProcedure:
    """A procedure by its key (the file's stem) or a path to a file."""
    settings = settings or config.get_settings()
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return load_procedure(path, settings.procedure_max_kb * 1000)
    for candidate in procedure_files(settings):
        if candidate.stem == name:
            return load_procedure(candidate, settings.procedure_max_kb * 1000)
    known = ", ".join(p.stem for p in procedure_files(settings))
    raise LookupError(f"no procedure named {name!r}; known: {known}")


def own_procedures(settings: config.Settings | None = None) -> list[Path]:
    """The procedure files in the user's folder (those that ship with the app are not theirs)."""
    settings = settings or config.get_settings()
    return [p for p in procedure_files(settings) if p.parent != BUILTIN_DIR]


def add_procedure(filename: str, data: bytes, replace: bool = False,
                  settings: config.Settings | None = None) -> LoadedProcedure:  # fmt: skip
    """Check an uploaded procedure and store it in the procedures folder under a safe name.
    Raises ProcedureError (what is wrong, line by line) or FileExistsError; nothing is stored
    unless the file is valid. Runs keep their own copy, so replacing a file changes no run."""
    settings = settings or config.get_settings()
    stem = re.sub(r"[^a-z0-9_-]+", "_", Path(filename).stem.lower()).strip("_-")[:64]
    if not stem:
        raise ProcedureError(Path(filename or "unnamed"), ["the file name has no letters or digits to keep"])
    if (BUILTIN_DIR / f"{stem}.yaml").exists():
        raise FileExistsError(f"{stem} is a procedure that ships with the app: name the file otherwise")
    target = settings.procedures_dir / f"{stem}.yaml"
    if target.exists() and not replace:
        raise FileExistsError(f"{target.name} already exists: replace it, or name the file otherwise")
    settings.procedures_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=settings.procedures_dir, prefix=f".{stem}.", suffix=".upload")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        try:
            load_procedure(Path(temporary), settings.procedure_max_kb * 1000)
        except ProcedureError as exc:  # said of the file the user sent, not of the temporary copy
            raise ProcedureError(Path(filename), exc.problems) from None
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return load_procedure(target, settings.procedure_max_kb * 1000)


def remove_procedure(key: str, settings: config.Settings | None = None) -> Path:
    """Remove one of the user's procedure files (runs keep their copy); returns its path."""
    for path in own_procedures(settings):
        if path.stem == key:
            path.unlink()
            return path
    raise LookupError(f"no procedure file of yours named {key!r}")
