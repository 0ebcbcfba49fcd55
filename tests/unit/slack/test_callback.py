"""The Slack callback against the real Flask app and the real MariaDB compliance store."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from devtools.standins.slack_emulator import SlackEmulator
from include.request import AccessRequest
from include.slack.callback import create_app
from tests.factories import register_verified

SECRET = "unit-test-signing-secret"
APPROVER = "U0APPROVER"


class StaticSettings:
    def __init__(self, signing_secret=SECRET, approvers=frozenset({APPROVER})):
        self.signing_secret = signing_secret
        self.approvers = approvers


@pytest.fixture
def request_id(compliance_store):
    # Verified for specific pieces (3 matching points and a declaration), so that Approve may approve everything.
    return register_verified(compliance_store, "manual__unit").request_id


@pytest.fixture
def slack():
    """The Slack Web API the callback talks back to (views.open, chat.update, response_url): the emulator."""
    with SlackEmulator(signing_secret=SECRET) as emulator:
        yield emulator


@pytest.fixture
def client_for(compliance_store, slack):
    def make(**settings):
        app = create_app(
            store_factory=lambda: compliance_store,
            settings=StaticSettings(**settings),
            slack_client_factory=lambda: WebClient(token="xoxb-test", base_url=slack.api_url),
        )
        return app.test_client()

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


def post(client, body, *, secret=SECRET, timestamp=None, age=0, headers=None):
    """A signed callback; ``age`` seconds old (negative: from the future), counted when it is sent."""
    raw = body if isinstance(body, bytes) else urlencode({"payload": json.dumps(body)}).encode()
    ts = str(int(time.time()) - age if timestamp is None else timestamp)
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
        {"age": 301},  # replayed: more than five minutes old
        {"age": -600},  # from the future
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


DEMO_SIGNING_SECRET = "demo-signing-secret-change-me-0123456789"  # .env.example's


def test_a_click_signed_with_the_demo_secret_is_refused_outside_the_demo(
    client_for, compliance_store, request_id, monkeypatch, caplog
):
    """Anyone can read the demo's signing secret: outside the demo (no CCPA_DEMO) a click it signs is refused with a
    clear log line, and nothing is decided."""
    monkeypatch.delenv("CCPA_DEMO", raising=False)
    client = client_for(signing_secret=DEMO_SIGNING_SECRET)
    response = post(client, payload(request_id), secret=DEMO_SIGNING_SECRET)
    assert response.status_code == 401 and "demo signing secret" in response.get_json()["error"]
    assert compliance_store.get_decision(request_id) is None
    assert any("demo's published value" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    assert DEMO_SIGNING_SECRET not in caplog.text, "the message names the setting, not the value"


def test_the_demo_signing_secret_still_works_in_the_demo(client_for, compliance_store, request_id, monkeypatch):
    monkeypatch.setenv("CCPA_DEMO", "1")
    client = client_for(signing_secret=DEMO_SIGNING_SECRET)
    assert post(client, payload(request_id), secret=DEMO_SIGNING_SECRET).status_code == 200
    assert compliance_store.get_decision(request_id).action == "approve"


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


def test_second_click_does_not_change_the_decision(client_for, compliance_store, request_id):
    client = client_for(approvers=frozenset({APPROVER, "U0SECOND"}))
    assert post(client, payload(request_id, "ccpa_approve")).status_code == 200
    assert post(client, payload(request_id, "ccpa_approve", user="U0SECOND")).status_code == 200
    assert post(client, reject_submission(request_id, "cannot_verify", user="U0SECOND")).json["errors"]
    decision = compliance_store.get_decision(request_id)
    assert (decision.action, decision.decided_by) == ("approve", APPROVER)


def test_click_on_unknown_request_changes_nothing(client, compliance_store):
    assert post(client, payload("f" * 32)).status_code == 200
    assert compliance_store.get_decision("f" * 32) is None


def test_unset_signing_secret_refuses_everything(client_for, compliance_store, request_id):
    client = client_for(signing_secret="")
    assert post(client, payload(request_id)).status_code == 401
    assert compliance_store.get_decision(request_id) is None


def reject_submission(request_id, reason_key=None, details=None, user=APPROVER):
    values = {}
    if reason_key:
        values["reason"] = {"reason_choice": {"type": "static_select", "selected_option": {"value": reason_key}}}
    if details is not None:
        values["details"] = {"reason_details": {"type": "plain_text_input", "value": details}}
    return {
        "type": "view_submission",
        "user": {"id": user},
        "view": {"callback_id": "ccpa_reject_reason", "private_metadata": request_id, "state": {"values": values}},
    }


@pytest.fixture
def prompted(compliance_store, request_id, slack):
    """The request's prompt, posted to the emulator as post_review_prompt would."""
    from include.slack.blocks import review_prompt

    text, blocks = review_prompt(compliance_store.get_request(request_id))
    posted = WebClient(token="xoxb-test", base_url=slack.api_url).chat_postMessage(
        channel="#privacy", text=text, blocks=blocks
    )
    compliance_store.set_review_prompt(request_id, posted["channel"], posted["ts"])
    return slack.message(posted["ts"])


