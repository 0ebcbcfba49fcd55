"""Benchmark: the workflow at a company's real volume, on PostgreSQL + LocalExecutor (issue #8).

Run on demand (not part of the test run)::

    .venv/bin/python bench/volume.py                          # all phases; rewrites its section of docs/benchmarks.md
    .venv/bin/python bench/volume.py --requests 100 --phases latency,volume
    .venv/bin/python bench/volume.py --docs-from /tmp/x.json  # only re-render the section from saved results

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and MariaDB at 127.0.0.1:3306 (root, no password), and
``psycopg2-binary`` in .venv. Creates a fresh PostgreSQL database (Airflow's metadata) and two MariaDB databases
(compliance store, demo datastores) named ``ccpa_vol_<random>*``, starts ``airflow api-server``, ``scheduler``,
``dag-processor``, ``triggerer``, the Slack emulator and the mail sink (see ``bench/lib.py``), and at the end stops
exactly those process groups and drops those databases. All traffic goes to 127.0.0.1; every loop is bounded.

Phases (run in this order; each one is bounded in count and time):

* ``callback``: signed Slack callbacks to ``/ccpa/slack/actions`` at stepped rates (open loop), each approving a
  distinct request registered in the compliance store; latency percentiles per rate; then the store is checked
  (one decision per request that was answered 200).
* ``latency``: 20 requests, deferred, then approved one at a time: signed Approve click to the report in the
  mail sink, broken down per task from the REST API's task instances; compared with the floor, the same work
  (``include.tasks.access_request`` extract x3, build_report, send_report, close_review_prompt) in this one process.
* ``volume``: N requests (default 500) triggered over REST, waited on until every ``wait_for_decision`` is
  deferred; worker slots held and triggerer RSS/CPU over 60 s; then all approved; time until N report emails.
* ``intake``: REST triggers at stepped rates (DAG paused, so only the API server's intake is measured) until p99
  latency exceeds 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lib import (
    AIRFLOW_TUNING,
    APPROVE_PATH,
    APPROVER,
    DAG_ID,
    FLOOR_DAG_ID,
    ROOT,
    MailWatcher,
    Stack,
    add_settings_argument,
    add_tls_argument,
    apply_settings,
    host_share,
    host_ticks,
    log,
    machine_busy_cpu_s,
    median,
    pct,
    register_verified,
    replace_section,
    verified_conf,
    wait_until,
)

DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- volume:start -->", "<!-- volume:end -->"
ALL_PHASES = ("callback", "latency", "volume", "intake")


# ------------------------------------------------------------------------------------------------ load generator
async def open_loop(
    url: str,
    make: Any,
    rate: float,
    count: int,
    max_seconds: float,
    max_inflight: int = 256,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Send ``count`` requests at ``rate``/s on a fixed schedule (open loop: a slow answer does not slow the
    sending, so queueing shows up in the latency, measured from the scheduled send time)."""
    import aiohttp

    loop = asyncio.get_running_loop()
    lat: list[float] = []
    statuses: dict[int, int] = {}
    sent: list[int] = []
    sem = asyncio.Semaphore(max_inflight)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max_inflight), timeout=timeout, headers=headers or {}
    ) as session:

        async def one(i: int, scheduled: float) -> None:
            data, extra = make(i)
            async with sem:
                try:
                    async with session.post(url, data=data, headers=extra) as resp:
                        await resp.read()
                        status = resp.status
                except Exception:  # a timeout or reset is a result here
                    status = -1
            lat.append(loop.time() - scheduled)
            statuses[status] = statuses.get(status, 0) + 1
            if 200 <= status < 300:
                sent.append(i)

        t0 = loop.time() + 0.05
        tasks = []
        for i in range(count):
            scheduled = t0 + i / rate
            if scheduled - t0 > max_seconds:
                break
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.wait(tasks, timeout=60)
        elapsed = loop.time() - t0
    return {
        "rate": rate,
        "sent": len(tasks),
        "ok": sum(n for s, n in statuses.items() if 200 <= s < 300),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "p50_ms": pct(lat, 50) * 1000,
        "p95_ms": pct(lat, 95) * 1000,
        "p99_ms": pct(lat, 99) * 1000,
        "max_ms": max(lat) * 1000 if lat else float("nan"),
        "achieved_per_s": len(lat) / elapsed if elapsed > 0 else 0.0,
        "ok_indexes": sent,
    }


def signed(secret: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return body.encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sig,
    }


