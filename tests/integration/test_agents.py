"""Authorised agents (11 CCR §7063) end to end: the consumer confirms by a signed link before anything is disclosed;
the answer goes to the consumer, the agent gets a notice."""

from __future__ import annotations

import re
import time

import pytest
import requests

from devtools.demo_data import DEMO_PERSON
from devtools.standins.slack_emulator import APP_ID, TEAM_ID
from tests.factories import verified_conf
from tests.integration.conftest import APPROVER, body_html, play

pytestmark = pytest.mark.integration

AGENT = {
    "name": "Alex Agent",
    "email": "alex@agents.example",
    "permission": {"kind": "signed_permission", "document_url": "https://intake.example.com/permissions/1.pdf"},
}
CONFIRM_SUBJECT = "Did you ask someone to make a CCPA request for you?"
#: Verified for specific pieces (tests.factories.verified_conf), without a photo-ID link.
VERIFIED = verified_conf(photo_id_url="")


def _buttons(message: dict) -> list[str]:
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def _wait(predicate, timeout: float = 30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_7063_an_agent_request_confirmed_by_the_consumer_is_answered_to_the_consumer(stack, run_dag):
    seen: dict[str, object] = {}
    base = stack.callback_url.rsplit("/slack/actions", 1)[0]

    def officer_and_consumer() -> None:
        msg = stack.slack.wait_for_message(lambda m: bool(_buttons(m)), 60)
        seen["before"] = _buttons(msg)
        seen["text_before"] = str(msg["blocks"])
        request_id = next(e["value"] for b in msg["blocks"] if b["type"] == "actions" for e in b["elements"])
        crafted = {
            "type": "block_actions",
            "user": {"id": APPROVER},
            "team": {"id": TEAM_ID},  # from our workspace and app, as Slack sends it
            "api_app_id": APP_ID,
            "actions": [{"action_id": "ccpa_approve", "value": request_id, "type": "button"}],
            "response_url": msg["response_url"],
        }
        stack.slack.send_signed(crafted)
        time.sleep(0.5)
        seen["early"] = stack.store.get_decision(request_id)
        mail = _wait(lambda: next((m for m in stack.sink.messages() if m.message["Subject"] == CONFIRM_SUBJECT), None))
        seen["confirm_to"] = mail.message["To"]
        token = re.search(r"/ccpa/confirm-agent/([A-Za-z0-9._-]+)", body_html(mail)).group(1)
        seen["page"] = requests.get(f"{base}/confirm-agent/{token}", timeout=10).text
        seen["yes"] = requests.post(f"{base}/confirm-agent/{token}", data={"answer": "yes"}, timeout=30).status_code
        _wait(lambda: "ccpa_approve" in _buttons(stack.slack.message(msg["ts"])))
        seen["text_after"] = str(stack.slack.message(msg["ts"])["blocks"])
        seen["approve"] = stack.slack.click(msg["ts"], "ccpa_approve", user_id=APPROVER)

    thread = play(stack, officer_and_consumer)
    dag_run = run_dag({**VERIFIED, "agent": AGENT})
    thread.join(10)
    assert thread.error is None, thread.error

    assert "ccpa_approve" not in seen["before"], "nothing to approve before the consumer confirms"
    assert "Alex Agent" in seen["text_before"] and "waiting for the consumer to confirm" in seen["text_before"]
    assert seen["early"] is None
    assert seen["confirm_to"] == DEMO_PERSON["email"] and "Alex Agent" in seen["page"]
    assert seen["yes"] == 200 and "confirmed by the consumer" in seen["text_after"]
    assert dag_run.state == "success"
    report = next(m for m in stack.sink.messages() if "personal information we hold" in m.message["Subject"])
    assert report.message["To"] == DEMO_PERSON["email"], "the answer goes to the consumer, never to the agent"
    [notice] = [m for m in stack.sink.messages() if m.message["To"] == AGENT["email"]]
    assert notice.message["Subject"] == "The CCPA request you made has been answered"
    assert "+1-415-555-1000" not in body_html(notice)
    record = stack.store.find_by_run_id(dag_run.run_id)
    events = [e["event"] for e in stack.store.audit_trail(record.request_id)]
    assert "approval_refused_agent" in events and "agent_confirmed_posted" in events


def test_7063_an_agent_request_never_confirmed_cannot_be_approved(stack, run_dag):
    seen: dict[str, object] = {}

    def officer() -> None:
        msg = stack.slack.wait_for_message(lambda m: bool(_buttons(m)), 60)
        seen["buttons"] = _buttons(msg)
        request_id = next(e["value"] for b in msg["blocks"] if b["type"] == "actions" for e in b["elements"])
        for action in ("ccpa_approve", "ccpa_approve_categories", "ccpa_skip_agent_confirmation"):
            stack.slack.send_signed(
                {
                    "type": "block_actions",
                    "user": {"id": APPROVER},
                    "team": {"id": TEAM_ID},  # from our workspace and app, as Slack sends it
                    "api_app_id": APP_ID,
                    "actions": [{"action_id": action, "value": request_id, "type": "button"}],
                    "response_url": msg["response_url"],
                }
            )
        time.sleep(0.5)
        seen["after"] = stack.store.get_decision(request_id)
        stack.slack.click(msg["ts"], "ccpa_reject", user_id=APPROVER)
        stack.submit_rejection("cannot_verify")

    thread = play(stack, officer)
    dag_run = run_dag({**VERIFIED, "agent": AGENT})
    thread.join(10)
    assert thread.error is None, thread.error

    assert "ccpa_approve" not in seen["buttons"] and "ccpa_skip_agent_confirmation" not in seen["buttons"]
    assert seen["after"] is None, "no approval, and no skipping without a power of attorney"
    assert dag_run.state == "success"
    assert not [m for m in stack.sink.messages() if "personal information we hold" in m.message["Subject"]]
