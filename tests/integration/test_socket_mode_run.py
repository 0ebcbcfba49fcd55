"""A whole run decided through Slack Socket Mode: the DAG (dag.test()), the Socket Mode service with slack_sdk's
real client on the emulator's WebSocket, MariaDB, the mail sink. No HTTP callback is involved."""

from __future__ import annotations

import json
import time

import pytest

from devtools.demo_data import DEMO_PERSON
from tests.integration.conftest import APP_TOKEN, APPROVER, REQUEST

pytestmark = pytest.mark.integration


@pytest.fixture
def socket_mode(stack, monkeypatch):
    from include.slack.socket_mode import SocketModeService

    connection = {"conn_type": "slack", "password": APP_TOKEN, "extra": {"base_url": stack.slack.api_url}}
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_SOCKET_MODE", json.dumps(connection))
    stack.slack.callback_url = None  # in Socket Mode Slack sends no HTTP requests: nothing may depend on them
    service = SocketModeService().connect()
    deadline = time.monotonic() + 10
    while not stack.slack.socket.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stack.slack.socket.connected == 1
    yield stack
    service.close()


def test_a_run_approved_over_socket_mode_sends_one_report(socket_mode, run_dag):
    stack = socket_mode
    officer = stack.click_when_posted("ccpa_approve")
    dag_run = run_dag(REQUEST)
    officer.join(5)

    assert dag_run.state == "success"
    assert officer.results["click"][0] == 200, "the envelope was acknowledged"
    assert [d["type"] for d in stack.slack.socket.delivered] == ["block_actions"]
    [mail] = stack.answers()
    assert mail.message["To"] == DEMO_PERSON["email"]
    record = stack.store.find_by_run_id(dag_run.run_id)
    decision = stack.store.get_decision(record.request_id)
    assert (decision.action, decision.decided_by) == ("approve", APPROVER)
    assert stack.store.get_request(record.request_id).status == "completed"
