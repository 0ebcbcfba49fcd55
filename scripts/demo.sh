#!/usr/bin/env bash
# The whole workflow end to end, offline, on embedded defaults: Airflow standalone + a Slack emulator + a mail sink.
#
#   bash scripts/demo.sh          run one request (Jane Doe) to its emailed report, then stop everything
#   bash scripts/demo.sh --keep   the same, but leave Airflow, the Slack emulator and the mail sink running
#   bash scripts/demo.sh --stop   stop what a previous --keep run left running
#
# Uses MariaDB/MySQL at 127.0.0.1:3306 (root, no password) when it is up, SQLite files otherwise
# (CCPA_DEMO_DB=sqlite forces SQLite). Ports: Airflow 8080, Slack emulator 8091, mail sink 8025 and its page 8026
# (next free if busy).
# All state lives in .demo/ (gitignored) and is wiped at the start of each run.
source "$(dirname "$0")/lib.sh"

MODE=run
case "${1:-}" in
  "") ;;
  --keep) MODE=keep ;;
  --stop) MODE=stop ;;
  -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: bash scripts/demo.sh [--keep | --stop]" >&2; exit 2 ;;
esac

DEMO="$ROOT/.demo"
DAG_ID=ccpa_right_of_access

# ---------------------------------------------------------------------------------------------- process control
# Every background process gets its own session (setsid), so its process group holds all its children (airflow
# standalone forks the scheduler, api-server, dag-processor and triggerer). The group id goes to .demo/<name>.pid;
# a group is only ever signalled when one of its processes carries this demo's marker in its environment.

own_group() { # own_group PGID: true if a live process of that group was started by a demo of this checkout
  local pid
  for pid in $(pgrep -g "$1" 2>/dev/null); do
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "CCPA_DEMO_DIR=$DEMO" && return 0
  done
  return 1
}

