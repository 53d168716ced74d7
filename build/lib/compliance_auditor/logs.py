"""JSON-lines logs under ``logs/``: appended, rotated by size, never wiped.

    log = get_logger("ingest", "ingest.jsonl")
    log.info("document indexed", extra={"fields": {"file": name, "pages": 9}})

Each line has ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``event`` and the event's fields.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from datetime import UTC, datetime

from compliance_auditor.config import get_settings


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        return json.dumps(entry, default=str)


def get_logger(name: str, filename: str) -> logging.Logger:
    """A logger writing JSON lines to ``logs/<filename>``, appended and rotated by size.

    Use ``log.info("event", extra={"fields": {...}})`` to attach structured fields.
    """
    logger = logging.getLogger(f"auditor.{name}")
    if logger.handlers:
        return logger
    settings = get_settings()
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        settings.logs_dir / filename,
        maxBytes=settings.log_max_mb * 1024 * 1024,
        backupCount=5,
        encoding="utf-8",
    )
    handler.setFormatter(_JsonLines())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger
