"""The intake contract, against a real ``airflow api-server``: the intake system's own request id is the run id, so
a retried POST is refused (409) instead of starting a second run that would email the requester twice; an intake
account needs a role that may trigger runs, and a read-only one may not (SimpleAuthManager's roles)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from devtools.standins.child_server import free_port
from tests.conftest import ROOT, api_server_at

pytestmark = pytest.mark.integration

DAG_ID = "ccpa_right_of_access"
#: ``retention``: the account of connection ccpa_airflow_api, deleting runs past retention (test_retention_runs.py).
PASSWORDS = {"intake": "intake-password", "auditor": "auditor-password", "retention": "retention-password"}


@pytest.fixture(scope="module")
def api_server(airflow_db, tmp_path_factory) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp("intake")
    port = free_port()
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": "intake-contract-test-jwt-secret-0123456789abcdef",
        # The intake account may trigger runs and read them (role "user"); the auditor may only read ("viewer").
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "intake:user,auditor:viewer,retention:user",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
    }
    subprocess.run(  # the DAG must be serialized for the REST API to trigger it
        [sys.executable, "-m", "airflow", "dags", "reserialize"], env=env, check=True, capture_output=True, timeout=300
    )
    with api_server_at(env, tmp_path / "api-server.log") as url:
        yield url


def _session(url: str, user: str) -> requests.Session:
    token = requests.post(f"{url}/auth/token", json={"username": user, "password": PASSWORDS[user]}, timeout=30)
    token.raise_for_status()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return session


def _trigger(session: requests.Session, url: str, run_id: str, **changes: object) -> requests.Response:
    conf = {
        "name": "Jane Doe",
        "email": "jane.doe@example.com",
        "photo_id_url": "https://intake.example.com/ids/1",
        "channel": "web_form",  # required: how the consumer made the request (§7101)
        **changes,
    }
    body = {"dag_run_id": run_id, "logical_date": None, "conf": conf}  # as in the README
    return session.post(f"{url}/api/v2/dags/{DAG_ID}/dagRuns", json=body, timeout=30)


def test_a_retried_intake_post_gets_409_not_a_second_run(api_server):
    intake = _session(api_server, "intake")
    run_id = f"intake-REQ-{time.time_ns()}"  # the intake system's own request id
    first = _trigger(intake, api_server, run_id)
    assert first.status_code == 200, first.text
    assert first.json()["dag_run_id"] == run_id
    retried = _trigger(intake, api_server, run_id)  # the intake system's retry after a timeout
    assert retried.status_code == 409, retried.text
    listing = {"run_id_pattern": run_id, "limit": 100}  # the session's metadata DB holds other tests' runs too
    runs = intake.get(f"{api_server}/api/v2/dags/{DAG_ID}/dagRuns", params=listing, timeout=30).json()
    assert [r["dag_run_id"] for r in runs["dag_runs"]].count(run_id) == 1
    assert intake.get(f"{api_server}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", timeout=30).status_code == 200


def test_a_read_only_account_cannot_trigger(api_server):
    auditor = _session(api_server, "auditor")
    refused = _trigger(auditor, api_server, f"intake-REQ-{time.time_ns()}")
    assert refused.status_code == 403, refused.text
    assert auditor.get(f"{api_server}/api/v2/dags/{DAG_ID}/dagRuns", timeout=30).status_code == 200


@pytest.mark.parametrize(
    "changes",
    [
        {"email": "not-an-email"},
        {"channel": "fax"},
        {"lookback": "forever"},
        {"language": "fr"},
        {"declaration": {"signed_at": "2026-01-05T18:00:00Z", "signer_name": "Jane Doe"}},
        {"agent": {"name": "A", "email": "a@example.com", "permission": {"kind": "other", "document_url": "u"}}},
    ],
)
def test_a_malformed_trigger_is_refused_before_a_run_exists(api_server, changes):
    """Bad input gets a clear error and changes nothing: the DAG's params (draft-07 JSON schemas) are checked by the
    API server at the trigger, so no run, no acknowledgement, no Slack prompt."""
    intake = _session(api_server, "intake")
    run_id = f"intake-BAD-{time.time_ns()}"
    refused = _trigger(intake, api_server, run_id, **changes)
    assert refused.status_code == 400, refused.text
    assert next(iter(changes)) in refused.text  # the message names the field
    assert intake.get(f"{api_server}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", timeout=30).status_code == 404
