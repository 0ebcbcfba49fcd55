"""Aggregated failure alerts (issue 18): an outage past the tasks' hour of retries fails every run in flight; the
officers get one email listing them, not one per run, and no failure is left unreported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from devtools.standins.mail_sink import MailSink
from include.mail.alert import DIGEST_INTERVAL, alert_in_digest, flush_digest
from include.request import AccessRequest
from tests.conftest import use_smtp

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def sink(tmp_path, monkeypatch):
    with MailSink(tmp_path / "mail") as sink:
        use_smtp(monkeypatch, sink.port)
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_FROM_EMAIL", "privacy@example.com")
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_ALERT_EMAILS", "dpo@example.com")
        yield sink


def _requests(store, n):
    return [
        store.register_request(
            f"manual__outage_{i}", AccessRequest(f"Person {i}", f"p{i}@example.com", ""), T0
        ).request_id
        for i in range(n)
    ]


def _body(message) -> str:
    return message.message.get_body(preferencelist=("html",)).get_content()


def test_fifty_runs_failing_in_one_outage_send_two_emails_that_list_every_one(compliance_store, sink):
    ids = _requests(compliance_store, 50)
    sent_now = []
    for i, rid in enumerate(ids):
        with time_machine.travel(T0 + timedelta(seconds=i), tick=False):
            sent_now.append(alert_in_digest(compliance_store, rid, f"Request {rid}: failed at send_report"))
    assert sent_now == [True] + [False] * 49, "the first failure alerts at once, the others wait"
    assert len(sink.messages()) == 1
    # The next failure after the interval carries every line queued meanwhile.
    with time_machine.travel(T0 + DIGEST_INTERVAL, tick=False):
        assert alert_in_digest(compliance_store, ids[0], "Request again: failed at build_report")
    first, second = sink.messages()
    assert first.message["Subject"] == "[CCPA alert] 1 CCPA run failure(s)"
    assert second.message["Subject"].startswith("[CCPA alert] 50 CCPA run failure(s) since")
    body = _body(first) + _body(second)
    assert all(rid in body for rid in ids), "no failure left out"
    assert _body(second).count("failed at") == 50, "49 waiting and the new one, none listed twice"


def test_a_failure_still_queued_is_sent_by_the_daily_watch(compliance_store, sink):
    first, second = _requests(compliance_store, 2)
    with time_machine.travel(T0, tick=False):
        assert alert_in_digest(compliance_store, first, f"Request {first}: failed")
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        assert not alert_in_digest(compliance_store, second, f"Request {second}: failed")
        assert flush_digest(compliance_store)  # the watch: no minimum interval
    assert second in _body(sink.messages()[-1]) and first not in _body(sink.messages()[-1])
    assert not flush_digest(compliance_store), "nothing left: no empty email"
    assert len(sink.messages()) == 2


def test_lines_are_kept_when_the_digest_cannot_be_sent(compliance_store, sink, monkeypatch):
    [rid] = _requests(compliance_store, 1)
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_ALERT_EMAILS", "")  # nobody to alert: logged at ERROR, nothing lost
    assert alert_in_digest(compliance_store, rid, f"Request {rid}: failed"), "not emailed: the caller broadcasts it"
    assert sink.messages() == []
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_ALERT_EMAILS", "dpo@example.com")
    assert alert_in_digest(compliance_store, rid, f"Request {rid}: failed again"), "no digest went out: sent at once"
    [digest] = sink.messages()
    assert _body(digest).count(rid) == 2, "the line kept from the failed attempt is in it"
