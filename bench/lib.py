"""Shared pieces of the benchmarks that need a running Airflow: a throw-away stack and small measuring helpers.

:class:`Stack` starts, as separate processes each in its own session, ``airflow api-server``, ``scheduler``,
``dag-processor`` and ``triggerer`` on a fresh PostgreSQL metadata database with the LocalExecutor, plus the Slack
emulator and the SMTP mail sink from ``devtools/standins``, with the compliance store and the demo datastores in
fresh MariaDB databases. :meth:`Stack.stop` signals only the process groups it started and drops what it created.
Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PY = str(VENV_BIN / "python")
DAG_ID = "ccpa_right_of_access"
#: Airflow's floor: the same shape, no work (bench/floor_dag.py); run beside ours in the same stack.
FLOOR_DAG_ID = "ccpa_bench_airflow_floor"
APPROVER = "U0BENCHOFFICER"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "passwd": ""}
ACK_SUBJECT = "We received your CCPA access request"
#: The demo subject's phone (devtools/demo_data.py seeds +1-415-555-1000 for her); clones carry it.
DEMO_PHONE = "+1-415-555-1000"
#: The points a verified clone matches: three, which with a signed declaration allow specific pieces.
MATCHED = ("email", "name", "phone")

#: Airflow settings for a 2-core machine; recorded in the results.
AIRFLOW_TUNING = {
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__CORE__PARALLELISM": "8",
    "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64",
    "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "10000",
    "AIRFLOW__SCHEDULER__MAX_TIS_PER_QUERY": "64",
    "AIRFLOW__SCHEDULER__MAX_DAGRUNS_TO_CREATE_PER_LOOP": "50",
    "AIRFLOW__SCHEDULER__MAX_DAGRUNS_PER_LOOP_TO_SCHEDULE": "50",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "5",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "60",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    "AIRFLOW__TRIGGERER__CAPACITY": "1000",
    "AIRFLOW__API__WORKERS": "2",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "5",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "10",
    "CCPA_DECISION_POLL_SECONDS": "1",
    "CCPA_RETRY_DELAY_SECONDS": "5",
}


#: Each task of the approve path after the click, and what it waits for (the click for wait_for_decision).
APPROVE_PATH = [
    ("wait_for_decision", None),
    ("aggregate_personal_data.extract_crm", ["wait_for_decision"]),
    ("aggregate_personal_data.extract_orders", ["wait_for_decision"]),
    ("aggregate_personal_data.extract_web", ["wait_for_decision"]),
    (
        "build_report",
        [
            "aggregate_personal_data.extract_crm",
            "aggregate_personal_data.extract_orders",
            "aggregate_personal_data.extract_web",
        ],
    ),
    ("send_report", ["build_report"]),
    ("close_review_prompt", ["send_report"]),
]


def add_settings_argument(parser: argparse.ArgumentParser) -> None:
    """``--set AIRFLOW__SECTION__KEY=VALUE`` (repeatable): Airflow settings for one run; see :func:`apply_settings`."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="AIRFLOW__SECTION__KEY=VALUE",
        help="an Airflow setting for this run, on top of bench/lib.py's (repeatable)",
    )


def apply_settings(pairs: list[str]) -> None:
    """Put ``KEY=VALUE`` pairs over :data:`AIRFLOW_TUNING`, which :class:`Stack` reads when it is created."""
    for pair in pairs:
        key, _, value = pair.partition("=")
        AIRFLOW_TUNING[key] = value


def machine_busy_cpu_s() -> float:
    """CPU-seconds the whole machine has been busy since boot (all cores; PostgreSQL, MariaDB and the stand-ins
    included; idle and iowait not)."""
    import psutil

    t = psutil.cpu_times()
    return t.user + t.system + t.nice + getattr(t, "softirq", 0) + t.irq


