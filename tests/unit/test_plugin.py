"""The plugin mounts the callback on Airflow's own API server app at /ccpa/slack/actions."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.factories import register_verified

SECRET = "plugin-test-secret"


@pytest.fixture
def api_client(airflow_db, compliance_store, monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_APPROVERS", "U0APPROVER")
    from airflow.api_fastapi.app import create_app

    return TestClient(create_app())


def test_plugin_is_registered_through_fastapi_apps():
    from plugins.ccpa_slack_callback import CcpaSlackCallbackPlugin

    [entry] = CcpaSlackCallbackPlugin.fastapi_apps
    assert entry["url_prefix"] == "/ccpa"
    assert not getattr(CcpaSlackCallbackPlugin, "flask_blueprints", [])


def test_api_server_routes_signed_slack_callbacks_to_the_flask_app(api_client, compliance_store):
    request_id = register_verified(compliance_store, "manual__plugin").request_id
    body = urlencode(
        {
            "payload": json.dumps(
                {
                    "type": "block_actions",
                    "user": {"id": "U0APPROVER"},
                    "actions": [{"action_id": "ccpa_approve", "value": request_id, "type": "button"}],
                }
            )
        }
    )
    ts = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts}

    forged = api_client.post("/ccpa/slack/actions", content=body, headers={**headers, "X-Slack-Signature": "v0=00"})
    assert forged.status_code == 401
    assert compliance_store.get_decision(request_id) is None

    started = time.perf_counter()
    response = api_client.post("/ccpa/slack/actions", content=body, headers={**headers, "X-Slack-Signature": signature})
    assert response.status_code == 200
    assert time.perf_counter() - started < 3, "Slack gives up after 3 s"
    assert compliance_store.get_decision(request_id).action == "approve"


def test_loading_the_plugin_builds_no_app():
    """Every Airflow component loads plugins (task processes too): the pages and the Flask callback are built on the
    API server's first request, not when the plugin file is imported."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import sys; import plugins.ccpa_slack_callback as p; "
        "print(sorted(m for m in ('include.web.pages', 'include.slack.callback') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_request_form_is_served_by_the_api_server_under_ccpa(api_client):
    page = api_client.get("/ccpa/request?lang=es")
    assert page.status_code == 200 and '<html lang="es">' in page.text and 'name="form_token"' in page.text
    assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