def approve_payload(request_id: str, response_url: str) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": APPROVER, "username": "bench.officer", "name": "bench.officer", "team_id": "T0EMULATOR"},
        "api_app_id": "A0EMULATOR",
        "trigger_id": f"bench.{request_id}",
        "team": {"id": "T0EMULATOR", "domain": "emulator"},
        "channel": {"id": "C0BENCH", "name": "privacy-requests"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": "ccpa_approve",
                "block_id": "ccpa_decision",
                "value": request_id,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


# ------------------------------------------------------------------------------------------------ phases
def phase_callback(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    from include.store import ComplianceStore

    store = ComplianceStore.from_connection()
    rates = [float(r) for r in args.callback_rates.split(",")]
    seconds = args.callback_seconds
    total = 30 + int(sum(r * seconds for r in rates))
    log(f"callback: registering {total} requests in the compliance store")
    now = datetime.now(UTC)

    def register(i: int) -> str:
        # Verified (3 points and a declaration), as the DAG's prompt step would have found: the Approve is accepted.
        return register_verified(store, f"cbload-{stack.tag}-{i}", f"cb-{i:05d}@example.com", now)

    t = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(register, range(total)))
    log(f"callback: registered in {time.monotonic() - t:.1f} s")
    url = f"{stack.af_url}/ccpa/slack/actions"
    response_url = f"{stack.slack_url}/response/bench-unknown"  # answered 404 at once: the post-ack path runs
    cursor = [0]

    def maker(offset: int) -> Any:
        def make(i: int) -> tuple[bytes, dict[str, str]]:
            return signed(stack.secret, approve_payload(ids[offset + i], response_url))

        return make

    async def run_all() -> list[dict[str, Any]]:
        warm = await open_loop(url, maker(0), 5, 20, 10)
        log(f"callback warm-up: {warm['statuses']}")
        cursor[0] = 20
        steps = []
        for rate in rates:
            n = int(rate * seconds)
            host = host_ticks()
            res = await open_loop(url, maker(cursor[0]), rate, n, seconds + 1)
            res["host"] = host_share(host, host_ticks())
            res["targets"] = [ids[cursor[0] + i] for i in res.pop("ok_indexes")]
            cursor[0] += n
            steps.append(res)
            log(
                f"callback {rate:>5.0f}/s: p50 {res['p50_ms']:.0f} p95 {res['p95_ms']:.0f} "
                f"p99 {res['p99_ms']:.0f} ms, {res['statuses']}"
            )
            await asyncio.sleep(3)  # let the background updates drain before the next step
            if res["p99_ms"] > 1000 or res["ok"] < res["sent"] * 0.9:
                break
        return steps

    steps = asyncio.run(run_all())
    time.sleep(5)  # a decision write that exceeded ACK_BUDGET finishes in the background
    targeted = [rid for s in steps for rid in s.pop("targets")]
    import MySQLdb

    my = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", passwd="", db=stack.compliance_db)
    cur = my.cursor()
    found: dict[str, int] = {}
    for chunk in range(0, len(targeted), 500):
        part = targeted[chunk : chunk + 500]
        cur.execute(
            "SELECT request_id, count(*) FROM ccpa_decisions WHERE request_id IN ("
            + ",".join(["%s"] * len(part))
            + ") GROUP BY request_id",
            part,
        )
        found.update({r: n for r, n in cur.fetchall()})
    my.close()
    lost = [r for r in targeted if r not in found]
    doubled = [r for r, n in found.items() if n > 1]
    ok_rates = [s["rate"] for s in steps if s["p99_ms"] <= 100 and s["ok"] == s["sent"]]
    result = {
        "steps": steps,
        "answered_200": len(targeted),
        "decisions_found": len(found),
        "lost": len(lost),
        "doubled": len(doubled),
        "max_rate_p99_le_100ms": max(ok_rates) if ok_rates else None,
        "step_seconds": seconds,
    }
    log(f"callback: {len(targeted)} answered 200, {len(found)} decisions, lost {len(lost)}, doubled {len(doubled)}")
    return result


def _iso(value: str | None) -> float | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def breakdown(tis: list[dict[str, Any]], clicked: float) -> dict[str, dict[str, float | None]]:
    by_id = {t["task_id"]: t for t in tis}
    out: dict[str, dict[str, float | None]] = {}
    for task_id, upstream in APPROVE_PATH:
        ti = by_id.get(task_id)
        if ti is None:
            continue
        start, end, queued = _iso(ti.get("start_date")), _iso(ti.get("end_date")), _iso(ti.get("queued_when"))
        ready = clicked if upstream is None else max((_iso(by_id[u].get("end_date")) or 0) for u in upstream)
        if upstream is None:  # resumed after the deferral: its start_date is the first start; only the end counts
            out[task_id] = {"gap": None, "queued_to_start": None, "run": None, "end_after_click": end - clicked}
            continue
        out[task_id] = {
            "gap": (start - ready) if start else None,
            "ready_to_queued": (queued - ready) if queued else None,
            "queued_to_start": (start - queued) if start and queued else None,
            "run": (end - start) if start and end else None,
            "end_after_click": (end - clicked) if end else None,
        }
    return out


def tasks_p50(samples: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per task of the approve path, the median of each part of :func:`breakdown` over the samples."""
    out: dict[str, dict[str, float]] = {}
    for task_id, _ in APPROVE_PATH:
        rows = [s["tasks"][task_id] for s in samples if task_id in s["tasks"]]
        out[task_id] = {
            k: median([r[k] for r in rows if r.get(k) is not None])
            for k in ("gap", "ready_to_queued", "queued_to_start", "run", "end_after_click")
        }
    return out


def phase_latency(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    from include.datastores.registry import load_registry
    from include.store import APPROVE, ComplianceStore
    from include.tasks import access_request as workflow

    n = args.latency_requests
    emails = [f"lat-{i:02d}@example.com" for i in range(n)]
    floor_emails = [f"floor-{i:02d}@example.com" for i in range(n)]
    stack.clone_subject(emails + floor_emails)
    store = ComplianceStore.from_connection()
    watcher = MailWatcher(stack.mail_dir)
    log(f"latency: triggering {n} runs (subjects with Jane Doe's rows)")
    runs = [stack.trigger(verified_conf(e)) for e in emails]
    wait_until(lambda: stack.ti_counts("wait_for_decision").get("deferred", 0) >= n, 900, 2, f"{n} deferred sensors")
    samples = []
    for i, (run_id, email) in enumerate(zip(runs, emails, strict=True)):
        record = store.find_by_run_id(run_id)
        watcher.poll()
        clicked = time.time()
        status = stack.click(record.slack_ts)
        acked = time.time()

        def report_in(email: str = email) -> dict[str, Any] | None:
            watcher.poll()
            return next((m for m in watcher.reports() if m["to"] == email), None)

        mail = wait_until(report_in, 180, 0.02, f"the report to {email}")
        wait_until(lambda run_id=run_id: stack.run_state(run_id) in ("success", "failed"), 180, 0.2, "run end")
        tis = stack.task_instances(run_id)
        bd = breakdown(tis, clicked)
        samples.append(
            {
                "click_status": status,
                "ack_s": acked - clicked,
                "email_s": mail["arrived"] - clicked,
                "run_end_s": bd.get("close_review_prompt", {}).get("end_after_click"),
                "tasks": bd,
                "run_state": stack.run_state(run_id),
            }
        )
        log(f"latency {i + 1}/{n}: click->email {mail['arrived'] - clicked:.2f} s, callback {acked - clicked:.3f} s")

    # The floor: the same work in one process, calling include.tasks.access_request directly.
    registry = load_registry()
    now = datetime.now(UTC)
    run_url = workflow.run_url(DAG_ID, "floor")
    floor = []
    for i, email in enumerate(floor_emails):
        rid = register_verified(store, f"floor-{stack.tag}-{i}", email, now)
        workflow.post_review_prompt(rid)  # untimed: the prompt the close step updates
        store.record_decision(rid, APPROVE, APPROVER)
        t0 = time.perf_counter()
        extracts = [workflow.extract_datastore(d.name, rid, "12_months") for d in registry.datastores]
        t1 = time.perf_counter()
        report = workflow.build_report(rid, "12_months", extracts)
        t2 = time.perf_counter()
        workflow.send_report(rid, report)
        t3 = time.perf_counter()
        workflow.close_review_prompt(rid, run_url)
        t4 = time.perf_counter()
        floor.append({"extract": t1 - t0, "build": t2 - t1, "send": t3 - t2, "close": t4 - t3, "email": t3 - t0})
    warm = floor[1:] or floor
    lat = [s["email_s"] for s in samples]
    result = {
        "n": n,
        "email_p50": pct(lat, 50),
        "email_p95": pct(lat, 95),
        "email_max": max(lat),
        "ack_p50": pct([s["ack_s"] for s in samples], 50),
        "run_end_p50": pct([s["run_end_s"] for s in samples if s["run_end_s"] is not None], 50),
        "all_success": all(s["run_state"] == "success" for s in samples),
        "samples": samples,
        "floor": floor,
        "floor_email_p50": pct([f["email"] for f in warm], 50),
        "floor_email_p95": pct([f["email"] for f in warm], 95),
        "floor_cold_email": floor[0]["email"],
        "floor_parts_p50": {k: pct([f[k] for f in warm], 50) for k in ("extract", "build", "send", "close")},
    }
    result["tasks_p50"] = tasks_p50(samples)
    result["airflow_floor"] = airflow_floor_latency(stack, n)
    log(
        f"latency: p50 {result['email_p50']:.2f} s p95 {result['email_p95']:.2f} s; "
        f"floor p50 {result['floor_email_p50']:.3f} s; "
        f"Airflow's floor (same shape, no work) p50 {result['airflow_floor']['email_p50']:.2f} s"
    )
    return result


def _floor_runs(stack: Stack, flags: list[Path]) -> list[str]:
    """Trigger one run of the floor DAG per flag file (the file it waits for)."""
    runs = [stack.trigger({"flag": str(f)}, dag_id=FLOOR_DAG_ID) for f in flags]
    return runs


def airflow_floor_latency(stack: Stack, n: int) -> dict[str, Any]:
    """Click-to-"email" of bench/floor_dag.py, measured like ours: the click is touching the run's flag file."""
    flags = [stack.dir / f"floor-latency-{i}.flag" for i in range(n)]
    log(f"latency: Airflow's floor, {n} runs of {FLOOR_DAG_ID}")
    runs = _floor_runs(stack, flags)
    wait_until(
        lambda: stack.ti_counts("wait_for_decision", FLOOR_DAG_ID).get("deferred", 0) >= n, 900, 1, "floor deferred"
    )
    samples = []
    for run_id, flag in zip(runs, flags, strict=True):
        clicked = time.time()
        flag.touch()
        wait_until(lambda r=run_id: stack.run_state(r, FLOOR_DAG_ID) in ("success", "failed"), 180, 0.2, "floor run")
        bd = breakdown(stack.task_instances(run_id, FLOOR_DAG_ID), clicked)
        samples.append({"email_s": bd["send_report"]["end_after_click"], "tasks": bd})
    lat = [x["email_s"] for x in samples]
    return {
        "n": n,
        "email_p50": pct(lat, 50),
        "email_p95": pct(lat, 95),
        "samples": lat,
        "tasks_p50": tasks_p50(samples),
    }


def airflow_floor_volume(stack: Stack, n: int, timeout: float) -> dict[str, Any]:
    """N runs of bench/floor_dag.py at once: time to defer them all, then to finish all after one "click" each."""
    flag = stack.dir / "floor-volume.flag"
    log(f"volume: Airflow's floor, {n} runs of {FLOOR_DAG_ID}")
    t0 = time.time()
    _floor_runs(stack, [flag] * n)
    wait_until(  # the latency phase's floor runs are over: every deferred one is ours
        lambda: stack.ti_counts("wait_for_decision", FLOOR_DAG_ID).get("deferred", 0) >= n,
        timeout,
        2,
        "floor deferred",
    )
    deferred_s = time.time() - t0
    busy = ("running", "queued", "scheduled")
    wait_until(lambda: not any(stack.ti_counts(dag_id=FLOOR_DAG_ID).get(s, 0) for s in busy), timeout, 2, "quiet")
    sent_before = stack.ti_counts("send_report", FLOOR_DAG_ID).get("success", 0)  # the latency phase's runs
    cpu0 = cpu_snapshot(stack)
    c0 = time.time()
    flag.touch()  # every run's decision at once, as the 8-thread clicks are for ours
    timeline = []

    def all_sent() -> bool:
        done = stack.ti_counts("send_report", FLOOR_DAG_ID).get("success", 0) - sent_before
        timeline.append({"t": round(time.time() - c0, 1), "emails": done})
        return done >= n or not stack.pg_query(
            "SELECT 1 FROM dag_run WHERE dag_id = %s AND state NOT IN ('success', 'failed') LIMIT 1", (FLOOR_DAG_ID,)
        )

    wait_until(all_sent, timeout, 5, "floor send_report")
    finished_s = time.time() - c0
    cpu = cpu_used(cpu0, cpu_snapshot(stack))
    sent = stack.ti_counts("send_report", FLOOR_DAG_ID).get("success", 0) - sent_before
    log(f"volume floor: {n} deferred after {deferred_s:.0f} s; all sent {finished_s:.0f} s after the click")
    return {
        "n": n,
        "sent": sent,
        "all_deferred_s": deferred_s,
        "all_sent_s": finished_s,
        "timeline": timeline,
        "cpu_s": cpu,
        "retried": retried(stack, FLOOR_DAG_ID),
    }


def retried(stack: Stack, dag_id: str) -> dict[str, int]:
    """Task instances that needed more than one try, by task (Airflow 3.3.2 fails a deferred task whose trigger fires
    before the scheduler has handled the deferral: apache/airflow#66374, #67287, #72716; retries absorb it)."""
    rows = stack.pg_query(
        "SELECT task_id, count(*) FROM task_instance WHERE dag_id = %s AND try_number > 1 GROUP BY 1", (dag_id,)
    )
    return {task_id: n for task_id, n in rows}


def _tree(pid: int) -> list[Any]:
    import psutil

    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


COMPONENTS = ("scheduler", "api-server", "triggerer", "dag-processor")


def cpu_snapshot(stack: Stack) -> dict[str, float]:
    """CPU seconds used so far: per Airflow component (its process tree, with the children it has reaped: the
    scheduler's include the LocalExecutor workers and every task process), and by the whole machine (busy time,
    MariaDB and PostgreSQL included)."""
    import psutil

    snap = {}
    for name in COMPONENTS:
        total = 0.0
        for p in _tree(stack.pid(name)):
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.NoSuchProcess:
                pass
        snap[name] = total
    snap["machine"] = machine_busy_cpu_s()
    return snap


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before[k] for k in before}


def _cpu_rss(pid: int) -> tuple[float, float]:
    import psutil

    cpu = rss = 0.0
    for p in _tree(pid):
        try:
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return cpu, rss / 2**20


def phase_volume(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    n = args.requests
    names = ("triggerer", "scheduler", "api-server", "dag-processor")
    base_rss = {c: _cpu_rss(stack.pid(c))[1] for c in names}
    emails = [f"vol-{i:04d}@example.com" for i in range(n)]
    # Each requester is verified by the CRM row alone (name and phone on file): a full Approve is accepted, and the
    # report stays as small as before verification levels (one CRM row), so runs compare with earlier ones.
    stack.clone_subject(emails, tables=("crm_users",))
    log(f"volume: triggering {n} runs")
    t0 = time.time()
    runs = []
    for email in emails:
        if time.time() - t0 > args.volume_trigger_timeout:
            break
        runs.append(stack.trigger(verified_conf(email)))
    triggered_s = time.time() - t0
    n = len(runs)
    emails = emails[:n]
    timeline = []
    deadline = t0 + args.defer_timeout
    while time.time() < deadline:
        wfd = stack.ti_counts("wait_for_decision")
        timeline.append({"t": round(time.time() - t0, 1), "deferred": wfd.get("deferred", 0)})
        if wfd.get("deferred", 0) >= n:
            break
        time.sleep(10)
    all_deferred_s = time.time() - t0
    deferred = stack.ti_counts("wait_for_decision").get("deferred", 0)
    # send_acknowledgement runs beside post_review_prompt, not before the wait: let its backlog drain first, so
    # the window below sees only the waiting.
    busy = ("running", "queued", "scheduled")
    while time.time() < deadline and any(stack.ti_counts().get(s, 0) for s in busy):
        time.sleep(5)
    quiet_s = time.time() - t0
    log(f"volume: {deferred}/{n} deferred after {all_deferred_s:.0f} s, quiet after {quiet_s:.0f} s; sampling")
    samples = []
    before = {c: _cpu_rss(stack.pid(c)) for c in names}
    s0 = time.monotonic()
    while time.monotonic() - s0 < args.sample_seconds:
        counts = stack.ti_counts()
        samples.append(
            {
                "wfd_running": stack.ti_counts("wait_for_decision").get("running", 0),
                "running": counts.get("running", 0),
                "queued": counts.get("queued", 0),
                "deferred": counts.get("deferred", 0),
                "triggerer_rss": _cpu_rss(stack.pid("triggerer"))[1],
            }
        )
        time.sleep(2)
    window = time.monotonic() - s0
    after = {c: _cpu_rss(stack.pid(c)) for c in names}
    cpu_pct = {c: 100 * (after[c][0] - before[c][0]) / window for c in names}
    triggers = stack.pg_query("SELECT count(*) FROM trigger")[0][0]
    waiting = {
        "deferred_at_sample": deferred,
        "quiet_s": quiet_s,
        "wfd_running_max": max(s["wfd_running"] for s in samples),
        "running_max": max(s["running"] for s in samples),
        "queued_max": max(s["queued"] for s in samples),
        "running_mean": sum(s["running"] for s in samples) / len(samples),
        "trigger_rows": triggers,
        "triggerer_rss_mib": max(s["triggerer_rss"] for s in samples),
        "rss_before_mib": base_rss,
        "rss_waiting_mib": {c: after[c][1] for c in names},
        "cpu_pct": cpu_pct,
        "window_s": window,
    }
    log(f"volume waiting: {json.dumps(waiting)}")

    from include.store import ComplianceStore

    store = ComplianceStore.from_connection()
    targets = []
    for run_id, email in zip(runs, emails, strict=True):
        rec = store.find_by_run_id(run_id)
        if rec is not None and rec.slack_ts:
            targets.append((rec.slack_ts, email))
    watcher = MailWatcher(stack.mail_dir)
    watcher.poll()
    log(f"volume: approving {len(targets)} requests through the emulator")
    cpu0 = cpu_snapshot(stack)
    c0 = time.time()
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda t: stack.click(t[0]), targets))
    clicks_s = time.time() - c0
    want = {e for _, e in targets}
    progress = []
    deadline = c0 + args.email_timeout
    while time.time() < deadline:
        watcher.poll()
        got = {m["to"] for m in watcher.reports() if m["to"] in want}
        progress.append({"t": round(time.time() - c0, 1), "emails": len(got)})
        if len(got) >= len(want):
            break
        time.sleep(5)
    watcher.poll()
    reports = [m for m in watcher.reports() if m["to"] in want]
    by_to: dict[str, int] = {}
    for m in reports:
        by_to[m["to"]] = by_to.get(m["to"], 0) + 1
    cpu = cpu_used(cpu0, cpu_snapshot(stack))
    last = max((m["arrived"] for m in reports), default=c0)
    counts_end = stack.ti_counts()
    result = {
        "requested": args.requests,
        "triggered": n,
        "trigger_s": triggered_s,
        "all_deferred_s": all_deferred_s,
        "defer_timeline": timeline,
        "waiting": waiting,
        "approved": len(targets),
        "click_statuses": {str(s): statuses.count(s) for s in set(statuses)},
        "clicks_s": clicks_s,
        "emails_distinct_to": len(by_to),
        "emails_total": len(reports),
        "emails_twice": sum(1 for v in by_to.values() if v > 1),
        "message_ids_distinct": len({m["message_id"] for m in reports}),
        "missing": len(want - set(by_to)),
        "all_emails_s": (last - c0) if len(by_to) >= len(want) else None,
        "emails_after_s": last - c0,
        "email_timeline": progress,
        "cpu_s": cpu,
        "retried": retried(stack, DAG_ID),
        "ti_states_end": counts_end,
    }
    log(f"volume: {len(by_to)}/{len(want)} reports, {last - c0:.0f} s after the first click")
    if args.floor_requests:
        busy = ("running", "queued", "scheduled")
        wait_until(lambda: not any(stack.ti_counts().get(s, 0) for s in busy), args.email_timeout, 5, "ours done")
        result["airflow_floor"] = airflow_floor_volume(stack, args.floor_requests, args.email_timeout)
    return result


