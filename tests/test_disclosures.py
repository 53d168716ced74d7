"""Disclosure changes between two 10-Ks: what a company added, removed or reworded in its risk
factors (and other Items), unit by unit, each with its pages and boxes.

Generated filings make the changes exact; a real pair from FinanceBench (Adobe FY2016 against
FY2017) is pinned after reading both PDFs by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compliance_auditor.disclosures import DisclosureError, compare
from compliance_auditor.disclosures.meaning import encoder
from compliance_auditor.disclosures.workpaper import report_html
from compliance_auditor.parsing.blocks import ITEM_RE
from compliance_auditor.questions import by_company
from tests.support.pdfs import empty_pdf, encrypted_pdf, text_pdf
from tests.support.tenk import CONTENTS, RISKS, cover, ten_k

FINANCEBENCH = Path(__file__).resolve().parents[2] / "shared" / "financebench" / "pdfs"
ADOBE_2016, ADOBE_2017 = FINANCEBENCH / "ADOBE_2016_10K.pdf", FINANCEBENCH / "ADOBE_2017_10K.pdf"


@pytest.fixture(scope="session")
def encode(embedder):
    """The index's embedding model as the comparison loads it (from the index's ONNX export)."""
    return encoder()


def statuses(report, item: int = 0) -> list[tuple[str, str]]:
    """(status, the risk factor's heading) of each unit, in the report's order."""
    return [(c.status, (c.new or c.old).heading) for c in report.items[item].changes]


def headed(report, start: str):
    """The change of the first Item whose unit's heading starts so."""
    return next(c for c in report.items[0].changes if (c.new or c.old).heading.startswith(start))


def test_a_filing_compared_with_itself_has_no_changes(tmp_path):
    filing = ten_k(tmp_path / "acme.pdf", ["cold", "supplier", "tax", "rivals"])
    report = compare(filing, filing)  # nothing is left to pair by meaning: no model is loaded
    item = report.items[0]
    assert item.counts == {"added": 0, "removed": 0, "changed": 0, "unchanged": 5, "moved": 0}
    assert [c.new.kind for c in item.changes] == ["paragraph"] + ["risk factor"] * 4
    assert item.new_title == "ITEM 1A. RISK FACTORS"  # the body, not the contents nor Item 1's sentence


def test_a_deleted_an_added_and_a_reworded_risk_factor_are_exactly_the_changes(tmp_path, encode):
    old = ten_k(tmp_path / "ACME_2016_10K.pdf", ["cold", "supplier", "tax", "rivals"])
    new = ten_k(tmp_path / "ACME_2017_10K.pdf", ["cold", "tax reworded", "rivals", "cyber"])
    report = compare(old, new, encode=encode)
    assert statuses(report) == [
        ("added", "A cyber attack could disrupt our factories."),
        ("removed", "We depend on a single supplier of sprockets."),
        ("changed", "Changes in tax law could reduce our earnings."),
        ("unchanged", ""),  # the introduction
        ("unchanged", "Our widgets may fail in cold weather."),
        ("unchanged", "Competition from larger firms could lower our prices."),
    ]
    reworded = report.items[0].changes[2]
    edits = [(s.op, s.text) for s in reworded.diff if s.op != "equal"]
    assert edits == [("delete", "twelve"), ("insert", "fourteen"), ("insert", "and a global minimum tax")]
    assert (reworded.words_added, reworded.words_removed) == (6, 1)
    assert (reworded.old.position, reworded.new.position) == (3, 2) and not reworded.moved


def test_every_unit_says_where_it_is_for_the_browser_to_highlight(tmp_path, encode):
    old = ten_k(tmp_path / "ACME_2016_10K.pdf", ["cold", "supplier"])
    new = ten_k(tmp_path / "ACME_2017_10K.pdf", ["cold", "cyber"])
    report = compare(old, new, encode=encode)
    assert report.old.doc_name == "ACME_2016_10K.pdf" and len(report.new.doc_sha256) == 64
    assert report.new.page_count == 5 and report.new.form_type == "10-K"
    added = report.items[0].changes[0].new
    assert added.doc_name == "ACME_2017_10K.pdf" and added.pages == [3]
    x0, top, x1, bottom = added.boxes[0].box
    assert 70 <= x0 < x1 <= 612 and 72 < top < bottom < 792  # PDF points from the top left
    assert added.text.startswith("A cyber attack could disrupt our factories.\nOur plants run on")


def test_a_risk_factor_that_moved_is_unchanged_and_its_move_noted(tmp_path):
    old = ten_k(tmp_path / "old.pdf", ["cold", "supplier", "tax", "rivals"])
    new = ten_k(tmp_path / "new.pdf", ["rivals", "cold", "supplier", "tax"])
    item = compare(old, new).items[0]
    assert item.counts == {"added": 0, "removed": 0, "changed": 0, "unchanged": 5, "moved": 1}
    moved = next(c for c in item.changes if c.moved)
    assert moved.new.heading.startswith("Competition") and (moved.old.position, moved.new.position) == (4, 1)


def test_other_items_are_compared_paragraph_by_paragraph_under_their_headings(tmp_path):
    old = ten_k(tmp_path / "old.pdf", ["cold"])
    new = ten_k(tmp_path / "new.pdf", ["cold"], extra_item_1="We opened a plant in Texas.")
    report = compare(old, new, items=["1", "Item 7"])
    business, discussion = report.items
    assert [(c.status, c.new.text) for c in business.changes if c.status != "unchanged"] == [
        ("changed", "We make widgets for industrial customers. The risks we face are in Item 1A of this "
                    "report. You should read them with care. We opened a plant in Texas.")
    ]  # fmt: skip
    assert discussion.item == "7" and discussion.counts["unchanged"] == 2
    assert {c.new.heading for c in discussion.changes} == {"Results of Operations"}


def test_an_item_ends_at_the_next_one_even_where_several_share_a_page(tmp_path):
    part_iii = ["ITEM 9A. CONTROLS AND PROCEDURES", "", "Our controls were effective.", "",
                "ITEM 9B. OTHER INFORMATION", "", "None.", "", "ITEM 10. DIRECTORS", "", "See the proxy.", "",
                "ITEM 11. EXECUTIVE COMPENSATION", "", "See the proxy."]  # fmt: skip
    filing = text_pdf(tmp_path / "acme.pdf", [cover(2016), CONTENTS, part_iii])
    (item,) = compare(filing, filing, items=["9A"]).items
    assert [c.new.text for c in item.changes] == ["Our controls were effective."]


def test_the_same_pair_gives_the_same_report(tmp_path, encode):
    old = ten_k(tmp_path / "old.pdf", ["cold", "supplier", "tax"])
    new = ten_k(tmp_path / "new.pdf", ["tax reworded", "cold", "cyber"])
    assert compare(old, new, encode=encode) == compare(old, new, encode=encode)


def test_one_companys_10ks_are_offered_together_however_their_covers_spell_its_name():
    def ten_k_of(company, year, ticker=""):
        return {"company": company, "fiscal_year": year, "ticker": ticker, "filename": f"{year}.pdf"}

    grouped = by_company([
        ten_k_of("MGM RESORTS INTERNATIONAL", 2018), ten_k_of("MGM Resorts International", 2022, "MGM"),
        ten_k_of("MGM RESORTS INTERNATIONAL", 2020, "MGM"), ten_k_of("JOHNSON & JOHNSON", 2022, "JNJ"),
        ten_k_of("JOHNSON JOHNSON", 2021, "JNJ"), ten_k_of("Johnson Controls International plc", 2022, "JCI"),
    ])  # fmt: skip
    assert {name: [d["fiscal_year"] for d in docs] for name, docs in grouped.items()} == {
        "MGM Resorts International": [2018, 2020, 2022],  # under the latest cover's name
        "JOHNSON & JOHNSON": [2021, 2022],  # one ticker
        "Johnson Controls International plc": [2022],
    }


def test_a_sentence_that_names_an_item_is_not_its_heading():
    assert ITEM_RE.match("ITEM 1A. RISK FACTORS") and ITEM_RE.match("Item 1A Risk Factors 18")
    assert ITEM_RE.match("ITEM 7 - Management's Discussion and Analysis").group(1) == "7"
    for sentence in ("Item 1A of this report. You should carefully review the risks",
                     "Item 7, Management's Discussion and Analysis of Financial Condition.",
                     "Item 1A. Risk Factors. You should carefully consider the risks below",
                     "Item 5.02. Departure of Directors or Certain Officers"):  # fmt: skip
        assert not ITEM_RE.match(sentence), sentence


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("Revenue grew.\n"), "not a PDF"),
        (lambda p: p.write_bytes(ten_k(p, ["cold"]).read_bytes()[:900]), "corrupt or truncated"),
        (lambda p: encrypted_pdf(ten_k(p.with_name("plain.pdf"), ["cold"]), p), "encrypted PDF"),
        (lambda p: empty_pdf(p), "zero pages"),
        (
            lambda p: text_pdf(p, [cover(2016), ["ITEM 7. MANAGEMENT'S DISCUSSION", "Sales rose."]]),
            "no Item 1A",
        ),
    ],
)
def test_bad_input_is_refused_with_a_reason(tmp_path, make, reason):
    bad = tmp_path / "bad.pdf"
    make(bad)
    with pytest.raises(DisclosureError, match=reason) as refused:
        compare(ten_k(tmp_path / "good.pdf", ["cold"]), bad)
    assert str(refused.value).startswith("bad.pdf: ")


