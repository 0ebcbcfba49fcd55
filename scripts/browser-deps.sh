#!/usr/bin/env bash
# What tests/browser needs, idempotently (quick when already there): Debian's chromium with fonts that draw emoji,
# and Python Playwright (pinned) in the project's virtualenv. Playwright drives /usr/bin/chromium; it never
# downloads a browser of its own (`playwright install` is not run and would fail offline).
# Usage: scripts/browser-deps.sh   (as root, or with sudo available; the virtualenv must exist: see scripts/lib.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CCPA_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
PLAYWRIGHT_VERSION="1.65.2"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for pkg in chromium fonts-dejavu-core fonts-noto-color-emoji; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -x /usr/bin/chromium ] || { echo "/usr/bin/chromium is missing after installing Debian's chromium" >&2; exit 1; }

[ -x "$PY" ] || { echo "no virtualenv at $VENV: run scripts/test.sh (or create it) first" >&2; exit 1; }
have="$("$PY" -c 'import importlib.metadata as m; print(m.version("playwright"))' 2>/dev/null || true)"
if [ "$have" != "$PLAYWRIGHT_VERSION" ]; then
  log "pip install playwright==$PLAYWRIGHT_VERSION"
  constraints=()
  [ -f "$ROOT/constraints.txt" ] && constraints=(-c "$ROOT/constraints.txt")
  "$PY" -m pip install -q "playwright==$PLAYWRIGHT_VERSION" "${constraints[@]}"
fi
AXE_VERSION="0.1.8"  # axe-playwright-python: axe-core bundled, injected into the page by Playwright (no download)
have="$("$PY" -c 'import importlib.metadata as m; print(m.version("axe-playwright-python"))' 2>/dev/null || true)"
if [ "$have" != "$AXE_VERSION" ]; then
  log "pip install axe-playwright-python==$AXE_VERSION"
  constraints=()
  [ -f "$ROOT/constraints.txt" ] && constraints=(-c "$ROOT/constraints.txt")
  "$PY" -m pip install -q "axe-playwright-python==$AXE_VERSION" "${constraints[@]}"
fi
