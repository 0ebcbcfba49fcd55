"""Benchmark: a large company's queue, thousands of requests waiting for decisions at once (PostgreSQL metadata,
LocalExecutor), measured as the queue grows.

    .venv/bin/python bench/waiting_queue.py                                  # milestones 250,500,1000
    .venv/bin/python bench/waiting_queue.py --milestones 1000,2500,5000 --write-docs

A real stack (bench/lib.py :class:`Stack`: ``airflow api-server``, ``scheduler``, ``dag-processor``, ``triggerer``
on a fresh PostgreSQL database with the LocalExecutor; the Slack emulator and the mail sink; the compliance store
and the demo datastores in fresh MariaDB databases). Requests are triggered over REST until the queue holds the
first milestone's number of runs deferred in ``wait_for_decision``; then, while they wait:

* worker slots held: task instances running or queued, sampled every 2 s over the window (want 0);
* the triggerer's shared poll: every statement an Airflow process sends to the compliance store is counted
  (bench/queue_hook/airflow_local_settings.py, SQLAlchemy's ``before_cursor_execute``): polling rounds per
  interval and SELECTs per round from the triggerer, and how many request ids each asked about;
* CPU (% of one core over the window) and RSS of the scheduler, the triggerer, the API server and the DAG
  processor (process trees);
* the API server's latency for the intake trigger (``POST /api/v2/dags/…/dagRuns``) and the Slack callback
  (``POST /ccpa/slack/actions``, signed Approves of requests registered in the store), open loop;
* click → email: a few of the waiting requests approved one at a time, from the signed click to the report in
  the mail sink.

Then the next milestone: more requests are triggered, and the same is measured again, so the growth is read in
one run on one stack. Requesters are verified clones of the demo subject's CRM row (a full Approve is accepted;
the report is small). Every loop is bounded in count and time; the stack is stopped and its databases dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lib import (
    AIRFLOW_TUNING,
    DAG_ID,
    ROOT,
    MailWatcher,
    Stack,
    add_settings_argument,
    apply_settings,
    log,
    median,
    pct,
    register_verified,
    replace_section,
    verified_conf,
    wait_until,
)
from volume import _cpu_rss, approve_payload, cpu_snapshot, open_loop, signed

DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- waiting_queue:start -->", "<!-- waiting_queue:end -->"
HOOK = Path(__file__).resolve().parent / "queue_hook"
COMPONENTS = ("scheduler", "triggerer", "api-server", "dag-processor")


def poll_lines(path: Path, since: float, until: float) -> list[tuple[float, int, str, str, int]]:
    """The compliance-store statements noted between ``since`` and ``until`` (time, pid, role, verb, bound)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 5:
            continue
        t = float(parts[0])
        if since <= t < until:
            out.append((t, int(parts[1]), parts[2], parts[3], int(parts[4])))
    return out


def poll_stats(lines: list[tuple[float, int, str, str, int]], seconds: float, interval: float) -> dict[str, Any]:
    """The triggerer's statements in a window, grouped into polling rounds (statements less than half an interval
    apart belong to one round)."""
    mine = sorted(x for x in lines if x[2] == "triggerer")
    rounds: list[list[tuple[float, int, str, str, int]]] = []
    for item in mine:
        if rounds and item[0] - rounds[-1][-1][0] < interval / 2:
            rounds[-1].append(item)
        else:
            rounds.append([item])
    per_round = [len(r) for r in rounds]
    return {
        "statements": len(mine),
        "rounds": len(rounds),
        "rounds_per_interval": len(rounds) / (seconds / interval) if seconds else 0.0,
        "statements_per_round_median": median([float(n) for n in per_round]),
        "statements_per_round_max": max(per_round) if per_round else 0,
        "ids_per_statement_max": max((x[4] for x in mine), default=0),
        "pids": len({x[1] for x in mine}),
        "other_roles": sorted({x[2] for x in lines if x[2] != "triggerer"}),
    }


def quiet(stack: Stack) -> bool:
    """Nothing in flight: no task instance running, queued or scheduled, and every active run (created, e.g. by
    the intake step, or running) is waiting in its deferred sensor (tasks after the wait have no state yet)."""
    counts = stack.ti_counts()
    if any(counts.get(s, 0) for s in ("running", "queued", "scheduled", "up_for_retry", "restarting")):
        return False
    not_waiting = stack.pg_query(
        "SELECT count(*) FROM dag_run dr WHERE dr.dag_id = %s AND dr.state IN ('queued', 'running') AND NOT EXISTS "
        "(SELECT 1 FROM task_instance ti WHERE ti.dag_id = dr.dag_id AND ti.run_id = dr.run_id "
        "AND ti.state = 'deferred')",
        (DAG_ID,),
    )[0][0]
    return not_waiting == 0


