"""Workpapers: an answer record as a self-contained HTML or Markdown file, with every citation's
page rendered and its box highlighted (`snapshots.py`), the verification verdicts and the
record's hash; and a filing's tie-out as HTML, its mismatches' pages boxed. All model and
filing text is escaped: the workpaper shows it, it never runs it.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from compliance_auditor.records import AnswerRecord, Citation, FilingTieOut, SignOffRecord
from compliance_auditor.snapshots import Snapshots, citation_snapshots, snapshot
from compliance_auditor.tieout.report import OUTCOME_LABELS, boxes_by_page, check_title, grouped, tally

VERIFY_COMMAND = "python -m compliance_auditor.audit verify"

# --------------------------------------------------------------------------- shared content


def _describe(item: Any) -> str:
    if isinstance(item, BaseModel):
        item = item.model_dump(mode="json")
    if isinstance(item, dict):
        return "; ".join(f"{k}: {v if isinstance(v, str) else json.dumps(v)}" for k, v in item.items())
    return item if isinstance(item, str) else json.dumps(item)


def _facts(record: AnswerRecord, signoff: SignOffRecord | None) -> list[tuple[str, str]]:
    k = record.k if record.k is not None else ""
    search = f"{record.search_mode}, k={k}, filters {json.dumps(record.filters)}"
    state = "not signed off"
    if signoff:
        state = (f"{signoff.verdict} by {signoff.reviewer} at {signoff.ts}"
                 f" ({signoff.comment or 'no comment'}; sign-off hash {signoff.hash})")  # fmt: skip
    return [
        ("Record id", record.id),
        ("Record hash (SHA-256)", record.hash),
        ("Previous hash", record.prev_hash),
        ("Recorded (UTC)", record.ts),
        ("User", record.user),
        ("Mode", record.mode),
        ("Model", record.model),
        ("Provider", record.provider),
        ("Endpoint", record.endpoint),
        ("Index version", str(record.table_version if record.table_version is not None else "")),
        ("Search", search),
        ("Latency", f"{record.latency_s} s"),
        ("Sign-off", state),
    ]


def _verification(record: AnswerRecord) -> tuple[str, list[tuple[str, list[str]]]]:
    checks = record.verification
    verdict = "verified" if checks.ok else "NOT verified"
    groups = [
        (title, [_describe(item) for item in getattr(checks, key)])
        for title, key in (("Warnings", "warnings"), ("Unsupported sentences", "unsupported_sentences"),
                           ("Numbers", "numbers"), ("Citation checks", "citations"))
    ]  # fmt: skip
    return verdict, [(title, items) for title, items in groups if items]


def _retrieved(record: AnswerRecord) -> list[list[str]]:
    grades = {g.chunk_id: "relevant" if g.relevant else "not relevant" for g in record.grades}
    return [
        [r.chunk_id, r.doc_name, str(r.page + 1), grades.get(r.chunk_id, "not graded")]
        for r in record.retrieved
    ]


def _box(citation: Citation) -> str:
    return json.dumps([round(float(v), 1) for v in citation.bbox])


def _png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


# --------------------------------------------------------------------------- HTML


HTML_CSS = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}
table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
.hash{font-family:monospace;word-break:break-all}
blockquote{border-left:4px solid #dc2626;margin:0;padding:.25rem 1rem;background:#fff8db}
img{max-width:100%;border:1px solid #999}
.answer{white-space:pre-wrap}
.bad{color:#b91c1c}
.off{background:#fee2e2}.unchecked{background:#f3f4f6}.ties{background:#dcfce7}
"""


def render_html(record: AnswerRecord, snapshots: Snapshots, signoff: SignOffRecord | None = None,
                tieouts: Sequence[FilingTieOut] = ()) -> str:  # fmt: skip
    """The workpaper as one HTML page: no script, no external resource, snapshots inlined; with
    `tieouts`, the tie-out of each cited filing after the answer."""
    e = html.escape
    head = (f"<!doctype html><html><head><meta charset='utf-8'><title>Workpaper {e(record.id)}"
            f"</title><style>{HTML_CSS}</style></head><body><h1>Audit workpaper</h1>")  # fmt: skip
    return head + answer_html(record, snapshots, signoff) + tieout_summary_html(tieouts) + "</body></html>"