def test_the_cli_prints_the_report_as_json_for_scripts_and_writes_the_workpaper(tmp_path):
    old = ten_k(tmp_path / "old.pdf", ["cold", "tax"])
    new = ten_k(tmp_path / "new.pdf", ["cold", "tax reworded", "cyber"])
    page = tmp_path / "changes.html"
    cli = [sys.executable, "-m", "compliance_auditor.disclosures"]
    done = subprocess.run([*cli, str(old), str(new), "--json", "--html", str(page)],
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    report = json.loads(done.stdout)
    changes = report["items"][0]["changes"]
    assert [(c["status"], (c["new"] or c["old"])["heading"][:22]) for c in changes[:2]] == [
        ("added", "A cyber attack could d"), ("changed", "Changes in tax law cou")
    ]  # fmt: skip
    assert changes[0]["new"]["boxes"][0]["page"] == 3 and report["new"]["doc_sha256"]
    assert "fourteen" in page.read_text()
    missing = subprocess.run([*cli, str(old), str(tmp_path / "nowhere.pdf")], capture_output=True, text=True)
    assert missing.returncode == 2 and "no file" in missing.stderr


def test_hostile_text_in_a_filing_is_shown_in_the_workpaper_never_run(tmp_path, encode):
    RISKS["hostile"] = ["<script>alert('x')</script> may <b>harm</b> us.", "<img src=x onerror=alert(1)> &."]
    try:
        old = ten_k(tmp_path / "old.pdf", ["cold"])
        new = ten_k(tmp_path / "new.pdf", ["cold", "hostile"])
        page = report_html(compare(old, new, encode=encode))
    finally:
        del RISKS["hostile"]
    assert "<script" not in page and "<img" not in page and "<b>harm" not in page
    assert "<b>&lt;script&gt;alert(" in page and "&lt;/script&gt; may &lt;b&gt;harm&lt;/b&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp;." in page


def test_the_comparison_embeds_as_the_index_does(embedder, encode):
    texts = ["Changes in tax law could reduce our earnings.", "Item 7A", "word " * 400]
    assert np.allclose(encode(texts), embedder.encode(texts), atol=1e-5)


@pytest.fixture(scope="module")
def adobe(encode):
    if not ADOBE_2017.exists():
        pytest.skip(f"FinanceBench filings not found at {FINANCEBENCH}")
    return compare(ADOBE_2016, ADOBE_2017, encode=encode)


def test_adobe_2017_risk_factors_against_2016_give_a_stable_report(adobe, encode):
    item = adobe.items[0]
    assert (adobe.old.fiscal_year, adobe.new.fiscal_year) == (2016, 2017)
    assert item.counts == {"added": 4, "removed": 2, "changed": 27, "unchanged": 0, "moved": 13}
    assert compare(ADOBE_2016, ADOBE_2017, encode=encode) == adobe


def test_adobe_2017_added_a_risk_factor_on_breaches_of_its_data_centers(adobe):
    # Read by hand: 2016 has "We rely on data centers ..." but no risk factor on breaches of them.
    change = headed(adobe, "Security breaches")
    added = change.new
    assert change.status == "added"
    assert added.heading.startswith("Security breaches in data centers we manage, or third parties manage")
    assert added.pages == [19] and added.position == 7 and added.section == ""


def test_adobe_2017_dropped_the_risk_factor_on_processing_transactions(adobe):
    removed = [c.old for c in adobe.items[0].changes if c.status == "removed"]
    assert any(u.heading == "If we fail to process transactions effectively, our revenue and earnings may be "
               "harmed." and u.pages == [27] for u in removed)  # fmt: skip


def test_adobe_2017_updated_the_dates_and_holdings_of_its_investment_portfolio(adobe):
    portfolio = headed(adobe, "Our investment portfolio")
    assert portfolio.status == "changed" and portfolio.matched_by == "wording"
    edits = [(s.op, s.text) for s in portfolio.diff if s.op != "equal"]
    assert edits[:2] == [("delete", "2, 2016"), ("insert", "1, 2017")]
    assert ("delete", "U.S. agency") in edits and ("insert", "foreign government") in edits
