"""
### Airflow's floor for the shape of `ccpa_right_of_access` (benchmarks only)

The same tasks, ids and dependencies as the approve path of `ccpa_right_of_access`, with the work taken out: every
task returns at once, and `wait_for_decision` is the standard provider's deferrable `FileSensor` (1 s poll, like
`CCPA_DECISION_POLL_SECONDS=1`) waiting for the file named in the run's conf — touching it is the "click". What this
DAG takes on a machine is what Airflow itself costs there; `bench/volume.py` runs it beside ours, in the same stack.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.sensors.filesystem import FileSensor
from airflow.sdk import dag, task, task_group

EXTRACTS = ("extract_crm", "extract_orders", "extract_web")


@dag(
    dag_id="ccpa_bench_airflow_floor",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["benchmark"],
    # As ours: retries (the bench sets CCPA_RETRY_DELAY_SECONDS=5) and the same priority rule.
    default_args={
        "retries": 3,
        "retry_delay": timedelta(seconds=float(os.environ.get("CCPA_RETRY_DELAY_SECONDS", "20"))),
        "weight_rule": "upstream",
    },
    max_active_tasks=32,
    max_active_runs=10_000,
)
def ccpa_bench_airflow_floor() -> None:
    @task(multiple_outputs=False)  # one XCom, taken whole by every later task, as ours
    def validate_request() -> dict[str, Any]:
        return {"request_id": "0" * 32, "lookback": "12_months"}

    @task(priority_weight=1000)
    def send_acknowledgement(request: dict[str, Any]) -> str:
        return str(request["request_id"])

    @task(multiple_outputs=False)
    def post_review_prompt(request: dict[str, Any]) -> dict[str, str]:
        return {"channel": "C0", "ts": "0"}

    @task(multiple_outputs=False)
    def extract(name: str, request: dict[str, Any]) -> dict[str, Any]:
        return {"datastore": name, "path": "file:///dev/null", "row_count": 0}

    @task_group(group_id="aggregate_personal_data")
    def aggregate_personal_data(request: Any) -> list:
        return [extract.override(task_id=name)(name, request) for name in EXTRACTS]

    @task(multiple_outputs=False)
    def build_report(request: dict[str, Any], extracts: list[dict[str, Any]]) -> dict[str, Any]:
        return {"html": "file:///dev/null", "files": []}

    @task
    def send_report(request_id: str, report: dict[str, Any]) -> str:
        return "<message-id@example.com>"

    @task
    def close_review_prompt(request: dict[str, Any]) -> str:
        return "closed"

    request: Any = validate_request()
    wait = FileSensor(
        task_id="wait_for_decision",
        filepath="{{ dag_run.conf['flag'] }}",
        fs_conn_id="fs_default",
        poke_interval=1,
        deferrable=True,
    )
    send_acknowledgement(request)
    post_review_prompt(request) >> wait
    extracts = aggregate_personal_data(request)
    wait >> extracts
    send_report(request, build_report(request, extracts)) >> close_review_prompt(request)


ccpa_bench_airflow_floor()
