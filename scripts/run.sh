#!/usr/bin/env bash
# The run command: installs uv and the locked environment if needed, then runs the pipeline locally
# (demo preset on generated synthetic pets unless told otherwise). Arguments go to local_runner.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Bytecode is compiled once, when the environment is first installed; later commands start
# without re-checking it (`--no-sync`), which `uv run` would otherwise do on every call.
if [ -d .venv ]; then scripts/uv.sh sync --frozen; else scripts/uv.sh sync --frozen --compile-bytecode; fi
exec scripts/uv.sh run --frozen --no-sync python local_runner.py "$@"
