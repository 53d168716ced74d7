"""Whether a character is set in a bold or an italic font, as pypdfium2 reports the font.

A 10-K's risk factors are headed by bold or italic sentences, so the font is what tells a
heading from its paragraph. The font's name says so in most filings
(``TimesNewRoman-BoldItalic``); the font flags and italic angle next; and where a filing
embeds its fonts under anonymous names (``CIDFont+F2``), the embedded TrueType's own tables
(``head.macStyle``, ``OS/2`` weight class) do. Each font is looked at once per document.
"""

from __future__ import annotations

import ctypes
import re
import struct
from typing import Any

BOLD, ITALIC = 1, 2

_BOLD_NAME_RE = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
_ITALIC_NAME_RE = re.compile(r"italic|oblique", re.IGNORECASE)
_FLAG_ITALIC, _FLAG_FORCE_BOLD = 1 << 6, 1 << 18  # PDF font descriptor flags
_SFNT_MAGIC = (b"\x00\x01\x00\x00", b"true", b"OTTO")


class FontStyles:
    """The style (BOLD | ITALIC bits) of each font of one open document, read once per font.

    Fonts are looked up by their handle within a page (pdfium may free a font once no page
    holds it, so a handle is not a key across pages) and by name and embedded size across
    pages, where the expensive look into the font program is cached.
    """

    def __init__(self) -> None:
        self._by_handle: dict[int, int] = {}
        self._by_program: dict[tuple[str, int], int] = {}
        self._name = ctypes.create_string_buffer(256)

    def new_page(self) -> None:
        self._by_handle.clear()

    def of_char(self, textpage: Any, index: int) -> int:
        """The style of the font of character `index` of a raw text page."""
        from pypdfium2 import raw

        obj = raw.FPDFText_GetTextObject(textpage, index)
        font = raw.FPDFTextObj_GetFont(obj) if obj else None
        if not font:
            return 0
        key = ctypes.cast(font, ctypes.c_void_p).value or 0
        style = self._by_handle.get(key)
        if style is None:
            style = self._by_handle[key] = self._style_of(font)
        return style

    def _style_of(self, font: Any) -> int:
        from pypdfium2 import raw

        raw.FPDFFont_GetBaseFontName(font, self._name, len(self._name))
        name = self._name.value.decode("latin-1")
        flags = raw.FPDFFont_GetFlags(font)
        angle = ctypes.c_int(0)
        raw.FPDFFont_GetItalicAngle(font, ctypes.byref(angle))
        weight = raw.FPDFFont_GetWeight(font)
        style = BOLD if _BOLD_NAME_RE.search(name) or flags & _FLAG_FORCE_BOLD or 600 <= weight <= 1000 else 0
        if _ITALIC_NAME_RE.search(name) or flags & _FLAG_ITALIC or angle.value:
            style |= ITALIC
        if style or not raw.FPDFFont_GetIsEmbedded(font):
            return style
        return self._embedded_style(font, name)

    def _embedded_style(self, font: Any, name: str) -> int:
        from pypdfium2 import raw

        size = ctypes.c_ulong(0)
        raw.FPDFFont_GetFontData(font, None, 0, ctypes.byref(size))
        key = (name, size.value)
        if key not in self._by_program:
            data = (ctypes.c_ubyte * size.value)()
            raw.FPDFFont_GetFontData(font, data, size.value, ctypes.byref(size))
            self._by_program[key] = sfnt_style(bytes(data))
        return self._by_program[key]


def sfnt_style(program: bytes) -> int:
    """BOLD | ITALIC as a TrueType/OpenType program states them; 0 for any other program."""
    if len(program) < 12 or program[:4] not in _SFNT_MAGIC:
        return 0
    (tables,) = struct.unpack_from(">H", program, 4)
    found: dict[bytes, int] = {}
    for n in range(min(tables, 64)):
        at = 12 + 16 * n
        if at + 16 > len(program):
            break
        tag, _checksum, offset, _length = struct.unpack_from(">4sIII", program, at)
        found[tag] = offset
    style = 0
    if (head := found.get(b"head")) is not None and head + 46 <= len(program):
        (mac_style,) = struct.unpack_from(">H", program, head + 44)
        style |= (BOLD if mac_style & 1 else 0) | (ITALIC if mac_style & 2 else 0)
    if (os2 := found.get(b"OS/2")) is not None and os2 + 64 <= len(program):
        (weight_class,) = struct.unpack_from(">H", program, os2 + 4)
        (selection,) = struct.unpack_from(">H", program, os2 + 62)
        style |= (BOLD if weight_class >= 600 or selection & 0x20 else 0) | (ITALIC if selection & 1 else 0)
    return style
