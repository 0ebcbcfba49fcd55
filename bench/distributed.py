"""A real distributed run on one machine, without Docker: the CeleryExecutor with two workers that share nothing
but the databases, the broker and S3-compatible storage.

    .venv/bin/python bench/distributed.py                  # 20 requests; prints the results as JSON
    .venv/bin/python bench/distributed.py --requests 5 --write-docs

What runs (bench/lib.py :class:`Stack`, switched to Celery): a fresh PostgreSQL metadata database, Redis as the
broker (a queue of its own), ``airflow api-server``, ``scheduler``, ``dag-processor``, ``triggerer``, and two
``airflow celery worker`` processes, each with its own ``AIRFLOW_HOME`` (its own copy of the DAG folder, its own
task logs) and its own ``TMPDIR``; the compliance store and the demo datastores in fresh MariaDB databases; report
storage on a local S3 server (devtools/standins/s3_server.py, moto); Slack played by the emulator, the requesters'
inboxes by the mail sink. Both workers run on this machine, so each names itself through ``[core]
hostname_callable`` (bench/worker_hostname.py), which is what Airflow records in ``task_instance.hostname``.

It triggers the requests through the REST API, approves each prompt through the emulator's signed click, waits for
the reports, and asserts: every requester got exactly one acknowledgement and exactly one report; every run
succeeded; tasks of one run executed on different workers (``task_instance.hostname``, and each worker's own task
log folder holds only the tasks it ran); nothing of a run was written to a worker's local disk (S3 holds the files).
Exit status 0 only if all of that holds. ``--write-docs`` puts the numbers in docs/deployment.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lib import ACK_SUBJECT, DAG_ID, ROOT, VENV_BIN, MailWatcher, Stack, log, verified_conf, wait_until

sys.path.insert(0, str(ROOT))
from devtools.standins.s3_server import S3Server

DOCS = ROOT / "docs" / "deployment.md"
START, END = "<!-- distributed:start -->", "<!-- distributed:end -->"
WORKERS = ("worker-a", "worker-b")
S3_CONN_ID = "ccpa_reports_s3"
BUCKET = "ccpa-distributed"


class CeleryStack(Stack):
    """:class:`Stack` with the CeleryExecutor, S3 report storage and two workers of its own."""

    def __init__(self, s3: S3Server, concurrency: int) -> None:
        self.s3 = s3
        self.concurrency = concurrency
        super().__init__(tag=f"ccpa_dist_{secrets.token_hex(4)}")
        self.queue = self.tag

    def _env(self) -> dict[str, str]:
        env = super()._env()
        env.update(
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://postgres@127.0.0.1:5432/{self.pg_db}",
                # A queue of this run's own: other Celery users of the same Redis never see its tasks.
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.tag,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.af_url}/execution/",
                "AIRFLOW__CORE__PARALLELISM": "16",
                "AIRFLOW_CONN_" + S3_CONN_ID.upper(): json.dumps(self.s3.connection()),
                "AIRFLOW_VAR_CCPA_REPORT_STORAGE": f"s3://{BUCKET}/{self.tag}",
                "AIRFLOW_VAR_CCPA_REPORT_STORAGE_CONN_ID": S3_CONN_ID,
            }
        )
        return env

    def worker_home(self, name: str) -> Path:
        return self.dir / name

    def start_workers(self) -> None:
        for name in WORKERS:
            home = self.worker_home(name)
            (home / "tmp").mkdir(parents=True)
            shutil.copytree(self.dags, home / "dags")
            env = {
                **self.env,
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
                "TMPDIR": str(home / "tmp"),
                "CCPA_WORKER_NAME": name,
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_hostname.worker_name",
                "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'bench'}",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            }
            cmd = [str(VENV_BIN / "airflow"), "celery", "worker", "--queues", self.queue]
            cmd += ["--concurrency", str(self.concurrency), "--celery-hostname", f"{name}@%h"]
            cmd += ["--without-mingle", "--without-gossip"]
            self.start(name, cmd, env=env)


def _free_port() -> int:
    from lib import free_port

    return free_port()


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"requests": args.requests, "workers": len(WORKERS), "concurrency": args.concurrency}
    with S3Server() as s3:
        s3.create_bucket(BUCKET)
        stack = CeleryStack(s3, args.concurrency)
        try:
            t_setup = time.time()
            stack.create_databases(web_events=50)
            stack.start_workers()
            stack.start_all()
            results["startup_s"] = round(time.time() - t_setup, 1)
            stack.apply_env_here()
            results.update(_requests(stack, args))
            results.update(_verify(stack, s3, results.pop("_runs"), results.pop("_emails")))
        finally:
            stack.stop(keep_dir=args.keep)
    return results


def _requests(stack: CeleryStack, args: argparse.Namespace) -> dict[str, Any]:
    from include.store import ComplianceStore

    n = args.requests
    emails = [f"dist-{i:03d}@example.com" for i in range(n)]
    stack.clone_subject(emails)
    watcher = MailWatcher(stack.mail_dir)
    t0 = time.time()
    # Each is a clone of the demo subject (name and phone on file): with a signed declaration, three matching points
    # verify them for specific pieces (§7062(c)), so a full Approve is accepted.
    runs = [stack.trigger(verified_conf(e)) for e in emails]
    log(f"triggered {n} runs")
    store = ComplianceStore.from_connection()

    def prompted() -> list[str] | None:
        records = [store.find_by_run_id(r) for r in runs]
        if all(r is not None and r.slack_ts for r in records):
            return [r.slack_ts for r in records if r is not None and r.slack_ts]
        return None

    prompts = wait_until(prompted, args.timeout, 1, "every review prompt")
    prompts_s = time.time() - t0
    log(f"all {n} prompts posted after {prompts_s:.0f} s; approving")
    c0 = time.time()
    for ts in prompts:
        assert stack.click(ts) == 200

    def delivered() -> bool:
        watcher.poll()
        return len(watcher.reports()) >= n

    wait_until(delivered, args.timeout, 1, "every report")
    reports_s = time.time() - c0
    log(f"all {n} reports delivered {reports_s:.0f} s after the first click")
    wait_until(lambda: all(stack.run_state(r) in ("success", "failed") for r in runs), 120, 1, "every run to end")
    time.sleep(5)  # anything sent twice would arrive now
    watcher.poll()
    return {
        "_runs": runs,
        "_emails": emails,
        "trigger_to_all_prompts_s": round(prompts_s, 1),
        "first_click_to_all_reports_s": round(reports_s, 1),
        "total_s": round(time.time() - t0, 1),
        "run_states": dict(Counter(stack.run_state(r) for r in runs)),
        "acks_per_email": dict(
            Counter(Counter(m["to"] for m in watcher.mails if ACK_SUBJECT in m["subject"]).values())
        ),
        "reports_per_email": dict(Counter(Counter(m["to"] for m in watcher.reports()).values())),
        "_reports_to": sorted(m["to"] for m in watcher.reports()),
    }


def _verify(stack: CeleryStack, s3: S3Server, runs: list[str], emails: list[str]) -> dict[str, Any]:
    rows = stack.pg_query(
        "SELECT run_id, task_id, hostname, state FROM task_instance WHERE dag_id = %s AND state = 'success'",
        (DAG_ID,),
    )
    per_run: dict[str, set[str]] = {}
    per_worker: Counter[str] = Counter()
    for run_id, _task_id, hostname, _state in rows:
        per_run.setdefault(run_id, set()).add(hostname)
        per_worker[hostname] += 1
    split = sum(1 for r in runs if len(per_run.get(r, set())) > 1)
    # Independent of the hostname column: each worker's own AIRFLOW_HOME holds the logs of the tasks it ran.
    logged = {name: len(list(stack.worker_home(name).glob("logs/**/*.log"))) for name in WORKERS}
    local_files = [p for name in WORKERS for p in (stack.worker_home(name) / "tmp").rglob("*") if p.is_file()]
    keys = s3.keys(BUCKET, stack.tag)
    return {
        "task_instances_per_worker": dict(per_worker),
        "task_logs_per_worker_home": logged,
        "runs_split_across_workers": split,
        "s3_objects": len(keys),
        "files_left_in_worker_tmpdirs": len(local_files),
    }


def check(r: dict[str, Any], emails_expected: int) -> list[str]:
    failures = []
    if r["run_states"] != {"success": emails_expected}:
        failures.append(f"run states {r['run_states']}")
    if r["reports_per_email"] != {1: emails_expected}:
        failures.append(f"reports per email {r['reports_per_email']} (want exactly one each)")
    if r["acks_per_email"] != {1: emails_expected}:
        failures.append(f"acknowledgements per email {r['acks_per_email']}")
    if set(r["task_instances_per_worker"]) != set(WORKERS):
        failures.append(f"task instances ran on {r['task_instances_per_worker']}, not on both workers")
    if not all(r["task_logs_per_worker_home"].values()):
        failures.append(f"task logs per worker home {r['task_logs_per_worker_home']}")
    if r["runs_split_across_workers"] < 1:
        failures.append("no run had tasks on both workers")
    if r["s3_objects"] < emails_expected:
        failures.append(f"only {r['s3_objects']} objects in S3")
    return failures


def render(r: dict[str, Any]) -> str:
    per_worker = ", ".join(f"{k} {v}" for k, v in sorted(r["task_instances_per_worker"].items()))
    once = r["reports_per_email"] == {1: r["requests"]} or r["reports_per_email"] == {"1": r["requests"]}
    return "\n".join(
        [
            START,
            f"Measured by `bench/distributed.py` on {r.get('date', time.strftime('%Y-%m-%d'))} on this repository's "
            f"2-core machine, shared with other work (load average ~12 during the run): {r['requests']} requests, "
            f"{r['workers']} Celery workers × concurrency {r['concurrency']}, PostgreSQL metadata, Redis broker, "
            "MariaDB compliance store and datastores, report storage on a local S3 server (moto).",
            "",
            "| | |",
            "|---|---|",
            f"| stack start (databases, migrate, 6 Airflow processes) | {r['startup_s']} s |",
            f"| {r['requests']} REST triggers → every review prompt posted | {r['trigger_to_all_prompts_s']} s |",
            f"| first Approve click → every report delivered | {r['first_click_to_all_reports_s']} s |",
            f"| runs succeeded | {r['run_states'].get('success', 0)} of {r['requests']} |",
            f"| reports per requester | {'exactly one each' if once else r['reports_per_email']} |",
            f"| successful task instances per worker (`task_instance.hostname`) | {per_worker} |",
            f"| runs whose tasks ran on both workers | {r['runs_split_across_workers']} of {r['requests']} |",
            f"| objects in S3 / files left in the workers' TMPDIRs | {r['s3_objects']} / "
            f"{r['files_left_in_worker_tmpdirs']} |",
            END,
        ]
    )


def write_docs(r: dict[str, Any]) -> None:
    text = DOCS.read_text(encoding="utf-8")
    section = render(r)
    if START in text and END in text:
        before, rest = text.split(START, 1)
        text = before + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOCS.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=4, help="task slots per worker")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for prompts, then for reports")
    parser.add_argument("--write-docs", action="store_true", help="put the numbers in docs/deployment.md")
    parser.add_argument("--keep", action="store_true", help="keep the stack's folder (logs) after the run")
    args = parser.parse_args(argv)
    results = run(args)
    results.pop("_reports_to", None)
    print(json.dumps(results, indent=2))
    failures = check(results, args.requests)
    if failures:
        log("FAILED: " + "; ".join(failures))
        return 1
    if args.write_docs:
        write_docs(results)
    log("distributed run OK")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
