"""The parser's child process: one document parsed with a time limit and a memory cap.

A corrupt or hostile PDF can hang pdfium or eat memory; in a child process it fails alone,
with a reason, and the batch goes on. The next document is parsed in its child while the
current one is embedded (`ParseJob` starts now and is collected later).

The child is a fresh interpreter running this module (``python -m
compliance_auditor.parsing.worker``): the request comes pickled on its stdin, the result
goes back pickled on its stdout. Not `multiprocessing`: its children re-import the parent's
``__main__``, which under Streamlit is the app itself, so every upload's parser loaded the
whole workbench (torch, the embedding model, the index) before reading a page.
"""

from __future__ import annotations

import os
import pickle
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from compliance_auditor.parsing.converter import ParseOptions, parse_document
from compliance_auditor.parsing.pdf import IngestError
from compliance_auditor.records import ParsedFiling

POLL_S = 0.05


def _parse(request: tuple[str, ParseOptions, dict[str, object], str, str]) -> tuple[str, Any]:
    """In the child: parse, and return the result or the error."""
    path, opts, overrides, display_name, sha256 = request
    try:
        return "ok", parse_document(Path(path), opts, overrides, display_name, sha256)
    except IngestError as exc:
        return "error", str(exc)
    except Exception as exc:  # a parser bug must fail this file, not the batch
        return "error", f"parser error: {type(exc).__name__}: {exc}"


def _child_main() -> None:
    """Entry point of the parser process: stdout carries only the pickled result, so anything
    a library prints (to fd 1 or sys.stdout) goes to stderr instead."""
    result_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    request = pickle.load(sys.stdin.buffer)
    result_out.write(pickle.dumps(_parse(request), protocol=pickle.HIGHEST_PROTOCOL))
    result_out.close()


class ParseJob:
    """One document being parsed in a child process, started now and collected later."""

    def __init__(
        self, path: Path, opts: ParseOptions, overrides: dict[str, object], display_name: str = "",
        sha256: str = "",
    ) -> None:  # fmt: skip
        import psutil

        self.path, self.opts = path, opts
        self._started = time.monotonic()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "compliance_auditor.parsing.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
        )  # fmt: skip
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdout: IO[bytes] = self._proc.stdout
        self._watch = psutil.Process(self._proc.pid)
        request = (str(path), opts, overrides, display_name, sha256)
        try:
            self._proc.stdin.write(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
            self._proc.stdin.close()
        except OSError:
            pass  # the child died at once: `result()` reports how it ended

    def result(self) -> ParsedFiling:
        """Wait for the child within the time limit and memory cap; raise IngestError on failure.

        The cap is on the child's resident memory, checked every 50 ms: an address-space rlimit
        does not bound what glibc's pre-reserved arenas hand out.
        """
        try:
            data = self._read()
        finally:
            self._stop()
        if not data:
            code = self._proc.returncode
            reason = f"killed by signal {-code}" if code and code < 0 else f"exit code {code}"
            raise IngestError(f"parser crashed ({reason})")
        kind, payload = pickle.loads(data)
        if kind == "error":
            raise IngestError(payload)
        parsed: ParsedFiling = payload
        return parsed

    def _read(self) -> bytes:
        """Everything the child writes until it closes its stdout, within the time and memory caps."""
        chunks: list[bytes] = []
        fd = self._stdout.fileno()
        while True:
            self._check_limits()
            ready, _, _ = select.select([fd], [], [], POLL_S)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def _check_limits(self) -> None:
        import psutil

        if time.monotonic() - self._started > self.opts.timeout_s:
            slow = " (hi_res: raise AUDITOR_PARSE_TIMEOUT_S or set AUDITOR_PARSER=layout)"
            hint = slow if self.opts.parser == "hi_res" else ""
            raise IngestError(f"parser timed out after {self.opts.timeout_s:.0f} s{hint}")
        try:
            rss = self._watch.memory_info().rss
        except psutil.Error:
            return  # the child is exiting; its output, or the end of it, comes next
        if rss > self.opts.memory_mb * 1024 * 1024:
            raise IngestError(
                f"parser exceeded its memory cap of {self.opts.memory_mb} MB "
                f"({rss / 1e6:.0f} MB resident; AUDITOR_PARSE_MEMORY_MB)"
            )

    def _stop(self) -> None:
        self._stdout.close()
        try:
            self._proc.wait(1)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


if __name__ == "__main__":
    _child_main()