def grow(
    stack: Stack, target: int, runs: list[str], emails: list[str], made: list[int], timeout: float
) -> dict[str, Any]:
    """Trigger runs until ``target`` wait, then wait for every one to be deferred and nothing else to run."""
    t0 = time.time()
    lat = []
    for _ in range(len(runs), target):
        email = f"queue-{made[0]:05d}@example.com"
        made[0] += 1
        s = time.perf_counter()
        runs.append(stack.trigger(verified_conf(email)))
        lat.append(time.perf_counter() - s)
        emails.append(email)
    triggered_s = time.time() - t0
    timeline = []

    def all_deferred() -> bool:
        deferred = stack.ti_counts("wait_for_decision").get("deferred", 0)
        timeline.append((round(time.time() - t0), deferred))
        return deferred >= target and quiet(stack)

    wait_until(all_deferred, timeout, 5, f"{target} deferred sensors and nothing else running")
    return {
        "triggered": len(lat),
        "trigger_s": triggered_s,
        "trigger_p50_ms": pct(lat, 50) * 1000,
        "trigger_p99_ms": pct(lat, 99) * 1000,
        "ready_s": time.time() - t0,
        "timeline": timeline[:: max(1, len(timeline) // 12)],
    }


#: The tables holding a DAG run's state that a waiting request has rows in (Airflow 3.3): cloned by :func:`seed`.
SEEDED_TABLES = ("dag_run", "trigger", "task_instance", "xcom", "rendered_task_instance_fields")


def unassigned_triggers(stack: Stack) -> int:
    """Triggers no triggerer has taken: with ``[triggerer] capacity`` reached, waits nobody polls."""
    return int(stack.pg_query("SELECT count(*) FROM trigger WHERE triggerer_id IS NULL")[0][0])


def seed(stack: Stack, store: Any, target: int, template_run: str, start: int) -> dict[str, Any]:
    """Bring the queue to ``target`` waiting runs by copying a real waiting run's rows, ``target - waiting`` times.

    Growing a queue over REST costs four task processes per request and, past ~1,000 open runs, Airflow's scheduler
    admits new ones at ~0.3 a second (hours to 5,000 on 2 cores). What the scheduler, the triggerer and the API
    server see of a waiting request is its rows: the DAG run (running), its task instances (the first three
    succeeded, ``wait_for_decision`` deferred on a trigger, the rest without state), its XComs and rendered fields,
    and the trigger; and in the compliance store the registered, verified request. Each copy gets its own run id,
    request id, email and trigger (the request id replaced in the trigger's kwargs, the XComs and rendered fields;
    new task instance ids), written by SQL in PostgreSQL as Airflow would have written them; the request is
    registered in the compliance store as the volume benchmark registers its requests (bench/lib.py
    ``register_verified``). A copy is a live run: approving one (see :func:`click_to_email`) runs it to the email.
    """
    import psycopg2
    from lib import PG

    rows = stack.pg_query(
        "SELECT value ->> 'request_id' FROM xcom "
        "WHERE run_id = %s AND task_id = 'validate_request' AND key = 'return_value'",
        (template_run,),
    )
    template_request = rows[0][0]
    template_email = stack.pg_query("SELECT conf ->> 'email' FROM dag_run WHERE run_id = %s", (template_run,))[0][0]
    kwargs = stack.pg_query(
        "SELECT tr.kwargs FROM trigger tr JOIN task_instance ti ON ti.trigger_id = tr.id WHERE ti.run_id = %s",
        (template_run,),
    )[0][0]
    if template_request not in kwargs:  # encrypted (a Fernet key is set): the request id cannot be replaced in SQL
        raise RuntimeError("the template trigger's kwargs are encrypted; run the bench without a Fernet key")
    columns = {
        table: [
            c
            for (c,) in stack.pg_query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
                (table,),
            )
        ]
        for table in SEEDED_TABLES
    }
    # Per column of each table: what a copy gets instead of the template's value (m: the copy's row in seed_map);
    # every run_id column becomes the copy's.
    swap = "replace(t.{c}::text, %(rid)s, m.request_id)"
    special = {
        "dag_run": {
            "id": "m.dag_run_id",
            "conf": "replace(t.conf::text, %(email)s, m.email)::jsonb",
        },
        "trigger": {
            "id": "m.trigger_id",
            "kwargs": swap.format(c="kwargs"),
            "triggerer_id": "NULL",
            "created_date": "now()",
        },
        "task_instance": {
            "id": "gen_random_uuid()",
            "trigger_id": "CASE WHEN t.trigger_id IS NULL THEN NULL ELSE m.trigger_id END",
            "next_kwargs": swap.format(c="next_kwargs") + "::jsonb",
        },
        "xcom": {"dag_run_id": "m.dag_run_id", "value": swap.format(c="value") + "::jsonb"},
        "rendered_task_instance_fields": {"rendered_fields": swap.format(c="rendered_fields") + "::json"},
    }
    # The template's rows: by run id, except its trigger (the one its deferred task instance points at).
    source = {table: f'"{table}" t WHERE t.run_id = %(run)s' for table in SEEDED_TABLES}
    source["trigger"] = (
        "trigger t WHERE t.id = "
        "(SELECT trigger_id FROM task_instance WHERE run_id = %(run)s AND trigger_id IS NOT NULL)"
    )
    waiting = stack.ti_counts("wait_for_decision").get("deferred", 0)
    copies = max(0, target - waiting)
    t0 = time.time()
    now = datetime.now(UTC)
    made: list[tuple[str, str]] = []
    conn = psycopg2.connect(dbname=stack.pg_db, **PG)
    try:
        for first in range(0, copies, 500):
            batch = [
                (f"manual__bench_seed_{start + i:05d}", f"seed-{start + i:05d}@example.com")
                for i in range(first, min(copies, first + 500))
            ]
            with ThreadPoolExecutor(8) as pool:
                request_ids = list(pool.map(lambda r: register_verified(store, r[0], r[1], now), batch))
            with conn, conn.cursor() as cur:
                cur.execute(
                    "CREATE TEMP TABLE seed_map (run_id text, request_id text, email text, dag_run_id int, "
                    "trigger_id int) ON COMMIT DROP"
                )
                cur.executemany(
                    "INSERT INTO seed_map VALUES (%s, %s, %s, nextval('dag_run_id_seq'), nextval('trigger_id_seq'))",
                    [(run, rid, email) for (run, email), rid in zip(batch, request_ids, strict=True)],
                )
                for table in SEEDED_TABLES:
                    cols = columns[table]
                    exprs = [special[table].get(c, "m.run_id" if c == "run_id" else f't."{c}"') for c in cols]
                    names = ", ".join(f'"{c}"' for c in cols)
                    cur.execute(
                        f'INSERT INTO "{table}" ({names}) SELECT {", ".join(exprs)} FROM seed_map m, {source[table]}',
                        {"run": template_run, "rid": template_request, "email": template_email},
                    )
            made += batch
            log(f"seeded {len(made)} of {copies}")
    finally:
        conn.close()
    return {"copied": len(made), "template": template_run, "seed_s": time.time() - t0, "runs": made}


def window(stack: Stack, seconds: float, poll_log: Path, interval: float) -> dict[str, Any]:
    """Sample worker slots, CPU and RSS while the queue only waits."""
    before = cpu_snapshot(stack)
    t0, t_wall = time.perf_counter(), time.time()
    running = queued = 0
    samples = 0
    while time.perf_counter() - t0 < seconds:
        counts = stack.ti_counts()
        running, queued = max(running, counts.get("running", 0)), max(queued, counts.get("queued", 0))
        samples += 1
        time.sleep(2)
    elapsed = time.perf_counter() - t0
    after = cpu_snapshot(stack)
    rss = {c: _cpu_rss(stack.pid(c))[1] for c in COMPONENTS}
    deferred = stack.ti_counts("wait_for_decision").get("deferred", 0)
    return {
        "seconds": elapsed,
        "samples": samples,
        "deferred": deferred,
        "trigger_rows": stack.pg_query("SELECT count(*) FROM trigger")[0][0],
        "triggers_unassigned": unassigned_triggers(stack),
        "running_dag_runs": stack.pg_query("SELECT count(*) FROM dag_run WHERE state = 'running'")[0][0],
        "ti_running_max": running,
        "ti_queued_max": queued,
        "cpu_pct": {c: 100 * (after[c] - before[c]) / elapsed for c in (*COMPONENTS, "machine")},
        "rss_mib": rss,
        "poll": poll_stats(poll_lines(poll_log, t_wall, t_wall + elapsed), elapsed, interval),
    }


def api_latency(
    stack: Stack, args: argparse.Namespace, cb_ids: list[str], cursor: list[int], warm: bool = False
) -> dict[str, Any]:
    """The intake trigger and the Slack callback, each open loop at its rate, while the queue waits."""
    intake_url = f"{stack.af_url}/api/v2/dags/{DAG_ID}/dagRuns"
    callback_url = f"{stack.af_url}/ccpa/slack/actions"
    response_url = f"{stack.slack_url}/response/bench-unknown"  # answered 404 at once: the post-ack path runs
    counter = [0]

    def make_intake(_: int) -> tuple[bytes, dict[str, str]]:
        counter[0] += 1
        conf = {"channel": "web_form", **verified_conf(f"intake-{cursor[0]}-{counter[0]:05d}@example.com")}
        return json.dumps({"logical_date": None, "conf": conf}).encode(), {"Content-Type": "application/json"}

    def make_callback(i: int) -> tuple[bytes, dict[str, str]]:
        return signed(stack.secret, approve_payload(cb_ids[cursor[0] + i], response_url))

    async def both() -> tuple[dict[str, Any], dict[str, Any]]:
        headers = {"Authorization": f"Bearer {stack.token}"}
        if warm:  # the first requests of each kind load code and open connections: not measured
            await open_loop(intake_url, make_intake, 2, 4, 5, 8, headers)
            await open_loop(callback_url, make_callback, 5, 10, 5)
            cursor[0] += 10
        n = int(args.intake_rate * args.api_seconds)
        intake = await open_loop(intake_url, make_intake, args.intake_rate, n, args.api_seconds + 1, 64, headers)
        n = int(args.callback_rate * args.api_seconds)
        callback = await open_loop(callback_url, make_callback, args.callback_rate, n, args.api_seconds + 1)
        return intake, callback

    intake, callback = asyncio.run(both())
    cursor[0] += int(args.callback_rate * args.api_seconds)
    keep = ("rate", "sent", "ok", "statuses", "p50_ms", "p95_ms", "p99_ms", "max_ms")
    return {"intake": {k: intake[k] for k in keep}, "callback": {k: callback[k] for k in keep}}


def click_to_email(
    stack: Stack,
    runs: list[str],
    emails: list[str],
    k: int,
    seeded: list[tuple[str, str]] | None = None,
    report_timeout: float = 300,
) -> dict[str, Any]:
    """Approve ``k`` waiting requests one at a time; click → report email for each. They leave the queue.

    The first ones clicked in the Slack emulator (their prompts were posted); then, if ``seeded``, one copy made by
    :func:`seed` (no prompt was posted for it: the same signed Approve is sent to the callback directly)."""
    from include.store import ComplianceStore

    store = ComplianceStore.from_connection()
    watcher = MailWatcher(stack.mail_dir)
    watcher.poll()
    times = []
    late = 0
    picks = [(runs.pop(0), emails.pop(0), False) for _ in range(k)]
    if seeded:
        picks.append((*seeded.pop(0), True))
    for run_id, email, copy in picks:
        record = store.find_by_run_id(run_id)
        clicked = time.time()
        if copy:
            body, headers = signed(stack.secret, approve_payload(record.request_id, f"{stack.slack_url}/response/x"))
            resp = stack.session.post(f"{stack.af_url}/ccpa/slack/actions", data=body, headers=headers, timeout=30)
            assert resp.status_code == 200
        else:
            assert stack.click(record.slack_ts) == 200

        def arrived(email: str = email) -> float | None:
            watcher.poll()
            return next((m["arrived"] for m in watcher.reports() if m["to"] == email), None)

        try:
            times.append(wait_until(arrived, report_timeout, 0.2, f"the report to {email}") - clicked)
        except TimeoutError:  # recorded as such: the measurement goes on (the run is still open, not lost)
            log(f"no report within {report_timeout:.0f} s of its click")
            late += 1
    return {
        "n": len(times),
        "timed_out": late,
        "timeout_s": report_timeout,
        "p50_s": median(times) if times else math.nan,
        "max_s": max(times) if times else math.nan,
        "each_s": [round(t, 2) for t in times],
        "seeded_clicked": any(copy for _, _, copy in picks),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    apply_settings(args.set)
    stack = Stack(tag=None)
    poll_log = stack.dir / "compliance-statements.tsv"
    stack.env["PYTHONPATH"] = f"{HOOK}{os.pathsep}{stack.env['PYTHONPATH']}"
    stack.env["CCPA_BENCH_POLL_LOG"] = str(poll_log)
    stack.env["CCPA_BENCH_COMPLIANCE_DB"] = stack.compliance_db
    interval = float(stack.env["CCPA_DECISION_POLL_SECONDS"])
    milestones = [int(m) for m in args.milestones.split(",")]
    seed_targets = [int(n) for n in args.seed_to.split(",") if n]
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": subprocess.run(  # noqa: S603
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
        ).stdout.strip(),
        "settings": {k: v for k, v in AIRFLOW_TUNING.items()},
        "poll_interval_s": interval,
        "milestones": [],
    }
    t_start = time.time()
    try:
        stack.create_databases(web_events=50)
        stack.start_all()
        stack.apply_env_here()
        from include.store import ComplianceStore

        store = ComplianceStore.from_connection()
        total_clicks = args.clicks * len(milestones)
        emails_all = [f"queue-{i:05d}@example.com" for i in range(max(milestones) + total_clicks)]
        stack.clone_subject(emails_all, tables=("crm_users",))
        stack.clone_subject([f"lat-idle-{i}@example.com" for i in range(args.clicks)], tables=("crm_users",))
        per_step = int(args.callback_rate * args.api_seconds)
        now = datetime.now(UTC)
        with ThreadPoolExecutor(8) as pool:
            cb_ids = list(
                pool.map(
                    lambda i: register_verified(store, f"cbq-{stack.tag}-{i}", f"cbq-{i:05d}@example.com", now),
                    range(per_step * (len(milestones) + len(seed_targets) + 1) + 10),
                )
            )
        cursor = [0]
        # The same measurements on the empty queue first: what the queue adds is read against it, same stack.
        idle_runs = [stack.trigger(verified_conf(f"lat-idle-{i}@example.com")) for i in range(args.clicks)]
        idle_emails = [f"lat-idle-{i}@example.com" for i in range(args.clicks)]
        wait_until(lambda: stack.ti_counts("wait_for_decision").get("deferred", 0) >= args.clicks, 600, 2, "idle")
        wait_until(lambda: quiet(stack), 600, 2, "quiet")
        idle = {"waiting": args.clicks, "window": window(stack, args.window, poll_log, interval)}
        idle.update(api_latency(stack, args, cb_ids, cursor, warm=True))
        wait_until(lambda: quiet(stack), 600, 2, "quiet after the API load")
        idle["click_to_email"] = click_to_email(stack, idle_runs, idle_emails, args.clicks, None, args.report_timeout)
        results["idle"] = idle
        log(f"idle: {json.dumps(_brief(idle))}")

        runs: list[str] = []
        emails: list[str] = []
        made = [0]

        def save() -> None:
            if args.results:
                Path(args.results).write_text(json.dumps(results, indent=1, default=str))

        def measure(m: dict[str, Any], seeded: list[tuple[str, str]] | None, label: str) -> None:
            """At a queue size reached: the window of only waiting, the API's latency, then clicks to emails."""
            m["window"] = window(stack, args.window, poll_log, interval)
            m.update(api_latency(stack, args, cb_ids, cursor))
            results["milestones"].append(m)
            save()  # what is measured so far is kept, whatever the clicks do
            wait_until(lambda: quiet(stack), 900, 2, "quiet after the API load")
            m["click_to_email"] = click_to_email(stack, runs, emails, args.clicks, seeded, args.report_timeout)
            log(f"{label}: {json.dumps(_brief(m))}")
            save()

        for target in milestones:
            if time.time() - t_start > args.budget:
                log(f"time budget ({args.budget:.0f} s) spent: stopping before {target}")
                break
            log(f"growing the queue to {target}")
            m: dict[str, Any] = {"target": target}
            m["growth"] = grow(stack, target, runs, emails, made, args.grow_timeout)
            m["waiting"] = len(runs)
            measure(m, None, f"{target}")
        copies: list[tuple[str, str]] = []
        for target in seed_targets if runs else []:
            log(f"seeding the queue to {target} (copies of a real waiting run)")
            m = {"target": target}
            seeded = seed(stack, store, target, runs[-1], made[0])
            made[0] += seeded["copied"]
            fresh = seeded.pop("runs")
            stack.clone_subject([email for _, email in fresh[:1]], tables=("crm_users",))
            copies = fresh[:1] + copies + fresh[1:]  # the first new copy is the one clicked at this size
            m["seeded"] = seeded
            t_seeded = time.time()
            while time.time() - t_seeded < 120:  # the triggerer takes new triggers on its next loop
                if unassigned_triggers(stack) == 0:
                    break
                time.sleep(2)
            m["seeded"]["triggers_taken_s"] = time.time() - t_seeded
            # Taken is not yet running: the triggerer starts the new triggers over its next loops (at 5,000 on a
            # busy host, a minute and more). The window measures the queue once the shared poll asks for all of it.
            while time.time() - t_seeded < 600:  # the size the queue was seeded to (the intake's runs included)
                recent = poll_lines(poll_log, time.time() - 3 * interval, math.inf)
                if any(x[2] == "triggerer" and x[4] >= target for x in recent):
                    break
                time.sleep(2)
            m["seeded"]["polled_all_s"] = time.time() - t_seeded
            m["waiting"] = len(runs) + len(copies)
            measure(m, copies, f"{target} (seeded)")
    finally:
        results["load_end"] = os.getloadavg()[0]
        stack.stop(keep_dir=args.keep_dir)
    results["run_s"] = time.time() - t_start
    return results


