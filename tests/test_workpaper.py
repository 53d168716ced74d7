"""Workpapers: page snapshots whose highlight sits on the cited text, and exports that hold
the record's hash and show model and filing text without running it."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
from PIL import Image, ImageChops

from compliance_auditor import snapshots, workpaper
from compliance_auditor.audit import chain, cli
from compliance_auditor.audit.signoff import signoff
from tests.support.answers import answer_record
from tests.support.filings import ULTA

KNOWN = "Gross profit increased 18.0%"  # on the second page of the Ulta release
OUTSIDE = "For the Full Year of Fiscal 2022"  # the heading below the cited chunk


def text_box(pdf, page: int, text: str) -> list[float]:
    """Where pdfium's own text search finds `text`: [x0, top, x1, bottom] in points from the top-left."""
    document = pdfium.PdfDocument(pdf)
    try:
        sheet = document[page]
        chars = sheet.get_textpage()
        first, count = chars.search(text).get_next()
        boxes = [chars.get_charbox(i) for i in range(first, first + count)]  # left, bottom, right, top
        height = sheet.get_height()
        return [min(b[0] for b in boxes), height - max(b[3] for b in boxes),
                max(b[2] for b in boxes), height - min(b[1] for b in boxes)]  # fmt: skip
    finally:
        document.close()


def test_a_box_in_points_scales_to_pixels_without_flipping():
    assert snapshots.pixel_box([72, 144, 216, 288], dpi=144) == (144, 288, 432, 576)


def test_the_highlight_covers_the_cited_text_where_it_is_on_the_page(ulta_index):
    result = ulta_index.search(
        "gross profit increased in the fourth quarter", k=5, filters={"doc_name": ULTA.name}
    )
    hit = next(h for h in result.hits if KNOWN in h.text)
    assert hit.page == 1

    dpi = 100
    plain = snapshots.render_page(ULTA, hit.page, dpi)
    png = snapshots.snapshot(ULTA, hit.page, [("[1]", hit.bbox)], dpi)
    marked = Image.open(io.BytesIO(png)).convert("RGB")
    left, top, right, bottom = ImageChops.difference(plain, marked).getbbox()  # what the highlight drew
    x0, y0, x1, y1 = snapshots.pixel_box(text_box(ULTA, hit.page, KNOWN), dpi)

    assert left <= x0 and top <= y0 and right >= x1 and bottom >= y1
    assert snapshots.pixel_box(text_box(ULTA, hit.page, OUTSIDE), dpi)[1] > bottom  # not the next section
    inside = ImageChops.difference(plain.crop((x0, y0, x1, y1)), marked.crop((x0, y0, x1, y1)))
    assert inside.getbbox() is not None  # the text itself is tinted
    assert snapshots.snapshot(ULTA, hit.page, [("[1]", hit.bbox)], dpi) is png  # rendered once


def test_an_export_holds_the_record_hash_snapshots_and_escaped_text(ulta_index, set_env, tmp_path):
    set_env(db_uri=ulta_index.uri)
    log = tmp_path / "audit.jsonl"
    asked = "Did gross profit <b>grow</b> in the fourth quarter?"
    result = ulta_index.search(asked, k=5, filters={"doc_name": ULTA.name})
    record = answer_record(asked, result, answer="It grew <script>alert('x')</script> [1]")
    record.citations[0].text = "<img src=x onerror=alert(1)> " + record.citations[0].text
    stored = chain.append(record, log)
    signoff(stored["hash"], "Dana Reviewer", "approved", "ties to the release", log)

    html_file = tmp_path / "paper.html"
    assert (
        cli.main(["export", stored["id"], "--format", "html", "--out", str(html_file), "--log", str(log)])
        == 0
    )
    page = html_file.read_text()
    assert stored["hash"] in page
    assert "<script>" not in page and "&lt;script&gt;" in page and "<img src=x" not in page
    assert "Did gross profit &lt;b&gt;grow&lt;/b&gt;" in page
    assert page.count("src='data:image/png;base64,") == 1 and "src='http" not in page
    for fact in ("test-model", "http://127.0.0.1:8080/v1", f"<td class='hash'>{result.table_version}</td>"):
        assert fact in page
    assert "approved by Dana Reviewer" in page

    md_file = tmp_path / "paper.md"
    assert cli.main(["export", stored["id"], "--format", "md", "--out", str(md_file), "--log", str(log)]) == 0
    text = md_file.read_text()
    assert stored["hash"] in text and "<script>" not in text and "&lt;script&gt;" in text
    assert "](paper_files/citation-1.png)" in text
    assert Image.open(tmp_path / "paper_files" / "citation-1.png").size == (850, 1100)  # letter page, 100 dpi


def test_a_citation_whose_filing_is_gone_says_so_instead_of_a_snapshot(ulta_index):
    result = ulta_index.search("net sales", k=3, filters={"doc_name": ULTA.name})
    record = answer_record("net sales?", result)
    record.citations[0].doc_sha256 = "0" * 64
    pictures = snapshots.citation_snapshots(record, ulta_index)
    assert "No snapshot: the filing with this sha256 is not" in workpaper.render_html(record, pictures)


def test_markdown_shows_links_and_markup_from_a_model_as_plain_text():
    escaped = workpaper.md_escape("see [this](javascript:alert(1)) and *bold* <b>x</b>")
    assert escaped == r"see \[this\]\(javascript:alert\(1\)\) and \*bold\* &lt;b&gt;x&lt;/b&gt;"
