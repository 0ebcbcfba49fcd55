"""Benchmark: what each task process of one approval costs, ours beside Airflow's floor (issue #8, "profile").

Run on demand (not part of the test run)::

    .venv/bin/python bench/task_cpu.py                 # 20 requests of each DAG; rewrites its docs section
    .venv/bin/python bench/task_cpu.py --cprofile --out /tmp/tasks --no-docs   # + a cProfile per task process

Starts the same throw-away stack as ``bench/volume.py`` (PostgreSQL + LocalExecutor, see ``bench/lib.py``) with
``bench/task_hook`` first on PYTHONPATH: its ``airflow_local_settings.py`` makes every task process write its own CPU
time (``getrusage``, user + system, the forked process only) and the supervisor log every request the task process
sends it (XCom, Variables, state). N runs of ``ccpa_right_of_access`` and N of ``ccpa_bench_airflow_floor`` (same
shape, no work) are triggered and left deferred, then ours are approved all at once, then the floor's; the machine's
busy CPU time (everything: Airflow, PostgreSQL, MariaDB, stand-ins) is read around each burst.
With ``--cprofile`` the numbers include cProfile's overhead: use them for where, not for how much.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lib import (
    APPROVE_PATH,
    DAG_ID,
    FLOOR_DAG_ID,
    ROOT,
    Stack,
    add_settings_argument,
    add_tls_argument,
    apply_settings,
    log,
    machine_busy_cpu_s,
    replace_section,
    verified_conf,
    wait_until,
)

DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- task_cpu:start -->", "<!-- task_cpu:end -->"
HOOK = Path(__file__).resolve().parent / "task_hook"
#: The approve path after the click, in order (volume.py's latency breakdown walks the same list); the tasks
#: before it ran while the requests waited.
AFTER_CLICK = tuple(task_id for task_id, _ in APPROVE_PATH)


def collect(out: Path) -> dict[str, Any]:
    """Per DAG and task: median CPU-s and wall of its task processes, and the requests each sent its supervisor."""
    requests: dict[int, list[tuple[str, float]]] = defaultdict(list)
    log_file = out / "requests.log"
    for line in log_file.read_text().splitlines() if log_file.exists() else []:
        pid, kind, cpu = line.split()
        requests[int(pid)].append((kind, float(cpu)))
    by_task: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for path in out.glob("*.json"):
        rec = json.loads(path.read_text())
        by_task[(rec.get("dag_id", "?"), rec.get("task_id", "?"))].append(rec)
    result: dict[str, dict[str, Any]] = {DAG_ID: {}, FLOOR_DAG_ID: {}}
    for (dag_id, task_id), recs in by_task.items():
        kinds = Counter(kind for r in recs for kind, _ in requests[r["pid"]])
        result.setdefault(dag_id, {})[task_id] = {
            "processes": len(recs),
            "cpu_s": statistics.median(r["cpu_s"] for r in recs),
            "wall_s": statistics.median(r["wall_s"] for r in recs),
            "max_rss_mib": statistics.median(r["max_rss_mib"] for r in recs),
            # of cpu_s: before start-up (the fork's own set-up) and start-up (parsing the DAG file, finding the task)
            "before_startup_cpu_s": statistics.median(r.get("cpu_before_startup_s", 0.0) for r in recs),
            "startup_cpu_s": statistics.median(r.get("startup_cpu_s", 0.0) for r in recs),
            "requests": sum(kinds.values()) / len(recs),
            "request_kinds": {k: round(v / len(recs), 1) for k, v in sorted(kinds.items())},
        }
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out or tempfile.mkdtemp(prefix="ccpa-task-cpu-"))
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("*.json"), *out.glob("*.prof"), *out.glob("requests.log")]:
        stale.unlink()
    apply_settings(args.set)
    stack = Stack(tls=args.tls)
    stack.env["PYTHONPATH"] = f"{HOOK}{os.pathsep}{stack.env['PYTHONPATH']}"
    stack.env["CCPA_BENCH_TASK_DIR"] = str(out)
    if args.cprofile:
        stack.env["CCPA_BENCH_CPROFILE"] = args.cprofile
    n = args.requests
    try:
        stack.create_databases()
        stack.start_all()
        stack.apply_env_here()
        from include.store import ComplianceStore

        emails = [f"task-cpu-{i:03d}@example.com" for i in range(n)]
        stack.clone_subject(emails)
        log(f"triggering {n} runs of each DAG")
        ours = [stack.trigger(verified_conf(e)) for e in emails]
        flag = stack.dir / "task-cpu.flag"
        floor = [stack.trigger({"flag": str(flag)}, dag_id=FLOOR_DAG_ID) for _ in range(n)]
        for dag_id in (DAG_ID, FLOOR_DAG_ID):
            wait_until(
                lambda d=dag_id: stack.ti_counts("wait_for_decision", d).get("deferred", 0) >= n, 900, 2, "deferred"
            )
        busy = ("running", "queued", "scheduled")
        wait_until(
            lambda: not any(stack.ti_counts(dag_id=d).get(s, 0) for d in (DAG_ID, FLOOR_DAG_ID) for s in busy),
            600,
            2,
            "no task left before the clicks",
        )
        store = ComplianceStore.from_connection()
        prompts = [store.find_by_run_id(r).slack_ts for r in ours]
        time.sleep(5)  # let the pre-click tasks' stragglers settle
        window: dict[str, dict[str, float]] = {}
        for dag_id, runs, click in (
            (DAG_ID, ours, lambda: [stack.click(ts) for ts in prompts]),
            (FLOOR_DAG_ID, floor, flag.touch),
        ):
            cpu0, t0 = machine_busy_cpu_s(), time.time()
            click()
            wait_until(
                lambda d=dag_id, rs=runs: all(stack.run_state(r, d) in ("success", "failed") for r in rs),
                900,
                0.5,
                f"{dag_id} runs done",
            )
            window[dag_id] = {"seconds": time.time() - t0, "machine_cpu_s": machine_busy_cpu_s() - cpu0}
            states = Counter(stack.run_state(r, dag_id) for r in runs)
            window[dag_id]["states"] = dict(states)
            log(f"{dag_id}: {n} approvals in {window[dag_id]['seconds']:.0f} s; states {dict(states)}")
            time.sleep(5)
    finally:
        stack.stop(keep_dir=args.keep_dir)
        stack.drop_databases()
    return {
        "date": time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime()),
        "requests": n,
        "settings": args.set,
        "tls": args.tls,
        "cprofile": args.cprofile,
        "window": window,
        "tasks": collect(out),
    }


def render(r: dict[str, Any]) -> str:
    ours, floor = r["tasks"][DAG_ID], r["tasks"].get(FLOOR_DAG_ID, {})
    n = r["requests"]
    lines = [
        START,
        "## Task processes: what one approval costs, ours beside Airflow's floor",
        "",
        f"- Date: {r['date']}; `python bench/task_cpu.py --requests {n}"
        + "".join(f" --set {s}" for s in r["settings"])
        + (" --tls" if r.get("tls") else "")
        + "` (same stack as the volume benchmark"
        + ("; the stand-ins over TLS, as Slack and a mail server are" if r.get("tls") else "")
        + "; `bench/task_hook/airflow_local_settings.py` records each task"
        " process's own CPU time and the requests it sends its supervisor).",
        f"- {n} requests of each DAG waited deferred, then ours were approved at once, then the floor's. Medians over"
        " the task processes (a deferred sensor runs twice: before and after the click).",
        "",
        "| task | ours CPU s | floor CPU s | ours − floor | ours requests | floor requests | ours max RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    order = ["validate_request", "send_acknowledgement", "post_review_prompt", *AFTER_CLICK]
    for task_id in order + sorted(set(ours) - set(order)):
        o, f = ours.get(task_id), floor.get(task_id)
        if o is None:
            continue
        fc = f"{f['cpu_s']:.3f}" if f else "–"
        diff = f"{o['cpu_s'] - f['cpu_s']:+.3f}" if f else "–"
        fr = f"{f['requests']:.1f}" if f else "–"
        lines.append(
            f"| {task_id} | {o['cpu_s']:.3f} | {fc} | {diff} | {o['requests']:.1f} | {fr} | {o['max_rss_mib']:.0f} |"
        )
    after_ours = sum(ours[t]["cpu_s"] for t in AFTER_CLICK if t in ours)
    after_floor = sum(floor[t]["cpu_s"] for t in AFTER_CLICK if t in floor)
    w = r["window"]
    per = {d: w[d]["machine_cpu_s"] / n for d in w}
    lines += [
        "",
        f"After the click (the {len(AFTER_CLICK)} task processes from `wait_for_decision` resuming to"
        f" `close_review_prompt`): **{after_ours:.2f} CPU-s in our task processes, {after_floor:.2f} in the floor's**"
        f" ({after_ours / after_floor:.1f}x). The whole machine while the {n} approvals ran: "
        f"{per.get(DAG_ID, 0):.2f} CPU-s per approval for ours ({w[DAG_ID]['seconds']:.0f} s),"
        f" {per.get(FLOOR_DAG_ID, 0):.2f} for the floor ({w[FLOOR_DAG_ID]['seconds']:.0f} s); a small burst carries"
        " the scheduler's idle loop and the start-up of the burst, so these are higher than at 500.",
    ]
    if r.get("notes"):
        lines += ["", r["notes"].strip()]
    lines.append(END)
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--out", default=None, help="where the task processes write their records (default: a temp dir)")
    p.add_argument(
        "--cprofile",
        nargs="?",
        const="1",
        choices=["1", "wall"],
        help="also a cProfile per task process (adds overhead); --cprofile wall: by wall-clock time",
    )
    add_settings_argument(p)
    add_tls_argument(p)
    p.add_argument("--results", default=None, help="where to save the raw results (JSON)")
    p.add_argument("--docs-from", default=None, help="only render docs/benchmarks.md from saved results")
    p.add_argument("--no-docs", action="store_true")
    p.add_argument("--keep-dir", action="store_true")
    args = p.parse_args()
    if args.docs_from:
        replace_section(DOCS, START, END, render(json.loads(Path(args.docs_from).read_text())))
        return
    result = run(args)
    text = json.dumps(result, indent=2)
    if args.results:
        Path(args.results).write_text(text)
    print(render(result))
    if not args.no_docs and not args.cprofile:
        replace_section(DOCS, START, END, render(result))


if __name__ == "__main__":
    main()
