"""The parser's child process: one document parsed with a time limit and a memory cap.

A corrupt or hostile PDF can hang pdfium or eat memory; in a child process it fails alone,
with a reason, and the batch goes on. The next document is parsed in its child while the
current one is embedded (`ParseJob` starts now and is collected later).
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from compliance_auditor.parsing.converter import ParseOptions, parse_document
from compliance_auditor.parsing.pdf import IngestError
from compliance_auditor.records import ParsedFiling


def _child_main(
    conn: Connection, path: str, opts: ParseOptions, overrides: dict[str, object], display_name: str,
    sha256: str,
) -> None:  # fmt: skip
    """Entry point of the parser process: parse, send back the result or the error."""
    try:
        conn.send(("ok", parse_document(Path(path), opts, overrides, display_name, sha256)))
    except IngestError as exc:
        conn.send(("error", str(exc)))
    except Exception as exc:  # a parser bug must fail this file, not the batch
        conn.send(("error", f"parser error: {type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _watch(pid: int) -> Any:
    """A psutil handle on the parser child, or None when it has already finished."""
    import psutil

    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


class ParseJob:
    """One document being parsed in a child process, started now and collected later."""

    _context: Any = None

    def __init__(
        self, path: Path, opts: ParseOptions, overrides: dict[str, object], display_name: str = "",
        sha256: str = "",
    ) -> None:  # fmt: skip
        if ParseJob._context is None:
            method = "forkserver" if sys.platform != "win32" else "spawn"
            ParseJob._context = multiprocessing.get_context(method)
        ctx = ParseJob._context
        self.path, self.opts = path, opts
        self._conn, child_conn = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_child_main,
            args=(child_conn, str(path), opts, overrides, display_name, sha256),
            daemon=True,
        )
        self._started = time.monotonic()
        self._proc.start()
        child_conn.close()
        # Watched from its start: `multiprocessing` reaps finished children whenever another
        # process starts, so the pid may be gone by the time the result is collected.
        self._watch = _watch(self._proc.pid)

    def result(self) -> ParsedFiling:
        """Wait for the child within the time limit and memory cap; raise IngestError on failure.

        The cap is on the child's resident memory, checked every 50 ms: an address-space rlimit
        does not bound what glibc's pre-reserved arenas hand out.
        """
        try:
            kind, payload = self._wait()
        except EOFError:
            self._proc.join(5)
            code = self._proc.exitcode
            reason = f"killed by signal {-code}" if code and code < 0 else f"exit code {code}"
            raise IngestError(f"parser crashed ({reason})") from None
        finally:
            self._stop()
        if kind == "error":
            raise IngestError(payload)
        return payload

    def _wait(self) -> tuple[str, Any]:
        import psutil

        child = self._watch
        cap = self.opts.memory_mb * 1024 * 1024
        while not self._conn.poll(0.05):
            if time.monotonic() - self._started > self.opts.timeout_s:
                slow = " (hi_res: raise AUDITOR_PARSE_TIMEOUT_S or set AUDITOR_PARSER=layout)"
                hint = slow if self.opts.parser == "hi_res" else ""
                raise IngestError(f"parser timed out after {self.opts.timeout_s:.0f} s{hint}")
            try:
                rss = child.memory_info().rss if child else 0
            except psutil.Error:
                continue  # the child is exiting; poll again for its result or EOF
            if rss > cap:
                raise IngestError(
                    f"parser exceeded its memory cap of {self.opts.memory_mb} MB "
                    f"({rss / 1e6:.0f} MB resident; AUDITOR_PARSE_MEMORY_MB)"
                )
        return self._conn.recv()

    def _stop(self) -> None:
        self._conn.close()
        self._proc.join(1)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
