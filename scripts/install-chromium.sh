#!/bin/sh
# Install Debian's chromium for the real-browser tests (tests/browser.py).
#
# Why Debian's package and not `playwright install chromium`: playwright's own
# browser download is blocked in our build/CI environments, whereas the distro
# mirror is reachable. Playwright drives /usr/bin/chromium via executable_path.
#
# Idempotent: does nothing when /usr/bin/chromium already exists. Needs root
# (or sudo) because it uses apt-get.
set -eu

CHROMIUM="${PIPEBOT_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    echo "chromium already installed: $CHROMIUM"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: apt-get not found; install Chromium yourself and set PIPEBOT_CHROMIUM to its path" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-chromium: must run as root (or have sudo) to apt-get install chromium" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium fonts-liberation
echo "chromium installed: $(command -v chromium)"
