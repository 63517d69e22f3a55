#!/usr/bin/env bash
# Debian's chromium and chromium-driver, which the report's browser test drives, installed when
# missing and when this machine can (root or sudo, and apt-get). Prints one line when it cannot;
# the browser test then says what is missing.
set -uo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "petunet: no apt-get here: install chromium and chromedriver for the report's browser test" >&2
  exit 0
fi
sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true >/dev/null 2>&1; then
    sudo_cmd="sudo -n"
  else
    echo "petunet: not root and no sudo: install chromium and chromium-driver for the report's browser test" >&2
    exit 0
  fi
fi
echo "petunet: installing Debian's chromium and chromium-driver (the report's browser test)" >&2
$sudo_cmd apt-get update -qq >/dev/null 2>&1
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
  || echo "petunet: apt-get could not install chromium and chromium-driver" >&2
exit 0