def answer_html(record: AnswerRecord, snapshots: Snapshots, signoff: SignOffRecord | None = None) -> str:
    """An answer's part of a workpaper: facts, question, answer, citations with their pages,
    verification, what was retrieved, and the record's hash."""
    e = html.escape
    parts = ["<table>"]
    parts += [f"<tr><th>{e(k)}</th><td class='hash'>{e(v)}</td></tr>" for k, v in _facts(record, signoff)]
    parts.append(f"</table><h2>Question</h2><p>{e(record.question)}</p>")
    parts.append(f"<h2>Answer</h2><p class='answer'>{e(record.answer)}</p><h2>Citations</h2>")
    cited = record.citations or record.evidence[:1]  # no model: the best evidence stands in
    for citation in cited:
        parts.append(_html_citation(citation, snapshots.get(citation.n)))
    verdict, groups = _verification(record)
    parts.append(f"<h2>Verification</h2><p class='{'' if verdict == 'verified' else 'bad'}'>{e(verdict)}</p>")
    for title, items in groups:
        parts.append(f"<h3>{e(title)}</h3><ul>" + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>")
    parts.append("<h2>Retrieved</h2><table><tr><th>Chunk</th><th>Filing</th><th>Page</th><th>Grade</th></tr>")
    parts += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in _retrieved(record)]
    parts.append("</table>")
    parts.append(_html_list("Reflections", [_describe(r) for r in record.reflections]))
    parts.append(_html_list("Prompt hashes", record.prompt_hashes))
    parts.append(_html_list("Errors", record.errors))
    parts.append(f"<p class='hash'>Record hash {e(record.hash)}: check it with "
                 f"<code>{VERIFY_COMMAND}</code>.</p>")  # fmt: skip
    return "".join(parts)


def _html_citation(citation: Citation, snap: bytes | str | None) -> str:
    e = html.escape
    page = citation.page + 1
    head = (f"<h3>[{citation.n}] {e(citation.doc_name)}, page {page}</h3>"
            f"<p class='hash'>sha256 {e(citation.doc_sha256)}"
            f" · box {e(_box(citation))} pt · chunk {e(citation.chunk_id)}</p>"
            f"<blockquote>{e(citation.text)}</blockquote>")  # fmt: skip
    if isinstance(snap, bytes):
        alt = f"page {page} of {citation.doc_name}, box highlighted"
        return head + f"<p><img alt='{e(alt)}' src='{_png_uri(snap)}'></p>"
    return head + f"<p class='bad'>No snapshot: {e(snap or 'not rendered')}</p>"


def _html_list(title: str, items: list[str]) -> str:
    if not items:
        return ""
    listed = "".join(f"<li>{html.escape(i)}</li>" for i in items)
    return f"<h2>{html.escape(title)}</h2><ul>{listed}</ul>"


# --------------------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}()#+!|~])")


def md_escape(text: str) -> str:
    """Text that Markdown shows as it is: no emphasis, links, images or raw HTML."""
    text = html.escape(str(text), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)


def render_markdown(
    record: AnswerRecord,
    snapshots: Snapshots,
    signoff: SignOffRecord | None = None,
    image_dir: Path | None = None,
) -> str:
    """The workpaper as Markdown. Snapshots are written to `image_dir` (linked by relative path)
    or, without one, inlined as data URIs."""
    lines = ["# Audit workpaper", "", "| | |", "|---|---|"]
    lines += [f"| {md_escape(k)} | {md_escape(v)} |" for k, v in _facts(record, signoff)]
    lines += ["", "## Question", "", _md_block(record.question), "", "## Answer", ""]
    lines += [_md_block(record.answer), "", "## Citations", ""]
    for citation in record.citations:
        lines += _md_citation(citation, snapshots.get(citation.n), image_dir)
    verdict, groups = _verification(record)
    lines += ["## Verification", "", f"**{verdict}**", ""]
    for title, items in groups:
        lines += [f"### {title}", "", *[f"- {md_escape(i)}" for i in items], ""]
    lines += ["## Retrieved", "", "| Chunk | Filing | Page | Grade |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in _retrieved(record)]
    lines += ["", *_md_list("Reflections", [_describe(r) for r in record.reflections])]
    lines += _md_list("Prompt hashes", record.prompt_hashes)
    lines += _md_list("Errors", record.errors)
    lines.append(f"Record hash `{record.hash}`: check it with `{VERIFY_COMMAND}`.")
    return "\n".join(lines) + "\n"


def _md_block(text: str) -> str:
    return "\n".join(md_escape(line) + "  " for line in str(text).splitlines()) or "\\-"


def _md_citation(citation: Citation, snap: bytes | str | None, image_dir: Path | None) -> list[str]:
    n, page = citation.n, citation.page + 1
    lines = [
        f"### \\[{n}\\] {md_escape(citation.doc_name)}, page {page}",
        "",
        f"sha256 `{md_escape(citation.doc_sha256)}` · box {md_escape(_box(citation))} pt"
        f" · chunk `{md_escape(citation.chunk_id)}`",
        "",
        *[f"> {md_escape(line)}" for line in citation.text.splitlines() or [""]],
        "",
    ]
    if not isinstance(snap, bytes):
        return [*lines, f"No snapshot: {md_escape(snap or 'not rendered')}", ""]
    if image_dir is None:
        return [*lines, f"![page {page}, box highlighted]({_png_uri(snap)})", ""]
    image_dir.mkdir(parents=True, exist_ok=True)
    (image_dir / f"citation-{n}.png").write_bytes(snap)
    return [*lines, f"![page {page}, box highlighted]({image_dir.name}/citation-{n}.png)", ""]


def _md_list(title: str, items: list[str]) -> list[str]:
    return [f"## {title}", "", *[f"- {md_escape(i)}" for i in items], ""] if items else []


# --------------------------------------------------------------------------- tie-out


def tieout_html(tieout: FilingTieOut, pdf: Path | None, dpi: int | None = None) -> str:
    """A filing's tie-out as one HTML page: its facts, every check by statement (mismatches
    first) with the arithmetic written out, and each mismatch's page with its figures boxed
    (components green, the total blue). `pdf` is the stored filing; None when it is missing."""
    e = html.escape
    name = tieout.doc_name or tieout.doc_sha256[:12]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Tie-out: {e(name)}</title>"
             f"<style>{HTML_CSS}</style></head><body>"
             f"<h1>Tie-out: {e(name)}</h1><table>"]  # fmt: skip
    facts = [("Filing", name), ("sha256", tieout.doc_sha256), ("Result", tally(tieout.checks)),
             ("Tie-out version", str(tieout.version)), ("Index version", str(tieout.index_version)),
             ("Computed (UTC)", tieout.computed_at)]  # fmt: skip
    parts += [f"<tr><th>{e(k)}</th><td class='hash'>{e(v)}</td></tr>" for k, v in facts]
    parts.append("</table>")
    for statement, checks in grouped(tieout.checks):
        parts.append(f"<h2>{e(statement.capitalize())}: {e(tally(checks))}</h2><table>")
        parts.append("<tr><th>Total</th><th>Outcome</th><th>Arithmetic, column by column</th></tr>")
        for check in checks:
            lines = "<br>".join(e(line) for line in [*check.arithmetic, check.reason] if line)
            parts.append(f"<tr class='{check.outcome}'><td>{e(check_title(check))}</td>"
                         f"<td>{e(OUTCOME_LABELS[check.outcome])}</td><td>{lines}</td></tr>")  # fmt: skip
        parts.append("</table>")
    parts.append(_mismatch_pages(tieout, pdf, dpi))
    return "".join(parts) + "</body></html>"


