"""The daily watch finds decided requests that no run acts on any more (issue 18): the run failed after its retries,
or was deleted. Real Airflow metadata DB (dag.test), real compliance store on MariaDB, the mail sink and the Slack
emulator; the watch asks Airflow for the runs' states through its running task, as in production."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tests.integration.test_fault_drills import OFFICERS, REQUEST, _alerts

pytestmark = pytest.mark.integration

SUBJECT = "decided CCPA request(s) with no live run"


def _watch_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["ccpa_compliance_watch"]


def _summaries(stack) -> list:
    return [m for m in _alerts(stack) if SUBJECT in str(m.message["Subject"])]


def _set_run_state(run_id: str, state: str) -> None:
    """What 'Clear' in the UI does to a failed run: it is queued again (and so live)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.run_id == run_id).one()
        run.state = state


def test_decided_requests_whose_run_failed_or_was_deleted_are_reported_in_one_alert_a_day(
    stack, dag_factory, monkeypatch
):
    from datetime import UTC, datetime

    from include.tasks import access_request as workflow

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_ALERT_EMAILS", OFFICERS)
    # 1. An approved run that failed: a datastore down for longer than its (shortened) retries.
    monkeypatch.setenv("AIRFLOW_CONN_CCPA_ORDERS_DB", "mysql://root@127.0.0.1:1/down")
    monkeypatch.setenv("CCPA_RETRY_DELAY_SECONDS", "0.2")
    monkeypatch.setenv("CCPA_RETRY_BUDGET_SECONDS", "1")
    officer = stack.click_when_posted("ccpa_approve")
    failed = dag_factory().test(run_conf=REQUEST)
    officer.join(5)
    assert failed.state == "failed"
    failed_id = stack.store.find_by_run_id(failed.run_id).request_id
    # 2. A rejected request whose run was deleted (by hand, or `airflow db clean`): no run in Airflow at all.
    deleted_id = workflow.validate_request(
        {**REQUEST, "email": "pat@example.com"}, "manual__deleted_run", datetime.now(UTC)
    )["request_id"]
    stack.store.record_decision(deleted_id, "reject", "U0APPROVER", reason="photo_id_mismatch")
    # 3. An undecided request with no run either: not this check's business (the prompt alerts cover it).
    workflow.validate_request({**REQUEST, "email": "lee@example.com"}, "manual__undecided", datetime.now(UTC))
    before = len(_alerts(stack))

    watch_run = _watch_dag().test()
    assert watch_run.state == "success"
    [summary] = _summaries(stack)  # one email for both requests, not one per request
    assert summary.message["Subject"].startswith("[CCPA alert] 2 decided")
    assert summary.envelope_to == ["privacy-officer@example.com", "dpo@example.com"]
    text = summary.message.get_body(preferencelist=("html",)).get_content()
    assert failed_id in text and f"run {failed.run_id} is failed" in text
    assert deleted_id in text and "manual__deleted_run no longer exists" in text
    for personal in (REQUEST["email"], REQUEST["name"], "pat@example.com", REQUEST["photo_id_url"]):
        assert personal not in text, "the alert names no one"
    [posted] = [m for m in stack.slack.messages() if SUBJECT in m.get("text", "")]
    assert failed_id in posted["text"] and deleted_id in posted["text"]
    assert len(_alerts(stack)) == before + 1, "nothing else was alerted by this check"
    events = [e["event"] for e in stack.store.audit_trail(failed_id)]
    assert "decided_without_live_run" in events

    # The officer clears the failed run: it is queued again, live. The next day only the deleted one is reported.
    _set_run_state(failed.run_id, "queued")
    from datetime import timedelta

    assert _watch_dag().test(logical_date=datetime.now(UTC) + timedelta(days=1)).state == "success"
    latest = _summaries(stack)[-1]
    assert len(_summaries(stack)) == 2 and latest.message["Subject"].startswith("[CCPA alert] 1 decided")
    text = latest.message.get_body(preferencelist=("html",)).get_content()
    assert deleted_id in text and failed_id not in text