def test_reject_opens_a_modal_and_decides_nothing_yet(client, compliance_store, request_id, slack, prompted):
    body = payload(request_id, "ccpa_reject") | {"trigger_id": "123.456.abc", "response_url": prompted["response_url"]}
    assert post(client, body).status_code == 200
    [view] = slack.views()
    assert view["callback_id"] == "ccpa_reject_reason" and view["private_metadata"] == request_id
    assert compliance_store.get_decision(request_id) is None


def test_modal_submission_records_the_rejection_with_its_reason(client, compliance_store, request_id, slack, prompted):
    response = post(client, reject_submission(request_id, "photo_id_mismatch", details="Different surname."))
    assert response.status_code == 200 and not response.data  # empty 200 closes the modal
    decision = compliance_store.get_decision(request_id)
    assert (decision.action, decision.decided_by) == ("reject", APPROVER)
    assert decision.reason == "the photo ID does not match the name in your request. Different surname."
    updated = slack.wait_for_message(lambda m: m["ts"] == prompted["ts"] and "Rejected by" in str(m["blocks"]))
    assert not any(b["type"] == "actions" for b in updated["blocks"])


@pytest.mark.parametrize(
    ("reason_key", "details", "block"), [(None, None, "reason"), ("bogus", None, "reason"), ("other", "  ", "details")]
)
def test_modal_without_a_usable_reason_is_sent_back(client, compliance_store, request_id, reason_key, details, block):
    response = post(client, reject_submission(request_id, reason_key, details))
    assert response.status_code == 200
    assert response.json["response_action"] == "errors" and block in response.json["errors"]
    assert compliance_store.get_decision(request_id) is None


def test_other_reason_uses_the_officers_words(client, compliance_store, request_id):
    assert post(client, reject_submission(request_id, "other", "We need a clearer photo.")).status_code == 200
    assert compliance_store.get_decision(request_id).reason == "We need a clearer photo."


def test_non_approver_cannot_submit_the_modal(client, compliance_store, request_id):
    response = post(client, reject_submission(request_id, "cannot_verify", user="U0INTRUDER"))
    assert "not an approver" in response.json["errors"]["reason"]
    assert compliance_store.get_decision(request_id) is None


def test_approve_updates_the_prompt_and_later_clickers_are_told_who_was_first(
    client_for, compliance_store, request_id, slack, prompted
):
    client = client_for(approvers=frozenset({APPROVER, "U0SECOND"}))
    first = payload(request_id) | {"response_url": prompted["response_url"]}
    assert post(client, first).status_code == 200
    slack.wait_for_message(lambda m: m["ts"] == prompted["ts"] and "Approved by" in str(m["blocks"]))
    second = payload(request_id, user="U0SECOND") | {"response_url": prompted["response_url"]}
    assert post(client, second).status_code == 200
    deadline = time.time() + 5
    while not slack.ephemerals() and time.time() < deadline:
        time.sleep(0.05)
    [note] = slack.ephemerals()
    assert f"Already decided: approved by <@{APPROVER}>" in note["text"]


def test_the_decided_prompt_is_rendered_from_the_clicks_own_read_of_the_request(
    client, compliance_store, request_id, slack, prompted, monkeypatch
):
    """After the ack, the prompt update does not read the request again: it renders the row the decision's
    transaction read under its lock, and shows exactly what a fresh read would."""
    from include.slack.blocks import outcome_prompt

    reads = []
    real_get_request = compliance_store.get_request
    monkeypatch.setattr(compliance_store, "get_request", lambda rid: reads.append(rid) or real_get_request(rid))
    assert post(client, payload(request_id) | {"response_url": prompted["response_url"]}).status_code == 200
    updated = slack.wait_for_message(lambda m: m["ts"] == prompted["ts"] and "Approved by" in str(m["blocks"]))
    assert reads == []
    _, expected = outcome_prompt(
        real_get_request(request_id),
        action="approve",
        decided_by=APPROVER,
        outcome="building the report…",
        scope="full",
        approvers=[APPROVER],
    )
    assert updated["blocks"] == expected