def stored_tieouts(index: Any, doc_sha256s: Sequence[str]) -> list[FilingTieOut]:
    """The stored tie-outs of these filings, in order, each once; a filing without one is left out."""
    found = (index.tieout(sha) for sha in dict.fromkeys(doc_sha256s))
    return [tieout for tieout in found if tieout is not None]


def tieout_summary_html(tieouts: Sequence[FilingTieOut]) -> str:
    """Each filing's tie-out in brief, for a workpaper about something else: the tally, then
    every mismatch and every total that could not be checked, with the arithmetic."""
    e = html.escape
    parts = ["<h2>Tie-out of the filings</h2>"] if tieouts else []
    for tieout in tieouts:
        parts.append(f"<h3>{e(tieout.doc_name)}: {e(tally(tieout.checks))}</h3>")
        notable = [c for _, checks in grouped(tieout.checks) for c in checks if c.outcome != "ties"]
        if notable:
            rows = "".join(
                f"<tr class='{c.outcome}'><td>{e(check_title(c))}</td><td>{e(c.statement)}</td>"
                f"<td>{e(OUTCOME_LABELS[c.outcome])}</td><td>{e(c.reason)}</td></tr>"
                for c in notable
            )
            parts.append(f"<table>{rows}</table>")
    return "".join(parts)


def _mismatch_pages(tieout: FilingTieOut, pdf: Path | None, dpi: int | None) -> str:
    mismatches = [c for c in tieout.checks if c.outcome == "off"]
    if not mismatches:
        return "<p>Every checked total ties.</p>"
    if pdf is None:
        return "<p class='bad'>The stored filing is missing or has changed: no page is shown.</p>"
    parts = ["<h2>Where the mismatches are</h2>"]
    for check in mismatches:
        parts.append(f"<h3>{html.escape(check_title(check))}: {html.escape(check.reason)}</h3>")
        for (_, page), boxes in boxes_by_page(check).items():
            alt = html.escape(f"page {page + 1}, components in green, the total in blue")
            parts.append(f"<p><img alt='{alt}' src='{_png_uri(snapshot(pdf, page, boxes, dpi))}'></p>")
    return "".join(parts)


# --------------------------------------------------------------------------- files


def write(
    record: AnswerRecord,
    out: str | Path,
    fmt: str,
    index: Any,
    signoff: SignOffRecord | None = None,
    dpi: int | None = None,
) -> Path:
    """Write the workpaper as `fmt` ("html" or "md"; Markdown's snapshots go to `<name>_files/`)."""
    if fmt not in ("html", "md"):
        raise ValueError("format must be md or html")
    out = Path(out)
    snapshots = citation_snapshots(record, index, dpi)
    if fmt == "html":
        cited = stored_tieouts(index, [c.doc_sha256 for c in record.citations or record.evidence[:1]])
        text = render_html(record, snapshots, signoff, cited)
    else:
        text = render_markdown(record, snapshots, signoff, out.with_name(out.stem + "_files"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
