"""Verification levels end to end (11 CCR §7062, §7024): dag.test(), MariaDB, the Slack emulator, the mail sink."""

from __future__ import annotations

import time

import pytest

from devtools.demo_data import DEMO_PERSON
from devtools.standins.slack_emulator import APP_ID, TEAM_ID
from tests.factories import declaration_for
from tests.integration.conftest import APPROVER, body_html, everything_html, play

pytestmark = pytest.mark.integration

#: Two matching points (email, name), no declaration: enough for categories only.
TWO_POINTS = {**DEMO_PERSON}
#: Jane's values that a categories-only answer must never contain.
VALUES = ("+1-415-555-1000", "ORD-000000", "203.0.113.10", "Market St", "123-45-6789", "pizza", DEMO_PERSON["email"])


def _buttons(message: dict) -> list[dict]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_7062_7024_two_points_give_a_categories_only_report_without_values(stack, run_dag):
    seen: dict[str, object] = {}

    def officer() -> None:
        msg = stack.slack.wait_for_message(lambda m: bool(_buttons(m)), 60)
        seen["actions"] = [b["action_id"] for b in _buttons(msg)]
        seen["labels"] = [b["text"]["text"] for b in _buttons(msg)]
        seen["click"] = stack.slack.click(msg["ts"], "ccpa_approve_categories", user_id=APPROVER)

    thread = play(stack, officer)
    dag_run = run_dag(TWO_POINTS)
    thread.join(5)
    assert thread.error is None, thread.error

    assert dag_run.state == "success"
    assert "ccpa_approve" not in seen["actions"] and "Approve categories only" in seen["labels"]
    record = stack.store.find_by_run_id(dag_run.run_id)
    prompt = stack.slack.message(record.slack_ts)
    first = str(prompt["history"][0])
    assert "2 of 2 points match: email, name" in first and "enough for categories only" in first
    decision = stack.store.get_decision(record.request_id)
    assert (decision.action, decision.scope) == ("approve", "categories")

    [mail] = stack.answers()
    html = body_html(mail, collapse=True)
    assert (
        mail.message["Subject"] == "Your CCPA access request: the categories of personal information we hold about you"
    )
    assert not list(mail.message.iter_attachments()), "no file: files carry values"
    # §7024: the specific-pieces request that could not be verified is answered as categories, with the reason.
    assert "could not verify your identity" in html and "2 of the pieces of information you gave matched" in html
    # Categories, sources, purposes, recipients and the withheld types ...
    for expected in (
        "Identifiers",
        "Commercial information",
        "the consumer, when ordering",
        "order fulfilment",
        "payment processors",
        "ssn (Customer profiles)",
        "We have not sold or shared this category of personal information.",  # Civ. 1798.115(c)(1), per category
        "Sold or shared to: advertising networks",
    ):
        assert expected in html
    # ... and no value at all, not even in the run's storage.
    assert not [v for v in VALUES if v in html]
    stored = "".join(p.read_text() for p in (stack.storage / record.request_id).iterdir())
    assert not [v for v in VALUES if v in stored]
    assert "categories report sent" in str(prompt["blocks"])


def test_7062_a_crafted_full_approval_of_a_two_point_request_is_refused_and_nothing_is_disclosed(stack, run_dag):
    seen: dict[str, object] = {}

    def officer() -> None:
        msg = stack.slack.wait_for_message(lambda m: bool(_buttons(m)), 60)
        request_id = _buttons(msg)[0]["value"]
        crafted = {  # validly signed, by an approver: only the level stands in the way
            "type": "block_actions",
            "user": {"id": APPROVER},
            "team": {"id": TEAM_ID},  # from our workspace and app, as Slack sends it
            "api_app_id": APP_ID,
            "actions": [{"action_id": "ccpa_approve", "value": request_id, "type": "button"}],
            "response_url": msg["response_url"],
        }
        seen["crafted"] = stack.slack.send_signed(crafted)
        time.sleep(0.5)
        seen["after"] = stack.store.get_decision(request_id)
        seen["reject"] = stack.slack.click(msg["ts"], "ccpa_reject", user_id=APPROVER)
        seen["modal"] = stack.submit_rejection("cannot_verify")

    thread = play(stack, officer)
    dag_run = run_dag(TWO_POINTS)
    thread.join(5)
    assert thread.error is None, thread.error

    assert seen["crafted"][0] == 200
    assert seen["after"] is None, "a full approval the level does not allow is refused"
    record = stack.store.find_by_run_id(dag_run.run_id)
    refused = [e for e in stack.store.audit_trail(record.request_id) if e["event"] == "approval_refused_verification"]
    assert refused and refused[0]["detail"]["asked"] == "full" and refused[0]["actor"] == APPROVER
    assert any("Refused: the identity evidence is not enough" in e["text"] for e in stack.slack.ephemerals())
    [mail] = stack.answers()
    assert "could not be completed" in mail.message["Subject"]
    assert not [v for v in VALUES[:-1] if v in body_html(mail, collapse=True)]
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states["aggregate_personal_data.extract_crm"] == "skipped" and states["send_report"] == "skipped"


def test_7062c_three_points_and_a_declaration_give_the_full_report(stack, run_dag):
    officer = stack.click_when_posted("ccpa_approve")
    conf = {**DEMO_PERSON, "postal_address": "100 Market Street", "declaration": declaration_for(DEMO_PERSON["name"])}
    dag_run = run_dag(conf)
    officer.join(5)

    assert dag_run.state == "success"
    record = stack.store.find_by_run_id(dag_run.run_id)
    assert stack.store.get_decision(record.request_id).scope == "full"
    first = str(stack.slack.message(record.slack_ts)["history"][0])
    assert "3 of 3 points match: email, name, postal address" in first and "enough for specific pieces" in first
    [mail] = stack.answers()
    html = everything_html(mail, collapse=True)
    assert "+1-415-555-1000" in html and "ORD-000000" in html and "123-45-6789" not in html
    assert record.identifiers.declaration is None and record.closed_at is not None, "identifiers gone at close"