def test_slack_retrying_the_same_click_is_idempotent_and_silent(client, compliance_store, request_id, slack, prompted):
    body = payload(request_id) | {"response_url": prompted["response_url"]}
    assert post(client, body).status_code == 200
    assert (
        post(client, body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}).status_code
        == 200
    )
    time.sleep(0.3)
    assert slack.ephemerals() == []
    events = [e["event"] for e in compliance_store.audit_trail(request_id)]
    assert events.count("decision_recorded") == 1


def test_acknowledges_within_3_seconds_while_the_database_is_slow(client, compliance_store, request_id):
    """A real row lock on the request makes the decision's foreign-key check wait, as a busy database would."""
    from sqlalchemy import text

    with compliance_store.engine.connect() as blocker:
        transaction = blocker.begin()
        blocker.execute(
            text("SELECT request_id FROM ccpa_requests WHERE request_id = :r FOR UPDATE"), {"r": request_id}
        )
        started = time.perf_counter()
        response = post(client, payload(request_id))
        elapsed = time.perf_counter() - started
        assert response.status_code == 200
        assert elapsed < 3.0, f"Slack would give up: answered after {elapsed:.2f} s"
        assert compliance_store.get_decision(request_id) is None
        time.sleep(1.0)
        transaction.rollback()
    deadline = time.time() + 10
    while compliance_store.get_decision(request_id) is None and time.time() < deadline:
        time.sleep(0.1)
    assert compliance_store.get_decision(request_id).action == "approve", "the decision must not be lost"


def extend_submission(request_id, reason, user=APPROVER):
    values = {"details": {"reason_details": {"type": "plain_text_input", "value": reason}}}
    return {
        "type": "view_submission",
        "user": {"id": user},
        "view": {"callback_id": "ccpa_extend_reason", "private_metadata": request_id, "state": {"values": values}},
    }


def test_extend_opens_a_modal_then_moves_the_deadline_once(client, compliance_store, request_id, slack, prompted):
    before = compliance_store.get_request(request_id).due_at
    body = payload(request_id, "ccpa_extend") | {"trigger_id": "1.2.x", "response_url": prompted["response_url"]}
    assert post(client, body).status_code == 200
    [view] = slack.views()
    assert view["callback_id"] == "ccpa_extend_reason"

    assert post(client, extend_submission(request_id, "  ")).json["errors"]["details"].startswith("Give the reason")
    response = post(client, extend_submission(request_id, "Three more systems to search."))
    assert response.status_code == 200 and not response.data
    record = compliance_store.get_request(request_id)
    assert record.due_at - before == timedelta(days=45)
    assert (record.extended_by, record.extension_reason) == (APPROVER, "Three more systems to search.")
    updated = slack.wait_for_message(lambda m: m["ts"] == prompted["ts"] and "extended to 90 days" in str(m["blocks"]))
    assert "ccpa_extend" not in str(updated["blocks"])

    second = post(client, extend_submission(request_id, "Even more."))
    assert "the law allows one" in second.json["errors"]["details"]
    assert compliance_store.get_request(request_id).due_at == record.due_at
    events = [e["event"] for e in compliance_store.audit_trail(request_id)]
    assert events.count("deadline_extended") == 1 and "extension_refused" in events


def test_extension_after_the_first_45_days_is_refused(client, compliance_store):
    late = compliance_store.register_request(
        "manual__late",
        AccessRequest("Jane Doe", "jane@example.com", "https://x.example/id"),
        datetime.now(UTC) - timedelta(days=46),
    ).request_id
    response = post(client, extend_submission(late, "We forgot."))
    assert "within the first 45 days" in response.json["errors"]["details"]
    assert compliance_store.get_request(late).extended_at is None


def test_concurrent_extensions_give_one(compliance_store, request_id):
    from concurrent.futures import ThreadPoolExecutor

    from include.store import ExtensionRefused

    def attempt(i):
        try:
            compliance_store.extend(request_id, f"U{i}", "reason")
            return True
        except ExtensionRefused:
            return False

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(attempt, range(8))) == 1


