"""The callback served on its own with `flask run` or gunicorn (for companies that expose only the callback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests

from devtools.standins.child_server import free_port
from devtools.standins.slack_emulator import SlackEmulator
from tests.conftest import ROOT
from tests.factories import register_verified

pytestmark = pytest.mark.integration


SERVERS = {
    "flask": ["-m", "flask", "--app", "include.slack_callback:create_app()", "run", "--port", "{port}"],
    "gunicorn": [
        "-m",
        "gunicorn",
        "--bind",
        "127.0.0.1:{port}",
        "--workers",
        "2",
        "include.slack_callback:create_app()",
    ],
}


@pytest.mark.parametrize("server_kind", sorted(SERVERS))
def test_the_callback_runs_on_its_own(compliance_store, tmp_path, server_kind):
    request_id = register_verified(compliance_store, "manual__standalone").request_id
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AIRFLOW_VAR_CCPA_SLACK_SIGNING_SECRET": "standalone-secret",
        "AIRFLOW_VAR_CCPA_APPROVERS": "U0APPROVER",
    }
    server = subprocess.Popen(
        [sys.executable, *(arg.format(port=port) for arg in SERVERS[server_kind])],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "flask.log", "w"),  # noqa: SIM115
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                    break
            except requests.RequestException:  # not listening yet, or still booting under load
                time.sleep(0.2)
        else:
            pytest.fail(f"{server_kind} did not start: " + (tmp_path / "flask.log").read_text()[-2000:])
        slack = SlackEmulator(signing_secret="standalone-secret", callback_url=f"http://127.0.0.1:{port}/slack/actions")
        payload = {
            "type": "block_actions",
            "user": {"id": "U0APPROVER"},
            "actions": [{"action_id": "ccpa_approve", "value": request_id, "type": "button"}],
        }
        assert slack.send_signed(payload, secret="forged")[0] == 401
        assert slack.send_signed(payload)[0] == 200
        assert compliance_store.get_decision(request_id).action == "approve"
        assert json.loads(requests.get(f"http://127.0.0.1:{port}/health", timeout=2).text) == {"status": "ok"}
    finally:
        server.terminate()
        server.wait(10)
