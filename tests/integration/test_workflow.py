"""End to end: one request per test, through the real DAG, Slack emulator, Flask callback, MariaDB and SMTP sink."""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from devtools.demo_data import DEMO_PERSON
from include import clock
from tests.factories import declaration_for
from tests.integration.conftest import APPROVER, FROM_EMAIL, REQUEST, everything_html

pytestmark = pytest.mark.integration


def _xcoms(dag_run) -> list:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.run_id == dag_run.run_id).all()
        assert rows
        return [(x.task_id, x.key, x.value) for x in rows]


def _text_of(path) -> str:
    if path.suffix == ".pdf":
        from pypdf import PdfReader

        return "".join(page.extract_text() for page in PdfReader(path).pages)
    return path.read_text()


def test_approved_request_emails_the_persons_data_and_nobody_elses(stack, run_dag, caplog):
    caplog.set_level(logging.DEBUG)
    officer = stack.click_when_posted("ccpa_approve")
    dag_run = run_dag(REQUEST)
    officer.join(5)

    assert dag_run.state == "success"
    assert officer.results["click"][0] == 200
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states["wait_for_decision"] == "success" and states["send_rejection"] == "skipped"  # the sensor branched
    decided = [v for task_id, key, v in _xcoms(dag_run) if task_id == "wait_for_decision" and key == "return_value"]
    assert len(decided) == 1 and "approve" in str(decided[0])  # the decision stays in XCom for the UI
    [ack] = stack.acknowledgements()  # §7021(a): receipt confirmed at once, with the due date
    due = stack.store.find_by_run_id(dag_run.run_id).due_at
    assert ack.message["To"] == DEMO_PERSON["email"]
    assert clock.format_date(due) in everything_html(ack) and "How we verify it is you" in everything_html(ack)
    [mail] = stack.answers()
    assert ack.path.name < mail.path.name, "the acknowledgement comes first"
    assert mail.message["To"] == DEMO_PERSON["email"]
    assert mail.message["From"] == FROM_EMAIL
    html = everything_html(mail)
    # Jane's own data, from each of the three MySQL datastores ...
    assert "+1-415-555-1000" in html  # crm phone
    assert "ORD-000000" in html and "ORD-000002" in html  # orders
    assert "203.0.113.10" in html  # web events
    # ... her SSN is withheld but declared ...
    assert "123-45-6789" not in html
    assert "held, not disclosed for your security" in html
    # ... and nothing of the decoys, not even the one who shares her name.
    for decoy_value in ("jane.doe@example.org", "john.roe", "ada@example.net", "+1-415-555-1001", "203.0.113.11"):
        assert decoy_value not in html

    record = stack.store.find_by_run_id(dag_run.run_id)
    assert record.status == "completed"
    decision = stack.store.get_decision(record.request_id)
    assert (decision.action, decision.decided_by) == ("approve", APPROVER)
    prompt = stack.slack.message(record.slack_ts)
    assert "report sent" in prompt["text"] or "report sent" in str(prompt["blocks"])
    assert not any(b["type"] == "actions" for b in prompt["blocks"]), "buttons must be gone"
    assert f"<@{APPROVER}>" in str(prompt["blocks"])
    # Personal data went to the requester and to Slack, and nowhere else: not into logs, not into XCom.
    # The withheld SSN is nowhere: not in the email (checked above), the run's files, Slack, logs or XCom.
    run_files = "".join(_text_of(p) for p in (stack.storage / record.request_id).iterdir())
    assert {p.name for p in (stack.storage / record.request_id).iterdir()} >= {"report.pdf", "report.json", "crm.csv"}
    assert "+1-415-555-1000" in run_files and "123-45-6789" not in run_files
    assert "123-45-6789" not in json.dumps(stack.slack.messages())
    personal = (DEMO_PERSON["email"], "+1-415-555-1000", "ORD-000001", "203.0.113.10", "Market St", "123-45-6789")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Returned value was" in logged or "DAG TEST" in logged  # the run's log lines were captured
    assert not [p for p in personal if p in logged]
    assert not [p for p in personal if p in json.dumps(_xcoms(dag_run), default=str)]
    events = [e["event"] for e in stack.store.audit_trail(record.request_id)]
    assert events[0] == "request_received"
    assert {"review_prompt_posted", "decision_recorded", "report_built", "email_sent", "completed"} <= set(events)


