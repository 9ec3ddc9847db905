#!/usr/bin/env bash
# Sets up a fresh Debian machine (tools/setup.sh) and runs lint, types and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh --test
.venv/bin/ruff check vncwall tests tools setup.py
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
