"""The real SEC filings committed with the tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
ULTA = DATA / "ULTABEAUTY_2023Q4_EARNINGS.pdf"
"""Ulta Beauty's Q4 fiscal 2022 earnings release (8-K exhibit): 9 pages, statements as tables."""
AMCOR_8K = DATA / "AMCOR_2022_8K_dated-2022-07-01.pdf"
"""Amcor's 8-K of July 2022: a cover page, Item 8.01, a signature page and an indenture."""
