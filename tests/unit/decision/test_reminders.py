"""Reminders and escalation with frozen time: the trigger wakes the sensor, the sensor posts once and waits again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from airflow.sdk.exceptions import TaskDeferred

from devtools.standins.slack_emulator import SlackEmulator
from include.decision import reminders
from include.decision.sensor import WaitForDecisionSensor
from include.decision.trigger import DecisionTrigger
from include.request import AccessRequest
from tests.conftest import use_slack

RECEIVED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # due 2026-12-17; escalation from 2026-12-07


def test_schedule_reminder_then_escalation():
    due = RECEIVED + timedelta(days=45)
    assert reminders.schedule(RECEIVED, due, 24) == [
        ("reminder", RECEIVED + timedelta(hours=24)),
        ("escalation", due - timedelta(days=10)),
    ]
    assert reminders.next_nudge(RECEIVED, due, 24, set()) == ("reminder", RECEIVED + timedelta(hours=24))
    assert reminders.next_nudge(RECEIVED, due, 24, {"slack_reminder"}) == ("escalation", due - timedelta(days=10))
    assert reminders.next_nudge(RECEIVED, due, 24, {"slack_reminder", "slack_escalation"}) is None
    assert reminders.next_nudge(RECEIVED, due, 24, {"report"}) == ("reminder", RECEIVED + timedelta(hours=24))


@pytest.fixture
def slack(monkeypatch):
    with SlackEmulator(signing_secret="x") as emulator:
        use_slack(monkeypatch, emulator.api_url)
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_APPROVERS", "U0APPROVER,U0SECOND")
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_REMINDER_HOURS", "24")
        yield emulator


@pytest.fixture
def prompted(compliance_store, slack):
    from slack_sdk import WebClient

    record = compliance_store.register_request(
        "manual__remind", AccessRequest("Jane Doe", "jane@example.com", "https://x.example/id"), RECEIVED
    )
    posted = WebClient(token="xoxb-t", base_url=slack.api_url).chat_postMessage(channel="#privacy", text="prompt")
    compliance_store.set_review_prompt(record.request_id, posted["channel"], posted["ts"])
    return record.request_id, posted["ts"]


def _deferred(call) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as excinfo:
        call()
    return excinfo.value


def _thread(slack, ts):
    return [m for m in slack.messages() if m.get("thread_ts") == ts]


def test_undecided_request_is_reminded_then_escalated_once_each(compliance_store, slack, prompted):
    request_id, ts = prompted
    sensor = WaitForDecisionSensor(task_id="wait_for_decision", request_id=request_id)

    with time_machine.travel(RECEIVED + timedelta(hours=1), tick=False):
        deferred = _deferred(lambda: sensor.execute({}))
    _, kwargs = deferred.trigger.serialize()
    assert (kwargs["nudge_kind"], kwargs["nudge_at"]) == ("reminder", (RECEIVED + timedelta(hours=24)).isoformat())
    assert deferred.timeout == RECEIVED + timedelta(days=45) - (RECEIVED + timedelta(hours=1))  # the legal deadline

    # 25 hours in, the trigger wakes the sensor for the reminder ...
    with time_machine.travel(RECEIVED + timedelta(hours=25), tick=False):
        event = asyncio.run(DecisionTrigger(**kwargs).run().__anext__())
        assert event.payload == {"status": "nudge", "kind": "reminder"}
        deferred = _deferred(lambda: sensor.execute_complete({}, event.payload))
    [reminder] = _thread(slack, ts)
    assert "Still waiting for a decision" in reminder["text"] and "<@U0APPROVER>" in reminder["text"]
    _, kwargs = deferred.trigger.serialize()
    assert kwargs["nudge_kind"] == "escalation"
    assert datetime.fromisoformat(kwargs["nudge_at"]) == RECEIVED + timedelta(days=35)

    # ... a replayed wake-up posts nothing twice ...
    with time_machine.travel(RECEIVED + timedelta(hours=26), tick=False):
        _deferred(lambda: sensor.execute_complete({}, {"status": "nudge", "kind": "reminder"}))
    assert len(_thread(slack, ts)) == 1

    # ... and 10 days before the deadline comes the escalation, broadcast to the channel.
    with time_machine.travel(RECEIVED + timedelta(days=35, minutes=1), tick=False):
        event = asyncio.run(DecisionTrigger(**kwargs).run().__anext__())
        assert event.payload == {"status": "nudge", "kind": "escalation"}
        deferred = _deferred(lambda: sensor.execute_complete({}, event.payload))
    escalation = _thread(slack, ts)[-1]
    assert "Escalation" in escalation["text"] and "2026-12-17" in escalation["text"]
    _, kwargs = deferred.trigger.serialize()
    assert kwargs["nudge_kind"] is None and kwargs["nudge_at"] is None
    events = [e["event"] for e in compliance_store.audit_trail(request_id)]
    assert events.count("slack_reminder_posted") == 1 and events.count("slack_escalation_posted") == 1


def test_decision_arriving_with_a_nudge_wins(compliance_store, slack, prompted):
    request_id, _ts = prompted
    compliance_store.record_decision(request_id, "approve", "U0APPROVER")
    sensor = WaitForDecisionSensor(task_id="wait_for_decision", request_id=request_id)
    with time_machine.travel(RECEIVED + timedelta(hours=30), tick=False):
        assert sensor.execute({})["action"] == "approve"
        event = asyncio.run(
            DecisionTrigger(request_id, 0.01, nudge_kind="reminder", nudge_at=RECEIVED.isoformat()).run().__anext__()
        )
    assert event.payload["status"] == "decided"


def test_timeout_tells_the_channel_loudly(compliance_store, slack, prompted):
    from types import SimpleNamespace

    from airflow.sdk.exceptions import TaskDeferralTimeout

    from include.tasks.access_request import notify_failure

    request_id, ts = prompted
    record = compliance_store.get_request(request_id)
    ti = SimpleNamespace(task_id="wait_for_decision", dag_id="ccpa_right_of_access")
    notify_failure({"ti": ti, "run_id": record.run_id, "exception": TaskDeferralTimeout()})
    [notice] = _thread(slack, ts)
    assert "No decision before the legal deadline (2026-12-17)" in notice["text"]
    assert "jane" not in notice["text"].lower()
    assert compliance_store.audit_trail(request_id)[-1]["event"] == "run_failed"


def test_a_failing_reminder_does_not_end_the_wait_and_is_retried_later(compliance_store, slack, prompted, caplog):
    from include.decision.sensor import BEST_EFFORT_RETRY

    request_id, ts = prompted
    sensor = WaitForDecisionSensor(task_id="wait_for_decision", request_id=request_id)
    slack.fail("chat.postMessage", times=None, status=503)  # Slack is down when the reminder is due
    woke = RECEIVED + timedelta(hours=25)
    with time_machine.travel(woke, tick=False):
        deferred = _deferred(lambda: sensor.execute_complete({}, {"status": "nudge", "kind": "reminder"}))
    _, kwargs = deferred.trigger.serialize()
    assert kwargs["nudge_kind"] == "reminder", "still to post"
    assert datetime.fromisoformat(kwargs["hold_until"]) == woke + BEST_EFFORT_RETRY
    assert any(r.levelname == "ERROR" and "reminder" in r.getMessage() for r in caplog.records)
    events = [e["event"] for e in compliance_store.audit_trail(request_id)]
    assert "nudge_failed" in events and "slack_reminder_posted" in events  # claimed, then released
    assert reminders.done_key("reminder") not in compliance_store.done_kinds(request_id)

    # The trigger holds the retry back (no tight loop), but a decision still fires at once.
    with time_machine.travel(woke + timedelta(minutes=1), tick=False):

        async def first_event(trigger: DecisionTrigger, within: float):
            return await asyncio.wait_for(trigger.run().__anext__(), within)

        with pytest.raises(TimeoutError):
            asyncio.run(first_event(DecisionTrigger(**{**kwargs, "poll_interval": 0.05}), 0.5))
    slack.clear_faults()
    with time_machine.travel(woke + BEST_EFFORT_RETRY + timedelta(seconds=1), tick=False):
        event = asyncio.run(first_event(DecisionTrigger(**{**kwargs, "poll_interval": 0.05}), 5))
        assert event.payload == {"status": "nudge", "kind": "reminder"}
        deferred = _deferred(lambda: sensor.execute_complete({}, event.payload))
    [reminder] = _thread(slack, ts)
    assert "Still waiting for a decision" in reminder["text"]
    assert deferred.trigger.serialize()[1]["nudge_kind"] == "escalation"


def test_a_failing_extension_notice_does_not_end_the_wait(compliance_store, slack, prompted, monkeypatch):
    request_id, _ts = prompted
    monkeypatch.delenv("AIRFLOW_VAR_CCPA_FROM_EMAIL", raising=False)  # the email cannot be sent
    with time_machine.travel(RECEIVED + timedelta(days=2), tick=False):
        compliance_store.extend(request_id, "U0APPROVER", "complex request")
        sensor = WaitForDecisionSensor(task_id="wait_for_decision", request_id=request_id)
        deferred = _deferred(lambda: sensor.execute_complete({}, {"status": "extended"}))
    assert deferred.trigger.serialize()[1]["hold_until"]
    assert deferred.timeout > timedelta(days=80), "the wait follows the extended deadline"
    assert "extension_notice_failed" in [e["event"] for e in compliance_store.audit_trail(request_id)]
