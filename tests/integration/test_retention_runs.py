"""§7101 retention reaches Airflow's own copy of a request: the run whose ``dag_run.conf`` holds the requester's name
and email is deleted through the REST API of a real ``airflow api-server`` on the real metadata DB (connection
ccpa_airflow_api), once, and a failure is retried by the next day's watch."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from include.airflow_runs import AirflowApiError
from include.request import AccessRequest
from include.tasks import compliance_watch as watch
from tests.integration.test_intake_contract import PASSWORDS, _session, _trigger, api_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration

JANE = AccessRequest("Jane Doe", "jane.doe@example.com", "https://intake.example.com/ids/1")
PAST_RETENTION = datetime(2026, 3, 1, tzinfo=UTC)


def _use_api(monkeypatch, url: str, password: str = PASSWORDS["retention"]) -> None:
    connection = {"conn_type": "http", "host": url, "login": "retention", "password": password}
    monkeypatch.setenv("AIRFLOW_CONN_CCPA_AIRFLOW_API", json.dumps(connection))


def _run_in_metadata_db(run_id: str):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.run_id == run_id))
        return None if run is None else dict(run.conf or {})


def test_7101_retention_deletes_the_airflow_run_holding_the_requesters_conf(
    api_server,  # noqa: F811 (the fixture)
    compliance_store,
    monkeypatch,
):
    intake = _session(api_server, "intake")
    run_id = f"intake-REQ-{time.time_ns()}"
    assert _trigger(intake, api_server, run_id).status_code == 200
    assert _run_in_metadata_db(run_id)["email"] == "jane.doe@example.com"
    old = compliance_store.register_request(run_id, JANE, datetime(2024, 1, 5, tzinfo=UTC))  # abandoned, never closed
    missing = compliance_store.register_request("run-cleaned-by-db-clean", JANE, datetime(2024, 1, 6, tzinfo=UTC))

    _use_api(monkeypatch, api_server, password="wrong")
    with pytest.raises(AirflowApiError, match="auth/token"):
        watch.apply_retention(compliance_store, now=PAST_RETENTION)
    assert compliance_store.get_request(old.request_id).redacted_at is not None, "the store is redacted regardless"
    assert _run_in_metadata_db(run_id) is not None, "and the run is left for the next day"

    _use_api(monkeypatch, api_server)
    assert watch.apply_retention(compliance_store, now=PAST_RETENTION) == 0  # redacted already; the runs remained
    assert _run_in_metadata_db(run_id) is None, "the run, and the conf with the name and email, are gone"
    assert intake.get(f"{api_server}/api/v2/dags/ccpa_right_of_access/dagRuns/{run_id}", timeout=30).status_code == 404
    refs = {r.request_id: compliance_store.once_ref(r.request_id, watch.RUN_DELETED) for r in (old, missing)}
    assert refs == {old.request_id: "deleted", missing.request_id: "absent"}

    watch.apply_retention(compliance_store, now=PAST_RETENTION)  # done once: nothing left to delete or fail on
    events = [e["event"] for e in compliance_store.audit_trail(old.request_id)]
    assert events.count("airflow_run_deleted") == 1
