"""Bench-only Airflow local settings (bench/task_cpu.py puts this folder first on PYTHONPATH): every task process
records its own CPU time (getrusage) and, with ``CCPA_BENCH_CPROFILE=1``, a cProfile of itself, and the supervisor
logs each request the task process sends it. Files go to ``CCPA_BENCH_TASK_DIR``; without it nothing is patched.

Airflow's LocalExecutor forks each task process from a long-lived worker, which imported these settings at start;
``task_runner.main`` is looked up when the fork starts, so patching it here reaches every task process.
"""

from __future__ import annotations

import os

OUT = os.environ.get("CCPA_BENCH_TASK_DIR")

if OUT:
    import cProfile
    import json
    import resource
    import time

    from airflow.sdk.execution_time import supervisor, task_runner

    _main, _startup = task_runner.main, task_runner.startup
    _task: dict[str, str] = {}

    def startup(msg):
        _task.update(dag_id=msg.ti.dag_id, task_id=msg.ti.task_id, run_id=msg.ti.run_id)
        before = time.process_time()  # a forked process's CPU time starts at 0: this is what ran before start-up
        _task["cpu_before_startup_s"] = before
        try:
            return _startup(msg=msg)
        finally:  # start-up: the DAG file parsed, the task found (CPU of this process; the rest is the task's run)
            _task["startup_cpu_s"] = time.process_time() - before

    def main() -> None:
        # CCPA_BENCH_CPROFILE=wall: profile by wall-clock time, to see where a task process waits
        mode = os.environ.get("CCPA_BENCH_CPROFILE")
        timer = time.perf_counter if mode == "wall" else time.process_time
        prof = cProfile.Profile(timer) if mode in ("1", "wall") else None
        import sys

        modules_at_fork = set(sys.modules)
        started = time.perf_counter()
        if prof:
            prof.enable()
        try:
            _main()
        finally:
            if prof:
                prof.disable()
                prof.dump_stats(f"{OUT}/{os.getpid()}.prof")
            usage = resource.getrusage(resource.RUSAGE_SELF)  # this forked process only
            record = {
                **_task,
                "pid": os.getpid(),
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "wall_s": time.perf_counter() - started,
                "max_rss_mib": usage.ru_maxrss / 1024,
                # what this task process imported itself (include/preload.py should leave little here)
                "imported": sorted(m for m in set(sys.modules) - modules_at_fork if not m.startswith("unusual_prefix")),
            }
            with open(f"{OUT}/{os.getpid()}.json", "w") as f:
                json.dump(record, f)

    task_runner.main, task_runner.startup = main, startup

    _handle = supervisor.ActivitySubprocess._handle_request

    def _handle_request(self, msg, log, req_id):
        cpu = time.process_time()
        try:
            return _handle(self, msg, log, req_id)
        finally:
            with open(f"{OUT}/requests.log", "a") as f:
                f.write(f"{self.pid} {type(msg).__name__} {time.process_time() - cpu:.5f}\n")
            if type(msg).__name__ in ("GetVariable", "GetConnection"):  # which ones: a name, never a value
                name = getattr(msg, "key", None) or getattr(msg, "conn_id", "")
                with open(f"{OUT}/names.log", "a") as f:
                    f.write(f"{self.pid} {type(msg).__name__} {name}\n")

    supervisor.ActivitySubprocess._handle_request = _handle_request
