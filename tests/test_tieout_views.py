"""A filing's tie-out as users see it: the Tie-out tab, driven like a user (the statements
footed and tied, mismatches first, each check opening its page with the figures boxed), the
tie-out workpaper, and the CLI over the filings in the index."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from lancedb.expr import col, lit
from PIL import Image
from streamlit.testing.v1 import AppTest

from compliance_auditor import workpaper
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.ingestion import ingest_paths
from compliance_auditor.records import StatementFigure
from compliance_auditor.snapshots import STYLES, snapshot
from compliance_auditor.tieout.report import boxes_by_page
from compliance_auditor.tieout.stored import tie_out_tables
from compliance_auditor.workpaper import tieout_html
from tests.support.answers import answer_record
from tests.support.filings import ROOT, ULTA

APP = str(ROOT / "app.py")


def open_tab() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    return "\n".join(e.value for e in [*at.markdown, *at.caption, *at.text, *at.error, *at.info])


def seed_cost_of_sales_error(index: AuditIndex) -> str:
    """Store the release's tie-out as if Cost of sales were printed 100 higher than it is."""
    sha = index.list_documents()[0]["sha256"]
    tables = index.tieout(sha).tables
    income = next(t for t in tables if t.statement == "income statement")
    at = next(i for i, r in enumerate(income.rows) if r.label == "Cost of sales")
    row = income.rows[at]
    seeded = StatementFigure(text="2,014,370", value=2014370.0, tolerance=0.5, box=row.figures[0].box)
    income.rows[at] = row.model_copy(update={"figures": [seeded, *row.figures[1:]]})
    index.put_tieout(tie_out_tables(tables, sha, ULTA.name, 0))
    return sha


def test_the_tab_lists_every_check_and_opens_the_first_with_its_figures_boxed(ulta):
    at = open_tab()
    shown = texts(at)
    assert "checks:" in shown and "0 do not tie" in shown
    assert any(e.label.startswith("Income statement") for e in at.expander)
    first = at.selectbox(key=f"tieout-check-{AuditIndex().list_documents()[0]['sha256']}")
    assert first.value == 0 and "Page " in shown and at.image[0].value
    assert any("stated" in t.value for t in at.text)  # the arithmetic, written out


def test_a_mismatch_comes_first_and_its_page_shows_components_and_total_in_two_colours(ulta):
    sha = seed_cost_of_sales_error(AuditIndex())
    at = open_tab()
    check = at.selectbox(key=f"tieout-check-{sha}")
    assert check.options[0].startswith("✗ Gross profit")  # mismatches first
    assert "off by 100" in texts(at) and "1 do not tie" in texts(at)
    income = next(e for e in at.expander if e.label.startswith("Income statement"))
    assert income.proto.expanded  # the statement with the mismatch is open
    assert at.caption.values.count("Page 6") == 1 and at.image[0].value  # one page, boxed
    off = next(c for c in AuditIndex().tieout(sha).checks if c.outcome == "off")
    roles = {(label, role) for label, _, role in boxes_by_page(off)[(sha, 5)]}
    assert roles == {("+", "component"), ("−", "component"), ("=", "total")}  # net sales − cost = gross


def test_a_filing_indexed_before_the_tieout_is_checked_when_opened(ulta):
    index = AuditIndex()
    sha = index.list_documents()[0]["sha256"]
    index.tieouts.delete(col("doc_sha256") == lit(sha))
    at = open_tab()
    assert "checks:" in texts(at)
    assert index.tieout(sha) is not None  # stored for the next time


def test_the_tieout_workpaper_shows_the_arithmetic_and_each_mismatch_page_boxed(ulta):
    index = AuditIndex()
    sha = seed_cost_of_sales_error(index)
    page = tieout_html(index.tieout(sha), ULTA)
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert "Gross profit, p. 6" in page and "off by 100" in page
    assert "3,226,773 − 2,014,370 = 1,212,403; stated 1,212,503" in page
    assert page.count("data:image/png;base64,") == 1  # the one mismatch's page
    clean = tieout_html(index.tieout(sha).model_copy(update={"checks": []}), ULTA)
    assert "Every checked total ties." in clean


def test_components_and_total_are_drawn_in_their_own_colours():
    box = [100.0, 100.0, 200.0, 120.0]
    green = Image.open(io.BytesIO(snapshot(ULTA, 0, [("+", box, "component")], 72))).convert("RGB")
    blue = Image.open(io.BytesIO(snapshot(ULTA, 0, [("=", box, "total")], 72))).convert("RGB")
    edge = (99, 110)  # on the left edge of the box (padded by 2 pt)
    assert green.getpixel(edge) == STYLES["component"][1][:3]
    assert blue.getpixel(edge) == STYLES["total"][1][:3]


def test_the_cli_ties_out_the_indexed_filings_and_stores_what_was_missing(ulta):
    index = AuditIndex()
    sha = index.list_documents()[0]["sha256"]
    index.tieouts.delete(col("doc_sha256") == lit(sha))
    command = [sys.executable, "-m", "compliance_auditor.tieout", "--indexed", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    (tieout,) = json.loads(done.stdout)
    assert tieout["doc_sha256"] == sha and tieout["checks"] and index.tieout(sha) is not None
    unknown = subprocess.run([*command, "no-such-filing"], capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "no indexed filing matches" in unknown.stderr


def test_an_answer_workpaper_carries_the_tieout_of_the_filings_it_cites(ulta, tmp_path):
    index = AuditIndex()
    seed_cost_of_sales_error(index)
    record = answer_record("net sales?", index.search("net sales", k=3))
    page = workpaper.write(record, tmp_path / "paper.html", "html", index).read_text()
    assert "Tie-out of the filings" in page and "1 do not tie" in page
    assert "Gross profit, p. 6" in page and "off by 100" in page


def test_a_figure_revised_since_the_earlier_filing_is_shown_with_both_places(ulta, tmp_path):
    index = AuditIndex()
    current = index.list_documents()[0]
    earlier_pdf = tmp_path / "ulta-earlier.pdf"
    earlier_pdf.write_bytes(ULTA.read_bytes() + b"\n% the earlier filing\n")  # same pages, new sha256
    ingest_paths([earlier_pdf], index, show_progress=False)
    earlier = next(d for d in index.list_documents() if d["filename"] == earlier_pdf.name)
    index.update_metadata(earlier["sha256"], fiscal_year=current["fiscal_year"] - 1)
    stored = index.tieout(earlier["sha256"])
    year = next(t for t in stored.tables if t.statement == "income statement" and "52 Weeks" in t.heading)
    row = year.rows[0]
    assert row.label == "Net sales"
    printed = StatementFigure(text="10,208,680", value=10208680.0, tolerance=0.5, box=row.figures[0].box)
    year.rows[0] = row.model_copy(update={"figures": [printed, *row.figures[1:]]})
    index.put_tieout(stored)  # as if the earlier filing had printed the year's net sales otherwise
    at = open_tab()
    prior = next(e for e in at.expander if e.label.startswith("Against the earlier filing"))
    assert "ulta-earlier.pdf" in prior.label and "1 revised or restated" in prior.label
    assert prior.proto.expanded
    check = at.selectbox(key=f"tieout-check-{current['sha256']}")
    revised = next(i for i, o in enumerate(check.options) if o.startswith("⟳ Net sales"))
    check.select_index(revised).run()
    assert any("≠ 10,208,680 (p. 6 of the earlier filing)" in t.value for t in at.text)
    pages = [c.value for c in at.caption if c.value.startswith("Page ")]
    assert pages == ["Page 6", "Page 6 of ulta-earlier.pdf"]  # the figure in each filing, boxed
