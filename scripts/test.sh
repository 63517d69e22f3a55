#!/usr/bin/env bash
# The test command: installs uv and the locked environment if needed, lints, runs the test suite
# (unit tests + end-to-end LocalDagRunner runs on tiny data). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/uv.sh sync --frozen
scripts/uv.sh run --frozen ruff check .
exec scripts/uv.sh run --frozen pytest "$@"