def _brief(m: dict[str, Any]) -> dict[str, Any]:
    w = m["window"]
    return {
        "waiting": w["deferred"],
        "slots": (w["ti_running_max"], w["ti_queued_max"]),
        "cpu": {k: round(v, 1) for k, v in w["cpu_pct"].items()},
        "rss": {k: round(v) for k, v in w["rss_mib"].items()},
        "poll": {
            k: w["poll"][k] for k in ("rounds_per_interval", "statements_per_round_median", "ids_per_statement_max")
        },
        "intake_p99": round(m["intake"]["p99_ms"]),
        "callback_p99": round(m["callback"]["p99_ms"]),
        "click_email_p50": round(m["click_to_email"]["p50_s"], 2),
    }


def render(r: dict[str, Any]) -> str:
    rows = [("empty queue (only the clicked requests)", r["idle"])] + [
        (f"{m['window']['deferred']:,} waiting" + (" (copies)" if "seeded" in m else ""), m) for m in r["milestones"]
    ]

    def cell(m: dict[str, Any]) -> list[str]:
        w, p = m["window"], m["window"]["poll"]
        return [
            f"{w['deferred']:,} / {w['running_dag_runs']:,} / {w.get('triggers_unassigned', '?')}",
            f"{w['ti_running_max']} / {w['ti_queued_max']}",
            f"{p['rounds_per_interval']:.2f} / {p['statements_per_round_median']:.0f} "
            f"(max {p['statements_per_round_max']}) / {p['ids_per_statement_max']}",
            f"{w['cpu_pct']['scheduler']:.0f} % / {w['rss_mib']['scheduler']:.0f}",
            f"{w['cpu_pct']['triggerer']:.0f} % / {w['rss_mib']['triggerer']:.0f}",
            f"{w['cpu_pct']['api-server']:.0f} % / {w['rss_mib']['api-server']:.0f}",
            f"{m['intake']['p50_ms']:.0f} / {m['intake']['p99_ms']:.0f}",
            f"{m['callback']['p50_ms']:.0f} / {m['callback']['p99_ms']:.0f}",
            f"**{m['click_to_email']['p50_s']:.2f}** ({', '.join(f'{x:.1f}' for x in m['click_to_email']['each_s'])}"
            + (
                f"; {m['click_to_email']['timed_out']} not within {m['click_to_email']['timeout_s']:.0f} s)"
                if m["click_to_email"].get("timed_out")
                else ")"
            ),
        ]

    head = (
        "| queue | deferred / running DAG runs / triggers no triggerer took | TIs running / queued (max) | "
        "poll: rounds per interval / SELECTs "
        "per round (max) / ids per SELECT | scheduler CPU / RSS MiB | triggerer CPU / RSS MiB | API server CPU / "
        "RSS MiB | intake p50 / p99 ms | callback p50 / p99 ms | click → email p50 s (each) |"
    )
    table = [head, "|---|" + "---:|" * 9]
    table += [f"| {label} | " + " | ".join(cell(m)) + " |" for label, m in rows]
    growth = [
        f"{m['target']:,}: {m['growth']['triggered']} triggered in {m['growth']['trigger_s']:.0f} s (REST p50 "
        f"{m['growth']['trigger_p50_ms']:.0f} ms), all deferred and quiet {m['growth']['ready_s']:.0f} s after"
        for m in r["milestones"]
        if "growth" in m
    ] + [
        f"{m['target']:,}: {m['seeded']['copied']:,} copies of a real waiting run written in "
        f"{m['seeded']['seed_s']:.0f} s (bench/waiting_queue.py `seed`), their triggers taken by the triggerer "
        f"within {m['seeded']['triggers_taken_s']:.0f} s"
        + (
            f", all of them in the shared poll within {m['seeded']['polled_all_s']:.0f} s"
            if "polled_all_s" in m["seeded"]
            else ""
        )
        for m in r["milestones"]
        if "seeded" in m
    ]
    settings = ", ".join(f"`{k.removeprefix('AIRFLOW__')}={v}`" for k, v in r["settings"].items())
    return "\n".join(
        [
            START,
            "## A large company's queue: requests waiting for decisions at once",
            "",
            f"- Date: {r['date']}; code: `{r['commit']}`; run: {r['run_s'] / 60:.0f} min; load (1-minute average) "
            f"{r.get('load_start', '?')} at the start, {r['load_end']:.1f} at the end, on 2 cores shared with other "
            "sessions' test runs (absolute seconds are inflated; compare the rows, measured on one stack).",
            f"- Reproduce: `{r['command']}`",
            f"- Stack: bench/lib.py (PostgreSQL metadata, LocalExecutor, one scheduler, one triggerer, API server "
            f"with 2 workers), decision poll every {r['poll_interval_s']:.0f} s. Settings: {settings}.",
            f"- Window while waiting: {r['idle']['window']['seconds']:.0f} s, task instances sampled every 2 s; "
            f"intake {r['args']['intake_rate']:.0f}/s and callback {r['args']['callback_rate']:.0f}/s, "
            f"{r['args']['api_seconds']:.0f} s each, open loop; then {r['args']['clicks']} of the waiting requests "
            "approved one at a time (signed click → report in the mail sink).",
            "- Growth: " + "; ".join(growth) + ".",
            "",
            *table,
            END,
        ]
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--milestones", default="250,500,1000", help="queue sizes to measure at, ascending")
    p.add_argument("--window", type=float, default=30, help="seconds of only waiting, sampled")
    p.add_argument("--api-seconds", type=float, default=8)
    p.add_argument("--intake-rate", type=float, default=5)
    p.add_argument("--callback-rate", type=float, default=50)
    p.add_argument("--clicks", type=int, default=3, help="requests approved one at a time per milestone")
    p.add_argument("--grow-timeout", type=float, default=3600)
    p.add_argument(
        "--report-timeout", type=float, default=300, help="seconds a click's report may take before it is recorded late"
    )
    p.add_argument(
        "--seed-to",
        default="",
        help="after the milestones, bring the queue to these sizes (ascending, comma-separated) with copies of a "
        "real waiting run (see seed())",
    )
    p.add_argument("--budget", type=float, default=5400, help="no new milestone after this many seconds")
    p.add_argument("--results", default=None, help="save the raw results (JSON) after each milestone")
    p.add_argument("--docs-from", default=None, help="only render docs/benchmarks.md from saved results")
    p.add_argument("--write-docs", action="store_true")
    p.add_argument("--keep-dir", action="store_true")
    add_settings_argument(p)
    args = p.parse_args()
    if args.docs_from:
        replace_section(DOCS, START, END, render(json.loads(Path(args.docs_from).read_text())))
        return 0
    load_start = os.getloadavg()[0]
    results = run(args)
    results["load_start"] = f"{load_start:.1f}"
    results["args"] = vars(args)
    results["command"] = "python bench/waiting_queue.py " + " ".join(sys.argv[1:])
    if args.results:
        Path(args.results).write_text(json.dumps(results, indent=1, default=str))
    print(render(results))
    if args.write_docs:
        replace_section(DOCS, START, END, render(results))
    bad = [m["target"] for m in results["milestones"] if m["window"]["ti_running_max"] or m["window"]["ti_queued_max"]]
    if bad:
        log(f"worker slots were held while waiting at {bad}")
    return 0 if math.isfinite(results["run_s"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
