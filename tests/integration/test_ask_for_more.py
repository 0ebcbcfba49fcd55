"""Ask for more information (§7060(c)) end to end: the officer asks in Slack, the requester answers on the page, the
evidence and the prompt update, the request (still waiting) is approved with the full report."""

from __future__ import annotations

import re
import time

import pytest
import requests

from devtools.demo_data import DEMO_PERSON
from tests.integration.conftest import APPROVER, play

pytestmark = pytest.mark.integration

ASK_SUBJECT = "Your CCPA access request: we need a little more information"


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


def test_7060_more_information_through_the_page_updates_the_evidence_then_approved(stack, run_dag):
    seen: dict[str, object] = {}
    base = stack.callback_url.rsplit("/slack/actions", 1)[0]

    def officer_and_requester() -> None:
        msg = stack.slack.wait_for_message(lambda m: bool(_buttons(m)), 60)
        seen["before"] = _buttons(msg)
        stack.slack.click(msg["ts"], "ccpa_ask_more", user_id=APPROVER)
        _wait(lambda: stack.slack.views())
        values = {"ask": {"ask_fields": ["phone", "declaration"]}, "details": {"reason_details": "Thanks!"}}
        seen["submit"] = stack.slack.submit_view("ccpa_ask_more", values, user_id=APPROVER)
        mail = _wait(lambda: next((m for m in stack.sink.messages() if m.message["Subject"] == ASK_SUBJECT), None))
        html = mail.message.get_body(preferencelist=("html",)).get_content()
        token = re.search(r"/ccpa/verify/([A-Za-z0-9._-]+)", html).group(1)
        seen["mail_to"] = mail.message["To"]
        page = requests.get(f"{base}/verify/{token}", timeout=10)
        seen["page"] = (page.status_code, page.text)
        bad = requests.post(f"{base}/verify/{token}", data={"phone": "call me"}, timeout=10)
        seen["bad"] = (bad.status_code, bad.text)
        form = {"phone": "(415) 555-1000", "signer_name": DEMO_PERSON["name"], "declare": "yes"}
        seen["good"] = requests.post(f"{base}/verify/{token}", data=form, timeout=30).status_code
        updated = _wait(lambda: "ccpa_approve" in _buttons(stack.slack.message(msg["ts"])) and msg["ts"])
        seen["after"] = stack.slack.message(updated)
        seen["approve"] = stack.slack.click(msg["ts"], "ccpa_approve", user_id=APPROVER)
        seen["replay"] = requests.get(f"{base}/verify/{token}", timeout=10).status_code

    thread = play(stack, officer_and_requester)
    dag_run = run_dag({**DEMO_PERSON})  # two points, no declaration: categories only at first
    thread.join(10)
    assert thread.error is None, thread.error

    assert "ccpa_approve_categories" in seen["before"] and "ccpa_approve" not in seen["before"]
    assert seen["submit"][0] == 200 and seen["mail_to"] == DEMO_PERSON["email"]
    assert seen["page"][0] == 200 and "Phone number" in seen["page"][1] and "penalty of perjury" in seen["page"][1]
    assert seen["bad"][0] == 400 and "phone number" in seen["bad"][1]
    assert seen["good"] == 200
    after = str(seen["after"]["blocks"])
    assert "3 of 3 points match: email, name, phone" in after and "enough for specific pieces" in after
    assert dag_run.state == "success"
    record = stack.store.find_by_run_id(dag_run.run_id)
    assert stack.store.get_decision(record.request_id).scope == "full"
    events = [e["event"] for e in stack.store.audit_trail(record.request_id)]
    assert "more_information_requested" in events and "identifiers_added" in events
    report = next(m for m in stack.sink.messages() if "personal information we hold" in m.message["Subject"])
    attached = [p.get_content() for p in report.message.iter_attachments() if p.get_filename() == "report.html"]
    body = report.message.get_body(preferencelist=("html",)).get_content()
    assert "+1-415-555-1000" in body + " ".join(a if isinstance(a, str) else a.decode() for a in attached)
    assert seen["replay"] == 410, "the page closes once the request is decided"
    assert record.identifiers.phone is None, "identifiers given for verification are deleted at close"