def replace_section(docs: Path, start: str, end: str, section: str, header: str = "# Benchmarks\n") -> None:
    """Put ``section`` (which carries its own markers) between ``start``/``end`` in ``docs``, or append it: each
    benchmark rewrites only its own part of docs/benchmarks.md."""
    text = docs.read_text(encoding="utf-8") if docs.exists() else header
    if not text.lstrip().startswith("# Benchmarks"):
        text = header + "\n" + text
    if start in text and end in text:
        before, rest = text.split(start, 1)
        # What followed the old end marker keeps its own line break: a section's trailing one would add a blank
        # line at every re-render.
        text = before + section.rstrip("\n") + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    text = text.rstrip("\n") + "\n"
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text(text, encoding="utf-8")


def publish(
    results: dict[str, Any],
    section: Callable[[dict[str, Any]], str],
    *,
    results_path: str | None,
    write_docs: bool,
    docs: Path,
    start: str,
    end: str,
) -> None:
    """A benchmark's end: save its raw ``results`` (JSON) if asked, print its docs section, and rewrite that section
    of ``docs`` if asked."""
    if results_path:
        Path(results_path).write_text(json.dumps(results, indent=1), encoding="utf-8")
    text = section(results)
    print(text)
    if write_docs:
        replace_section(docs, start, end, text)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.5, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def verified_conf(email: str) -> dict[str, Any]:
    """The conf of a request a full Approve is accepted for: a clone of the demo subject (:meth:`Stack.clone_subject`
    copies her name and phone to ``email``) giving email, name and phone (3 matching points) and a signed declaration,
    so it is verified for specific pieces (§7062(c), docs/verification.md). Without them the callback refuses a full
    approval (an approval above the level), and the benchmarks would measure refusals."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from devtools.demo_data import DEMO_PERSON
    from tests.factories import declaration_for

    return {
        "name": DEMO_PERSON["name"],
        "email": email,
        "phone": DEMO_PHONE,
        "photo_id_url": "https://x.test/id.png",
        "declaration": declaration_for(DEMO_PERSON["name"]),
    }


def host_ticks() -> list[int]:
    """The machine's CPU time so far (/proc/stat's ``cpu`` line: user, nice, system, idle, iowait, irq, softirq,
    steal), for :func:`host_share`."""
    with open("/proc/stat", encoding="ascii") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def host_share(before: list[int], after: list[int]) -> dict[str, float]:
    """Between two :func:`host_ticks`: % of the machine busy, and % of its time stolen by the hypervisor (a
    virtual machine's CPU given to other guests) or waiting on disk. A step that ran with steal or disk waits ran on
    a slower machine than its neighbour: latency ratios from it need that beside them."""
    d = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(d) or 1
    idle = d[3] + d[4]
    return {
        "busy_pct": round(100 * (total - idle) / total, 1),
        "steal_pct": round(100 * d[7] / total, 1),
        "iowait_pct": round(100 * d[4] / total, 1),
    }


def register_verified(store: Any, run_id: str, email: str, now: Any) -> str:
    """Register a verified request straight in the compliance store (no DAG run), with the identity evidence the
    prompt step would have stored for a clone of the demo subject: 3 matching points and a declaration."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from include.request import AccessRequest
    from tests.factories import points_json

    record = store.register_request(run_id, AccessRequest.from_conf(verified_conf(email)), now, channel="web_form")
    store.set_identity_evidence(record.request_id, "email found in 1 of 1 datastores (crm)", points_json(MATCHED))
    return str(record.request_id)


def add_tls_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tls",
        action="store_true",
        help="Slack stand-in over HTTPS and the mail sink requiring STARTTLS, as the real services are (a "
        "self-signed CA the Airflow processes trust through SSL_CERT_FILE, beside the system's CAs)",
    )


