"""The least-privilege intake account under the FAB auth manager, against a real ``airflow api-server``.

The role and the user are created by running the very commands docs/deployment.md prints (the block between the
``fab-intake-role`` markers), so the documented role is the tested one. The account must be able to trigger a run
of ``ccpa_right_of_access`` and read its runs, and be refused (403) everything else: other DAGs, connections,
Variables (the Slack signing secret lives there), task logs, XCom, deleting or clearing runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devtools.standins.child_server import free_port
from tests.conftest import ROOT, api_server_at

pytestmark = pytest.mark.integration

DAG_ID = "ccpa_right_of_access"
OTHER_DAG_ID = "ccpa_compliance_watch"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
INTAKE_PASSWORD = "intake-fab-password"  # a throw-away test account
RETENTION_PASSWORD = "retention-fab-password"  # the account of connection ccpa_airflow_api (retention)
MARKERS = re.compile(r"<!-- fab-intake-role:start -->\s*```bash\n(.*?)```\s*<!-- fab-intake-role:end -->", re.S)


def documented_role_commands() -> str:
    """The shell block of docs/deployment.md that creates the intake role and user."""
    found = MARKERS.search((ROOT / "docs" / "deployment.md").read_text())
    assert found, "docs/deployment.md lost its fab-intake-role block"
    return found.group(1)


def _airflow(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"airflow {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-2000:]}"


@pytest.fixture(scope="module")
def fab_api_server(tmp_path_factory) -> Iterator[str]:
    pytest.importorskip("airflow.providers.fab", reason="apache-airflow-providers-fab is in requirements-providers.txt")
    home = tmp_path_factory.mktemp("fab-home")
    port = free_port()
    env = {
        **os.environ,
        # A metadata DB of its own: FAB's tables and roles must not leak into the other tests' SimpleAuthManager DB.
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
        "PYTHONPATH": str(ROOT),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": "intake-fab-test-jwt-secret-0123456789abcdef",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "INTAKE_PASSWORD": INTAKE_PASSWORD,
        "RETENTION_PASSWORD": RETENTION_PASSWORD,
    }
    _airflow(env, "db", "migrate")  # with the FAB auth manager this also creates FAB's tables
    _airflow(env, "dags", "reserialize")  # the DAG must be known: its resource DAG:ccpa_right_of_access comes from it
    script = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", documented_role_commands()],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert script.returncode == 0, script.stdout[-2000:] + script.stderr[-2000:]
    with api_server_at(env, home / "api-server.log") as url:
        yield url


@pytest.fixture(scope="module")
def intake(fab_api_server) -> requests.Session:
    token = requests.post(
        f"{fab_api_server}/auth/token", json={"username": "intake", "password": INTAKE_PASSWORD}, timeout=30
    )
    assert token.status_code in (200, 201), token.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return session


def _trigger(session: requests.Session, url: str, dag_id: str, run_id: str) -> requests.Response:
    conf = {"name": "Jane Doe", "email": "jane.doe@example.com", "channel": "web_form"}
    body = {"dag_run_id": run_id, "logical_date": None, "conf": conf}
    return session.post(f"{url}/api/v2/dags/{dag_id}/dagRuns", json=body, timeout=30)


def test_fab_intake_role_triggers_and_reads_runs_of_this_dag(fab_api_server, intake):
    run_id = f"intake-REQ-{time.time_ns()}"
    first = _trigger(intake, fab_api_server, DAG_ID, run_id)
    assert first.status_code == 200, first.text
    assert first.json()["dag_run_id"] == run_id
    assert _trigger(intake, fab_api_server, DAG_ID, run_id).status_code == 409  # the retried POST (README)
    run = intake.get(f"{fab_api_server}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", timeout=30)
    assert run.status_code == 200, run.text
    listing = intake.get(f"{fab_api_server}/api/v2/dags/{DAG_ID}/dagRuns", timeout=30)
    assert listing.status_code == 200
    assert run_id in [r["dag_run_id"] for r in listing.json()["dag_runs"]]
    # Listing DAGs shows only what the role may read.
    dags = intake.get(f"{fab_api_server}/api/v2/dags", timeout=30)
    assert dags.status_code == 200
    assert [d["dag_id"] for d in dags.json()["dags"]] == [DAG_ID]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("GET", f"/api/v2/dags/{OTHER_DAG_ID}", None, id="read-other-dag"),
        pytest.param("GET", f"/api/v2/dags/{OTHER_DAG_ID}/dagRuns", None, id="read-other-dag-runs"),
        pytest.param("PATCH", f"/api/v2/dags/{OTHER_DAG_ID}", {"is_paused": True}, id="pause-other-dag"),
        pytest.param("GET", "/api/v2/connections", None, id="list-connections"),
        pytest.param("GET", "/api/v2/connections/ccpa_compliance_db", None, id="read-connection"),
        pytest.param("GET", "/api/v2/variables", None, id="list-variables"),
        pytest.param("GET", "/api/v2/variables/ccpa_slack_signing_secret", None, id="read-variable"),
        pytest.param("GET", "/api/v2/config", None, id="read-config"),
        pytest.param("GET", "/api/v2/pools", None, id="read-pools"),
        pytest.param("GET", f"/api/v2/dagSources/{DAG_ID}", None, id="read-dag-source"),
        pytest.param("DELETE", f"/api/v2/dags/{DAG_ID}", None, id="delete-dag"),
        pytest.param("POST", f"/api/v2/dags/{DAG_ID}/clearTaskInstances", {"dry_run": True}, id="clear-tasks"),
        pytest.param("GET", "/auth/fab/v1/users", None, id="list-users"),
        pytest.param("GET", "/auth/fab/v1/roles", None, id="list-roles"),
    ],
)
def test_fab_intake_role_is_refused_everything_else(fab_api_server, intake, method, path, body):
    answer = intake.request(method, fab_api_server + path, json=body, timeout=30)
    assert answer.status_code == 403, f"{method} {path}: {answer.status_code} {answer.text[:300]}"


def test_fab_intake_role_cannot_trigger_other_dags_or_touch_run_contents(fab_api_server, intake):
    refused = _trigger(intake, fab_api_server, OTHER_DAG_ID, f"intake-REQ-{time.time_ns()}")
    assert refused.status_code == 403, refused.text
    run_id = f"intake-REQ-{time.time_ns()}"
    assert _trigger(intake, fab_api_server, DAG_ID, run_id).status_code == 200
    run_path = f"{fab_api_server}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}"
    # Task instances, their logs and XCom (extraction paths, counts) and deleting the run are not the intake's.
    for method, path in [
        ("GET", f"{run_path}/taskInstances"),
        ("GET", f"{run_path}/taskInstances/validate_request/logs/1"),
        ("GET", f"{run_path}/taskInstances/validate_request/xcomEntries"),
        ("DELETE", run_path),
    ]:
        answer = intake.request(method, path, timeout=30)
        assert answer.status_code == 403, f"{method} {path}: {answer.status_code} {answer.text[:300]}"
    assert intake.get(run_path, timeout=30).status_code == 200  # the refused DELETE changed nothing


def test_fab_intake_role_can_pause_this_dag_the_documented_limit(fab_api_server, intake):
    """FAB ties triggering to ``can_edit`` on the DAG (a run is an edit of the DAG), and ``can_edit`` also allows
    pausing it: docs/deployment.md says so. This pins that statement; if FAB ever separates the two, it fails and
    the docs get shorter."""
    paused = intake.patch(f"{fab_api_server}/api/v2/dags/{DAG_ID}", json={"is_paused": True}, timeout=30)
    assert paused.status_code == 200, paused.text
    assert paused.json()["is_paused"] is True
    without_edit = intake.patch(f"{fab_api_server}/api/v2/dags/{OTHER_DAG_ID}", json={"is_paused": True}, timeout=30)
    assert without_edit.status_code == 403


def test_fab_wrong_password_gets_no_token(fab_api_server):
    answer = requests.post(
        f"{fab_api_server}/auth/token", json={"username": "intake", "password": "not-it"}, timeout=30
    )
    assert answer.status_code == 401, answer.text


def test_fab_retention_role_deletes_runs_of_this_dag_through_the_projects_client(fab_api_server, intake):
    from include.airflow_runs import AirflowApiError, AirflowRuns, ApiAccount

    run_id = f"intake-REQ-{time.time_ns()}"
    assert _trigger(intake, fab_api_server, DAG_ID, run_id).status_code == 200
    retention = AirflowRuns(ApiAccount(fab_api_server, "ccpa-retention", RETENTION_PASSWORD))
    assert retention.delete_run(run_id) is True
    assert intake.get(f"{fab_api_server}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", timeout=30).status_code == 404
    assert retention.delete_run(run_id) is False, "already gone: nothing left to delete"
    with pytest.raises(AirflowApiError, match="HTTP 403"):
        retention.delete_run(f"scheduled__{time.time_ns()}", dag_id=OTHER_DAG_ID)


def test_fab_retention_role_cannot_trigger_or_read(fab_api_server):
    token = requests.post(
        f"{fab_api_server}/auth/token",
        json={"username": "ccpa-retention", "password": RETENTION_PASSWORD},
        timeout=30,
    )
    assert token.status_code in (200, 201), token.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    assert _trigger(session, fab_api_server, DAG_ID, f"intake-REQ-{time.time_ns()}").status_code == 403
    assert session.get(f"{fab_api_server}/api/v2/dags/{DAG_ID}/dagRuns", timeout=30).status_code == 403
    assert session.get(f"{fab_api_server}/api/v2/variables", timeout=30).status_code == 403
