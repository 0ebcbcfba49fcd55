"""Where a task's fixed cost goes: importing the DAG file, and building one report (profiled). Prints JSON.

Run on demand (not part of the test run)::

    .venv/bin/python bench/task_overhead.py

1. Imports ``dags/ccpa_right_of_access.py`` in a fresh interpreter with ``-X importtime`` (3 times) and sums the
   cumulative import time of Airflow's SDK and of our ``include.tasks.access_request`` (and what in it is the heaviest).
   Every task process of the DAG parses the DAG file, so this is paid per task.
2. In this process, against a fresh MariaDB database ``ccpa_prof_<random>`` seeded by ``devtools.demo_data``
   (dropped at the end): extracts Jane Doe (1 + 3 + 300 rows) with ``include.datastores.registry.extract`` and
   builds her report with ``include.report.files.build`` under cProfile (after one warm-up build), as
   ``build_report`` does.
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")


def import_times() -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AIRFLOW_HOME": tempfile.mkdtemp(prefix="ccpa-prof-home-")}
    runs = []
    for _ in range(3):
        code = "import sys; sys.path.insert(0, 'dags'); import ccpa_right_of_access"
        err = subprocess.run(  # noqa: S603
            [PY, "-X", "importtime", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        ).stderr
        cumulative: dict[str, float] = {}
        for line in err.splitlines():
            m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
            if m:
                cumulative.setdefault(m.group(3), int(m.group(1)) / 1e6)
        runs.append(cumulative)
    keys = ["ccpa_right_of_access", "airflow", "airflow.sdk", "include.tasks.access_request", "include.report.files"]
    keys += ["include.report.pdf"]
    keys += ["reportlab", "airflow.providers.slack.hooks.slack", "include.datastores.registry", "include.store"]
    return {k: statistics.median(r.get(k, 0.0) for r in runs) for k in keys}


def report_profile() -> dict[str, object]:
    import MySQLdb

    db = f"ccpa_prof_{secrets.token_hex(4)}"
    my = MySQLdb.connect(host="127.0.0.1", port=3306, user="root", passwd="")
    my.cursor().execute(f"CREATE DATABASE `{db}`")
    out_dir = tempfile.mkdtemp(prefix="ccpa-prof-")
    try:
        url = f"mysql://root@127.0.0.1:3306/{db}"
        for conn_id in ("CCPA_CRM_DB", "CCPA_ORDERS_DB", "CCPA_WEB_DB"):
            os.environ[f"AIRFLOW_CONN_{conn_id}"] = url
        os.environ["AIRFLOW_VAR_CCPA_REPORT_STORAGE"] = f"file://{out_dir}"
        sys.path.insert(0, str(ROOT))
        from sqlalchemy import create_engine

        from devtools import demo_data
        from include import storage
        from include.datastores.extract import extract
        from include.datastores.registry import load_registry
        from include.report import files as report_files

        demo_data.seed(create_engine(f"mysql+mysqldb://root@127.0.0.1:3306/{db}"), web_events_per_person=300)
        now = datetime.now(UTC)
        since = now - timedelta(days=365)

        def one(i: int) -> tuple[float, float]:
            rid = f"prof{i}"
            record = SimpleNamespace(
                request_id=rid, name="Jane Doe", email="jane.doe@example.com", received_at=now, due_at=now
            )
            t0 = time.perf_counter()
            folder = storage.request_dir(rid)
            summaries = [
                extract(d, email=record.email, name=record.name, since=since, dest=folder / f"{d.name}.jsonl")
                for d in load_registry().datastores
            ]
            t1 = time.perf_counter()
            report_files.build(record, since, summaries)
            return t1 - t0, time.perf_counter() - t1

        one(0)  # warm-up: engines, first ObjectStoragePath, fonts
        prof = cProfile.Profile()
        prof.enable()
        extract_s, build_s = one(1)
        prof.disable()
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf)
        stats.sort_stats("cumulative").print_stats(25)
        total = sum(v[3] for k, v in stats.stats.items() if k[2] == "one")  # type: ignore[attr-defined]
        pdf = sum(v[3] for k, v in stats.stats.items() if k[2] == "write_pdf")  # type: ignore[attr-defined]
        subset = sum(v[3] for k, v in stats.stats.items() if k[2] == "subset" and "fontTools" in k[0])  # type: ignore[attr-defined]
        return {
            "extract_s": extract_s,
            "build_s": build_s,
            "profiled_total_s": total,
            "write_pdf_s": pdf,
            "fonttools_subset_s": subset,
            "top": buf.getvalue().splitlines()[:60],
        }
    finally:
        my.cursor().execute(f"DROP DATABASE IF EXISTS `{db}`")
        my.close()
        import shutil

        shutil.rmtree(out_dir, ignore_errors=True)


def main() -> None:
    print(json.dumps({"import_s": import_times(), "report": report_profile()}, indent=1))


if __name__ == "__main__":
    main()
