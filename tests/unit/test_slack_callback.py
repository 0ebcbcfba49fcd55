"""The Slack callback against the real Flask app and the real MariaDB compliance store."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from include.request import AccessRequest
from include.slack_callback import create_app

SECRET = "unit-test-signing-secret"
APPROVER = "U0APPROVER"


class StaticSettings:
    def __init__(self, signing_secret=SECRET, approvers=frozenset({APPROVER})):
        self.signing_secret = signing_secret
        self.approvers = approvers


@pytest.fixture
def request_id(compliance_store):
    record = compliance_store.register_request(
        "manual__unit", AccessRequest("Jane Doe", "jane@example.com", "https://x.example/id"), datetime.now(UTC)
    )
    return record.request_id


@pytest.fixture
def client_for(compliance_store):
    def make(**settings):
        return create_app(store_factory=lambda: compliance_store, settings=StaticSettings(**settings)).test_client()

    return make


@pytest.fixture
def client(client_for):
    return client_for()


def payload(request_id, action_id="ccpa_approve", user=APPROVER):
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "officer"},
        "actions": [{"action_id": action_id, "value": request_id, "type": "button"}],
        "response_url": None,
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 scheme over the raw bytes (slack_sdk's own helper only signs text)."""
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def post(client, body, *, secret=SECRET, timestamp=None, headers=None):
    raw = body if isinstance(body, bytes) else urlencode({"payload": json.dumps(body)}).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signed = {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign(secret, ts, raw),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return client.post("/slack/actions", data=raw, headers={**signed, **(headers or {})})


def test_our_signing_matches_slack_sdk():
    body = b"payload=%7B%7D"
    assert sign(SECRET, "1700000000", body) == SignatureVerifier(SECRET).generate_signature(
        timestamp="1700000000", body=body
    )


def test_valid_signature_records_the_decision(client, compliance_store, request_id):
    response = post(client, payload(request_id))
    assert response.status_code == 200
    decision = compliance_store.get_decision(request_id)
    assert (decision.action, decision.decided_by) == ("approve", APPROVER)


@pytest.mark.parametrize(
    "forgery",
    [
        {"secret": "wrong-secret"},
        {"timestamp": int(time.time()) - 301},  # replayed: more than five minutes old
        {"timestamp": int(time.time()) + 600},  # from the future
        {"headers": {"X-Slack-Signature": ""}},
        {"headers": {"X-Slack-Request-Timestamp": "not-a-number"}},
        {"headers": {"X-Slack-Signature": "v0=" + "0" * 64}},
    ],
)
def test_forged_or_replayed_callbacks_get_401_and_change_nothing(client, compliance_store, request_id, forgery):
    response = post(client, payload(request_id), **forgery)
    assert response.status_code == 401
    assert compliance_store.get_decision(request_id) is None
    assert [e["event"] for e in compliance_store.audit_trail(request_id)] == ["request_received"]


def test_unsigned_request_is_401(client, compliance_store, request_id):
    response = client.post("/slack/actions", data={"payload": json.dumps(payload(request_id))})
    assert response.status_code == 401
    assert compliance_store.get_decision(request_id) is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"payload=%7Bnot-json", 400),
        (b"nopayload=1", 400),
        (b"\xff\xfe\x00garbage", 401),  # not even text: the signature cannot be checked
        (urlencode({"payload": json.dumps({"type": "view_closed"})}).encode(), 400),
        (urlencode({"payload": json.dumps({"type": "block_actions", "actions": []})}).encode(), 400),
        (urlencode({"payload": json.dumps([1, 2])}).encode(), 400),
    ],
)
def test_malformed_bodies_are_refused_and_change_nothing(client, compliance_store, request_id, body, status):
    assert post(client, body).status_code == status
    assert compliance_store.get_decision(request_id) is None


def test_body_over_64_kib_is_413(client, compliance_store, request_id):
    big = payload(request_id) | {"padding": "x" * (65 * 1024)}
    assert post(client, big).status_code == 413
    assert compliance_store.get_decision(request_id) is None


def test_unknown_action_is_400(client, compliance_store, request_id):
    assert post(client, payload(request_id, action_id="something_else")).status_code == 400
    assert compliance_store.get_decision(request_id) is None


def test_non_approver_cannot_decide_and_the_attempt_is_audited(client, compliance_store, request_id):
    assert post(client, payload(request_id, user="U0INTRUDER")).status_code == 200
    assert compliance_store.get_decision(request_id) is None
    events = compliance_store.audit_trail(request_id)
    assert events[-1]["event"] == "decision_refused_not_approver"
    assert events[-1]["actor"] == "U0INTRUDER"


def test_nobody_decides_while_approvers_are_unset(client_for, compliance_store, request_id):
    client = client_for(approvers=frozenset())
    assert post(client, payload(request_id)).status_code == 200
    assert compliance_store.get_decision(request_id) is None


def test_second_click_does_not_change_the_decision(client, compliance_store, request_id):
    assert post(client, payload(request_id, "ccpa_approve")).status_code == 200
    assert post(client, payload(request_id, "ccpa_reject")).status_code == 200
    assert compliance_store.get_decision(request_id).action == "approve"


def test_click_on_unknown_request_changes_nothing(client, compliance_store):
    assert post(client, payload("f" * 32)).status_code == 200
    assert compliance_store.get_decision("f" * 32) is None


def test_unset_signing_secret_refuses_everything(client_for, compliance_store, request_id):
    client = client_for(signing_secret="")
    assert post(client, payload(request_id)).status_code == 401
    assert compliance_store.get_decision(request_id) is None
