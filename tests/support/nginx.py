"""nginx in the foreground as a child process, with everything it writes under one folder."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def nginx_command(prefix: Path, conf: Path, *extra: str) -> list[str]:
    """nginx with everything it writes under `prefix`: no system pid file or log touched."""
    return ["nginx", "-p", f"{prefix}/", "-c", str(conf), "-e", "stderr",
            "-g", f"pid {prefix}/nginx.pid;{''.join(extra)}"]  # fmt: skip


@contextmanager
def running_nginx(prefix: Path, conf: Path, ready_url: str, timeout_s: float = 20) -> Iterator[None]:
    """nginx serving `conf` until the block ends, once `ready_url` answers 200 through it."""
    log = (prefix / "nginx.out").open("w")
    process = subprocess.Popen(
        nginx_command(prefix, conf, " daemon off;"), stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            assert process.poll() is None, (prefix / "nginx.out").read_text()
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"nginx did not answer {ready_url}"
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
