"""Optional stage: unstructured's hi_res layout model finds titles, paragraphs and tables.

With ``AUDITOR_PARSER=hi_res`` (or ``auto`` when its layout model is already in the local
Hugging Face cache) hi_res replaces the layout blocks of the pages it reads; a table's rows
still come from the character boxes, so each row keeps its label beside its figures. Nothing
is ever downloaded: a missing extra or model falls back to the layout parser, with the reason.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compliance_auditor.parsing.blocks import Block, is_row
from compliance_auditor.parsing.pdf import Line, PageText

if TYPE_CHECKING:
    from compliance_auditor.parsing.converter import ParseOptions

# unstructured_inference's layout models and the hub file each one loads (its models/*.py).
HI_RES_MODELS = {
    "yolox": ("unstructuredio/yolo_x_layout", "yolox_l0.05.onnx"),
    "yolox_tiny": ("unstructuredio/yolo_x_layout", "yolox_tiny.onnx"),
    "yolox_quantized": ("unstructuredio/yolo_x_layout", "yolox_l0.05_quantized.onnx"),
    "detectron2_onnx": ("unstructuredio/detectron2_faster_rcnn_R_50_FPN_3x", "model.onnx"),
}
_UNINDEXED_CATEGORIES = {"Header", "Footer", "PageNumber", "PageBreak", "Image"}


def hi_res_missing(model: str, cache_dir: str | Path | None = None) -> list[str]:
    """Why unstructured's hi_res cannot run offline here; empty when it can.

    Looks only at what is installed and at the local Hugging Face cache: nothing is downloaded.
    """
    from huggingface_hub import try_to_load_from_cache

    missing = []
    if importlib.util.find_spec("unstructured_inference") is None:
        missing.append("unstructured_inference is not installed (pip install '.[hires]')")
    repo, filename = HI_RES_MODELS[model]
    if not isinstance(try_to_load_from_cache(repo, filename, cache_dir=cache_dir), str):
        missing.append(f"layout model {repo}/{filename} is not in the local Hugging Face cache")
    return missing


def choose_parser(requested: str, model: str, cache_dir: str | Path | None = None) -> tuple[str, str]:
    """The parser to run, and why it is not the one explicitly requested ("" when it is)."""
    if requested == "layout":
        return "layout", ""
    missing = hi_res_missing(model, cache_dir)
    if not missing:
        return "hi_res", ""
    # "auto" quietly means layout here; an explicit hi_res request is told why it did not run.
    return "layout", "" if requested == "auto" else "hi_res unavailable, used layout: " + "; ".join(missing)


def hi_res_elements(path: Path, opts: ParseOptions) -> list:
    """unstructured's hi_res elements for a PDF, with every model read from the local cache."""
    # Set in the parser child only: a missing model must fail fast, never start a download;
    # and unstructured's advertisement must not land in the CLI's output.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    if "huggingface_hub" in sys.modules:  # imported before the variable was set: tell it directly
        sys.modules["huggingface_hub"].constants.HF_HUB_OFFLINE = True
    from unstructured.partition.pdf import partition_pdf

    return partition_pdf(
        filename=str(path), strategy="hi_res", hi_res_model_name=opts.hi_res_model,
        languages=[opts.ocr_lang], infer_table_structure=False,
    )  # fmt: skip


def run_hi_res(path: Path, opts: ParseOptions) -> tuple[list, str]:
    """hi_res elements when hi_res was chosen, else none; and why hi_res did not serve, if it did not."""
    if opts.parser != "hi_res":
        return [], opts.parser_note
    try:
        elements = hi_res_elements(path, opts)
    except Exception as exc:  # a missing extra, model or OCR engine: the layout parser takes over
        return [], f"hi_res failed, used layout: {type(exc).__name__}: {exc}"
    if not any((e.text or "").strip() for e in elements):
        return [], "hi_res found no text, used layout"
    return elements, ""


def element_box(coordinates: Any, page_width: float, page_height: float) -> list[float]:
    """An `unstructured` element's box as ``[x0, top, x1, bottom]`` in PDF points from the top left.

    hi_res measures in pixels of the page image it rendered (a PixelSpace of the image's size);
    re-expressed in a top-left space the size of the page in points, it lines up with the
    layout parser's boxes. Any other coordinate system converts the same way.
    """
    from unstructured.documents.coordinates import PixelSpace

    page = PixelSpace(width=page_width, height=page_height)
    corners = coordinates.system.convert_multiple_coordinates_to_new_system(page, coordinates.points)
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    return [round(min(xs), 2), round(min(ys), 2), round(max(xs), 2), round(max(ys), 2)]


def blocks_from_elements(elements: list[Any], pages: list[PageText]) -> dict[int, list[Block]]:
    """hi_res elements as blocks, by page index.

    A table's rows are the layout parser's lines inside the table's box, so each row keeps its
    label next to its figures and its own box; a table region without such rows stays text.
    """
    by_page: dict[int, list[Block]] = {}
    claimed: set[int] = set()
    for element in elements:
        meta, text = element.metadata, " ".join((element.text or "").split())
        if element.category in _UNINDEXED_CATEGORIES or not text or not meta.coordinates:
            continue
        page = pages[(meta.page_number or 1) - 1]
        box = element_box(meta.coordinates, page.width, page.height)
        kind = {"Title": "title", "Table": "table"}.get(element.category, "text")
        lines = [Line(page=page.index, x0=box[0], top=box[1], x1=box[2], bottom=box[3], segments=[text])]
        if kind == "table":
            rows = [ln for ln in page.lines if id(ln) not in claimed and _centre_inside(ln, box)]
            if sum(is_row(r) for r in rows) >= 2:
                lines = rows
                claimed.update(id(r) for r in rows)
            else:
                kind = "text"
        by_page.setdefault(page.index, []).append(Block(kind, page.index, lines))
    return by_page


def _centre_inside(line: Line, box: list[float], slack: float = 2.0) -> bool:
    x, y = (line.x0 + line.x1) / 2, (line.top + line.bottom) / 2
    return box[0] - slack <= x <= box[2] + slack and box[1] - slack <= y <= box[3] + slack
