"""What a reasoning model thinks out loud (<think>…</think>) never reaches the analyst."""

from __future__ import annotations

import re
from collections.abc import Iterator

_THINK = re.compile(r"<think>.*?(</think>|\Z)", re.DOTALL)


def strip_reasoning(text: str) -> str:
    """Drop a reasoning model's <think>…</think> preamble."""
    return _THINK.sub("", text).strip()


class ReasoningFilter:
    """Passes streamed text through, holding back anything inside <think>…</think>."""

    def __init__(self) -> None:
        self._buffer = ""
        self._thinking = False

    def feed(self, piece: str) -> Iterator[str]:
        self._buffer += piece
        while self._buffer:
            tag = "</think>" if self._thinking else "<think>"
            at = self._buffer.find(tag)
            if at >= 0:
                if not self._thinking and at:
                    yield self._buffer[:at]
                self._buffer = self._buffer[at + len(tag) :]
                self._thinking = not self._thinking
                continue
            keep = _partial_suffix(self._buffer, tag)  # a tag may be split across pieces
            ready, self._buffer = (
                self._buffer[: len(self._buffer) - keep],
                self._buffer[len(self._buffer) - keep :],
            )
            if ready and not self._thinking:
                yield ready
            return

    def flush(self) -> str:
        rest, self._buffer = ("" if self._thinking else self._buffer), ""
        return rest


def _partial_suffix(text: str, tag: str) -> int:
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0
