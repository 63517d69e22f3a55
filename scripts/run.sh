#!/usr/bin/env bash
# The run command: installs uv and the locked environment if needed, then runs the pipeline locally
# (demo preset on generated synthetic pets unless told otherwise). Arguments go to local_runner.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/uv.sh sync --frozen
exec scripts/uv.sh run --frozen python local_runner.py "$@"
