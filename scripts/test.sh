#!/usr/bin/env bash
# The test command: installs uv and the locked environment if needed, and Debian's chromium for the
# report's browser test where it can, lints, runs the test suite (unit tests + end-to-end
# LocalDagRunner runs on tiny data). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/uv.sh sync --frozen
scripts/browser_deps.sh
scripts/uv.sh run --frozen ruff check .
exec scripts/uv.sh run --frozen pytest "$@"
