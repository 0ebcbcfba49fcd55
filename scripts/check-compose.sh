#!/usr/bin/env bash
# Validate docker-compose.yaml against .env.example, without a Docker engine: `config -q` with the default services
# and with `--profile demo`, then list the services. Exits non-zero on any error. For CI and before a commit.
#
#   bash scripts/check-compose.sh
#
# Uses `docker compose` (v2 plugin) when it works, else `docker-compose` (v1); when neither exists, installs
# Debian's docker-compose package (as root, or with sudo). Fast when one is already there. Never writes a .env:
# interpolation reads .env.example through --env-file, and the containers' env_file is pointed at it through
# CCPA_ENV_FILE (see docker-compose.yaml).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { echo "check-compose FAILED: $*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

COMPOSE_FILE_PATH="$ROOT/docker-compose.yaml"
ENV_EXAMPLE="$ROOT/.env.example"
[ -f "$COMPOSE_FILE_PATH" ] || die "no docker-compose.yaml in $ROOT"
[ -f "$ENV_EXAMPLE" ] || die "no .env.example in $ROOT"

# ------------------------------------------------------------------------------------------ a compose binary
DC=()
find_compose() {
  if docker compose version >/dev/null 2>&1; then
    DC=(docker compose)
  elif command -v docker-compose >/dev/null 2>&1 && docker-compose version >/dev/null 2>&1; then
    DC=(docker-compose)
  else
    return 1
  fi
}
if ! find_compose; then
  log "neither 'docker compose' nor 'docker-compose' found: apt-get install docker-compose"
  command -v apt-get >/dev/null 2>&1 || die "no docker compose, and no apt-get to install Debian's docker-compose"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
  find_compose || die "docker-compose is still not usable after installing it"
fi
log "using: ${DC[*]} ($("${DC[@]}" version 2>/dev/null | head -n 1))"

# Without a project .env: pass .env.example to interpolation (--env-file: compose >= 1.25 and v2).
help_text="$("${DC[@]}" --help 2>&1 || true)" # captured first: `| grep -q` could SIGPIPE it under pipefail
if ! grep -q -- '--env-file' <<<"$help_text"; then
  die "${DC[*]} has no --env-file option: use docker compose v2 or docker-compose >= 1.25"
fi
export CCPA_ENV_FILE="$ENV_EXAMPLE" # the containers' env_file (docker-compose.yaml: env_file: ${CCPA_ENV_FILE:-.env})
# Validate the committed file only: no COMPOSE_* override from the caller's shell may change what is checked.
unset COMPOSE_FILE COMPOSE_PROFILES COMPOSE_PROJECT_NAME COMPOSE_ENV_FILES
compose() { "${DC[@]}" --project-directory "$ROOT" -f "$COMPOSE_FILE_PATH" --env-file "$ENV_EXAMPLE" "$@"; }

# ------------------------------------------------------------------------------------------ .env.example names
# Every ${NAME} the compose file interpolates must be listed in .env.example (so `cp .env.example .env` is complete).
# $${NAME} is the container shell's, not compose's, and is skipped.
missing=()
while IFS= read -r name; do
  case "$name" in CCPA_ENV_FILE | AIRFLOW_PROJ_DIR) continue ;; esac # optional, documented in the compose file
  grep -qE "^${name}=" "$ENV_EXAMPLE" || missing+=("$name")
done < <(grep -v '^[[:space:]]*#' "$COMPOSE_FILE_PATH" | grep -oE '(^|[^$])\$\{[A-Za-z_][A-Za-z0-9_]*' |
  sed -E 's/.*\$\{//' | sort -u)
[ ${#missing[@]} -eq 0 ] || die ".env.example lacks ${missing[*]} (interpolated by docker-compose.yaml)"

# ------------------------------------------------------------------------------------------ config -q
# `config` resolves anchors, interpolation, env_file and profiles, and validates against the compose schema.
status=0
for profile in "" demo; do
  args=()
  label="default services"
  if [ -n "$profile" ]; then args=(--profile "$profile"); label="--profile $profile"; fi
  if out="$(compose "${args[@]}" config -q 2>&1)"; then
    [ -z "$out" ] || printf '%s\n' "$out" >&2 # warnings
    log "config -q ($label): OK"
  else
    printf '%s\n' "$out" >&2
    log "config -q ($label): FAILED"
    status=1
  fi
done
[ "$status" = 0 ] || die "docker-compose.yaml does not validate (above)"

# ------------------------------------------------------------------------------------------ the services
# From the rendered file, with each service's profiles (docker-compose v1 lists profile-gated services too).
log "services:"
rendered="$(compose --profile demo --profile debug config 2>/dev/null)" || die "config (rendering) failed"
printf '%s\n' "$rendered" | awk '
  /^services:/ { in_services = 1; next }
  /^[^ ]/ { in_services = 0 }
  !in_services { next }
  /^  [A-Za-z0-9_.-]+:[[:space:]]*$/ { flush(); name = $1; sub(/:$/, "", name); profiles = ""; in_prof = 0; next }
  /^    profiles:/ { in_prof = 1; next }
  in_prof && /^ +- / { p = $0; sub(/^ +- /, "", p); gsub(/["\x27]/, "", p); profiles = profiles (profiles ? "," : "") p; next }
  /^    [A-Za-z_]/ { in_prof = 0 }
  function flush() { if (name != "") printf "    %-24s %s\n", name, (profiles ? "profile " profiles : "(always)") }
  END { flush() }
' | sort
log "docker-compose.yaml is valid ($("${DC[@]}" version --short 2>/dev/null || echo "${DC[*]}"))"
