"""The procedures on offer: the two that ship with the app, then the user's own folder."""

from __future__ import annotations

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
