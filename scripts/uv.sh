#!/usr/bin/env bash
# Runs uv, installing it first when this machine has none that works.
# Why a wrapper: a fresh machine may have only Python and git, and a pyenv shim named `uv`
# can exist without a working uv behind it, so `command -v uv` is not enough.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
local_uv="$root/.tools/uv/bin/uv"

if uv --version >/dev/null 2>&1; then
  exec uv "$@"
fi
if [ ! -x "$local_uv" ]; then
  echo "uv not found: installing it into .tools/uv" >&2
  python3 -m venv "$root/.tools/uv" >/dev/null 2>&1 \
    || { rm -rf "$root/.tools/uv"; python3 -m venv --without-pip "$root/.tools/uv"; }
  if [ -x "$root/.tools/uv/bin/pip" ]; then
    "$root/.tools/uv/bin/pip" install --quiet uv
  else
    python3 -m pip install --quiet --target "$root/.tools/uv/lib/uv-pkg" uv
    mkdir -p "$root/.tools/uv/bin"
    ln -sf "$root/.tools/uv/lib/uv-pkg/bin/uv" "$local_uv"
  fi
fi
exec "$local_uv" "$@"
