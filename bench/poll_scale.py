"""Benchmark: the triggerer's side of a large queue, thousands of ``DecisionTrigger`` waiting in one event loop.

    .venv/bin/python bench/poll_scale.py --sizes 1000,2000,5000

What a triggerer process does for N waiting requests, without the rest of Airflow: N ``DecisionTrigger.run()``
coroutines (the real class, ``include.triggers.DecisionTrigger``) in one asyncio loop, sharing the
``SharedPoller`` of their connection and interval, against a compliance store in a fresh MariaDB database
(``ccpa_poll_<random>``, dropped at the end) holding N registered requests. For each size, over a window: polling
rounds per interval, SELECTs per round and request ids per SELECT (SQLAlchemy ``before_cursor_execute`` on the
store's database), how long a round's query takes, the process's CPU (% of one core: the event loop and the
poll's thread) and RSS; then a few requests are decided (``record_decision``, as the Slack callback writes it) and
the time from the write to the trigger's event is measured. Airflow's scheduler is not in this process: the full
stack is bench/waiting_queue.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lib import MYSQL, ROOT, log, pct, publish, replace_section

sys.path.insert(0, str(ROOT))

DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- poll_scale:start -->", "<!-- poll_scale:end -->"


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def measure(store: Any, ids: list[str], args: argparse.Namespace, notes: list[float]) -> dict[str, Any]:
    from include.decision import trigger as trigger_module
    from include.triggers import DecisionTrigger

    rounds: list[tuple[float, float, int]] = []  # (start, seconds, ids asked)
    fetch = trigger_module._fetch_states

    def timed(conn_id: str, request_ids: list[str]) -> Any:
        t = time.perf_counter()
        try:
            return fetch(conn_id, request_ids)
        finally:
            rounds.append((time.time(), time.perf_counter() - t, len(request_ids)))

    trigger_module._fetch_states = timed  # the poller looks it up when its loop starts
    events: dict[str, float] = {}

    async def wait(request_id: str) -> None:
        async for event in DecisionTrigger(request_id, poll_interval=args.interval).run():
            events[request_id] = time.time()
            assert event.payload["status"] == "decided", event.payload
            return

    tasks = [asyncio.create_task(wait(rid)) for rid in ids]
    await asyncio.sleep(args.interval * 3)  # every trigger has joined the poll
    notes.clear()
    rounds.clear()
    cpu0, t0, w0 = time.process_time(), time.perf_counter(), time.time()
    await asyncio.sleep(args.seconds)
    cpu, elapsed = time.process_time() - cpu0, time.perf_counter() - t0
    statements = [t for t in notes if w0 <= t < w0 + elapsed]
    window_rounds = [r for r in rounds if w0 <= r[0] < w0 + elapsed]
    decided = ids[: args.decide]
    written: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    for rid in decided:  # one at a time, as officers click
        await loop.run_in_executor(None, store.record_decision, rid, "approve", "U0BENCH")
        written[rid] = time.time()
        await asyncio.sleep(args.interval / 3)
    deadline = time.time() + 10 * args.interval + 30
    while time.time() < deadline and not all(r in events for r in decided):
        await asyncio.sleep(0.05)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    trigger_module._fetch_states = fetch
    lat = [events[r] - written[r] for r in decided if r in events]
    return {
        "waiting": len(ids),
        "seconds": elapsed,
        "rounds": len(window_rounds),
        "rounds_per_interval": len(window_rounds) / (elapsed / args.interval),
        "statements": len(statements),
        "statements_per_round": len(statements) / len(window_rounds) if window_rounds else float("nan"),
        "ids_per_round": statistics.median(r[2] for r in window_rounds) if window_rounds else 0,
        "round_query_ms_p50": pct([r[1] for r in window_rounds], 50) * 1000,
        "round_query_ms_max": max((r[1] for r in window_rounds), default=float("nan")) * 1000,
        "cpu_pct": 100 * cpu / elapsed,
        "rss_mib": _rss_mib(),
        "decided": len(decided),
        "events": len(lat),
        "decision_to_event_p50_s": pct(lat, 50),
        "decision_to_event_max_s": max(lat) if lat else float("nan"),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    import MySQLdb
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    database = f"ccpa_poll_{secrets.token_hex(4)}"
    os.environ["AIRFLOW_CONN_CCPA_COMPLIANCE_DB"] = f"mysql://root@127.0.0.1:3306/{database}"
    my = MySQLdb.connect(**MYSQL)
    my.cursor().execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    my.close()
    notes: list[float] = []

    @event.listens_for(Engine, "before_cursor_execute")
    def _note(conn, cursor, statement, parameters, context, executemany):
        if conn.engine.url.database == database and statement.lstrip().upper().startswith("SELECT"):
            notes.append(time.time())

    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_start": os.getloadavg()[0],
        "interval_s": args.interval,
        "sizes": [],
    }
    try:
        from include.request import AccessRequest
        from include.store import ComplianceStore

        store = ComplianceStore.from_connection()
        ids: list[str] = []
        now = datetime.now(UTC)

        def register(i: int) -> str:
            req = AccessRequest.from_conf({"name": f"Poll Person {i}", "email": f"poll-{i:05d}@example.com"})
            return str(store.register_request(f"poll-{database}-{i}", req, now, channel="web_form").request_id)

        made = 0
        for size in (int(s) for s in args.sizes.split(",")):
            t = time.perf_counter()
            need = size - len(ids)
            with ThreadPoolExecutor(8) as pool:
                ids += list(pool.map(register, range(made, made + need)))
            made += need
            log(f"{size}: {len(ids)} requests registered ({time.perf_counter() - t:.0f} s)")
            waiting = ids[:size]
            r = asyncio.run(measure(store, waiting, args, notes))
            r["load"] = os.getloadavg()[0]
            log(json.dumps(r))
            results["sizes"].append(r)
            # The decided requests no longer wait: the next size registers fresh ones in their place.
            ids = ids[args.decide :]
    finally:
        my = MySQLdb.connect(**MYSQL)
        my.cursor().execute(f"DROP DATABASE IF EXISTS `{database}`")
        my.close()
    results["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


def render(r: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    runs = [("", r)] + ([(f"before (`{before['commit']}`, {before['date']}) ", before)] if before else [])
    rows = [
        f"| {label}{s['waiting']:,} | {s['rounds_per_interval']:.2f} | {s['statements_per_round']:.1f} | "
        f"{s['ids_per_round']:,.0f} | {s['round_query_ms_p50']:.0f} / {s['round_query_ms_max']:.0f} | "
        f"{s['cpu_pct']:.1f} % | {s['rss_mib']:.0f} | {s['events']} of {s['decided']}: "
        f"{s['decision_to_event_p50_s']:.2f} / {s['decision_to_event_max_s']:.2f} | {s['load']:.1f} |"
        for label, run in runs
        for s in run["sizes"]
    ]
    return "\n".join(
        [
            START,
            "## The triggerer's side of a large queue: N `DecisionTrigger`s in one event loop",
            "",
            f"- Date: {r['date']}; code: `{r['commit']}`; `{r['command']}`; load (1-minute average) "
            f"{r['load_start']:.1f} at the start, on 2 cores shared with other sessions' test runs.",
            f"- What: the real `include.triggers.DecisionTrigger.run()` × N in one asyncio loop, as a triggerer runs "
            f"them, polling every {r['interval_s']:.0f} s through their shared poller, against the MariaDB "
            "compliance store (a fresh database holding the N requests); the window counts the store's SELECTs "
            "(SQLAlchemy `before_cursor_execute`) and the poll's rounds; then requests are decided one at a time "
            "(`record_decision`, as the callback writes it) and the decision → trigger event time is measured. No "
            "scheduler here: the whole stack is the section above.",
            "",
            "| waiting | rounds per interval | SELECTs per round | ids per round | round's query p50 / max ms | "
            "process CPU (% of a core) | RSS MiB | decided → event p50 / max s | load after |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            END,
        ]
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,2000,5000")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--interval", type=float, default=1.0, help="CCPA_DECISION_POLL_SECONDS (the benchmarks' 1 s)")
    p.add_argument("--decide", type=int, default=10)
    p.add_argument("--results", default=None)
    p.add_argument("--docs-from", default=None)
    p.add_argument("--before-from", default=None, help="saved results of the code before, shown below")
    p.add_argument("--write-docs", action="store_true")
    args = p.parse_args()
    if args.docs_from:
        before = json.loads(Path(args.before_from).read_text()) if args.before_from else None
        replace_section(DOCS, START, END, render(json.loads(Path(args.docs_from).read_text()), before))
        return 0
    import tempfile

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="ccpa_poll_home_"))
    results = run(args)
    import subprocess

    results["commit"] = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
    ).stdout.strip()
    results["command"] = "python bench/poll_scale.py " + " ".join(sys.argv[1:])
    publish(results, render, results_path=args.results, write_docs=args.write_docs, docs=DOCS, start=START, end=END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