def phase_intake(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    stack.api("PATCH", f"/api/v2/dags/{DAG_ID}", json={"is_paused": True}).raise_for_status()
    rates = [float(r) for r in args.intake_rates.split(",")]
    url = f"{stack.af_url}/api/v2/dags/{DAG_ID}/dagRuns"
    counter = [0]

    def make(_: int) -> tuple[bytes, dict[str, str]]:
        counter[0] += 1
        i = counter[0]
        conf = {"channel": "web_form", **verified_conf(f"intake-{i:05d}@example.com")}  # what the intake sends
        return json.dumps({"logical_date": None, "conf": conf}).encode(), {"Content-Type": "application/json"}

    async def run_all() -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {stack.token}"}
        await open_loop(url, make, 2, 6, 5, headers=headers)  # warm-up
        steps = []
        for rate in rates:
            count = int(rate * args.intake_seconds)
            res = await open_loop(url, make, rate, count, args.intake_seconds + 1, 128, headers)
            res.pop("ok_indexes")
            steps.append(res)
            log(f"intake {rate:>5.0f}/s: p50 {res['p50_ms']:.0f} p99 {res['p99_ms']:.0f} ms, {res['statuses']}")
            await asyncio.sleep(2)
            if res["p99_ms"] > 1000:
                break
        return steps

    steps = asyncio.run(run_all())
    ok = [s["rate"] for s in steps if s["p99_ms"] <= 1000 and s["ok"] == s["sent"]]
    return {"steps": steps, "max_rate_p99_le_1s": max(ok) if ok else None, "step_seconds": args.intake_seconds}


# ------------------------------------------------------------------------------------------------ report
def machine() -> dict[str, str]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20

    def version(cmd: list[str]) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout  # noqa: S603
            return out.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"

    from importlib.metadata import version as pkg

    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "mem_gib": f"{mem:.0f}",
        "python": platform.python_version(),
        "airflow": pkg("apache-airflow"),
        "psycopg2": pkg("psycopg2-binary"),
        "postgres": version(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "select version()"]),
        "mariadb": version(["mysql", "-h", "127.0.0.1", "-u", "root", "-N", "-e", "select version()"]),
    }