def test_rejected_request_gets_a_polite_rejection_and_no_data(stack, run_dag):
    officer = stack.click_when_posted("ccpa_reject")
    dag_run = run_dag(REQUEST)
    officer.join(5)

    assert dag_run.state == "success"
    [mail] = stack.answers()
    assert mail.message["To"] == DEMO_PERSON["email"]
    assert "could not be completed" in mail.message["Subject"]
    html = everything_html(mail)
    assert "Nothing about you has been disclosed" in html
    assert "the photo ID does not match the name in your request" in html  # the officer's reason
    assert "+1-415-555-1000" not in html and "ORD-" not in html

    record = stack.store.find_by_run_id(dag_run.run_id)
    assert record.status == "rejected_notified"
    assert stack.store.get_decision(record.request_id).action == "reject"
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states["aggregate_personal_data.extract_crm"] == "skipped"
    assert states["send_report"] == "skipped"
    assert states["send_rejection"] == "success"
    prompt = stack.slack.message(record.slack_ts)
    assert "rejection sent" in str(prompt["blocks"])
    assert not any(b["type"] == "actions" for b in prompt["blocks"])


def test_person_with_no_data_is_told_we_hold_none(stack, run_dag):
    # Nothing is held: no data point can match, and the answer that discloses nothing is the categories one.
    officer = stack.click_when_posted("ccpa_approve_categories")
    dag_run = run_dag({"name": "Nobody Known", "email": "nobody@example.com", "photo_id_url": "https://x.example/id"})
    officer.join(5)

    assert dag_run.state == "success"
    [mail] = stack.answers()
    assert mail.message["To"] == "nobody@example.com"
    assert "we hold no personal information about you" in everything_html(mail).lower()
    assert "jane" not in everything_html(mail).lower()
    # §7101: nothing held is answered (and recorded) as categories only.
    record = stack.store.find_by_run_id(dag_run.run_id)
    basis, exported, timeline = stack.basis_everywhere(record.request_id)
    assert (basis, exported) == ("categories_only", "categories_only")
    assert "basis: answered with categories only" in timeline


def test_forged_and_unauthorised_clicks_change_nothing(stack, run_dag):
    """Mid-run: a forged callback (wrong secret) and a click by a non-approver leave the request undecided."""
    seen: dict[str, object] = {}

    def officer() -> None:
        msg = stack.slack.wait_for_message(lambda m: any(b.get("type") == "actions" for b in m["blocks"]), 60)
        request_id = next(e["value"] for b in msg["blocks"] if b["type"] == "actions" for e in b["elements"])
        forged = {
            "type": "block_actions",
            "user": {"id": APPROVER},
            "actions": [{"action_id": "ccpa_approve", "value": request_id, "type": "button"}],
            "response_url": msg["response_url"],
        }
        seen["forged"] = stack.slack.send_signed(forged, secret="not-the-signing-secret")
        seen["replayed"] = stack.slack.send_signed(forged, timestamp=int(time.time()) - 600)
        seen["intruder"] = stack.slack.click(msg["ts"], "ccpa_approve", user_id="U0INTRUDER")
        seen["after"] = stack.store.get_decision(request_id)
        seen["approver"] = stack.slack.click(msg["ts"], "ccpa_reject", user_id=APPROVER)
        seen["modal"] = stack.submit_rejection("other", "Please send a photo ID that shows your full name.")

    thread = threading.Thread(target=officer, daemon=True)
    thread.start()
    dag_run = run_dag(REQUEST)
    thread.join(5)

    assert seen["forged"][0] == 401
    assert seen["replayed"][0] == 401
    assert seen["intruder"][0] == 200
    assert seen["after"] is None, "nothing may be decided by a forged or unauthorised click"
    assert dag_run.state == "success"
    record = stack.store.find_by_run_id(dag_run.run_id)
    decision = stack.store.get_decision(record.request_id)
    assert (decision.action, decision.decided_by) == ("reject", APPROVER)
    events = stack.store.audit_trail(record.request_id)
    assert [e["actor"] for e in events if e["event"] == "decision_refused_not_approver"] == ["U0INTRUDER"]
    assert any("not an approver" in e["text"] for e in stack.slack.ephemerals())
    [mail] = stack.answers()
    assert "could not be completed" in mail.message["Subject"]
    assert "Please send a photo ID that shows your full name." in everything_html(mail)


