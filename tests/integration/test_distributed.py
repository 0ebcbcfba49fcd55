"""The two-worker Celery run of bench/distributed.py, small: PostgreSQL, Redis, MariaDB, a local S3 server, a
scheduler, a triggerer, an API server and two Celery workers with separate AIRFLOW_HOMEs and TMPDIRs (~1.5 min).

Skip it with ``-m "not distributed"`` (it needs PostgreSQL on 127.0.0.1:5432 and Redis on 6379)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.distributed]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not (_listening(5432) and _listening(6379)), reason="needs PostgreSQL :5432 and Redis :6379")
def test_two_celery_workers_deliver_every_report_once_and_share_runs():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "distributed.py"), "--requests", "4", "--timeout", "300"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # The results are the JSON document the script prints last (log lines of the store's migration may precede it).
    results = json.loads(done.stdout[done.stdout.index('{\n  "requests"') :])
    assert results["run_states"] == {"success": 4}
    assert results["reports_per_email"] == {"1": 4} and results["acks_per_email"] == {"1": 4}
    assert set(results["task_instances_per_worker"]) == {"worker-a", "worker-b"}
    assert results["runs_split_across_workers"] >= 1
