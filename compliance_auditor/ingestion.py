"""Ingestion: files and folders in, searchable filings out. Bad files fail alone; the batch goes on.

For each file: its sha256 (a file already indexed is skipped), then parsing in a child
process (`parsing.worker`), then the chunks embedded with their context line and committed to
the index in one write, and the primary statements the parser read tied out and stored beside
them (`tieout`). The next `AUDITOR_PARSE_PROCESSES` documents are parsed, each in its own
process, while the current one is embedded.
"""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from compliance_auditor import config, metrics
from compliance_auditor.files import file_sha256
from compliance_auditor.index.embedder import ingest_embedder
from compliance_auditor.index.schema import chunk_rows, document_row
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.logs import get_logger
from compliance_auditor.parsing.converter import ParseOptions
from compliance_auditor.parsing.metadata import context_line
from compliance_auditor.parsing.pdf import IngestError
from compliance_auditor.parsing.worker import ParseJob
from compliance_auditor.records import FilingMetadata, ParsedFiling
from compliance_auditor.team.identity import os_user
from compliance_auditor.tieout.stored import tie_out_tables

log = get_logger("ingest", "ingest.jsonl")

Notify = Callable[[str, str, str], None]
"""Called once per file with (filename, status, detail): "ok", "needs_ocr", "skipped" or "failed"."""


@dataclass
class IngestSummary:
    """What a batch did, as the CLI prints it."""

    added: int = 0
    skipped: int = 0
    failed: int = 0
    pages: int = 0
    chunks: int = 0
    boilerplate_pages: int = 0  # table of contents, signatures...: parsed, not indexed
    seconds: float = 0.0
    # CPU time as well as wall time: on a shared machine it is what a change to the work shows.
    embed_seconds: float = 0.0
    embed_cpu_seconds: float = 0.0
    parse_cpu_seconds: float = 0.0
    tieout_seconds: float = 0.0  # checking the statements the parser read, and storing the checks
    failures: list[tuple[str, str]] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # indexed, but not as asked

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added, "skipped": self.skipped, "failed": self.failed,
            "pages": self.pages, "chunks": self.chunks, "boilerplate_pages": self.boilerplate_pages,
            "seconds": round(self.seconds, 2), "embed_seconds": round(self.embed_seconds, 2),
            "embed_cpu_seconds": round(self.embed_cpu_seconds, 2),
            "parse_cpu_seconds": round(self.parse_cpu_seconds, 2),
            "tieout_seconds": round(self.tieout_seconds, 2),
            "pages_per_s": round(self.pages_per_s, 2),
            "failures": [{"file": f, "reason": r} for f, r in self.failures],
            "notes": [{"file": f, "note": n} for f, n in self.notes],
        }  # fmt: skip


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus every *.pdf under folders, each once, in a stable order."""
    found: dict[Path, None] = {}
    for raw_path in paths:
        path = Path(raw_path)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() == ".pdf":
                    found[child.resolve()] = None
        elif path.exists():
            found[path.resolve()] = None
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return list(found)


class _Batch:
    """One call of `ingest_paths`: its index, options, progress bars and summary."""

    def __init__(self, index: AuditIndex, files: list[Path], show_progress: bool, notify: Notify,
                 names: dict[Path, str], overrides: dict[str, object], ingested_by: str) -> None:  # fmt: skip
        from tqdm import tqdm

        self.index, self.notify, self.names, self.overrides = index, notify, names, overrides
        self.ingested_by = ingested_by
        self.embedder = ingest_embedder(index.embedder)
        self.opts = ParseOptions.from_settings(index.embedder.tokenizer_file, index.embedder.max_tokens)
        self.summary = IngestSummary()
        self.docs_bar = tqdm(total=len(files), desc="documents", unit="doc", disable=not show_progress)
        self.pages_bar = tqdm(desc="pages", unit="page", disable=not show_progress)

    def name(self, path: Path) -> str:
        return self.names.get(path, path.name)

    def start(self, path: Path, sha256: str) -> ParseJob:
        return ParseJob(path, self.opts, self.overrides, self.names.get(path, ""), sha256)

    def fail(self, path: Path, sha256: str, reason: str) -> None:
        name = self.name(path)
        self.summary.failed += 1
        self.summary.failures.append((name, reason))
        if sha256:
            self.index.record_failure(sha256, name, str(path), reason, self.ingested_by)
        self.notify(name, "failed", reason)
        metrics.ingest_failed()
        log.warning("document failed", extra={"fields": {"file": name, "sha256": sha256, "reason": reason}})
        self.docs_bar.update()

    def close(self) -> None:
        self.docs_bar.close()
        self.pages_bar.close()


def ingest_paths(
    paths: Iterable[str | Path],
    index: AuditIndex | None = None,
    overrides: dict[str, object] | None = None,
    replace: bool = False,
    show_progress: bool = True,
    on_document: Notify | None = None,
    display_names: dict[Path, str] | None = None,
    ingested_by: str = "",
) -> IngestSummary:
    """Parse, chunk, embed and index files and folders. Bad files fail alone; the batch goes on.

    `on_document(filename, status, detail)` is called once per file (for UIs).
    `display_names` maps stored paths to the names users know them by (uploads).
    `ingested_by` is who added them, shown in the Library (the OS user when not given).
    """
    started = time.perf_counter()
    index = index or AuditIndex()
    index.remove_orphans()
    files = discover(paths)
    names = {Path(k).resolve(): v for k, v in (display_names or {}).items()}
    by = ingested_by or os_user()
    batch = _Batch(index, files, show_progress, on_document or (lambda *_: None), names, overrides or {}, by)
    queue = _admit_all(batch, files, replace)
    for (path, sha), job in zip(queue, _parse_ahead(batch, queue), strict=True):
        try:
            parsed = job.result()
        except IngestError as exc:
            batch.fail(path, sha, str(exc))
            continue
        _index_document(batch, parsed)
    index.refresh_indexes()
    batch.close()
    batch.summary.seconds = time.perf_counter() - started
    log.info("batch done", extra={"fields": batch.summary.as_dict()})
    return batch.summary


def _parse_ahead(batch: _Batch, queue: list[tuple[Path, str]]) -> Iterator[ParseJob]:
    """The parse jobs of `queue`, in order, with `AUDITOR_PARSE_PROCESSES` started ahead of the
    one being collected: they parse while the caller embeds the document before them. Results
    are collected in the queue's order, so a failure is reported against its own file."""
    ahead = config.get_settings().parse_processes
    pending: deque[ParseJob] = deque()
    started = 0
    for _ in queue:
        while started < len(queue) and len(pending) <= ahead:
            pending.append(batch.start(*queue[started]))
            started += 1
        yield pending.popleft()


