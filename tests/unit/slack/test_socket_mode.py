"""Slack Socket Mode end to end: the emulator's apps.connections.open and WebSocket, slack_sdk's real Socket Mode
client, the callback's own handler, the real MariaDB compliance store."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from devtools.standins.slack_emulator import SlackEmulator
from include.config import ConfigurationError
from include.slack.blocks import review_prompt
from include.slack.socket_mode import SocketModeService, app_token_and_base_url

APP_TOKEN = "xapp-1-A0EMULATOR-test"
APPROVER = "U0APPROVER"


class StaticSettings:
    signing_secret = "unused-in-socket-mode"
    approvers = frozenset({APPROVER})


@pytest.fixture
def slack(monkeypatch):
    with SlackEmulator(signing_secret="x", callback_url=None, app_token=APP_TOKEN) as emulator:
        connection = {"conn_type": "slack", "password": APP_TOKEN, "extra": {"base_url": emulator.api_url}}
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_SOCKET_MODE", json.dumps(connection))
        yield emulator


@pytest.fixture
def service(slack, compliance_store):
    from include.slack.callback import interaction_handler

    web = WebClient(token="xoxb-test", base_url=slack.api_url)
    handler = interaction_handler(lambda: compliance_store, StaticSettings(), lambda: web)
    svc = SocketModeService(handler=handler).connect()
    deadline = time.monotonic() + 10
    while not slack.socket.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slack.socket.connected == 1
    yield svc
    svc.close()


@pytest.fixture
def prompt(slack, compliance_store):
    from tests.factories import register_verified

    # A request verified for specific pieces (3 points + declaration, §7062(c)): Approve is offered and allowed.
    record = register_verified(compliance_store, "manual__socket")
    text, blocks = review_prompt(record)
    posted = WebClient(token="xoxb-test", base_url=slack.api_url).chat_postMessage(
        channel="#privacy", text=text, blocks=blocks
    )
    compliance_store.set_review_prompt(record.request_id, posted["channel"], posted["ts"])
    return record.request_id, posted["ts"]


def test_an_approval_over_socket_mode_is_recorded_exactly_once(slack, service, prompt, compliance_store):
    request_id, ts = prompt
    with ThreadPoolExecutor(8) as pool:  # an officer's double click, Slack's redelivery, a second tab ...
        results = list(pool.map(lambda _: slack.click(ts, "ccpa_approve", user_id=APPROVER), range(8)))
    assert all(status == 200 for status, _ in results), "every envelope acknowledged within Slack's 3 s"
    decision = compliance_store.get_decision(request_id)
    assert (decision.action, decision.decided_by) == ("approve", APPROVER)
    events = [e["event"] for e in compliance_store.audit_trail(request_id)]
    assert events.count("decision_recorded") == 1
    assert {d["type"] for d in slack.socket.delivered} == {"block_actions"}
    deadline = time.monotonic() + 10  # the prompt shows who decided, as after an HTTP click
    while "building the report" not in json.dumps(slack.message(ts)["blocks"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"<@{APPROVER}>" in json.dumps(slack.message(ts)["blocks"])


def test_socket_mode_applies_the_same_allow_list(slack, service, prompt, compliance_store):
    request_id, ts = prompt
    status, _ = slack.click(ts, "ccpa_approve", user_id="U0INTRUDER")
    assert status == 200
    assert compliance_store.get_decision(request_id) is None
    events = [e["event"] for e in compliance_store.audit_trail(request_id)]
    assert "decision_refused_not_approver" in events


def test_a_rejection_modal_answers_its_validation_errors_in_the_ack(slack, service, prompt, compliance_store):
    request_id, ts = prompt
    slack.click(ts, "ccpa_reject", user_id=APPROVER)
    deadline = time.monotonic() + 10
    while not slack.views() and time.monotonic() < deadline:
        time.sleep(0.05)
    status, text = slack.submit_view("ccpa_reject_reason", {"reason": {"reason_choice": "other"}}, user_id=APPROVER)
    assert status == 200 and json.loads(text)["response_action"] == "errors"  # "other" needs the officer's words
    assert compliance_store.get_decision(request_id) is None
    values = {"reason": {"reason_choice": "photo_id_mismatch"}, "details": {"reason_details": ""}}
    assert slack.submit_view("ccpa_reject_reason", values, user_id=APPROVER) == (200, "")
    assert compliance_store.get_decision(request_id).action == "reject"


def test_the_app_token_must_be_an_app_level_token(monkeypatch, slack):
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_SOCKET_MODE", json.dumps({"conn_type": "slack", "password": "xoxb-bot"}))
    with pytest.raises(ConfigurationError, match="app-level token"):
        app_token_and_base_url()
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_SOCKET_MODE")
    with pytest.raises(ConfigurationError, match="slack_socket_mode"):
        app_token_and_base_url()
    bot = WebClient(token="xoxb-bot", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as refused:  # Slack's answer to a bot token
        bot.apps_connections_open(app_token="xoxb-bot")
    assert refused.value.response["error"] == "not_allowed_token_type"


def test_the_emulator_socket_can_listen_on_a_fixed_port_under_a_public_name(compliance_store):
    """What the compose demo uses: a fixed WebSocket port, announced under the service's host name."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with SlackEmulator("x", app_token=APP_TOKEN, socket_port=port, socket_public_host="localhost") as emulator:
        opened = WebClient(base_url=emulator.api_url).apps_connections_open(app_token=APP_TOKEN)
        assert opened["url"].startswith(f"ws://localhost:{port}/link/?ticket=")