def test_invalid_request_fails_at_validation_and_posts_nothing(stack, run_dag):
    # Passes the trigger-time JSON schema, fails the stricter check in validate_request.
    dag_run = run_dag({"name": "Jane Doe", "email": "jane@example..com", "photo_id_url": "https://x.example/id"})

    assert dag_run.state == "failed"
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states["validate_request"] == "failed"
    assert states["post_review_prompt"] in ("upstream_failed", None)
    assert stack.slack.messages() == []
    assert stack.sink.messages() == []
    # §7101: no request vanishes; it is recorded as invalid, the field named, no value kept (issue 15).
    record = stack.store.find_by_run_id(dag_run.run_id)
    assert record.status == "invalid" and record.closed_at is not None
    assert "jane" not in f"{record.name} {record.email} {record.photo_id_url}".lower()
    assert stack.store.audit_trail(record.request_id)[0]["detail"]["fields"] == ["email"]
    ti = next(t for t in dag_run.get_task_instances() if t.task_id == "validate_request")
    assert ti.try_number == 1, "a malformed request is not retried"


def test_prompt_shows_identity_evidence_and_ends_with_a_link_to_the_run(stack, run_dag):
    officer = stack.click_when_posted("ccpa_approve")
    dag_run = run_dag(REQUEST)
    officer.join(5)
    record = stack.store.find_by_run_id(dag_run.run_id)
    prompt = stack.slack.message(record.slack_ts)
    first_version = json.dumps(prompt["history"][0])
    assert "email found in 3 of 3 datastores (crm, orders, web); name on file matches" in first_version
    assert "/dags/ccpa_right_of_access/runs/" in json.dumps(prompt["blocks"])


def test_many_concurrent_clicks_give_one_decision_and_one_email(stack, run_dag, monkeypatch):
    officers = [f"U0OFFICER{i}" for i in range(5)]
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_APPROVERS", ",".join(officers))
    outcome: dict[str, list] = {}

    def storm() -> None:
        msg = stack.slack.wait_for_message(lambda m: any(b.get("type") == "actions" for b in m["blocks"]), 60)
        for officer in officers[:2]:  # two officers open the rejection modal first
            stack.slack.click(msg["ts"], "ccpa_reject", user_id=officer)
        deadline = time.time() + 10
        while len(stack.slack.views()) < 2 and time.time() < deadline:
            time.sleep(0.05)
        views = [v["id"] for v in stack.slack.views()]
        barrier = threading.Barrier(20)

        def act(i: int):
            barrier.wait()
            if i % 4 == 0:
                values = {"reason": {"reason_choice": "cannot_verify"}, "details": {"reason_details": ""}}
                return stack.slack.submit_view(views[i % 2], values, user_id=officers[i % 2])
            return stack.slack.click(msg["ts"], "ccpa_approve", user_id=officers[i % len(officers)])

        with ThreadPoolExecutor(20) as pool:
            outcome["responses"] = list(pool.map(act, range(20)))

    thread = threading.Thread(target=storm, daemon=True)
    thread.start()
    dag_run = run_dag(REQUEST)
    thread.join(30)

    assert [status for status, _ in outcome["responses"]] == [200] * 20, outcome["responses"]
    assert dag_run.state == "success"
    record = stack.store.find_by_run_id(dag_run.run_id)
    events = [e["event"] for e in stack.store.audit_trail(record.request_id)]
    assert events.count("decision_recorded") == 1
    assert len(stack.answers()) == 1, "exactly one email, whoever won"
    decision = stack.store.get_decision(record.request_id)
    expected = "could not be completed" if decision.action == "reject" else "personal information we hold"
    assert expected in stack.answers()[0].message["Subject"]


