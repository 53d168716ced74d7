"""OCR of image-only pages: render the page and read its words and their boxes with tesseract.

Each word comes back as one pseudo-character, so the line builder of `pdf.py` groups them
into lines exactly as it groups a text layer's characters.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compliance_auditor.parsing.converter import ParseOptions
    from compliance_auditor.parsing.pdf import Char

MIN_CONFIDENCE = 30


def read_words(page: Any, opts: ParseOptions) -> list[Char]:
    """Every word tesseract reads on a pdfium page, with its box in points from the top left."""
    scale = opts.ocr_dpi / 72
    image = page.render(scale=scale).to_pil()
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "page.png"
        image.save(png)
        out = subprocess.run(
            ["tesseract", str(png), "stdout", "-l", opts.ocr_lang, "tsv"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    words: list[Char] = []
    for row in out.splitlines()[1:]:  # TSV: level ... left top width height conf text
        cols = row.split("\t")
        if len(cols) < 12 or not cols[11].strip() or float(cols[10]) < MIN_CONFIDENCE:
            continue
        left, top, width, height = (int(v) / scale for v in cols[6:10])
        words.append((cols[11].strip(), left, top, left + width, top + height, True, 0))
    return words