stop_demo() {
  local f pgid groups=()
  for f in "$DEMO"/*.pid; do
    [ -e "$f" ] || continue
    pgid="$(cat "$f")"
    if [[ "$pgid" =~ ^[0-9]+$ ]] && own_group "$pgid"; then
      kill -TERM -- "-$pgid" 2>/dev/null || true
      groups+=("$pgid")
    fi
    rm -f "$f"
  done
  [ ${#groups[@]} -eq 0 ] && return 0
  for _ in $(seq 1 50); do # up to 10 s for a clean shutdown, then SIGKILL
    local alive=0
    for pgid in "${groups[@]}"; do pgrep -g "$pgid" >/dev/null 2>&1 && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.2
  done
  for pgid in "${groups[@]}"; do own_group "$pgid" && kill -KILL -- "-$pgid" 2>/dev/null || true; done
  sleep 0.5
}

start_bg() { # start_bg NAME CMD...: run in the background in a new session, log to .demo/logs/NAME.log
  local name=$1 pid pgid
  shift
  setsid "$@" >"$DEMO/logs/$name.log" 2>&1 </dev/null &
  pid=$!
  pgid="$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')"
  echo "${pgid:-$pid}" >"$DEMO/$name.pid"
}

if [ "$MODE" = stop ]; then
  log "stopping the demo (Airflow, Slack emulator, mail sink)"
  stop_demo
  log "stopped"
  exit 0
fi

port_free() {
  "$PY" - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("0.0.0.0", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

pick_port() { # pick_port WANTED WHAT: WANTED if free, else the next free port (and say so)
  local port=$1
  while ! port_free "$port"; do port=$((port + 1)); done
  [ "$port" = "$1" ] || log "port $1 is busy: the $2 uses $port instead"
  echo "$port"
}

tail_logs() { # tail_logs NAME...: the end of some logs, on failure
  local name
  for name in "$@"; do
    echo "----- last lines of .demo/logs/$name.log -----" >&2
    tail -n 40 "$DEMO/logs/$name.log" >&2 2>/dev/null || true
  done
}

die() {
  echo "demo FAILED: $*" >&2
  exit 1
}

# ---------------------------------------------------------------------------------------------- machine + state
START=$SECONDS
ensure_system
ensure_venv
export PATH="$VENV/bin:$PATH" # airflow standalone starts its components as `airflow ...` from PATH

log "cleaning .demo/ (stopping what a previous run left running)"
stop_demo
rm -rf "$DEMO"
mkdir -p "$DEMO/airflow" "$DEMO/mail" "$DEMO/logs"

cleanup() {
  local rc=$?
  if [ "$MODE" = keep ]; then
    [ "$rc" = 0 ] || log "--keep: leaving everything running for inspection; stop it with: bash scripts/demo.sh --stop"
  else
    log "stopping Airflow, the Slack emulator and the mail sink"
    stop_demo
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

AF_PORT="$(pick_port 8080 "Airflow API server")"
SLACK_PORT="$(pick_port 8091 "Slack emulator")"
SMTP_PORT="$(pick_port 8025 "mail sink")"
MAIL_WEB_PORT="$(pick_port $((SMTP_PORT + 1)) "mail sink page")"
WORKER_LOG_PORT="$(pick_port 8793 "task log server")"
TRIGGER_LOG_PORT="$(pick_port 8794 "triggerer log server")"
AF_URL="http://127.0.0.1:$AF_PORT"
SLACK_URL="http://127.0.0.1:$SLACK_PORT"
MAIL_URL="http://127.0.0.1:$MAIL_WEB_PORT"
SECRET="$("$PY" -c 'import secrets; print(secrets.token_hex(16))')"

# ---------------------------------------------------------------------------------------------- environment
export CCPA_DEMO_DIR="$DEMO" # marks our processes (see own_group)
export CCPA_DEMO=1 # the demo: its published secrets (xoxb-demo-token, ...) are accepted (include/config.py)
export PYTHONPATH="$ROOT" # the DAG, the plugin and the triggerer import include.*
export AIRFLOW_HOME="$DEMO/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$ROOT/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor AIRFLOW__CORE__PARALLELISM=8 # 8 worker processes, not 32
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$AF_PORT"
export AIRFLOW__API__BASE_URL="$AF_URL" # also where tasks reach the execution API ({base_url}/execution/)
export AIRFLOW__API__WORKERS=1
export AIRFLOW__API__SECRET_KEY="$("$PY" -c 'import secrets; print(secrets.token_hex(16))')"
export AIRFLOW__API_AUTH__JWT_SECRET="$("$PY" -c 'import secrets; print(secrets.token_hex(32))')"
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$WORKER_LOG_PORT" AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="$TRIGGER_LOG_PORT"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5
export AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=30
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin # user admin, role admin; password generated
export CCPA_DECISION_POLL_SECONDS=2

export AIRFLOW_VAR_CCPA_REVIEW_CHANNEL='#privacy-requests'
export AIRFLOW_VAR_CCPA_SLACK_SIGNING_SECRET="$SECRET"
export AIRFLOW_VAR_CCPA_APPROVERS=U0DEMOOFFICER
export AIRFLOW_VAR_CCPA_FROM_EMAIL=privacy@example.com
export AIRFLOW_CONN_SLACK_API_DEFAULT="{\"conn_type\":\"slack\",\"password\":\"xoxb-demo-token\",\"extra\":{\"base_url\":\"$SLACK_URL/api/\"}}"
export AIRFLOW_CONN_SMTP_DEFAULT="{\"conn_type\":\"smtp\",\"host\":\"127.0.0.1\",\"port\":$SMTP_PORT,\"extra\":{\"disable_tls\":true,\"disable_ssl\":true,\"retry_limit\":0,\"timeout\":10}}"

# ---------------------------------------------------------------------------------------------- datastores
if [ "${CCPA_DEMO_DB:-auto}" != sqlite ] && mysql_up; then # CCPA_DEMO_DB=sqlite forces the SQLite fallback
  log "datastores + compliance store: MariaDB/MySQL at 127.0.0.1:3306 (databases ccpa_demo, ccpa_demo_compliance)"
  "$PY" - <<'PY'
import MySQLdb
conn = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", passwd="")
cur = conn.cursor()
for db in ("ccpa_demo", "ccpa_demo_compliance"):
    cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
    cur.execute(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
conn.close()
PY
  DATA_CONN='mysql://root@127.0.0.1:3306/ccpa_demo'
  SEED_URL='mysql+mysqldb://root@127.0.0.1:3306/ccpa_demo'
  export AIRFLOW_CONN_CCPA_COMPLIANCE_DB='mysql://root@127.0.0.1:3306/ccpa_demo_compliance'
  COMPLIANCE_WHERE="MySQL database ccpa_demo_compliance"
else
  log "datastores in SQLite (.demo/datastores.sqlite): $([ "${CCPA_DEMO_DB:-auto}" = sqlite ] && echo "CCPA_DEMO_DB=sqlite" || echo "no MySQL/MariaDB at 127.0.0.1:3306")"
  DATA_CONN="{\"conn_type\":\"sqlite\",\"host\":\"$DEMO/datastores.sqlite\"}"
  SEED_URL="sqlite:///$DEMO/datastores.sqlite"
  unset AIRFLOW_CONN_CCPA_COMPLIANCE_DB # the explicit opt-in below: a SQLite file in AIRFLOW_HOME
  export CCPA_COMPLIANCE_SQLITE=1
  COMPLIANCE_WHERE="SQLite file .demo/airflow/ccpa_compliance.sqlite"
fi
export AIRFLOW_CONN_CCPA_CRM_DB="$DATA_CONN" AIRFLOW_CONN_CCPA_ORDERS_DB="$DATA_CONN" AIRFLOW_CONN_CCPA_WEB_DB="$DATA_CONN"
(cd "$ROOT" && "$PY" -m devtools.demo_data "$SEED_URL" --web-events 300 >"$DEMO/logs/seed.log" 2>&1) || { tail_logs seed; die "seeding the datastores"; }
log "seeded the demo datastores (Jane Doe and three decoys)"

# ---------------------------------------------------------------------------------------------- services
log "starting the mail sink on smtp://127.0.0.1:$SMTP_PORT and the Slack emulator on $SLACK_URL"
start_bg mail_sink "$PY" -m devtools.standins.mail_sink --port "$SMTP_PORT" --web-port "$MAIL_WEB_PORT" --dir "$DEMO/mail"
start_bg slack_emulator "$PY" -m devtools.standins.slack_emulator --port "$SLACK_PORT" --signing-secret "$SECRET" \
  --callback-url "$AF_URL/ccpa/slack/actions"

log "starting airflow standalone on $AF_URL (logs: .demo/logs/airflow.log)"
log "note: standalone runs on SQLite + LocalExecutor, fine for a demo; for real volume use PostgreSQL (docs: 'Set up a Database Backend')"
start_bg airflow airflow standalone

for _ in $(seq 1 75); do
  curl -fsS -o /dev/null "$SLACK_URL/_emulator/messages" 2>/dev/null && ! port_free "$SMTP_PORT" && break
  sleep 0.2
done
curl -fsS -o /dev/null "$SLACK_URL/_emulator/messages" || { tail_logs slack_emulator; die "the Slack emulator did not start"; }
! port_free "$SMTP_PORT" || { tail_logs mail_sink; die "the mail sink did not start"; }

log "waiting for Airflow to be healthy (scheduler, dag-processor, triggerer; up to 180 s)"
healthy=""
for _ in $(seq 1 180); do
  if curl -fsS -o "$DEMO/health.json" "$AF_URL/api/v2/monitor/health" 2>/dev/null &&
    "$PY" - "$DEMO/health.json" <<'PY'; then
import json, sys
h = json.load(open(sys.argv[1]))
parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
sys.exit(0 if all((h.get(p) or {}).get("status") == "healthy" for p in parts) else 1)
PY
    healthy=1
    break
  fi
  pgrep -g "$(cat "$DEMO/airflow.pid")" >/dev/null || { tail_logs airflow; die "airflow standalone exited"; }
  sleep 1
done
[ -n "$healthy" ] || { cat "$DEMO/health.json" >&2 2>/dev/null || true; tail_logs airflow; die "Airflow was not healthy within 180 s"; }
log "Airflow is healthy ($((SECONDS - START)) s since start)"

# ---------------------------------------------------------------------------------------------- REST API
PASSWORD_FILE="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
ADMIN_PASSWORD="$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["admin"])' "$PASSWORD_FILE")"
TOKEN="$(curl -fsS -X POST "$AF_URL/auth/token" -H 'Content-Type: application/json' \
  -d "{\"username\": \"admin\", \"password\": \"$ADMIN_PASSWORD\"}" |
  "$PY" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')" || die "could not get an API token"

api() { # api METHOD PATH [JSON]: prints the HTTP status; the body is in .demo/api.json
  local args=(-sS -o "$DEMO/api.json" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN")
  [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data "$3")
  curl "${args[@]}" "$AF_URL$2" 2>/dev/null || true
}
body() { "$PY" -c "import json, sys; d = json.load(open(sys.argv[1])); print($1)" "$DEMO/api.json"; }

log "waiting for the DAG $DAG_ID to be parsed"
for _ in $(seq 1 90); do
  [ "$(api GET "/api/v2/dags/$DAG_ID")" = 200 ] && break
  sleep 1
done
[ "$(api GET "/api/v2/dags/$DAG_ID")" = 200 ] || {
  api GET /api/v2/importErrors >/dev/null
  cat "$DEMO/api.json" >&2
  tail_logs airflow
  die "the DAG $DAG_ID did not show up within 90 s"
}
[ "$(api PATCH "/api/v2/dags/$DAG_ID" '{"is_paused": false}')" = 200 ] || die "could not unpause $DAG_ID: $(cat "$DEMO/api.json")"
[ "$(api GET /api/v2/importErrors)" = 200 ] || die "GET /api/v2/importErrors failed"
if [ "$(body 'd["total_entries"]')" != 0 ]; then
  body '"\n".join(e["filename"] + ":\n" + e["stack_trace"] for e in d["import_errors"])' >&2
  die "import errors (above)"
fi
log "DAG $DAG_ID is parsed, unpaused, no import errors"

log "a malformed request is refused by the API (email 'not-an-email'):"
BAD='{"logical_date": null, "conf": {"name": "Bad Request", "email": "not-an-email", "photo_id_url": "https://intake.example.com/ids/x.png", "channel": "web_form"}}'
BAD_STATUS="$(api POST "/api/v2/dags/$DAG_ID/dagRuns" "$BAD")"
echo "    POST /api/v2/dags/$DAG_ID/dagRuns -> HTTP $BAD_STATUS: $(body 'str(d.get("detail", d)).splitlines()[0][:150]' 2>/dev/null || true)" >&2
if [ "${BAD_STATUS:0:1}" = 2 ]; then
  log "WARNING: the API accepted the malformed request (HTTP $BAD_STATUS); validate_request will fail that run"
fi

log "the intake system's call: POST $AF_URL/api/v2/dags/$DAG_ID/dagRuns"
# Three matching data points (email, name, phone) and a signed declaration: verified for specific pieces (§7062(c)).
SIGNED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
REQ='{"logical_date": null, "conf": {"name": "Jane Doe", "email": "jane.doe@example.com", "phone": "+1 (415) 555-1000", "photo_id_url": "https://intake.example.com/ids/jane-doe.png", "declaration": {"signed_at": "'"$SIGNED_AT"'", "signer_name": "Jane Doe", "statement_version": "2026-01"}, "channel": "web_form"}}'
echo "    $REQ" >&2
STATUS="$(api POST "/api/v2/dags/$DAG_ID/dagRuns" "$REQ")"
[ "$STATUS" = 200 ] || die "trigger refused: HTTP $STATUS $(cat "$DEMO/api.json")"
RUN_ID="$(body 'd["dag_run_id"]')"
RUN_ID_Q="$("$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$RUN_ID")"
echo "    -> HTTP $STATUS, run_id $RUN_ID" >&2

# ---------------------------------------------------------------------------------------------- Slack
log "waiting for the review prompt in Slack (#privacy-requests)"
PROMPT_TS=""
for _ in $(seq 1 120); do
  PROMPT_TS="$(curl -fsS "$SLACK_URL/_emulator/messages" 2>/dev/null | "$PY" -c '
import json, sys
msgs = json.load(sys.stdin)
def actions(blocks):
    for b in blocks or []:
        for e in b.get("elements") or []:
            if isinstance(e, dict) and e.get("action_id"):
                yield e["action_id"]
print(next((m["ts"] for m in reversed(msgs) if "ccpa_approve" in actions(m.get("blocks"))), ""))
' 2>/dev/null || true)"
  [ -n "$PROMPT_TS" ] && break
  api GET "/api/v2/dags/$DAG_ID/dagRuns/$RUN_ID_Q" >/dev/null
  [ "$(body 'd["state"]')" = failed ] && break
  sleep 1
done

task_report() { # the task states of the run, and for failed tasks where their log is and its last error
  api GET "/api/v2/dags/$DAG_ID/dagRuns/$RUN_ID_Q/taskInstances" >/dev/null
  "$PY" - "$DEMO/api.json" "$AIRFLOW_HOME/logs/dag_id=$DAG_ID/run_id=$RUN_ID" <<'PY' >&2 || true
import json, os, sys

tis = json.load(open(sys.argv[1])).get("task_instances", [])
for t in sorted(tis, key=lambda t: t.get("start_date") or "~"):
    print(f"    {t['task_id']:42} {t['state']}  (try {t['try_number']})")
    if t["state"] in ("failed", "up_for_retry"):
        path = os.path.join(sys.argv[2], f"task_id={t['task_id']}", f"attempt={t['try_number']}.log")
        print(f"      log: {path}")
        errors = []
        try:
            for line in open(path):
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("level") in ("error", "critical"):
                    detail = entry.get("error_detail") or []
                    exc = f" ({detail[-1].get('exc_type')}: {detail[-1].get('exc_value')})" if detail else ""
                    errors.append((str(entry.get("event", "")).splitlines() or [""])[0][:120] + exc[:200])
        except OSError:
            pass
        if errors:
            print(f"      last error: {errors[-1]}")
PY
  echo "    UI: $AF_URL/dags/$DAG_ID/runs/$RUN_ID_Q (admin / $ADMIN_PASSWORD)" >&2
}
[ -n "$PROMPT_TS" ] || { task_report; tail_logs slack_emulator; die "no review prompt in Slack within 120 s"; }
log "the review prompt arrived in Slack (ts $PROMPT_TS); clicking Approve as U0DEMOOFFICER"

CLICK_AT=$SECONDS
curl -fsS -o "$DEMO/click.json" -X POST "$SLACK_URL/_emulator/click" -H 'Content-Type: application/json' \
  -d "{\"action_id\": \"ccpa_approve\", \"user_id\": \"U0DEMOOFFICER\", \"user_name\": \"demo.officer\", \"ts\": \"$PROMPT_TS\"}" ||
  { cat "$DEMO/click.json" >&2 2>/dev/null; tail_logs slack_emulator airflow; die "the emulated click failed"; }
CLICK_STATUS="$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["status"])' "$DEMO/click.json")"
echo "    the Slack callback ($AF_URL/ccpa/slack/actions) answered HTTP $CLICK_STATUS" >&2
[ "$CLICK_STATUS" = 200 ] || { tail_logs airflow; die "the Slack callback answered HTTP $CLICK_STATUS"; }

log "waiting for the run to succeed (up to 5 min)"
STATE=""
for _ in $(seq 1 300); do
  api GET "/api/v2/dags/$DAG_ID/dagRuns/$RUN_ID_Q" >/dev/null
  STATE="$(body 'd["state"]' 2>/dev/null || true)"
  [ "$STATE" = success ] || [ "$STATE" = failed ] && break
  sleep 1
done
[ "$STATE" = success ] || { task_report; die "the run ended '$STATE' (not success)"; }
DONE_AT=$SECONDS
log "run $RUN_ID: success, $((DONE_AT - CLICK_AT)) s after the Approve click"

# ---------------------------------------------------------------------------------------------- what happened
log "the report, as emailed (mail sink: .demo/mail/)"
"$PY" - "$DEMO/mail" "$ROOT" <<'PY'
import html, os, re, sys
from devtools.standins.mail_sink import read_mail

mails = read_mail(sys.argv[1])
if not mails:
    sys.exit("no mail in the sink")
for received in mails:
    print(f"    received: {received['Subject']}  ({os.path.relpath(received.path, sys.argv[2])})")
mail = mails[-1]
print(f"    file:    {os.path.relpath(mail.path, sys.argv[2])}")
print(f"    Subject: {mail['Subject']}")
print(f"    To:      {mail['To']}")
attached = [f"{p.get_filename()} ({p.get_content_type()}, {len(p.get_payload(decode=True)):,} bytes)" for p in mail.message.iter_attachments()]
print(f"    Attached: {', '.join(attached) or 'nothing'}")
part = mail.message.get_body(preferencelist=("plain", "html"))
text = part.get_content() if part is not None else ""
if part is not None and part.get_content_type() == "text/html":
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", text)
    text = re.sub(r"(?is)<br\s*/?>\s*<span[^>]*>(.*?)</span>", r" (\1)", text)  # a column's CCPA category
    text = re.sub(r"(?i)</t[dh]>", " | ", text)
    text = re.sub(r"(?i)<br\s*/?>|</(p|div|h[1-6]|li|tr|table|ul|ol)>", "\n", text)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
lines = [re.sub(r"[ \t]+", " ", line).strip(" |") for line in text.splitlines()]
lines = [line for line in lines if line]
print("    ---- excerpt ----")
for line in lines[:18]:
    print(f"    | {line[:110]}")
if len(lines) > 18:
    print(f"    | ... ({len(lines) - 18} more lines)")
PY

log "the Slack prompt now (updated, no buttons):"
curl -fsS "$SLACK_URL/_emulator/messages" | "$PY" -c '
import json, sys
ts = sys.argv[1]
msg = next(m for m in json.load(sys.stdin) if m["ts"] == ts)
blocks = msg.get("blocks") or []
buttons = [e for b in blocks for e in (b.get("elements") or []) if isinstance(e, dict) and e.get("type") == "button"]
texts = []
for b in blocks:
    texts += [(b.get("text") or {}).get("text", "")] + [f.get("text", "") for f in b.get("fields") or []]
    texts += [e.get("text", "") for e in b.get("elements") or [] if isinstance(e, dict) and isinstance(e.get("text"), str)]
for line in "\n".join(t for t in texts if t).splitlines() or msg["text"].splitlines():
    print(f"    {line}")
edits = len(msg.get("history") or [])
print(f"    (buttons left: {len(buttons)}; message edited {edits} time(s))")
' "$PROMPT_TS"

log "the audit trail ($COMPLIANCE_WHERE):"
"$PY" - "$RUN_ID" <<'PY' 2>"$DEMO/logs/audit.log"
import sys
from include.store import ComplianceStore

store = ComplianceStore.from_connection()
record = store.find_by_run_id(sys.argv[1])
print(f"    request {record.request_id}, status {record.status}")
for entry in store.audit_trail(record.request_id):
    at = entry.get("at") or entry.get("created_at") or entry.get("occurred_at") or ""
    rest = {k: v for k, v in entry.items() if k not in ("at", "created_at", "occurred_at", "request_id", "id")}
    print(f"    {at}  " + "  ".join(f"{k}={v}" for k, v in rest.items() if v not in (None, "")))
PY

cat >&2 <<EOF

  Airflow UI:   $AF_URL  (user admin, password $ADMIN_PASSWORD)
  This run:     $AF_URL/dags/$DAG_ID/runs/$RUN_ID_Q
  Requests:     $AF_URL/plugin/ccpa-requests   (Browse -> CCPA requests: the open queue, timelines, §7102 numbers)
  Slack page:   $SLACK_URL/   (the review channel as Slack shows it: click Approve / Reject… / Extend there)
  Mail page:    $MAIL_URL/   (every email the requester received, with its attachments)
  Demo took $((SECONDS - START)) s; Approve click -> run success: $((DONE_AT - CLICK_AT)) s.
EOF
if [ "$MODE" = keep ]; then
  cat >&2 <<EOF
  Still running (--keep):
    Airflow          $AF_URL            logs .demo/logs/airflow.log
    Slack emulator   $SLACK_URL/           the channel page; API: GET /_emulator/messages, POST /_emulator/click
    Mail sink        smtp://127.0.0.1:$SMTP_PORT   page $MAIL_URL/, files in .demo/mail/
  Try it by hand: trigger another request (README: "The intake system"), then act on it in the Slack page.
  Stop them with:  bash scripts/demo.sh --stop
EOF
fi
log "demo OK"