def f(v: Any, spec: str = ".2f") -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and v != v:
        return "–"
    return format(v, spec)


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    out = [
        START,
        "## Volume: the workflow at a company's real volume (PostgreSQL + LocalExecutor)",
        "",
        f"- Date: {r['date']}",
        f"- Machine: {m['cpus']} cores ({m['cpu']}), {m['mem_gib']} GiB RAM; Python {m['python']}; Airflow "
        f"{m['airflow']}; {m['postgres'].split(' on ')[0]} (metadata DB, psycopg2-binary {m['psycopg2']}); "
        f"MariaDB {m['mariadb']} (compliance store, demo datastores); all on the same host, traffic on 127.0.0.1 only.",
        f"- Reproduce: `{r['command']}` (creates and drops `ccpa_vol_<random>` databases; starts and stops its own "
        "`airflow api-server`, `scheduler`, `dag-processor`, `triggerer`, Slack emulator and mail sink; rewrites "
        "this section). Needs `psycopg2-binary` in `.venv`.",
        "- Airflow settings (environment): "
        + ", ".join(f"`{k.replace('AIRFLOW__', '')}={v}`" for k, v in r["settings"].items())
        + ". The DAG itself sets `max_active_tasks=32`, `max_active_runs=10000`.",
        "",
    ]
    if r.get("preamble"):
        out += [r["preamble"].strip(), ""]
    if "callback" in r:
        c = r["callback"]
        out += [
            "### The Slack callback under load (`POST /ccpa/slack/actions` on the API server)",
            "",
            f"Open-loop load, {c['step_seconds']} s per step, each callback a signed Approve of a distinct request "
            "registered in the compliance store (response_url pointed at the emulator, which answers 404 at once). "
            "Latency from the scheduled send time (queueing included).",
            "",
            "| rate /s | sent | 2xx | statuses | p50 ms | p95 ms | p99 ms | max ms | achieved /s | host busy / steal / "
            "iowait % |",
            "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for s in c["steps"]:
            out.append(
                f"| {s['rate']:.0f} | {s['sent']} | {s['ok']} | {s['statuses']} | {f(s['p50_ms'], '.0f')} | "
                f"{f(s['p95_ms'], '.0f')} | {f(s['p99_ms'], '.0f')} | {f(s['max_ms'], '.0f')} | "
                f"{f(s['achieved_per_s'], '.1f')} | "
                + (
                    f"{s['host']['busy_pct']:.0f} / {s['host']['steal_pct']:.1f} / {s['host']['iowait_pct']:.1f} |"
                    if "host" in s
                    else "– |"
                )
            )
        out += [
            "",
            f"Store check: {c['answered_200']} callbacks answered 200 → {c['decisions_found']} decisions found, "
            f"**{c['lost']} lost, {c['doubled']} doubled**. Highest stepped rate with p99 ≤ 100 ms and no error: "
            f"**{f(c['max_rate_p99_le_100ms'], '.0f')}/s**.",
            "",
        ]
    for la in ([r["latency"]] if "latency" in r else []) + r.get("latency_extra", []):
        ratio = la["email_p50"] / la["floor_email_p50"] if la["floor_email_p50"] else float("nan")
        out += [
            f"### Click-to-email latency ({la['n']} requests, one at a time){la.get('label', '')}",
            "",
            "Each request was deferred in `wait_for_decision` before its click (as an officer clicks minutes later). "
            "From just before the signed Approve click (emulator `POST /_emulator/click`) to the report's arrival in "
            "the mail sink (its file-name timestamp). Subjects have a copy of Jane Doe's demo rows "
            "(1 + 3 + 300 rows).",
            "",
            "| | p50 s | p95 s | max s |",
            "|---|---:|---:|---:|",
            f"| **DAG: click → report email** | **{f(la['email_p50'])}** | {f(la['email_p95'])} | "
            f"{f(la['email_max'])} |",
            f"| DAG: click → run done (close_review_prompt ends) | {f(la['run_end_p50'])} | – | – |",
            f"| callback answered (HTTP 200 to Slack) | {f(la['ack_p50'], '.3f')} | – | – |",
            f"| floor: same work in one warm process (extract ×3, build, send) | {f(la['floor_email_p50'], '.3f')} | "
            f"{f(la['floor_email_p95'], '.3f')} | – |",
            f"| floor, first call in the process (cold) | {f(la['floor_cold_email'], '.3f')} | – | – |",
        ]
        af = la.get("airflow_floor")
        if af:
            out.append(
                f"| **Airflow's floor: `{FLOOR_DAG_ID}`** (same shape, no work; click = touching the file its "
                f"deferrable FileSensor polls every 1 s; to `send_report`'s end) | **{f(af['email_p50'])}** | "
                f"{f(af['email_p95'])} | {f(max(af['samples']))} |"
            )
        out += [
            "",
            f"**Ratio DAG / in-process floor (p50, to the email): {ratio:.0f}x.** In-process floor parts (p50 s): "
            + ", ".join(f"{k} {v:.3f}" for k, v in la["floor_parts_p50"].items())
            + "."
            + (
                f" **Ratio DAG / Airflow's floor: {la['email_p50'] / af['email_p50']:.2f}x** "
                f"(+{la['email_p50'] - af['email_p50']:.2f} s)."
                if af
                else ""
            ),
            "",
            "Per task on the approve path (medians, s). *ready→queued*: from the upstream's end (the click for "
            "`wait_for_decision`) to the scheduler queueing it; *queued→start*: executor pick-up and task process "
            "start; *run*: start to end (includes the task process's own start-up: importing the DAG file, the "
            "provider hooks, connecting); *end after click*: cumulative.",
            "",
            "| task | ready→queued | queued→start | run | end after click |"
            + (" Airflow's floor: run | floor: end after click |" if af else ""),
            "|---|---:|---:|---:|---:|" + ("---:|---:|" if af else ""),
        ]
        for task_id, t in la["tasks_p50"].items():
            ft = af["tasks_p50"].get(task_id, {}) if af else {}
            out.append(
                f"| {task_id} | {f(t['ready_to_queued'])} | {f(t['queued_to_start'])} | {f(t['run'])} | "
                f"{f(t['end_after_click'])} |"
                + (f" {f(ft.get('run'))} | {f(ft.get('end_after_click'))} |" if af else "")
            )
        out.append("")
    for v in ([r["volume"]] if "volume" in r else []) + r.get("volume_extra", []):
        w = v["waiting"]
        out += [
            f"### Waiting is free? {v['triggered']} requests waiting, then all approved{v.get('label', '')}",
            "",
            f"- Triggered {v['triggered']} runs over REST (one client, sequential) in {v['trigger_s']:.0f} s; "
            f"{w['deferred_at_sample']} `wait_for_decision` deferred after {v['all_deferred_s']:.0f} s "
            f"(timeline: {', '.join(str(x['deferred']) + '@' + str(x['t']) + 's' for x in v['defer_timeline'][::3])}).",
            f"- While they waited ({w['window_s']:.0f} s window"
            + (f", from {w['quiet_s']:.0f} s after the first trigger, no task left" if "quiet_s" in w else "")
            + f"): `wait_for_decision` running max **{w.get('wfd_running_max', '–')}**; all task instances running "
            f"max {w['running_max']} (mean {w['running_mean']:.1f}), queued max {w['queued_max']}; "
            f"{w['trigger_rows']} rows in `trigger`. {v.get('note', '')}",
            "- RSS (MiB, process tree) before the runs → while waiting; CPU % of one core over the window:",
            "",
            "| component | RSS before | RSS waiting | CPU % waiting |",
            "|---|---:|---:|---:|",
        ]
        for comp in w["cpu_pct"]:
            out.append(
                f"| {comp} | {w['rss_before_mib'][comp]:.0f} | {w['rss_waiting_mib'][comp]:.0f} | "
                f"{w['cpu_pct'][comp]:.1f} |"
            )
        out += [
            "",
            f"- Approved {v['approved']} (emulator clicks, 8 in parallel, {v['clicks_s']:.0f} s; callback statuses "
            f"{v['click_statuses']}). Report emails: {v['emails_distinct_to']} distinct recipients of "
            f"{v['approved']}, {v['emails_total']} emails, {v['message_ids_distinct']} distinct Message-IDs, "
            f"**{v['missing']} missing, {v['emails_twice']} twice**; all in: "
            f"**{f(v['all_emails_s'], '.0f')} s** after the first click (last seen {v['emails_after_s']:.0f} s).",
            "- Emails over time: " + ", ".join(f"{x['emails']}@{x['t']}s" for x in v["email_timeline"][::6]) + ".",
            "",
        ]
        fl = v.get("airflow_floor")
        if fl:
            out += [
                f"- **Airflow's floor, same stack, after ours:** {fl['n']} runs of `{FLOOR_DAG_ID}` (same shape, no "
                f"work) deferred after {fl['all_deferred_s']:.0f} s (ours: {v['all_deferred_s']:.0f} s for "
                f'{v["triggered"]}); after one "click" for all, {fl.get("sent", fl["n"])} `send_report` done in '
                f"**{fl['all_sent_s']:.0f} s** (ours: {f(v['all_emails_s'], '.0f')} s for {v['approved']}). "
                f"Task instances that needed a retry — ours: {v.get('retried') or 'none'}; the floor's: "
                f"{fl.get('retried') or 'none'}.",
                "",
            ]
        if v.get("cpu_s"):
            rows = [("ours", v["cpu_s"], v["approved"])] + ([("Airflow's floor", fl["cpu_s"], fl["n"])] if fl else [])
            out += [
                "CPU seconds while the approvals were processed (from the clicks to the last email; per component "
                "its process tree with reaped children — the scheduler's include the LocalExecutor workers and every "
                "task process; *machine*: all busy time, MariaDB and PostgreSQL included):",
                "",
                "| | approvals | " + " | ".join(v["cpu_s"]) + " | machine per approval |",
                "|---|---:|" + "---:|" * len(v["cpu_s"]) + "---:|",
            ]
            for label, cpu, n in rows:
                out.append(
                    f"| {label} | {n} | "
                    + " | ".join(f"{cpu[k]:.0f}" for k in v["cpu_s"])
                    + f" | {cpu['machine'] / max(n, 1):.2f} |"
                )
            out.append("")
    if "intake" in r:
        it = r["intake"]
        out += [
            "### Intake: REST triggers (`POST /api/v2/dags/ccpa_right_of_access/dagRuns`)",
            "",
            f"Open loop, {it['step_seconds']} s per step, distinct emails, DAG paused during the test (runs stay "
            "queued: this measures the API server's intake, not the scheduler).",
            "",
            "| rate /s | sent | 2xx | statuses | p50 ms | p95 ms | p99 ms | max ms | achieved /s |",
            "|---:|---:|---:|---|---:|---:|---:|---:|---:|",
        ]
        for s in it["steps"]:
            out.append(
                f"| {s['rate']:.0f} | {s['sent']} | {s['ok']} | {s['statuses']} | {f(s['p50_ms'], '.0f')} | "
                f"{f(s['p95_ms'], '.0f')} | {f(s['p99_ms'], '.0f')} | {f(s['max_ms'], '.0f')} | "
                f"{f(s['achieved_per_s'], '.1f')} |"
            )
        out += ["", f"Highest stepped rate with p99 ≤ 1 s: **{f(it['max_rate_p99_le_1s'], '.0f')}/s**.", ""]
    if "overhead" in r:
        o = r["overhead"]
        imp, rep = o["import_s"], o["report"]
        out += [
            "### Per-task fixed cost (`bench/task_overhead.py`, quiet machine, after the run)",
            "",
            "Every task process parses the DAG file. Cumulative import time in a fresh interpreter (median of 3; the "
            "total includes importing Airflow itself, which a LocalExecutor worker has already done before it forks "
            "the task; measured on the code of the run's last commit):",
            "",
            "| module | s |",
            "|---|---:|",
            *(f"| `{k}` | {v:.2f} |" for k, v in imp.items() if v >= 0.005),
            "",
            f"Jane Doe's report (304 rows), warm, profiled: extract ×3 {rep['extract_s']:.3f} s, "
            f"`report_files.build` {rep['build_s']:.3f} s, of which `write_pdf` {rep['write_pdf_s']:.3f} s "
            f"(fontTools subsetting {rep['fonttools_subset_s']:.3f} s). cProfile slows this about 2-4x; the "
            "unprofiled cost is the floor's *build* above.",
            "",
        ]
    if r.get("interpretation"):
        out += ["### Interpretation", "", r["interpretation"].strip(), ""]
    out.append(END)
    return "\n".join(out)


def write_docs(r: dict[str, Any]) -> None:
    replace_section(DOCS, START, END, render(r))
    log(f"wrote {DOCS}")


# ------------------------------------------------------------------------------------------------ main
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--phases", default=",".join(ALL_PHASES))
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--latency-requests", type=int, default=20)
    p.add_argument(
        "--floor-requests",
        type=int,
        default=None,
        help="runs of the floor DAG in the volume phase (default: --requests)",
    )
    p.add_argument("--callback-rates", default="10,25,50,75,100,150,200")
    p.add_argument("--callback-seconds", type=float, default=8)
    p.add_argument("--intake-rates", default="2,5,10,20,40,80")
    p.add_argument("--intake-seconds", type=float, default=10)
    p.add_argument("--volume-trigger-timeout", type=float, default=600)
    p.add_argument("--defer-timeout", type=float, default=2400)
    p.add_argument("--email-timeout", type=float, default=2400)
    p.add_argument("--sample-seconds", type=float, default=60)
    p.add_argument("--results", default=None, help="where to save the raw results (JSON)")
    p.add_argument("--docs-from", default=None, help="only render docs/benchmarks.md from saved results")
    p.add_argument("--no-docs", action="store_true")
    p.add_argument("--keep-dir", action="store_true", help="keep the temp dir (logs) after stopping")
    add_settings_argument(p)
    add_tls_argument(p)
    args = p.parse_args()
    if args.docs_from:
        write_docs(json.loads(Path(args.docs_from).read_text()))
        return
    phases = [x for x in ALL_PHASES if x in args.phases.split(",")]
    if args.floor_requests is None:
        args.floor_requests = args.requests
    apply_settings(args.set)  # read by Stack() below and recorded in the results
    stack = Stack(tls=args.tls)
    results_path = Path(args.results or Path(tempfile.gettempdir()) / f"{stack.tag}-results.json")
    r: dict[str, Any] = {
        "date": time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime()),  # as `date -u` prints it
        "machine": machine(),
        "settings": {k: v for k, v in AIRFLOW_TUNING.items()},
        "command": "python bench/volume.py " + " ".join(sys.argv[1:]),
    }
    log(f"volume bench {stack.tag}: phases {phases}; temp dir {stack.dir}; results {results_path}")
    try:
        stack.create_databases()
        stack.apply_env_here()
        stack.start_all()
        for phase in phases:
            t = time.monotonic()
            try:
                r[phase] = globals()[f"phase_{phase}"](stack, args)
            except Exception as exc:  # keep what the other phases measured
                log(f"phase {phase} FAILED: {type(exc).__name__}: {exc}")
                r[f"{phase}_error"] = f"{type(exc).__name__}: {exc}"
            r.setdefault("phase_seconds", {})[phase] = time.monotonic() - t
            results_path.write_text(json.dumps(r, indent=1, default=str))
    finally:
        log("stopping the stack and dropping its databases")
        stack.stop(keep_dir=args.keep_dir)
    results_path.write_text(json.dumps(r, indent=1, default=str))
    log(f"results: {results_path}")
    if not args.no_docs:
        write_docs(r)


if __name__ == "__main__":
    main()
