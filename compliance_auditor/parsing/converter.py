"""The converter: one PDF in, one `ParsedFiling` out, through the stages of this package.

    pdf.py          open the file, rebuild lines from character boxes (OCR for scanned pages)
    metadata.py     company, form, fiscal year and period from the cover page
    hi_res.py       optional: unstructured's layout model finds the blocks instead
    blocks.py       titles, paragraphs and tables, tagged with their Item and heading
    chunking.py     chunks that fit the embedding window
    boilerplate.py  pages counted but not indexed (contents, exhibit index, signatures)
    page_roles.py   each page's role (a statement, a note, an Item, ...), set on its chunks

`worker.py` runs the converter in a child process with a time limit and a memory cap.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from compliance_auditor import config
from compliance_auditor.files import file_sha256
from compliance_auditor.page_roles import page_roles
from compliance_auditor.parsing.blocks import build_blocks
from compliance_auditor.parsing.boilerplate import boilerplate_pages
from compliance_auditor.parsing.chunking import WindowFitter, chunk_blocks
from compliance_auditor.parsing.hi_res import blocks_from_elements, choose_parser, run_hi_res
from compliance_auditor.parsing.metadata import apply_overrides, extract_metadata
from compliance_auditor.parsing.pdf import IngestError, extract_pages
from compliance_auditor.parsing.statements import statement_tables
from compliance_auditor.records import ParsedFiling


@dataclass(frozen=True)
class ParseOptions:
    """Everything the parser child needs, passed explicitly: it must not read stale settings."""

    max_pages: int
    ocr: bool
    ocr_dpi: int
    ocr_lang: str
    chunk_max_chars: int
    tokenizer_file: str | None
    max_tokens: int
    timeout_s: float
    memory_mb: int
    parser: str = "layout"
    parser_note: str = ""
    hi_res_model: str = "yolox"
    skip_boilerplate: bool = True

    @classmethod
    def from_settings(cls, tokenizer_file: str | None, max_tokens: int) -> ParseOptions:
        s = config.get_settings()
        parser, note = choose_parser(s.parser, s.hi_res_model)
        return cls(
            max_pages=s.max_pages,
            ocr=s.ocr and shutil.which("tesseract") is not None,
            ocr_dpi=s.ocr_dpi,
            ocr_lang=s.ocr_lang,
            chunk_max_chars=s.chunk_max_chars,
            tokenizer_file=tokenizer_file,
            max_tokens=max_tokens,
            timeout_s=s.parse_timeout_s,
            memory_mb=s.parse_memory_mb,
            parser=parser,
            parser_note=note,
            hi_res_model=s.hi_res_model,
            skip_boilerplate=s.skip_boilerplate,
        )


def parse_document(
    path: Path, opts: ParseOptions, overrides: dict[str, object], display_name: str = "", sha256: str = ""
) -> ParsedFiling:
    """Parse, describe and chunk one PDF. Raises IngestError for a file that cannot be indexed.

    `display_name` is the name the user knows the file by (an upload is stored under a
    generated name); it is what the index shows and the metadata fallback reads. `sha256` is
    the file's hash when the caller has it already (ingestion hashes every file to skip
    those it has), so the file is not read twice for it.
    """
    filename = display_name or path.name
    start, cpu_start = time.perf_counter(), time.process_time()
    pages = extract_pages(path, opts)
    unreadable = [p.index for p in pages if p.image_only and not p.ocr]
    if not any(p.lines for p in pages):
        if unreadable:
            raise IngestError("image-only pages and no OCR available (install tesseract-ocr)")
        raise IngestError("no extractable text on any page")
    meta = apply_overrides(extract_metadata(pages, filename), overrides)
    elements, parser_note = run_hi_res(path, opts)
    blocks = build_blocks(pages, meta.form_type, blocks_from_elements(elements, pages))
    tokenizer = Path(opts.tokenizer_file) if opts.tokenizer_file else None
    chunks = chunk_blocks(blocks, meta, WindowFitter(tokenizer, opts.max_tokens), opts.chunk_max_chars)
    boilerplate = boilerplate_pages(pages) if opts.skip_boilerplate else {}
    statements = statement_tables(blocks)
    roles = page_roles(chunks, meta.form_type)
    for chunk in chunks:
        chunk.page_role = roles[chunk.page].role
    content = [c for c in chunks if c.page not in boilerplate]
    if not content:  # a document that is all formality is still indexed, never left empty
        content, boilerplate = chunks, {}
    return ParsedFiling(
        path=str(path),
        filename=filename,
        sha256=sha256 or file_sha256(path),
        meta=meta,
        page_count=len(pages),
        page_sizes=[(p.width, p.height) for p in pages],
        chunks=content,
        ocr_pages=[p.index for p in pages if p.ocr],
        unreadable_pages=unreadable,
        seconds=time.perf_counter() - start,
        parser="hi_res" if elements else "layout",
        parser_note=parser_note,
        boilerplate=boilerplate,
        cpu_seconds=time.process_time() - cpu_start,
        statements=statements,
    )