def test_a_datastore_that_stays_down_fails_loudly_and_sends_nothing(stack, dag_factory, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CCPA_ORDERS_DB", "mysql://root@127.0.0.1:1/down")
    monkeypatch.setenv("CCPA_RETRY_DELAY_SECONDS", "0.2")
    monkeypatch.setenv("CCPA_RETRY_BUDGET_SECONDS", "3")  # three retries (1 s each), not an hour of them
    officer = stack.click_when_posted("ccpa_approve")
    dag_run = dag_factory().test(run_conf=REQUEST)
    officer.join(5)

    assert dag_run.state == "failed"
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states["aggregate_personal_data.extract_orders"] == "failed"
    assert states["send_report"] == "upstream_failed"
    assert stack.answers() == [], "no partial report is ever sent"
    record = stack.store.find_by_run_id(dag_run.run_id)
    notices = [m for m in stack.slack.messages() if m.get("thread_ts") == record.slack_ts]
    assert any("failed at `aggregate_personal_data.extract_orders`" in m["text"] for m in notices)


def test_uncategorised_columns_are_flagged_and_lookback_all_reaches_2022(stack, dag_factory, monkeypatch, tmp_path):
    registry = tmp_path / "datastores.yaml"
    registry.write_text(
        "sold_or_shared: none\n"  # Civ. 1798.115(c)(1): the registry states it (fails closed without)
        "datastores:\n"
        "  - name: crm\n    conn_id: ccpa_crm_db\n    queries:\n"
        "      - name: profile\n        sql: SELECT name, phone FROM crm_users WHERE email = :email\n"
        "        categories: {name: identifiers}\n"
        "        identifies: {name: name, phone: phone}\n"  # three points for REQUEST: the full report
        "  - name: orders\n    conn_id: ccpa_orders_db\n    queries:\n"
        "      - name: orders\n"
        "        sql: SELECT order_ref FROM orders WHERE email = :email AND ordered_at >= :since\n"
        "        categories: {order_ref: commercial}\n"
    )
    monkeypatch.setenv("CCPA_DATASTORES_FILE", str(registry))
    officer = stack.click_when_posted("ccpa_approve")
    dag_run = dag_factory().test(run_conf={**REQUEST, "lookback": "all"})
    officer.join(5)

    assert dag_run.state == "success"
    assert {ti.task_id for ti in dag_run.get_task_instances()} >= {
        "aggregate_personal_data.extract_crm",
        "aggregate_personal_data.extract_orders",
    }
    record = stack.store.find_by_run_id(dag_run.run_id)
    notes = [m["text"] for m in stack.slack.messages() if m.get("thread_ts") == record.slack_ts]
    assert any("Uncategorised columns" in n and "`crm.profile.phone`" in n for n in notes)
    html = everything_html(stack.answers()[0])
    assert "uncategorised" in html
    assert "January 1, 2022" in html  # the period covered starts at the legal floor


def test_an_email_full_of_sql_metacharacters_is_just_an_email(stack, run_dag):
    tricky = "o'brien+x\"--@example.com"
    officer = stack.click_when_posted("ccpa_approve")
    conf = {"name": "Pat O'Brien", "email": tricky, "photo_id_url": "https://x.example/id", "phone": "415 555 0199"}
    dag_run = run_dag({**conf, "declaration": declaration_for("Pat O'Brien")})
    officer.join(5)

    assert dag_run.state == "success"
    [mail] = stack.answers()
    # Delivered to exactly that mailbox, in its RFC 5321 quoted form (unquoted, smtplib would cut it at the quote).
    assert mail.envelope_to == ['"o\'brien+x\\"--"@example.com']
    assert mail.message["To"].addresses[0].username == "o'brien+x\"--"
    html = everything_html(mail)
    assert "+1-415-555-0199" in html  # Pat's own phone ...
    assert "+1-415-555-1000" not in html and "ORD-000000" not in html  # ... and nobody else's


def test_extension_is_noticed_to_the_requester_and_moves_the_deadline(stack, run_dag):
    seen: dict[str, object] = {}

    def officer() -> None:
        msg = stack.slack.wait_for_message(lambda m: any(b.get("type") == "actions" for b in m["blocks"]), 60)
        stack.slack.click(msg["ts"], "ccpa_extend", user_id=APPROVER)
        deadline = time.time() + 10
        while not stack.slack.views() and time.time() < deadline:
            time.sleep(0.05)
        values = {"details": {"reason_details": "We are searching two more archives."}}
        seen["extend"] = stack.slack.submit_view("ccpa_extend_reason", values, user_id=APPROVER)
        # the run emails the notice while it keeps waiting; then the officer approves
        deadline = time.time() + 30
        while not any("more time" in m.message["Subject"] for m in stack.sink.messages()) and time.time() < deadline:
            time.sleep(0.1)
        seen["approve"] = stack.slack.click(msg["ts"], "ccpa_approve", user_id=APPROVER)

    thread = threading.Thread(target=officer, daemon=True)
    thread.start()
    dag_run = run_dag(REQUEST)
    thread.join(5)

    assert seen["extend"][0] == 200 and seen["approve"][0] == 200
    assert dag_run.state == "success"
    record = stack.store.find_by_run_id(dag_run.run_id)
    # §7021(b): 90 calendar days counting the day of receipt, ending at the end of a California day.
    assert (clock.local_day(record.due_at) - clock.local_day(record.received_at)).days + 1 == 90
    assert record.due_at == clock.end_of_day(clock.local_day(record.due_at))
    subjects = [m.message["Subject"] for m in stack.sink.messages()]
    assert subjects.count("Your CCPA access request: we need more time") == 1
    notice = next(m for m in stack.sink.messages() if "more time" in m.message["Subject"])
    assert "We are searching two more archives." in everything_html(notice)
    assert clock.format_date(record.due_at) in everything_html(notice)
    assert any("personal information we hold" in s for s in subjects)


def test_a_second_request_while_one_is_open_is_linked_not_answered_twice(stack, run_dag):
    from include.request import AccessRequest

    original = stack.store.register_request(
        "manual__still_waiting",
        AccessRequest(**{k: REQUEST[k] for k in ("name", "email", "photo_id_url")}),
        datetime.now(UTC) - timedelta(days=3),
    )
    dag_run = run_dag(REQUEST)

    assert dag_run.state == "success"
    record = stack.store.find_by_run_id(dag_run.run_id)
    assert record.linked_to == original.request_id and record.status == "linked_duplicate"
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states["post_review_prompt"] == "skipped" and states["send_report"] == "skipped"
    assert stack.slack.messages() == [], "no second prompt"
    [notice] = stack.sink.messages()
    assert notice.message["Subject"] == "Your CCPA access request: we are already working on it"
    assert clock.format_date(original.due_at) in everything_html(notice)


# -- the legal clock (issue 15) ---------------------------------------------------------------------------------


def _pacific_evening_before() -> datetime:
    """23:30 Pacific Time yesterday: already today in UTC (during PST and PDT alike)."""
    from zoneinfo import ZoneInfo

    la = ZoneInfo("America/Los_Angeles")
    today = datetime.now(la).date()
    return datetime.combine(today - timedelta(days=1), datetime.min.time(), tzinfo=la).replace(hour=23, minute=30)


def test_7021_a_request_received_late_in_the_evening_pacific_time(stack, dag_factory):
    """Made by email at 23:30 Pacific yesterday and entered now: acknowledged as received yesterday (California day),
    due at the end of the 45th day counting it, every date naming the zone; the record keeps both times."""
    received = _pacific_evening_before()
    officer = stack.click_when_posted("ccpa_approve")
    # A freshly parsed DAG: dag.test() leaves the conf in the DAG's params, and later tests must not inherit it.
    dag_run = dag_factory().test(run_conf={**REQUEST, "channel": "email", "received_at": received.isoformat()})
    officer.join(5)

    assert dag_run.state == "success"
    record = stack.store.find_by_run_id(dag_run.run_id)
    assert record.received_at == received and record.entered_at > received and record.channel == "email"
    assert clock.local_day(record.due_at) == received.date() + timedelta(days=44)
    [ack] = stack.acknowledgements()
    html = everything_html(ack)
    assert f"{received:%B %-d, %Y} (Pacific Time)" in html  # the California day of receipt, not the UTC one
    assert f"{received.astimezone(UTC):%B %-d, %Y} (Pacific Time)" not in html
    assert clock.format_date(record.due_at) in html and "(Pacific Time)" in html
    prompt = stack.slack.message(record.slack_ts)
    assert f"{received:%Y-%m-%d} (America/Los_Angeles)" in json.dumps(prompt["blocks"])


def test_7021b_undecided_request_reaches_its_margin_then_its_due_date(stack, run_dag, dag_factory, monkeypatch):
    """Received 43 days ago (by mail): the decision window (due date less 3 days) has already closed when the run
    starts, so the officers are alerted (Slack broadcast, email) and the run stops with the request open and
    escalated. With the clock moved past the due date, the watch answers it as unverifiable, with the categories
    disclosure, and closes it. A new request from the same person is then answered, not linked."""
    import time_machine

    from include.tasks import compliance_watch as watch

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_ALERT_EMAILS", "dpo@example.com")
    received = datetime.now(UTC) - timedelta(days=43)
    # A freshly parsed DAG, as above: the session's DAG must not keep this received_at.
    dag_run = dag_factory().test(run_conf={**REQUEST, "channel": "mail", "received_at": received.isoformat()})

    assert dag_run.state == "failed"
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states["wait_for_decision"] == "failed" and states["send_report"] != "success"
    record = stack.store.find_by_run_id(dag_run.run_id)
    assert record.open and record.failed_at is not None and record.status == "awaiting_decision"
    thread = [m for m in stack.slack.messages() if m.get("thread_ts") == record.slack_ts]
    assert len(thread) == 1 and "the wait has ended" in thread[0]["text"] and thread[0]["reply_broadcast"]
    [alert] = [m for m in stack.sink.messages() if m.message["To"] == "dpo@example.com"]
    assert record.request_id in alert.message["Subject"] and "jane" not in everything_html(alert).lower()
    to_jane = [m.path for m in stack.sink.messages() if m.message["To"] == DEMO_PERSON["email"]]
    assert to_jane == [m.path for m in stack.acknowledgements()], "the requester got the acknowledgement only"

    with time_machine.travel(record.due_at + timedelta(minutes=1), tick=False):
        assert watch.expire_undecided(stack.store) == 1
    expired = stack.store.get_request(record.request_id)
    assert expired.status == "expired_unverified" and expired.closed_at is not None
    [notice] = [m for m in stack.answers() if m.message["To"] == DEMO_PERSON["email"]]
    assert "could not verify your identity in time" in notice.message["Subject"]
    html = everything_html(notice)
    assert "Identifiers" in html and "+1-415-555-1000" not in html and "ORD-" not in html

    officer = stack.click_when_posted("ccpa_approve")
    again = run_dag(REQUEST)
    officer.join(5)
    assert again.state == "success"
    answered = stack.store.find_by_run_id(again.run_id)
    assert answered.linked_to is None and answered.status == "completed"


def test_a_failed_run_leaves_the_request_open_escalated_and_never_a_magnet(stack, dag_factory, monkeypatch):
    """A datastore down for longer than the retries: the request stays open and escalated (Slack, email), and a new
    request from the same person is answered on its own, not linked to the failed one."""
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_ALERT_EMAILS", "dpo@example.com")
    monkeypatch.setenv("AIRFLOW_CONN_CCPA_ORDERS_DB", "mysql://root@127.0.0.1:1/down")
    monkeypatch.setenv("CCPA_RETRY_DELAY_SECONDS", "0.2")
    monkeypatch.setenv("CCPA_RETRY_BUDGET_SECONDS", "3")  # three retries (1 s each), not an hour of them
    dag = dag_factory()
    officer = stack.click_when_posted("ccpa_approve")
    failed = dag.test(run_conf=REQUEST)
    officer.join(5)
    assert failed.state == "failed"
    record = stack.store.find_by_run_id(failed.run_id)
    assert record.open and record.failed_at is not None and record.closed_at is None
    assert [m for m in stack.sink.messages() if m.message["To"] == "dpo@example.com"]

    monkeypatch.setenv("AIRFLOW_CONN_CCPA_ORDERS_DB", stack.datastores_url)  # the datastore is back
    from include.db import dispose_all

    dispose_all()  # include.db keeps a connection's URL for a minute
    officer = stack.click_when_posted("ccpa_approve")
    again = dag.test(run_conf=REQUEST)
    officer.join(5)
    assert again.state == "success"
    answered = stack.store.find_by_run_id(again.run_id)
    assert answered.linked_to is None and answered.status == "completed"
    assert not [m for m in stack.sink.messages() if "already working on it" in m.message["Subject"]]


def test_two_person_approval_sends_the_report_once_after_two_different_officers(stack, run_dag, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REQUIRED_APPROVALS", "2")
    clicks: dict[str, object] = {}

    def officers() -> None:
        msg = stack.slack.wait_for_message(lambda m: _has_actions(m), 60)
        clicks["first"] = stack.slack.click(msg["ts"], "ccpa_approve", user_id=APPROVER)
        stack.slack.wait_for_message(lambda m: m["ts"] == msg["ts"] and "1 of 2 approvals" in json.dumps(m["blocks"]))
        clicks["again"] = stack.slack.click(msg["ts"], "ccpa_approve", user_id=APPROVER)  # refused: same person
        time.sleep(1.0)  # the run must still be waiting: one approval decides nothing
        clicks["decided_early"] = stack.store.get_decision(stack.store.find_request(_request_id(msg)).request_id)
        clicks["second"] = stack.slack.click(msg["ts"], "ccpa_approve", user_id="U0SECOND")

    thread = threading.Thread(target=officers, daemon=True)
    thread.start()
    dag_run = run_dag(REQUEST)
    thread.join(10)

    assert dag_run.state == "success"
    assert clicks["decided_early"] is None
    record = stack.store.find_by_run_id(dag_run.run_id)
    assert record.required_approvals == 2
    assert [a.approver for a in stack.store.approvals(record.request_id)] == [APPROVER, "U0SECOND"]
    assert stack.store.get_decision(record.request_id).decided_by == "U0SECOND"
    [report] = stack.answers()
    assert "personal information we hold" in report.message["Subject"]
    closed = json.dumps(stack.slack.message(record.slack_ts)["blocks"])
    assert f"Approved by <@{APPROVER}> and <@U0SECOND>" in closed


def _has_actions(message: dict) -> bool:
    return any(b.get("type") == "actions" for b in message.get("blocks") or [])


def _request_id(message: dict) -> str:
    """The request id the prompt's buttons carry."""
    for block in message["blocks"]:
        if block.get("type") == "actions":
            return block["elements"][0]["value"]
    raise LookupError("no buttons")