class Stack:
    def __init__(self, tag: str | None = None, tls: bool = False) -> None:
        self.tag = tag or f"ccpa_vol_{secrets.token_hex(4)}"
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.tag}-"))
        #: With ``tls``: the stand-ins' certificate and key (devtools/standins/tls.py), else None.
        self.tls: tuple[Path, Path] | None = None
        if tls:
            if str(ROOT) not in sys.path:
                sys.path.insert(0, str(ROOT))
            from devtools.standins.tls import self_signed

            self.tls = self_signed(self.dir / "tls")
        self.home = self.dir / "airflow"
        self.mail_dir = self.dir / "mail"
        self.logs = self.dir / "logs"
        self.dags = self.dir / "dags"
        for d in (self.home, self.mail_dir, self.logs, self.dags):
            d.mkdir(parents=True)
        # Our DAG as shipped, and the floor DAG beside it (bench/floor_dag.py).
        shutil.copy(ROOT / "dags" / f"{DAG_ID}.py", self.dags)
        shutil.copy(ROOT / "bench" / "floor_dag.py", self.dags / f"{FLOOR_DAG_ID}.py")
        self.pg_db = self.tag
        self.data_db = f"{self.tag}_data"
        self.compliance_db = f"{self.tag}_compliance"
        self.af_port, self.slack_port, self.smtp_port = free_port(), free_port(), free_port()
        self.af_url = f"http://127.0.0.1:{self.af_port}"
        self.slack_url = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.slack_port}"
        self.secret = secrets.token_hex(16)
        self.groups: dict[str, subprocess.Popen] = {}
        self.env = self._env()
        self.session = requests.Session()
        self.token = ""

    # ---------------------------------------------------------------- environment
    def _env(self) -> dict[str, str]:
        data_conn = f"mysql://root@127.0.0.1:3306/{self.data_db}"
        env = {
            **os.environ,
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW_CONN_FS_DEFAULT": json.dumps({"conn_type": "fs"}),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{self.pg_db}",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.af_port),
            "AIRFLOW__API__BASE_URL": self.af_url,
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW_VAR_CCPA_REVIEW_CHANNEL": "#privacy-requests",
            "AIRFLOW_VAR_CCPA_SLACK_SIGNING_SECRET": self.secret,
            "AIRFLOW_VAR_CCPA_APPROVERS": APPROVER,
            "AIRFLOW_VAR_CCPA_FROM_EMAIL": "privacy@example.com",
            "AIRFLOW_VAR_CCPA_REPORT_STORAGE": f"file://{self.dir / 'reports'}",
            "AIRFLOW_CONN_SLACK_API_DEFAULT": json.dumps(
                {"conn_type": "slack", "password": "xoxb-bench", "extra": {"base_url": f"{self.slack_url}/api/"}}
            ),
            "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(
                {
                    "conn_type": "smtp",
                    "host": "127.0.0.1",
                    "port": self.smtp_port,
                    # With --tls: STARTTLS (the provider's default), as on a real submission server.
                    "extra": {"disable_tls": not self.tls, "disable_ssl": True, "retry_limit": 0, "timeout": 10},
                }
            ),
            "AIRFLOW_CONN_CCPA_COMPLIANCE_DB": f"mysql://root@127.0.0.1:3306/{self.compliance_db}",
            "AIRFLOW_CONN_CCPA_CRM_DB": data_conn,
            "AIRFLOW_CONN_CCPA_ORDERS_DB": data_conn,
            "AIRFLOW_CONN_CCPA_WEB_DB": data_conn,
            "BENCH_MARKER": self.tag,
            **AIRFLOW_TUNING,
        }
        if self.tls:
            from devtools.standins.tls import trust_bundle

            # Read by ssl.create_default_context in every Airflow process: the system's CAs and the stand-ins'.
            env["SSL_CERT_FILE"] = str(trust_bundle(self.tls[0], self.dir / "tls"))
        return env

    def apply_env_here(self) -> None:
        """The same connections/variables in this process (the floor and the store queries need them), and with
        ``tls`` the CA bundle that trusts the stand-ins (the in-process floor talks to them too)."""
        names = ("AIRFLOW", "CCPA_", "PYTHONPATH", "SSL_CERT_FILE")
        os.environ.update({k: v for k, v in self.env.items() if k.startswith(names)})
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))

    # ---------------------------------------------------------------- databases
    def create_databases(self, web_events: int = 300) -> None:
        import MySQLdb
        import psycopg2

        pg = psycopg2.connect(dbname="postgres", **PG)
        pg.autocommit = True
        pg.cursor().execute(f'CREATE DATABASE "{self.pg_db}"')
        pg.close()
        my = MySQLdb.connect(**MYSQL)
        cur = my.cursor()
        for db in (self.data_db, self.compliance_db):
            cur.execute(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        my.close()
        self.run(
            [PY, "-m", "devtools.demo_data", self.seed_url(), "--web-events", str(web_events)],
            "seed",
        )

    def seed_url(self) -> str:
        return f"mysql+mysqldb://root@127.0.0.1:3306/{self.data_db}"

    def clone_subject(
        self, emails: list[str], like: str = "jane.doe@example.com", tables: tuple[str, ...] | None = None
    ) -> None:
        """Give each email a copy of ``like``'s rows in the three demo tables (same extraction work each), or only
        in ``tables`` (``("crm_users",)``: the name and phone that verify a request, and nothing else to report)."""
        import MySQLdb

        my = MySQLdb.connect(db=self.data_db, **MYSQL)
        cur = my.cursor()
        cols = {
            "crm_users": "name, phone, favorite_food, ssn, created_at",
            "orders": "order_ref, product, amount_usd, card_last4, shipping_address, ordered_at",
            "web_events": "page, ip_address, city, occurred_at",
        }
        if tables is not None:
            cols = {t: c for t, c in cols.items() if t in tables}
        for email in emails:
            for table, c in cols.items():
                cur.execute(
                    f"INSERT INTO {table} (email, {c}) SELECT %s, {c} FROM {table} WHERE email = %s", (email, like)
                )
        my.commit()
        my.close()

    def drop_databases(self) -> None:
        import MySQLdb
        import psycopg2

        try:
            pg = psycopg2.connect(dbname="postgres", **PG)
            pg.autocommit = True
            cur = pg.cursor()
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (self.pg_db,))
            cur.execute(f'DROP DATABASE IF EXISTS "{self.pg_db}"')
            pg.close()
        except Exception as exc:
            log(f"could not drop PostgreSQL database {self.pg_db}: {exc}")
        try:
            my = MySQLdb.connect(**MYSQL)
            cur = my.cursor()
            for db in (self.data_db, self.compliance_db):
                cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
            my.close()
        except Exception as exc:
            log(f"could not drop MariaDB databases: {exc}")

    def pg_query(self, sql: str, args: tuple = ()) -> list[tuple]:
        import psycopg2

        conn = psycopg2.connect(dbname=self.pg_db, **PG)
        try:
            cur = conn.cursor()
            cur.execute(sql, args)
            return cur.fetchall()
        finally:
            conn.close()

    def ti_counts(self, task_id: str | None = None, dag_id: str = DAG_ID) -> dict[str, int]:
        where, args = ("WHERE dag_id = %s", (dag_id,))
        if task_id:
            where, args = where + " AND task_id = %s", (*args, task_id)
        rows = self.pg_query(f"SELECT coalesce(state, 'none'), count(*) FROM task_instance {where} GROUP BY 1", args)
        return {s: n for s, n in rows}

    # ---------------------------------------------------------------- processes
    def run(self, cmd: list[str], name: str, timeout: float = 600) -> None:
        with open(self.logs / f"{name}.log", "ab") as out:
            subprocess.run(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=out, check=True, timeout=timeout)  # noqa: S603

    def start(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start ``cmd`` in its own session, with the stack's environment (or ``env``), logging to logs/<name>.log."""
        out = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (lives as long as the process)
        proc = subprocess.Popen(  # noqa: S603 (our own command lines)
            cmd, cwd=ROOT, env=env or self.env, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self.groups[name] = proc
        return proc

    def start_all(self) -> None:
        log(f"airflow db migrate ({self.pg_db})")
        self.run([str(VENV_BIN / "airflow"), "db", "migrate"], "migrate")
        sink = ["--port", str(self.smtp_port), "--dir", str(self.mail_dir), *self._tls_args()]
        self.start("mail_sink", [PY, "-m", "devtools.standins.mail_sink", *sink])
        self.start(
            "slack_emulator",
            [PY, "-m", "devtools.standins.slack_emulator", "--port", str(self.slack_port), *self._emulator_args()],
        )
        for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
            self.start(component, [str(VENV_BIN / "airflow"), component])
        log("waiting for Airflow to be healthy")
        wait_until(self._healthy, 240, 1, "Airflow health")
        pw_file = self.home / "simple_auth_manager_passwords.json.generated"
        password = json.loads(pw_file.read_text())["admin"]
        resp = self.session.post(f"{self.af_url}/auth/token", json={"username": "admin", "password": password})
        resp.raise_for_status()
        self.token = resp.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"
        for dag_id in (DAG_ID, FLOOR_DAG_ID):
            wait_until(lambda d=dag_id: self.api("GET", f"/api/v2/dags/{d}").status_code == 200, 180, 1, dag_id)
        errors = self.api("GET", "/api/v2/importErrors").json()
        if errors.get("total_entries"):
            raise RuntimeError(f"import errors: {errors}")
        for dag_id in (DAG_ID, FLOOR_DAG_ID):
            self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        log(f"Airflow is up on {self.af_url}")

    def _emulator_args(self) -> list[str]:
        callback = ["--callback-url", f"{self.af_url}/ccpa/slack/actions"]
        return ["--signing-secret", self.secret, *callback, *self._tls_args()]

    def _tls_args(self) -> list[str]:
        return ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])] if self.tls else []

    def _healthy(self) -> bool:
        for name, proc in self.groups.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}); see {self.logs / (name + '.log')}")
        try:
            health = requests.get(f"{self.af_url}/api/v2/monitor/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            return False
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all((health.get(p) or {}).get("status") == "healthy" for p in parts)

    def api(self, method: str, path: str, timeout: float = 30, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.af_url}{path}", timeout=timeout, **kwargs)

    def pid(self, name: str) -> int:
        return self.groups[name].pid

    def stop(self, keep_dir: bool = False) -> None:
        procs = list(self.groups.items())
        for _, proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for _, proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        time.sleep(1)
        for _, proc in procs:  # the group may still hold children (task runners) after its leader exited
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.groups.clear()
        self.drop_databases()
        if not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---------------------------------------------------------------- the REST API
    def trigger(self, conf: dict[str, Any], dag_id: str = DAG_ID) -> str:
        if dag_id == DAG_ID:  # the DAG requires how the consumer made the request (§7101); the benchmarks' is a form
            conf = {"channel": "web_form", **conf}
        # Not retried (a retry could create a second run); a loaded host can take long to answer.
        body = {"logical_date": None, "conf": conf}
        resp = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", timeout=120, json=body)
        resp.raise_for_status()
        return resp.json()["dag_run_id"]

    def task_instances(self, run_id: str, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        from urllib.parse import quote

        resp = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances")
        resp.raise_for_status()
        return resp.json()["task_instances"]

    def run_state(self, run_id: str, dag_id: str = DAG_ID) -> str:
        from urllib.parse import quote

        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}").json().get("state", "")

    # ---------------------------------------------------------------- Slack emulator and mail sink
    def click(self, ts: str, action_id: str = "ccpa_approve") -> int:
        resp = requests.post(
            f"{self.slack_url}/_emulator/click",
            json={"action_id": action_id, "user_id": APPROVER, "user_name": "bench.officer", "ts": ts},
            timeout=30,
            verify=str(self.tls[0]) if self.tls else True,
        )
        resp.raise_for_status()
        return int(resp.json()["status"])


class MailWatcher:
    """Reads the sink's directory incrementally: each message once, with its arrival time from the file name."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.seen: set[str] = set()
        self.mails: list[dict[str, Any]] = []

    def poll(self) -> list[dict[str, Any]]:
        new = []
        for path in sorted(self.directory.glob("*.eml")):
            if path.name in self.seen:
                continue
            self.seen.add(path.name)
            msg = message_from_bytes(path.read_bytes(), policy=default_policy)
            stamp = path.name.split("-")[0]
            arrived = float(calendar.timegm(time.strptime(stamp[:15], "%Y%m%dT%H%M%S")))
            arrived += int(stamp[15:21] or 0) / 1e6
            item = {
                "to": str(msg["To"] or ""),
                "subject": str(msg["Subject"] or ""),
                "message_id": str(msg["Message-ID"] or ""),
                "arrived": arrived,
                "path": path.name,
            }
            self.mails.append(item)
            new.append(item)
        return new

    def reports(self) -> list[dict[str, Any]]:
        return [m for m in self.mails if ACK_SUBJECT not in m["subject"]]
