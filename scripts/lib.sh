# Shared by scripts/demo.sh, scripts/test.sh and .ci/run: make a fresh Debian/Ubuntu machine ready, idempotently.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CCPA_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  # Install the Debian packages that are missing (mysqlclient needs pkg-config + the MySQL client headers).
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

ensure_system() {
  # Fonts for the PDF report (include/report/pdf.py FONT_CHAIN): TrueType outlines, as ReportLab embeds no CFF.
  apt_install pkg-config default-libmysqlclient-dev gcc libc6-dev ca-certificates curl fonts-dejavu-core \
    fonts-noto-core fonts-droid-fallback fonts-nanum
  if ! find_python >/dev/null; then
    apt_install python3 python3-venv python3-dev
  fi
  find_python >/dev/null || { echo "Python 3.11 is required (found: $(python3 --version 2>&1))" >&2; exit 1; }
}

ensure_venv() {
  # Reinstall only when the requirements or the lock changed.
  local stamp="$VENV/.ccpa-installed" want
  want="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  if [ ! -x "$PY" ]; then
    log "creating virtualenv $VENV"
    "$(find_python)" -m venv "$VENV"
  fi
  log "pip install (pinned by constraints.txt; a first install takes a few minutes)"
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q -r "$ROOT/requirements.txt" -r "$ROOT/requirements-dev.txt" -c "$ROOT/constraints.txt"
  echo "$want" >"$stamp"
}

mysql_up() { "$PY" - "$@" <<'PY' 2>/dev/null
import sys, MySQLdb
MySQLdb.connect(host="127.0.0.1", port=3306, user="root", passwd="", connect_timeout=2).close()
PY
}

ensure_mariadb() {
  # The tests use a real MariaDB at 127.0.0.1:3306 (root, empty password). Start it, or install it, if needed.
  mysql_up && return 0
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    apt_install mariadb-server
  fi
  log "starting MariaDB"
  if [ ! -d /var/lib/mysql/mysql ]; then as_root mariadb-install-db --user=mysql >/dev/null; fi
  as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql >/dev/null
  for _ in $(seq 1 60); do mysql_up && break; sleep 1; done
  if ! mysql_up; then
    # A fresh install lets root in through the unix socket only: allow the empty-password TCP login the tests use.
    as_root mariadb -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD(''); FLUSH PRIVILEGES;" || true
  fi
  mysql_up || { echo "MariaDB is not reachable at 127.0.0.1:3306 as root with an empty password" >&2; exit 1; }
}
