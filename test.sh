#!/usr/bin/env bash
# Set up everything the tests need (system packages, .venv, test tools), then run them.
#   ./test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")"
./launch.sh --setup --extras dev
exec .venv/bin/python -m pytest "$@"