# -- fault drills: a decision is never lost silently --------------------------------------------------------------


def _locked(compliance_store, request_id):
    """Hold the request's row lock, as a slow or stuck transaction would: decision writes wait on it."""
    from sqlalchemy import text

    blocker = compliance_store.engine.connect()
    transaction = blocker.begin()
    blocker.execute(text("SELECT request_id FROM ccpa_requests WHERE request_id = :r FOR UPDATE"), {"r": request_id})
    return blocker, transaction


def _wait_for_ephemeral(slack, needle, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        notes = [e for e in slack.ephemerals() if needle in e["text"]]
        if notes:
            return notes
        time.sleep(0.05)
    raise AssertionError(f"no ephemeral containing {needle!r}: {slack.ephemerals()}")


def test_drill_decision_write_failing_after_the_budget_tells_the_officer_and_a_second_click_works(
    compliance_store, request_id, slack, prompted, caplog
):
    from include.db import Timeouts
    from include.slack.callback import ACK_BUDGET
    from include.store import ComplianceStore

    # Writes that give up on a lock after 3 s: past the 2 s budget, so the failure comes after Slack was answered.
    slow = ComplianceStore.from_connection(
        timeouts=Timeouts(connect=5, read=10, write=10, lock_wait=3, statement=None, pool=5)
    )
    client = create_app(
        store_factory=lambda: slow,
        settings=StaticSettings(),
        slack_client_factory=lambda: WebClient(token="xoxb-test", base_url=slack.api_url),
    ).test_client()
    click = payload(request_id) | {"response_url": prompted["response_url"]}
    blocker, transaction = _locked(compliance_store, request_id)
    try:
        started = time.perf_counter()
        assert post(client, click).status_code == 200
        answered = time.perf_counter() - started
        assert ACK_BUDGET - 0.1 < answered < 3.0, f"answered after {answered:.2f} s"
        [note] = _wait_for_ephemeral(slack, "not recorded")
        assert "Click again" in note["text"]
    finally:
        transaction.rollback()
        blocker.close()
    assert compliance_store.get_decision(request_id) is None
    assert any(r.levelname == "ERROR" and "after the 2.0 s budget" in r.getMessage() for r in caplog.records), (
        "a lost write is logged at error level"
    )

    assert post(client, click).status_code == 200  # the officer clicks again: recorded
    decision = compliance_store.get_decision(request_id)
    assert (decision.action, decision.decided_by) == ("approve", APPROVER)


def test_drill_decision_write_failing_inside_the_budget_is_told_at_once(
    compliance_store, request_id, slack, prompted, caplog
):
    """The callback's own store (INTERACTIVE_TIMEOUTS): a stuck lock fails the write within the budget."""
    client = create_app(
        settings=StaticSettings(),
        slack_client_factory=lambda: WebClient(token="xoxb-test", base_url=slack.api_url),
    ).test_client()
    blocker, transaction = _locked(compliance_store, request_id)
    try:
        started = time.perf_counter()
        assert post(client, payload(request_id) | {"response_url": prompted["response_url"]}).status_code == 200
        answered = time.perf_counter() - started
        rejected = post(client, reject_submission(request_id, "cannot_verify"))
        extended = post(client, extend_submission(request_id, "More systems."))
    finally:
        transaction.rollback()
        blocker.close()
    assert answered < 2.0, f"the write's timeouts are inside the budget: {answered:.2f} s"
    _wait_for_ephemeral(slack, "not recorded")
    assert rejected.json["errors"]["reason"].startswith("Not recorded"), "the modal stays open with the error"
    assert extended.json["errors"]["details"].startswith("Not recorded")
    assert compliance_store.get_decision(request_id) is None
    assert compliance_store.get_request(request_id).extended_at is None
    assert post(client, reject_submission(request_id, "cannot_verify")).status_code == 200
    assert compliance_store.get_decision(request_id).action == "reject"
    assert post(client, reject_submission(request_id, "cannot_verify")).data == b"", "submitting again closes it"


def test_a_non_ascii_signature_is_401_not_500(client, compliance_store, request_id):
    raw = urlencode({"payload": json.dumps(payload(request_id))}).encode()
    ts = str(int(time.time()))
    for signature in ("v0=" + "é" * 64, "v0=ｆｆ", "\u00ff"):
        response = client.post(
            "/slack/actions",
            data=raw,
            headers={"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature.encode().decode("latin-1")},
        )
        assert response.status_code == 401
    assert (
        client.post(
            "/slack/actions", data=raw, headers={"X-Slack-Request-Timestamp": "١٢٣", "X-Slack-Signature": "v0=00"}
        ).status_code
        == 401
    )
    assert compliance_store.get_decision(request_id) is None


class AppSettings(StaticSettings):
    team_id = "T0OURS"
    app_id = "A0OURS"


def test_signed_payloads_from_another_workspace_or_app_are_refused_when_configured(compliance_store, request_id, slack):
    client = create_app(
        store_factory=lambda: compliance_store,
        settings=AppSettings(),
        slack_client_factory=lambda: WebClient(token="xoxb-test", base_url=slack.api_url),
    ).test_client()
    ours = {"team": {"id": "T0OURS"}, "api_app_id": "A0OURS"}
    assert post(client, payload(request_id) | {"team": {"id": "T0OTHER"}, "api_app_id": "A0OURS"}).status_code == 403
    assert post(client, payload(request_id) | {**ours, "api_app_id": "A0OTHER"}).status_code == 403
    assert compliance_store.get_decision(request_id) is None
    assert post(client, payload(request_id) | ours).status_code == 200
    assert compliance_store.get_decision(request_id).action == "approve"


# -- verification levels (§7062): the callback, not the button, decides what may be approved -----------------------


def test_7062_a_full_approval_of_a_two_point_request_is_refused_and_nothing_is_recorded(client, compliance_store):
    from tests.factories import register_verified, verified_request

    two_points = register_verified(
        compliance_store, "manual__two_points", verified_request(email="two@example.com"), matched=("email", "name")
    ).request_id
    response = post(client, payload(two_points, "ccpa_approve"))
    assert response.status_code == 200
    assert compliance_store.get_decision(two_points) is None
    assert compliance_store.get_request(two_points).status == "received"
    [refused] = [e for e in compliance_store.audit_trail(two_points) if e["event"] == "approval_refused_verification"]
    assert refused["detail"] == {"asked": "full", "allowed": "categories", "points": 2}

    # The approval the level allows is recorded with its scope.
    assert post(client, payload(two_points, "ccpa_approve_categories")).status_code == 200
    decision = compliance_store.get_decision(two_points)
    assert (decision.action, decision.scope) == ("approve", "categories")


def test_7062c_without_a_declaration_three_points_approve_categories_only(client, compliance_store):
    from include.request import AccessRequest
    from tests.factories import register_verified

    undeclared = AccessRequest.from_conf({"name": "Jane Doe", "email": "nodecl@example.com", "phone": "4155551000"})
    request_id = register_verified(compliance_store, "manual__nodecl", undeclared).request_id
    post(client, payload(request_id, "ccpa_approve"))
    assert compliance_store.get_decision(request_id) is None


def test_7062b_one_point_allows_no_approval_at_all(client, compliance_store):
    from tests.factories import register_verified, verified_request

    request_id = register_verified(
        compliance_store, "manual__one", verified_request(email="one@example.com"), matched=("email",)
    ).request_id
    for action in ("ccpa_approve", "ccpa_approve_categories"):
        post(client, payload(request_id, action))
    assert compliance_store.get_decision(request_id) is None


def test_a_full_approval_records_the_full_scope(client, compliance_store, request_id):
    post(client, payload(request_id))
    assert compliance_store.get_decision(request_id).scope == "full"


def test_a_categories_request_is_approved_at_the_categories_scope_only(client, compliance_store):
    from include.request import AccessRequest
    from tests.factories import declaration_for, register_verified

    conf = {"name": "Jane Doe", "email": "cat@example.com", "request_type": "categories"}
    request = AccessRequest.from_conf({**conf, "declaration": declaration_for("Jane Doe")})
    request_id = register_verified(compliance_store, "manual__cat", request).request_id
    post(client, payload(request_id, "ccpa_approve"))  # more than was asked for
    assert compliance_store.get_decision(request_id) is None
    post(client, payload(request_id, "ccpa_approve_categories"))
    assert compliance_store.get_decision(request_id).scope == "categories"


# -- two-person approval ------------------------------------------------------------------------------------------

SECOND = "U0SECOND"


@pytest.fixture
def two_person(compliance_store, slack):
    """A request registered while ccpa_required_approvals was 2, its prompt posted, two approvers configured."""
    from include.slack.blocks import review_prompt
    from tests.factories import points_json, verified_request

    record = compliance_store.register_request(
        "manual__two", verified_request(), datetime.now(UTC), required_approvals=2
    )
    # Verified for specific pieces (issue 16: an approval the level does not allow is refused).
    compliance_store.set_identity_evidence(
        record.request_id, "email found in 1 of 1 datastores (crm)", points_json(("email", "name", "phone"))
    )
    record = compliance_store.get_request(record.request_id)
    text, blocks = review_prompt(record)
    posted = WebClient(token="xoxb-test", base_url=slack.api_url).chat_postMessage(
        channel="#privacy", text=text, blocks=blocks
    )
    compliance_store.set_review_prompt(record.request_id, posted["channel"], posted["ts"])
    return record.request_id, slack.message(posted["ts"])


def _wait(predicate, timeout: float = 15):
    deadline = time.time() + timeout
    while not predicate() and time.time() < deadline:
        time.sleep(0.05)
    return predicate()


def test_first_approval_of_two_keeps_the_buttons_and_shows_who_approved(
    client_for, compliance_store, two_person, slack
):
    request_id, prompt = two_person
    client = client_for(approvers=frozenset({APPROVER, SECOND}))
    assert "0 of 2 approvals" in json.dumps(prompt["blocks"])
    assert post(client, payload(request_id) | {"response_url": prompt["response_url"]}).status_code == 200
    assert compliance_store.get_decision(request_id) is None
    assert _wait(lambda: "1 of 2 approvals" in json.dumps(slack.message(prompt["ts"])["blocks"]))
    blocks = json.dumps(slack.message(prompt["ts"])["blocks"])
    assert f"1 of 2 approvals* \\u2014 <@{APPROVER}>" in blocks
    assert "ccpa_approve" in blocks and "ccpa_reject" in blocks  # still decidable


def test_the_first_approver_clicking_again_is_told_and_decides_nothing(client_for, compliance_store, two_person, slack):
    request_id, prompt = two_person
    client = client_for(approvers=frozenset({APPROVER, SECOND}))
    body = payload(request_id) | {"response_url": prompt["response_url"]}
    post(client, body)
    post(client, body)
    assert _wait(lambda: slack.ephemerals())
    assert "already approved" in slack.ephemerals()[0]["text"] and "different officer" in slack.ephemerals()[0]["text"]
    assert compliance_store.get_decision(request_id) is None


def test_a_second_officer_decides_and_the_prompt_names_both(client_for, compliance_store, two_person, slack):
    request_id, prompt = two_person
    client = client_for(approvers=frozenset({APPROVER, SECOND}))
    post(client, payload(request_id) | {"response_url": prompt["response_url"]})
    post(client, payload(request_id, user=SECOND) | {"response_url": prompt["response_url"]})
    decision = compliance_store.get_decision(request_id)
    assert (decision.action, decision.decided_by) == ("approve", SECOND)
    assert _wait(lambda: "Approved by" in json.dumps(slack.message(prompt["ts"])["blocks"]))
    assert f"Approved by <@{APPROVER}> and <@{SECOND}>" in json.dumps(slack.message(prompt["ts"])["blocks"])


def test_a_reject_after_one_approval_ends_it(client_for, compliance_store, two_person):
    request_id, _ = two_person
    client = client_for(approvers=frozenset({APPROVER, SECOND}))
    post(client, payload(request_id))
    post(client, reject_submission(request_id, "cannot_verify", user=SECOND))
    assert compliance_store.get_decision(request_id).action == "reject"
    post(client, payload(request_id, user=SECOND))
    assert compliance_store.get_decision(request_id).action == "reject"


def test_twenty_concurrent_clicks_from_two_officers_give_one_approval_decision(
    client_for, compliance_store, two_person
):
    """Through the real callback (signature, Flask, MariaDB): one decision, both officers recorded."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    request_id, _ = two_person
    client_for(approvers=frozenset({APPROVER, SECOND}))  # one app per thread below: Flask test clients are not shared
    barrier = threading.Barrier(20)

    def click(i: int) -> int:
        client = client_for(approvers=frozenset({APPROVER, SECOND}))
        barrier.wait()
        return post(client, payload(request_id, user=(APPROVER, SECOND)[i % 2])).status_code

    with ThreadPoolExecutor(20) as pool:
        assert list(pool.map(click, range(20))) == [200] * 20
    assert _wait(lambda: compliance_store.get_decision(request_id) is not None)
    assert compliance_store.get_decision(request_id).action == "approve"
    assert [a.approver for a in compliance_store.approvals(request_id)] in ([APPROVER, SECOND], [SECOND, APPROVER])
    events = [e["event"] for e in compliance_store.audit_trail(request_id)]
    assert events.count("decision_recorded") == 1 and events.count("approval_recorded") == 2


def test_7063_only_a_power_of_attorney_lets_an_officer_skip_the_consumer_confirmation(client, compliance_store):
    from include.request import AccessRequest
    from include.verification import agents
    from tests.factories import declaration_for, register_verified

    def agent_request(run_id: str, email: str, kind: str) -> str:
        conf = {"name": "Jane Doe", "email": email, "phone": "4155551000", "declaration": declaration_for("Jane Doe")}
        agent = {
            "name": "Alex",
            "email": "alex@x.example",
            "permission": {"kind": kind, "document_url": "https://x.example/d"},
        }
        return register_verified(compliance_store, run_id, AccessRequest.from_conf({**conf, "agent": agent})).request_id

    signed = agent_request("manual__agent_signed", "a1@example.com", "signed_permission")
    poa = agent_request("manual__agent_poa", "a2@example.com", "power_of_attorney")
    for request_id in (signed, poa):
        post(client, payload(request_id, "ccpa_skip_agent_confirmation"))
    assert agents.state(compliance_store, compliance_store.get_request(signed)) == "waiting"
    assert agents.state(compliance_store, compliance_store.get_request(poa)) == "skipped"
    [skipped] = [e for e in compliance_store.audit_trail(poa) if e["event"] == "agent_confirmation_skipped"]
    assert skipped["actor"] == APPROVER
    post(client, payload(signed))
    post(client, payload(poa))
    assert compliance_store.get_decision(signed) is None
    assert compliance_store.get_decision(poa).scope == "full"


def _answered(store, request_id: str) -> None:
    """The report went out (what send_report records): the request counts as complied with (§7101, §7102)."""
    from include.store.schema import REPORT

    store.audit(request_id, "report_built", detail={"datastores": 3, "rows": 5})
    assert store.claim_delivery(request_id, REPORT, f"<{request_id}@mail>") is None
    store.confirm_delivery(request_id, REPORT, f"<{request_id}@mail>")


def test_7063b_an_approval_on_a_power_of_attorney_is_recorded_and_counted_as_that_basis(client, compliance_store):
    """§7063(b) with §7101/§7102: an agent's request approved after the officer skipped the consumer's confirmation
    on the power of attorney records the basis power_of_attorney, exported and counted; a POA whose consumer
    confirmed anyway, and a categories answer, are not recorded as resting on it."""
    import csv
    import io

    from include.store import records
    from include.store.metrics import yearly_metrics
    from include.verification import agents
    from tests.factories import declaration_for

    def agent_request(run_id: str, email: str) -> str:
        conf = {"name": "Jane Doe", "email": email, "phone": "4155551000", "declaration": declaration_for("Jane Doe")}
        agent = {
            "name": "Alex",
            "email": "alex@x.example",
            "permission": {"kind": "power_of_attorney", "document_url": "https://x.example/poa.pdf"},
        }
        return register_verified(compliance_store, run_id, AccessRequest.from_conf({**conf, "agent": agent})).request_id

    skipped = agent_request("manual__poa_skipped", "p1@example.com")
    confirmed = agent_request("manual__poa_confirmed", "p2@example.com")
    categories = agent_request("manual__poa_categories", "p3@example.com")
    for request_id in (skipped, categories):
        assert post(client, payload(request_id, "ccpa_skip_agent_confirmation")).status_code == 200
    compliance_store.record_once(confirmed, agents.CONFIRMED, ref="consumer")  # the consumer's own "yes"
    # Failure paths: a skip by someone who is not an approver, or after the consumer answered (a stale prompt),
    # changes nothing and is not recorded as a skip.
    post(client, payload(confirmed, "ccpa_skip_agent_confirmation", user="U0INTRUDER"))
    post(client, payload(confirmed, "ccpa_skip_agent_confirmation"))
    assert agents.state(compliance_store, compliance_store.get_request(confirmed)) == "confirmed"
    assert "agent_confirmation_skipped" not in [e["event"] for e in compliance_store.audit_trail(confirmed)]
    for request_id, action in (
        (skipped, "ccpa_approve"),
        (confirmed, "ccpa_approve"),
        (categories, "ccpa_approve_categories"),
    ):
        assert post(client, payload(request_id, action)).status_code == 200
        assert _wait(lambda rid=request_id: compliance_store.get_decision(rid) is not None)

    def recorded(request_id: str) -> tuple[str | None, str | None]:
        decision = compliance_store.get_decision(request_id)
        return decision.scope, decision.basis

    assert recorded(skipped) == ("full", "power_of_attorney")
    assert recorded(confirmed) == ("full", "data_points_declaration")
    assert recorded(categories) == ("categories", "categories_only")
    [decided] = [e for e in compliance_store.audit_trail(skipped) if e["event"] == "decision_recorded"]
    assert decided["detail"]["basis"] == "power_of_attorney"

    for request_id in (skipped, confirmed, categories):
        _answered(compliance_store, request_id)
    year = datetime.now(UTC).year
    out = io.StringIO()
    records.export_records_csv(compliance_store, *records.year_bounds(year), out)
    exported = {row["request_id"]: row["verification_basis"] for row in csv.DictReader(io.StringIO(out.getvalue()))}
    assert exported == {
        skipped: "power_of_attorney",
        confirmed: "data_points_declaration",
        categories: "categories_only",
    }
    counts = dict(yearly_metrics(compliance_store, year).by_basis)
    assert counts == {
        "account_login": 0,
        "data_points_declaration": 1,
        "power_of_attorney": 1,
        "categories_only": 1,
    }


@pytest.fixture
def held_updates(monkeypatch) -> list:
    """The prompt updates after the acks, held instead of run on background threads: (function, args, kwargs), in
    the order the clicks queued them, for a test to run in the order it wants."""
    from include.slack import callback as callback_module

    queued: list = []

    class Held:
        def submit(self, fn, *args, **kwargs):
            queued.append((fn, args, kwargs))

    monkeypatch.setattr(callback_module, "_background", Held())
    return queued


def test_a_late_pending_update_never_puts_the_buttons_back_on_a_decided_request(
    client_for, compliance_store, two_person, slack, held_updates
):
    """The prompt updates after the acks run on background threads: under load the first officer's "1 of 2" update
    can run after the second officer's deciding one. It must not replace the outcome with a decidable prompt
    (nobody may act twice on a decided request)."""
    request_id, prompt = two_person
    client = client_for(approvers=frozenset({APPROVER, SECOND}))
    queued = held_updates
    post(client, payload(request_id) | {"response_url": prompt["response_url"]})
    post(client, payload(request_id, user=SECOND) | {"response_url": prompt["response_url"]})
    assert compliance_store.get_decision(request_id).decided_by == SECOND
    pending, deciding = queued[0], queued[1]
    assert pending[0].__name__ == "_show_pending" and deciding[0].__name__ == "_show_progress"
    for fn, args, kwargs in (deciding, pending):  # the deciding click's update first, the pending one late
        fn(*args, **kwargs)
    blocks = json.dumps(slack.message(prompt["ts"])["blocks"])
    assert f"Approved by <@{APPROVER}> and <@{SECOND}>" in blocks
    assert "ccpa_approve" not in blocks and "ccpa_reject" not in blocks


def test_a_pending_update_racing_the_decision_is_followed_by_the_outcome(
    client_for, compliance_store, two_person, slack, held_updates, monkeypatch
):
    """The decision is written while the pending prompt is being posted: the outcome is posted again after it."""
    request_id, prompt = two_person
    client = client_for(approvers=frozenset({APPROVER, SECOND}))
    queued = held_updates
    post(client, payload(request_id) | {"response_url": prompt["response_url"]})
    (pending,) = queued
    real_get_decision = type(compliance_store).get_decision
    reads = []

    def get_decision(self, rid):  # the first look finds no decision; the second click lands right after it
        reads.append(rid)
        if len(reads) == 1:
            return None
        if len(reads) == 2:
            post(client, payload(request_id, user=SECOND) | {"response_url": prompt["response_url"]})
        return real_get_decision(self, rid)

    monkeypatch.setattr(type(compliance_store), "get_decision", get_decision)
    pending[0](*pending[1], **pending[2])
    blocks = json.dumps(slack.message(prompt["ts"])["blocks"])
    assert f"Approved by <@{APPROVER}> and <@{SECOND}>" in blocks
    assert "ccpa_approve" not in blocks
