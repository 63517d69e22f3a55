#!/usr/bin/env bash
# The test command: installs uv and the locked environment if needed, and Debian's chromium for the
# report's browser test where it can, lints, runs the test suite (unit tests + end-to-end
# LocalDagRunner runs on tiny data). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Bytecode is compiled once, when the environment is first installed; later commands start
# without re-checking it (`--no-sync`), which `uv run` would otherwise do on every call.
if [ -d .venv ]; then scripts/uv.sh sync --frozen; else scripts/uv.sh sync --frozen --compile-bytecode; fi
scripts/browser_deps.sh
scripts/uv.sh run --frozen --no-sync ruff check .
exec scripts/uv.sh run --frozen --no-sync pytest "$@"
