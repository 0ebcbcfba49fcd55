#!/usr/bin/env bash
# The test suite: installs what it needs, starts MariaDB if it is down, runs lint and pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k approve).
source "$(dirname "$0")/lib.sh"
ensure_system
ensure_venv
"$ROOT/scripts/browser-deps.sh"  # headless Chromium for tests/browser
ensure_mariadb
cd "$ROOT"
log "docker-compose.yaml"
bash "$ROOT/scripts/check-compose.sh"   # validated against .env.example; needs no Docker engine
log "ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
log "mypy (include, dags, plugins)"
"$VENV/bin/mypy"
log "pytest"
exec "$PY" -m pytest "$@"
