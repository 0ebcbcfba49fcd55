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

RECEIVED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # 01:00 PST: due at the end of 2026-12-16 (Pacific Time)
DUE = datetime(2026, 12, 17, 7, 59, 59, 999999, tzinfo=UTC)  # escalation from 2026-12-07


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
    assert compliance_store.get_request(request_id).due_at == DUE
    assert deferred.timeout == DUE - (RECEIVED + timedelta(hours=1))  # the legal deadline (a backstop)
    assert kwargs["window_ends_at"] == (DUE - timedelta(days=3)).isoformat()  # the decision margin

    # 25 hours in, the trigger wakes the sensor for the reminder ...
    with time_machine.travel(RECEIVED + timedelta(hours=25), tick=False):
        event = asyncio.run(DecisionTrigger(**kwargs).run().__anext__())
        assert event.payload == {"status": "nudge", "kind": "reminder"}
        deferred = _deferred(lambda: sensor.execute_complete({}, event.payload))
    [reminder] = _thread(slack, ts)
    assert "Still waiting for a decision" in reminder["text"] and "<@U0APPROVER>" in reminder["text"]
    _, kwargs = deferred.trigger.serialize()
    assert kwargs["nudge_kind"] == "escalation"
    assert datetime.fromisoformat(kwargs["nudge_at"]) == DUE - timedelta(days=10)

    # ... a replayed wake-up posts nothing twice ...
    with time_machine.travel(RECEIVED + timedelta(hours=26), tick=False):
        _deferred(lambda: sensor.execute_complete({}, {"status": "nudge", "kind": "reminder"}))
    assert len(_thread(slack, ts)) == 1

    # ... and 10 days before the deadline comes the escalation, broadcast to the channel.
    with time_machine.travel(DUE - timedelta(days=10) + timedelta(minutes=1), tick=False):
        event = asyncio.run(DecisionTrigger(**kwargs).run().__anext__())
        assert event.payload == {"status": "nudge", "kind": "escalation"}
        deferred = _deferred(lambda: sensor.execute_complete({}, event.payload))
    escalation = _thread(slack, ts)[-1]
    assert "Escalation" in escalation["text"] and "2026-12-16 (America/Los_Angeles)" in escalation["text"]
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
    assert "No decision before the legal deadline of 2026-12-16 (America/Los_Angeles)" in notice["text"]
    assert "jane" not in notice["text"].lower()
    assert compliance_store.audit_trail(request_id)[-1]["event"] == "run_failed"


def test_7021b_wait_ends_a_margin_before_the_due_date_and_escalates(compliance_store, slack, prompted, monkeypatch):
    """The wait for a decision ends ``ccpa_decision_margin_days`` (default 3) before the due date, leaving time to
    answer after a last-minute approval: the officers are alerted (broadcast), the request stays open, flagged."""
    from include.decision.sensor import DecisionWindowClosed

    request_id, ts = prompted
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DECISION_MARGIN_DAYS", "3")
    sensor = WaitForDecisionSensor(task_id="wait_for_decision", request_id=request_id)
    with time_machine.travel(DUE - timedelta(days=4), tick=False):
        deferred = _deferred(lambda: sensor.execute({}))
    _, kwargs = deferred.trigger.serialize()
    assert kwargs["window_ends_at"] == (DUE - timedelta(days=3)).isoformat()
    kwargs["poll_interval"] = 0.01
    with time_machine.travel(DUE - timedelta(days=3) + timedelta(seconds=1), tick=False):
        event = asyncio.run(DecisionTrigger(**kwargs).run().__anext__())
        assert event.payload == {"status": "window_closed"}
        with pytest.raises(DecisionWindowClosed):
            sensor.execute_complete({}, event.payload)
    notice = _thread(slack, ts)[-1]
    assert "the wait has ended" in notice["text"] and notice.get("reply_broadcast")
    assert "2026-12-16 (America/Los_Angeles)" in notice["text"] and "jane" not in notice["text"].lower()
    record = compliance_store.get_request(request_id)
    assert record.open and record.failed_at is not None  # open, escalated: never closed silently
    # A retry (or a replay) escalates nothing twice, and a late decision is still followed.
    with time_machine.travel(DUE - timedelta(days=2), tick=False):
        with pytest.raises(DecisionWindowClosed):
            sensor.execute({})
        assert len([m for m in _thread(slack, ts) if "the wait has ended" in m["text"]]) == 1
        compliance_store.record_decision(request_id, "approve", "U0APPROVER")
        assert sensor.execute({})["action"] == "approve"


def test_7021b_margin_variable_must_be_a_number_of_days(monkeypatch):
    from include import config

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DECISION_MARGIN_DAYS", "soon")
    with pytest.raises(config.ConfigurationError, match="ccpa_decision_margin_days"):
        config.decision_margin_days()
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DECISION_MARGIN_DAYS", "5")
    assert config.decision_margin_days() == 5


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
