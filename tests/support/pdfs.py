"""Small PDFs made by the tests: text pages, image-only pages, encrypted and broken files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


FONTS = ("Helvetica", "Helvetica-Bold", "Helvetica-Oblique", "Helvetica-BoldOblique")
"""The fonts a line may be set in: `text_pdf` takes a line as its text, or as (font, text)."""


def text_pdf(path: Path, pages: Sequence[Sequence[str | tuple[str, str]]]) -> Path:
    """A valid PDF whose pages carry the given lines in Helvetica, 12 pt, from the top left.

    A line given as (font, text) is set in that font of `FONTS` (bold, italic); an empty line
    leaves a gap, as between paragraphs.
    """
    objects: list[bytes] = []
    kids = []
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(b"")  # pages tree, filled in below
    for font in FONTS:
        objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /%s >>" % font.encode())
    font_refs = " ".join(f"/F{n + 1} {n + 3} 0 R" for n in range(len(FONTS))).encode()
    for lines in pages:
        ops = ["BT", "14 TL", "72 720 Td"]
        for line in lines:
            font, text = line if isinstance(line, tuple) else (FONTS[0], line)
            ops.append(f"/F{FONTS.index(font) + 1} 12 Tf ({_escape(text)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content_id = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << %s >> >> >>" % (content_id, font_refs)
        )
        kids.append(len(objects))
    kid_refs = " ".join(f"{k} 0 R" for k in kids).encode()
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kid_refs, len(kids))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def image_pdf(path: Path, lines: list[str]) -> Path:
    """A scanned-looking PDF: one page that is only a picture of text."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1700, 2200), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=48)
    for n, line in enumerate(lines):
        draw.text((150, 200 + 90 * n), line, fill="black", font=font)
    image.save(path, "PDF", resolution=200.0)
    return path


def encrypted_pdf(source: Path, path: Path, password: str = "secret") -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(source).pages:
        writer.add_page(page)
    writer.encrypt(user_password=password, owner_password=password + "-owner")
    with open(path, "wb") as handle:
        writer.write(handle)
    return path


def empty_pdf(path: Path) -> Path:
    """A well-formed PDF with a page tree of zero pages."""
    from pypdf import PdfWriter

    with open(path, "wb") as handle:
        PdfWriter().write(handle)
    return path
