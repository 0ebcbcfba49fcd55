"""Fault drills: the faults that really happen (Slack rate limits and outages, ...), injected into the stand-ins and
the real databases, against the same client code that runs in production. Numbers: docs/reliability.md."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from slack_sdk.errors import SlackApiError

from tests.integration.conftest import ACK_SUBJECT, APPROVER, REQUEST, _has_button, play

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


class ConnectionKiller:
    """Models a MariaDB restart for some databases without stopping the shared server: once armed, every time a
    statement matching ``marker`` is running in ``trigger_db`` (up to ``times`` times), every connection to the
    ``databases`` is killed (``KILL CONNECTION``, as a restart drops them: the query in flight fails with "Lost
    connection", pooled idle connections are dead)."""

    def __init__(self, databases: list[str], trigger_db: str, marker: str, times: int) -> None:
        import threading

        from sqlalchemy import create_engine

        from tests.conftest import MYSQL_URL

        self.engine = create_engine(f"{MYSQL_URL}/", pool_pre_ping=True)
        self.databases, self.trigger_db, self.marker, self.times = databases, trigger_db, marker, times
        self.armed = threading.Event()
        self.stopped = threading.Event()
        self.kills: list[dict] = []  # one entry per kill round: when, how many connections per database
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        import contextlib

        from sqlalchemy import bindparam, text

        seen: set[int] = set()  # a query already killed is not counted twice
        while not self.stopped.is_set() and len(self.kills) < self.times:
            time.sleep(0.05)
            if not self.armed.is_set():
                continue
            with self.engine.connect() as conn:
                running = conn.execute(
                    text(
                        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = :db AND INFO LIKE :marker "
                        "AND ID <> CONNECTION_ID()"
                    ),
                    {"db": self.trigger_db, "marker": f"%{self.marker}%"},
                ).all()
                if not [r for r in running if r.ID not in seen]:
                    continue
                victims = conn.execute(
                    text(
                        "SELECT ID, DB FROM information_schema.PROCESSLIST WHERE DB IN :dbs AND ID <> CONNECTION_ID()"
                    ).bindparams(bindparam("dbs", expanding=True)),
                    {"dbs": self.databases},
                ).all()
                for victim in victims:
                    with contextlib.suppress(Exception):  # already gone: fine
                        conn.execute(text(f"KILL CONNECTION {int(victim.ID)}"))
                seen.update(r.ID for r in running)
                counts: dict[str, int] = {}
                for victim in victims:
                    counts[victim.DB] = counts.get(victim.DB, 0) + 1
                self.kills.append({"at": time.monotonic(), "killed": counts})

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.engine.dispose()


def test_drill_mariadb_connections_killed_mid_extraction_deliver_the_report_exactly_once(
    stack, dag_factory, monkeypatch, tmp_path
):
    """A MariaDB restart while an approved run extracts: every connection to the datastores' and the compliance
    store's databases is killed while the web datastore's (slow) query streams, twice. The extraction fails, is
    retried and succeeds (idempotent: its file is rewritten); the report holds every row (nothing partial, nothing
    twice) and is emailed exactly once."""
    from pathlib import Path

    from include.datastores.extract import extract
    from include.datastores.registry import load_registry

    shipped = (Path(__file__).resolve().parents[2] / "include" / "datastores" / "datastores.yaml").read_text()
    # The web query takes 3 s (a big history streaming): the window in which the connections are killed.
    marker = "SLEEP(3)"
    # A derived table sleeps once per query (a WHERE subquery would sleep once per row).
    slow = shipped.replace(
        "FROM web_events WHERE email = :email",
        f"FROM web_events CROSS JOIN (SELECT {marker} AS slept) AS slow WHERE email = :email",
    )
    assert slow != shipped
    registry = tmp_path / "datastores.yaml"
    registry.write_text(slow)
    monkeypatch.setenv("CCPA_DATASTORES_FILE", str(registry))
    monkeypatch.setenv("CCPA_RETRY_DELAY_SECONDS", "0.2")  # waits of 1 s: the drill, not the hour-long budget
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_ALERT_EMAILS", OFFICERS)
    datastore_db = stack.datastores_url.rsplit("/", 1)[1]
    compliance_db = stack.store.engine.url.database
    killer = ConnectionKiller([datastore_db, compliance_db], datastore_db, marker, times=2)

    def officer() -> None:  # approves, then arms the killer (the probe at the prompt ran the same query: not that)
        prompt = stack.slack.wait_for_message(_has_button, timeout=60)
        stack.slack.click(prompt["ts"], "ccpa_approve", user_id=APPROVER)
        killer.armed.set()

    played = play(stack, officer)
    started = time.monotonic()
    try:
        dag_run = dag_factory().test(run_conf=REQUEST)
    finally:
        killer.stop()
    elapsed = time.monotonic() - started
    assert played.error is None, played.error

    assert len(killer.kills) == 2, killer.kills
    assert all(k["killed"].get(datastore_db) for k in killer.kills), "the extraction's connection was killed"
    assert any(k["killed"].get(compliance_db) for k in killer.kills), "and the compliance store's"
    assert dag_run.state == "success", f"after {elapsed:.1f}s"
    tries = {ti.task_id: (ti.state, ti.try_number) for ti in dag_run.get_task_instances()}
    assert tries["aggregate_personal_data.extract_web"] == ("success", 3), "killed twice, retried twice"
    assert tries["send_report"][0] == "success"

    record = stack.store.find_by_run_id(dag_run.run_id)
    trail = stack.store.audit_trail(record.request_id)
    sent = [e for e in trail if e["event"] == "email_sent" and e["detail"]["kind"] == "report"]
    assert len(sent) == 1 and len(stack.answers()) == 1, "the report was emailed exactly once"
    assert _alerts(stack) == [], "a retried blip alerts nobody"

    # Nothing partial, nothing twice: the report counts exactly the rows an undisturbed extraction finds.
    from include.tasks.access_request import _since

    since = _since(record.received_at, "12_months", record.lookback)
    person = {"email": REQUEST["email"], "name": REQUEST["name"], "since": since}
    expected = {
        d.name: extract(d, **person, dest=tmp_path / f"clean_{d.name}.jsonl").row_count
        for d in load_registry().datastores
    }
    assert expected["web"] > 0
    [built] = [e["detail"] for e in trail if e["event"] == "report_built"]
    assert built["rows"] == sum(expected.values())
    web_lines = (stack.storage / record.request_id / "web.jsonl").read_text().splitlines()
    assert len(web_lines) == expected["web"], "the retried extraction rewrote its file"
    print(f"\nMariaDB drill: {len(killer.kills)} kill rounds {killer.kills}; run finished in {elapsed:.1f}s")


def test_drill_runs_failing_together_broadcast_once_and_email_one_digest(stack, monkeypatch):
    """An outage longer than the retries fails every run in flight: one broadcast and one email at once, the other
    failures in their own threads (not broadcast) and in the next digest, which the daily watch sends at the latest."""
    from types import SimpleNamespace

    from include.mail.alert import flush_digest
    from include.tasks import access_request as workflow

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_ALERT_EMAILS", OFFICERS)
    ids = []
    for i in range(5):
        request_id = workflow.validate_request(
            {**REQUEST, "email": f"person{i}@example.com"}, f"manual__outage_{i}", datetime.now(UTC)
        )["request_id"]
        workflow.post_review_prompt(request_id)
        stack.store.record_decision(request_id, "approve", APPROVER)
        ids.append(request_id)
    ti = SimpleNamespace(dag_id="ccpa_right_of_access", task_id="send_report")
    for i in range(5):
        workflow.notify_failure({"ti": ti, "run_id": f"manual__outage_{i}", "exception": ConnectionRefusedError()})

    [first] = _alerts(stack)
    assert ids[0] in first.message.get_body(preferencelist=("html",)).get_content()
    notices = [m for m in stack.slack.messages() if m.get("thread_ts") and "failed at `send_report`" in m["text"]]
    assert len(notices) == 5, "every prompt's thread says its run failed"
    assert [bool(m.get("reply_broadcast")) for m in notices] == [True, False, False, False, False]
    assert flush_digest(stack.store)  # the daily watch (or the next failure after 15 minutes)
    digest = _alerts(stack)[-1]
    assert digest.message["Subject"].startswith("[CCPA alert] 4 CCPA run failure(s)")
    text = digest.message.get_body(preferencelist=("html",)).get_content()
    assert all(rid in text for rid in ids[1:]) and ids[0] not in text
    for i in range(5):
        assert f"person{i}@example.com" not in text, "the alert names no one"
    assert all(record.open for record in map(stack.store.get_request, ids)), "every request stays open"