def _admit_all(batch: _Batch, files: list[Path], replace: bool) -> list[tuple[Path, str]]:
    """The files to parse, with their sha256; the others are skipped or failed here."""
    max_bytes = config.get_settings().max_file_mb * 1024 * 1024
    queue: list[tuple[Path, str]] = []
    for path in files:
        size = path.stat().st_size
        if size > max_bytes:
            reason = f"file too large: {size / 1e6:.0f} MB > {max_bytes / 1e6:.0f} MB (AUDITOR_MAX_FILE_MB)"
            batch.fail(path, "", reason)
            continue
        sha = file_sha256(path)
        existing = batch.index.get_document(sha)
        if existing and existing["status"] != "failed" and not replace:
            batch.summary.skipped += 1
            batch.notify(batch.name(path), "skipped", "already indexed (same sha256)")
            batch.docs_bar.update()
        else:
            queue.append((path, sha))
    return queue


def _index_document(batch: _Batch, parsed: ParsedFiling) -> None:
    """Embed a parsed filing's chunks and commit them, with its documents row, to the index."""
    index, summary = batch.index, batch.summary
    _harmonise_company(parsed.meta, index)
    texts = [f"{context_line(parsed.meta, c.item, c.heading)}\n{c.text}" for c in parsed.chunks]
    embed_started, embed_cpu = time.perf_counter(), time.process_time()
    vectors = batch.embedder.encode(texts, config.get_settings().embed_batch_size)
    summary.embed_seconds += time.perf_counter() - embed_started
    summary.embed_cpu_seconds += time.process_time() - embed_cpu
    summary.parse_cpu_seconds += parsed.cpu_seconds
    version = index.add_document(
        document_row(parsed, f"{index.embedder.name} ({batch.embedder.backend})", batch.ingested_by),
        chunk_rows(parsed, texts, vectors),
    )
    tieout_started = time.perf_counter()
    tieout = tie_out_tables(parsed.statements, parsed.sha256, parsed.filename, version)
    index.put_tieout(tieout)
    summary.tieout_seconds += time.perf_counter() - tieout_started
    summary.added += 1
    summary.pages += parsed.page_count
    summary.chunks += len(parsed.chunks)
    summary.boilerplate_pages += len(parsed.boilerplate)
    summary.documents.append(parsed.sha256)
    batch.pages_bar.update(parsed.page_count)
    batch.docs_bar.update()
    batch.notify(parsed.filename, parsed.status, f"{parsed.page_count} pages, {len(parsed.chunks)} chunks")
    metrics.document_ingested(parsed.status, parsed.page_count)
    log.info("document indexed", extra={"fields": {
        "file": parsed.filename, "sha256": parsed.sha256, "status": parsed.status,
        "pages": parsed.page_count, "chunks": len(parsed.chunks), "parse_s": round(parsed.seconds, 3),
        "parser": parsed.parser, "table_version": version,
        "tieout": dict(Counter(c.outcome for c in tieout.checks)),
        "boilerplate": dict(Counter(parsed.boilerplate.values())),
        "metadata": parsed.meta.__dict__}})  # fmt: skip
    if parsed.parser_note:
        summary.notes.append((parsed.filename, parsed.parser_note))
        log.warning("parser fallback", extra={"fields": {
            "file": parsed.filename, "requested": config.get_settings().parser,
            "reason": parsed.parser_note}})  # fmt: skip


def _harmonise_company(meta: FilingMetadata, index: AuditIndex) -> None:
    """A name guessed from the filename yields to the cover-page name of a filing with the same ticker."""
    if meta.sources.get("company") != "filename" or not meta.ticker:
        return
    for doc in index.list_documents():
        sources = json.loads(doc.get("metadata_sources") or "{}")
        if doc["ticker"] == meta.ticker and sources.get("company") == "document":
            meta.company = doc["company"]
            meta.sources["company"] = f"document (same ticker as {doc['filename']})"
            return
