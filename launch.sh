#!/usr/bin/env bash
# Set up everything the Financial Compliance Auditor needs, then start it.
#
#   ./launch.sh            set up (first run) and start the app on 127.0.0.1:8503
#   ./launch.sh --setup    set up only; add --extras dev for the test tools
#   ./launch.sh --check    print a diagnosis of this installation
#
# Set-up is idempotent: a second start skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
ADDRESS=${AUDITOR_SERVER_ADDRESS:-127.0.0.1}
PORT=${AUDITOR_SERVER_PORT:-8503}
SYSTEM_PACKAGES=(tesseract-ocr)

say() { printf '\033[1m[auditor]\033[0m %s\n' "$*"; }

install_system_packages() {
  local packages=("$@") missing=()
  if ! command -v apt-get >/dev/null 2>&1; then
    if [[ "$(uname -s)" == "Darwin" ]] && ! command -v tesseract >/dev/null 2>&1; then
      say "OCR for scanned pages needs tesseract: brew install tesseract"
    fi
    return 0
  fi
  for pkg in "${packages[@]}"; do
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
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

python_extras() {
  local extras=("$@")
  if [[ "$(uname -s)" == "Darwin" && "$(uname -m)" == "arm64" ]]; then extras+=(mac); fi
  local IFS=,
  echo "${extras[*]}"
}

install_python() {
  local extras
  extras=$(python_extras "$@")
  if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
      || { say "Python 3.11 or newer is required (found $("$PYTHON" --version 2>&1))"; exit 1; }
    say "creating $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp
  stamp="$("$VENV/bin/python" -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest()[:16])')-${extras}"
  if [[ "$(cat "$VENV/.installed" 2>/dev/null)" != "$stamp" ]]; then
    say "installing Python packages${extras:+ (extras: $extras)}; the first time takes a few minutes"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}"
    echo "$stamp" >"$VENV/.installed"
  fi
}

setup() {
  install_system_packages "${SYSTEM_PACKAGES[@]}"
  install_python "$@"
  mkdir -p logs data
}

check() {
  "$VENV/bin/python" - <<'PY'
import platform, shutil, importlib.metadata as md
import config, database
s = config.get_settings()
print(f"python        {platform.python_version()} ({platform.machine()})")
for pkg in ("torch", "sentence-transformers", "lancedb", "pypdfium2", "unstructured", "streamlit"):
    print(f"{pkg:<13} {md.version(pkg)}")
print(f"tesseract     {shutil.which('tesseract') or 'not installed (scanned pages will be marked needs_ocr)'}")
print(f"embed model   {s.embed_model} <- {database.resolve_model_path(s.embed_model)[1]}")
index = database.AuditIndex()
print(f"index         {s.db_uri}: {index.stats()}")
if "://" not in s.db_uri:
    free = shutil.disk_usage(s.db_uri).free / 1e9
    print(f"free disk     {free:.1f} GB")
PY
}

extras=()
mode=run
while [[ $# -gt 0 ]]; do
  case "$1" in
    --setup) mode=setup ;;
    --check) mode=check ;;
    --extras) extras+=("$2"); shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) say "unknown option $1"; exit 2 ;;
  esac
  shift
done

setup "${extras[@]}"
case "$mode" in
  setup) say "set-up complete" ;;
  check) check ;;
  run)
    say "starting the app on http://$ADDRESS:$PORT"
    exec "$VENV/bin/streamlit" run app.py --server.address "$ADDRESS" --server.port "$PORT" \
      --server.headless true --browser.gatherUsageStats false
    ;;
esac
