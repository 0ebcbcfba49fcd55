"""Where one Slack Approve click's time goes, in this process: the real Flask app (include.slack.callback.create_app
with its real Variable-reading settings), the real MariaDB compliance store and a real Airflow metadata DB.

Counts per click: statements on the compliance store, statements on Airflow's metadata DB (in the API server every
``Variable.get`` of a Variable not set in the environment is a metadata-DB query), ``Variable.get`` and
``BaseHook.get_connection`` calls; wall time per click (p50/p99, clicks one after another) and this process's CPU
time per click (all threads, the prompt update after the ack included: steadier than wall time on a busy host).
``--profile FILE`` also writes a cProfile of the clicks (``python -m pstats FILE``).

    .venv/bin/python bench/callback_profile.py --metadata-url postgresql+psycopg2://postgres@127.0.0.1:5432/DB \
        --clicks 200

The metadata DB must be migrated (``airflow db migrate``). Variables are set as bench/lib.py sets them (env
AIRFLOW_VAR_*: signing secret, approvers); the optional ones (team/app id, thresholds, approvals) stay unset, as in
the volume bench, so they are looked up in the metadata DB. Creates one MariaDB database ``ccpa_cbprof_<random>``
and drops it at the end.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import hashlib
import hmac
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-profile-signing-secret-" + uuid.uuid4().hex
APPROVER = "UBENCHAPPROVER"


def _env(metadata_url: str, compliance_url: str) -> None:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="cbprof-"))
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = metadata_url
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    # As in the API server: Variables and Connections not in the environment are looked up in the metadata DB.
    os.environ["_AIRFLOW_PROCESS_CONTEXT"] = "server"
    os.environ["AIRFLOW_VAR_CCPA_SLACK_SIGNING_SECRET"] = SECRET
    os.environ["AIRFLOW_VAR_CCPA_APPROVERS"] = APPROVER
    os.environ["AIRFLOW_VAR_CCPA_REVIEW_CHANNEL"] = "#privacy-requests"
    os.environ["AIRFLOW_CONN_CCPA_COMPLIANCE_DB"] = compliance_url
    sys.path.insert(0, str(ROOT))


def _signed(request_id: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode(
        {
            "payload": json.dumps(
                {
                    "type": "block_actions",
                    "user": {"id": APPROVER, "username": "officer"},
                    "actions": [{"action_id": "ccpa_approve", "value": request_id, "type": "button"}],
                    "response_url": None,
                }
            )
        }
    ).encode()
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return body, {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sig,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--metadata-url", required=True, help="a migrated Airflow metadata DB (SQLAlchemy URL)")
    p.add_argument("--mysql", default="mysql://root@127.0.0.1:3306", help="MariaDB server for the compliance store")
    p.add_argument("--clicks", type=int, default=200)
    p.add_argument("--profile", default=None, help="write a cProfile of the clicks here")
    args = p.parse_args()

    import MySQLdb

    db = f"ccpa_cbprof_{uuid.uuid4().hex[:8]}"
    my = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", passwd="")
    my.cursor().execute(f"CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        _env(args.metadata_url, f"{args.mysql}/{db}")
        print(json.dumps(_run(args), indent=1))
    finally:
        my.cursor().execute(f"DROP DATABASE IF EXISTS `{db}`")
        my.close()


def _run(args: argparse.Namespace) -> dict:
    from airflow.sdk import BaseHook, Variable
    from sqlalchemy import Engine, event

    from include.slack.callback import create_app
    from include.store import ComplianceStore
    from tests.factories import register_verified

    store = ComplianceStore.from_connection()
    ids = [register_verified(store, f"cbprof-{i}").request_id for i in range(args.clicks + 10)]

    statements: collections.Counter[str] = collections.Counter()
    variables: collections.Counter[str] = collections.Counter()
    connections: collections.Counter[str] = collections.Counter()

    def on_execute(conn, _cursor, statement, _params, _context, _many):  # type: ignore[no-untyped-def]
        kind = "compliance" if conn.engine.url.get_backend_name() == "mysql" else "metadata"
        statements[kind] += 1
        statements[f"{kind}: {statement.split()[0].upper()}"] += 1

    event.listen(Engine, "before_cursor_execute", on_execute)
    real_var_get, real_conn_get = Variable.get.__func__, BaseHook.get_connection.__func__  # type: ignore[attr-defined]

    def var_get(cls, key, *a, **kw):  # type: ignore[no-untyped-def]
        variables[key] += 1
        return real_var_get(cls, key, *a, **kw)

    def conn_get(cls, conn_id, *a, **kw):  # type: ignore[no-untyped-def]
        connections[conn_id] += 1
        return real_conn_get(cls, conn_id, *a, **kw)

    Variable.get = classmethod(var_get)  # type: ignore[method-assign,assignment]
    BaseHook.get_connection = classmethod(conn_get)  # type: ignore[method-assign,assignment]

    if args.profile:  # the decision write runs on the request's thread, so that the profile sees it
        from concurrent.futures import Future

        from include.slack import callback

        class Inline:
            def submit(self, fn, *a, **kw):  # type: ignore[no-untyped-def]
                future: Future = Future()
                try:
                    future.set_result(fn(*a, **kw))
                except Exception as exc:
                    future.set_exception(exc)
                return future

        callback._decisions = Inline()  # type: ignore[assignment]
    client = create_app(slack_client_factory=lambda: None).test_client()
    for rid in ids[:10]:  # warm-up: engines, pools, imports
        assert client.post("/slack/actions", data=_signed(rid)[0], headers=_signed(rid)[1]).status_code == 200
    time.sleep(0.5)
    statements.clear(), variables.clear(), connections.clear()

    took = []
    profiler = cProfile.Profile() if args.profile else None
    cpu_start = time.process_time()
    for rid in ids[10:]:
        body, headers = _signed(rid)
        if profiler:
            profiler.enable()
        t = time.perf_counter()
        status = client.post("/slack/actions", data=body, headers=headers).status_code
        took.append(time.perf_counter() - t)
        if profiler:
            profiler.disable()
        assert status == 200, status
    time.sleep(1)  # the background prompt updates
    cpu = time.process_time() - cpu_start  # every thread of this process: the ack path and the work after it
    if profiler:
        profiler.dump_stats(args.profile)
    decided = sum(store.get_decision(r) is not None for r in ids[10:])
    took.sort()
    n = args.clicks
    return {
        "clicks": n,
        "decided": decided,
        "p50_ms": round(1000 * took[n // 2], 2),
        "p99_ms": round(1000 * took[min(n - 1, int(n * 0.99))], 2),
        "process_cpu_ms_per_click": round(1000 * cpu / n, 2),
        "per_click": {
            "statements": {k: round(v / n, 2) for k, v in sorted(statements.items())},
            "variable_gets": {k: round(v / n, 2) for k, v in sorted(variables.items())},
            "connection_gets": {k: round(v / n, 2) for k, v in sorted(connections.items())},
        },
    }


if __name__ == "__main__":
    main()
