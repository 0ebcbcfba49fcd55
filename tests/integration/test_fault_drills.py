"""Fault drills: the faults that really happen (Slack rate limits and outages, ...), injected into the stand-ins and
the real databases, against the same client code that runs in production. Numbers: docs/reliability.md."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from slack_sdk.errors import SlackApiError

from tests.integration.conftest import ACK_SUBJECT, REQUEST

pytestmark = pytest.mark.integration
OFFICERS = "privacy-officer@example.com, dpo@example.com"


def _alerts(stack) -> list:
    return [m for m in stack.sink.messages() if str(m.message["Subject"]).strip().startswith("[CCPA alert]")]


def test_drill_slack_rate_limits_the_first_3_prompts_and_no_task_fails(stack, run_dag):
    stack.slack.fail("chat.postMessage", times=3, retry_after=1)
    officer = stack.click_when_posted("ccpa_approve")
    started = time.monotonic()
    dag_run = run_dag(REQUEST)
    officer.join(5)

    assert dag_run.state == "success", f"took {time.monotonic() - started:.1f}s"
    tries = {ti.task_id: (ti.state, ti.try_number) for ti in dag_run.get_task_instances()}
    assert tries["post_review_prompt"] == ("success", 1), "retried inside the call, not by the task"
    assert not [t for t, (state, _) in tries.items() if state == "failed"]
    statuses = [c["status"] for c in stack.slack.calls("chat.postMessage")]
    assert statuses[:4] == [429, 429, 429, 200]
    record = stack.store.find_by_run_id(dag_run.run_id)
    assert record.slack_ts and record.status == "completed"
    assert len(stack.answers()) == 1 and _alerts(stack) == []


def test_drill_slack_down_longer_than_a_try_alerts_the_officers_once_and_the_prompt_is_posted_later(stack, monkeypatch):
    from include.tasks import access_request as workflow

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_ALERT_EMAILS", OFFICERS)
    registered = workflow.validate_request(dict(REQUEST), "manual__slack_down", datetime.now(UTC))
    request_id = registered["request_id"]
    stack.slack.fail("chat.postMessage", times=None, status=503)  # down until further notice

    for _ in range(2):  # the task's first two tries
        with pytest.raises(SlackApiError):
            workflow.post_review_prompt(request_id)
    [alert] = _alerts(stack)
    assert alert.envelope_to == ["privacy-officer@example.com", "dpo@example.com"]
    text = alert.message.get_body(preferencelist=("html",)).get_content()
    assert request_id in text and "HTTP 503" in text and "manual__slack_down" in text
    for personal in (REQUEST["email"], REQUEST["name"], REQUEST["photo_id_url"]):
        assert personal not in text and personal not in alert.message["Subject"], "the alert names no one"
    assert not [m for m in stack.sink.messages() if m.message["Subject"] == ACK_SUBJECT], "requester not involved"

    stack.slack.clear_faults()  # Slack is back: the next try posts the prompt, once
    posted = workflow.post_review_prompt(request_id)
    assert stack.slack.message(posted["ts"])["blocks"]
    assert len(stack.slack.messages()) == 1 and len(_alerts(stack)) == 1
    events = [e["event"] for e in stack.store.audit_trail(request_id)]
    assert "officers_alerted" in events and "review_prompt_posted" in events


def test_drill_a_run_failing_before_its_prompt_alerts_by_email(stack, monkeypatch):
    from types import SimpleNamespace

    from include.tasks import access_request as workflow

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_ALERT_EMAILS", OFFICERS)
    registered = workflow.validate_request(dict(REQUEST), "manual__no_prompt", datetime.now(UTC))
    ti = SimpleNamespace(dag_id="ccpa_right_of_access", task_id="post_review_prompt")
    context = {"ti": ti, "run_id": "manual__no_prompt", "exception": SlackApiError("down", {"ok": False})}
    workflow.notify_failure(context)
    workflow.notify_failure(context)  # a second callback for the same task does not alert twice
    [alert] = _alerts(stack)
    assert registered["request_id"] in alert.message["Subject"]


def test_without_alert_addresses_the_failure_is_logged_at_error(stack, caplog):
    from include.mail.alert import alert_officers

    assert alert_officers("test", "body") is False
    assert any(r.levelname == "ERROR" and "ccpa_alert_emails" in r.getMessage() for r in caplog.records)


def test_drill_forced_sql_and_smtp_errors_leave_no_personal_value_in_any_log(stack, caplog):
    import logging
    import smtplib
    import traceback

    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from include.tasks import access_request as workflow

    caplog.set_level(logging.DEBUG)
    task_log = logging.getLogger("airflow.task")  # what Airflow does with a task's exception
    request_id = workflow.validate_request(dict(REQUEST), "manual__leaks", datetime.now(UTC))["request_id"]

    # SMTP: the server refuses the requester, quoting the address (as Postfix does).
    stack.sink.refuse_recipient(REQUEST["email"])
    with pytest.raises(smtplib.SMTPRecipientsRefused) as smtp_error:
        workflow.send_acknowledgement(request_id)
    task_log.error("Task failed", exc_info=smtp_error.value)
    assert "550" in str(smtp_error.value), "what the server said stays, without the address"

    # SQL: a statement carrying the requester's name and email fails (here: a column the INSERT cannot fill).
    with stack.store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE ccpa_requests ADD COLUMN drill_required INT NOT NULL"))
    with pytest.raises(SQLAlchemyError) as sql_error:
        workflow.validate_request(dict(REQUEST), "manual__leaks_2", datetime.now(UTC))
    task_log.error("Task failed", exc_info=sql_error.value)
    assert "parameters hidden" in str(sql_error.value)

    logged = caplog.text + "".join("".join(traceback.format_exception(e.value)) for e in (smtp_error, sql_error))
    for personal in (REQUEST["email"], REQUEST["name"], REQUEST["photo_id_url"], REQUEST["email"].split("@")[0]):
        assert personal not in logged, f"{personal!r} leaked into the logs"


def _prompted_and_approved(stack, run_id):
    from include.tasks import access_request as workflow

    request_id = workflow.validate_request(dict(REQUEST), run_id, datetime.now(UTC))["request_id"]
    workflow.post_review_prompt(request_id)
    stack.store.record_decision(request_id, "approve", "U0APPROVER")
    return request_id


def test_drill_slack_down_when_closing_still_closes_the_record_and_the_retry_updates_the_prompt(stack, monkeypatch):
    from include.tasks import access_request as workflow

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_ALERT_EMAILS", OFFICERS)
    request_id = _prompted_and_approved(stack, "manual__close_down")
    stack.slack.fail("chat.update", times=None, status=503)
    with pytest.raises(SlackApiError):
        workflow.close_review_prompt(request_id)
    record = stack.store.get_request(request_id)
    assert record.status == "completed" and record.closed_at is not None, "closed whatever Slack does"
    assert len(_alerts(stack)) == 1
    stack.slack.clear_faults()
    assert "report sent" in workflow.close_review_prompt(request_id)  # the task's retry
    prompt = stack.slack.message(record.slack_ts)
    assert not any(b["type"] == "actions" for b in prompt["blocks"])


def test_drill_a_failure_notice_says_what_the_requester_really_received(stack):
    from types import SimpleNamespace

    from include.tasks import access_request as workflow

    request_id = _prompted_and_approved(stack, "manual__honest")
    claimed = stack.store.claim_delivery(request_id, "report", "<m@x>")
    assert claimed is None
    stack.store.confirm_delivery(request_id, "report", "<m@x>")
    ti = SimpleNamespace(dag_id="ccpa_right_of_access", task_id="close_review_prompt")
    workflow.notify_failure({"ti": ti, "run_id": "manual__honest", "exception": RuntimeError("x")})
    record = stack.store.get_request(request_id)
    [notice] = [m for m in stack.slack.messages() if m.get("thread_ts") == record.slack_ts]
    assert "The report email had already been sent" in notice["text"]
    assert "Nothing partial" not in notice["text"]
