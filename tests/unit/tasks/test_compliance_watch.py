"""The daily watch, with frozen time, on the real MariaDB store and the Slack emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from slack_sdk import WebClient

from devtools.standins.slack_emulator import SlackEmulator
from include.request import AccessRequest
from include.tasks import compliance_watch as watch
from tests.conftest import use_slack
from tests.factories import RecordedRuns

RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
JANE = AccessRequest("Jane Doe", "jane@example.com", "https://x.example/id")


@pytest.fixture
def slack(monkeypatch, tmp_path):
    with SlackEmulator(signing_secret="x") as emulator:
        use_slack(monkeypatch, emulator.api_url)
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_APPROVERS", "U0APPROVER")
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_REVIEW_CHANNEL", "#privacy")
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path / 'reports'}")
        yield emulator


def _prompted(store, slack, run_id, received=RECEIVED):
    record = store.register_request(run_id, JANE, received)
    posted = WebClient(token="x", base_url=slack.api_url).chat_postMessage(channel="#privacy", text="prompt")
    store.set_review_prompt(record.request_id, posted["channel"], posted["ts"])
    return record.request_id, posted["ts"]


@pytest.fixture
def runs() -> RecordedRuns:
    return RecordedRuns()


def _thread(slack, ts):
    return [m["text"] for m in slack.messages() if m.get("thread_ts") == ts]


def test_nudges_are_posted_when_due_and_only_once(compliance_store, slack):
    _request_id, ts = _prompted(compliance_store, slack, "run-1")
    decided_id, decided_ts = _prompted(compliance_store, slack, "run-2")
    compliance_store.record_decision(decided_id, "approve", "U0APPROVER")

    with time_machine.travel(RECEIVED + timedelta(hours=2), tick=False):
        assert watch.nudge_undecided(compliance_store) == {"reminder": 0, "escalation": 0}
    with time_machine.travel(RECEIVED + timedelta(hours=25), tick=False):
        assert watch.nudge_undecided(compliance_store) == {"reminder": 1, "escalation": 0}
        assert watch.nudge_undecided(compliance_store) == {"reminder": 0, "escalation": 0}
    with time_machine.travel(RECEIVED + timedelta(days=36), tick=False):
        assert watch.nudge_undecided(compliance_store) == {"reminder": 0, "escalation": 1}
    texts = _thread(slack, ts)
    assert len(texts) == 2 and "Still waiting" in texts[0] and "Escalation" in texts[1]
    assert _thread(slack, decided_ts) == [], "a decided request is not nudged"


def test_overdue_requests_are_reported_to_the_channel(compliance_store, slack):
    late_id, _ = _prompted(compliance_store, slack, "run-late")
    on_time_id, _ = _prompted(compliance_store, slack, "run-new", received=RECEIVED + timedelta(days=30))
    with time_machine.travel(RECEIVED + timedelta(days=47), tick=False):
        assert watch.report_overdue(compliance_store) == 1
    [report] = [m for m in slack.messages() if "past their legal deadline" in m["text"]]
    assert late_id in report["text"] and on_time_id not in report["text"] and "2 day(s) late" in report["text"]
    assert "jane" not in report["text"].lower()
    with time_machine.travel(RECEIVED + timedelta(days=10), tick=False):
        assert watch.report_overdue(compliance_store) == 0


def test_retention_redacts_and_deletes_files_after_24_months(compliance_store, slack, tmp_path, runs):
    from include import storage

    old_id, _ = _prompted(compliance_store, slack, "run-old", received=datetime(2024, 1, 5, tzinfo=UTC))
    (storage.request_dir(old_id) / "report.json").write_text('{"name": "Jane Doe"}')
    recent_id, _ = _prompted(compliance_store, slack, "run-recent", received=datetime(2025, 6, 1, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        assert watch.apply_retention(compliance_store, runs=runs) == 1
    old = compliance_store.get_request(old_id)
    assert old.email != "jane@example.com" and old.name == "[redacted]" and old.redacted_at is not None
    assert compliance_store.get_request(recent_id).email == "jane@example.com"
    assert not (tmp_path / "reports" / old_id).exists()


def test_report_files_are_purged_after_the_download_window(compliance_store, slack, tmp_path):
    from include import storage

    done_id, _ = _prompted(compliance_store, slack, "run-done")
    fresh_id, _ = _prompted(compliance_store, slack, "run-fresh")
    for request_id in (done_id, fresh_id):
        (storage.request_dir(request_id) / "report.html").write_text("<p>Jane</p>")
    with time_machine.travel(RECEIVED + timedelta(days=1), tick=False):
        compliance_store.record_decision(done_id, "approve", "U0OFFICER")
        compliance_store.set_status(done_id, "completed")
    with time_machine.travel(RECEIVED + timedelta(days=4, hours=12), tick=False):
        compliance_store.record_decision(fresh_id, "approve", "U0OFFICER")
        compliance_store.set_status(fresh_id, "completed")
    with time_machine.travel(RECEIVED + timedelta(days=5), tick=False):
        assert watch.purge_report_files(compliance_store) == 1
    assert not (tmp_path / "reports" / done_id).exists()
    assert (tmp_path / "reports" / fresh_id / "report.html").exists(), "still inside its 72-hour download window"


def _closed(store, request_id, at):
    with time_machine.travel(at, tick=False):
        store.record_decision(request_id, "approve", "U0OFFICER")
        store.set_status(request_id, "completed")


def test_report_files_are_purged_from_object_storage_prefix_and_all(compliance_store, slack, s3_storage):
    """On S3 a request's "folder" is a key prefix: the purge deletes every key under it (rmdir() cannot)."""
    from include import storage

    done_id, _ = _prompted(compliance_store, slack, "run-done")
    fresh_id, _ = _prompted(compliance_store, slack, "run-fresh")
    for request_id in (done_id, fresh_id):
        folder = storage.request_dir(request_id)
        (folder / "report.html").write_text("<p>Jane</p>")
        (folder / "extracts" / "crm.jsonl").write_text('{"email": "jane@example.com"}')
    _closed(compliance_store, done_id, RECEIVED + timedelta(days=1))
    _closed(compliance_store, fresh_id, RECEIVED + timedelta(days=4, hours=12))
    with time_machine.travel(RECEIVED + timedelta(days=5), tick=False):
        assert watch.purge_report_files(compliance_store) == 1
        assert watch.purge_report_files(compliance_store) == 0, "a second purge finds nothing and does not fail"
    assert s3_storage.keys(done_id) == []
    assert s3_storage.keys(fresh_id) == [f"{fresh_id}/extracts/crm.jsonl", f"{fresh_id}/report.html"]


def test_7101_retention_on_object_storage_deletes_every_file_and_goes_on(compliance_store, slack, s3_storage, runs):
    """§7101 on S3: every request past 24 months is redacted and its files deleted, not only the first one."""
    from include import storage

    old_ids = [
        _prompted(compliance_store, slack, f"run-old-{n}", received=datetime(2024, 1, 5, tzinfo=UTC))[0]
        for n in range(3)
    ]
    for request_id in old_ids[:2]:  # the third has no files left (purged already): that must not stop retention
        (storage.request_dir(request_id) / "report.json").write_text('{"name": "Jane Doe"}')
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        assert watch.apply_retention(compliance_store, runs=runs) == 3
    assert s3_storage.keys() == []
    assert all(compliance_store.get_request(r).name == "[redacted]" for r in old_ids)


def test_report_files_are_purged_by_closing_date_even_after_the_watch_was_paused_for_months(
    compliance_store, slack, tmp_path
):
    """No 30-day window: a request closed 4 months ago whose files a paused watch never deleted is purged at the next
    run; an abandoned request (never closed, due long ago) too; each request is looked at once."""
    from include import storage

    closed_id, _ = _prompted(compliance_store, slack, "run-closed")
    abandoned_id, _ = _prompted(compliance_store, slack, "run-abandoned")
    open_id, _ = _prompted(compliance_store, slack, "run-open", received=RECEIVED + timedelta(days=110))
    for request_id in (closed_id, abandoned_id, open_id):
        (storage.request_dir(request_id) / "report.html").write_text("<p>Jane</p>")
    _closed(compliance_store, closed_id, RECEIVED + timedelta(days=1))
    with time_machine.travel(RECEIVED + timedelta(days=120), tick=False):
        assert watch.purge_report_files(compliance_store) == 2
    assert not (tmp_path / "reports" / closed_id).exists()
    assert not (tmp_path / "reports" / abandoned_id).exists()
    assert (tmp_path / "reports" / open_id / "report.html").exists(), "an open request within its due date keeps them"
    events = [e["event"] for e in compliance_store.audit_trail(closed_id)]
    assert events.count("report_files_purged") == 1
    with time_machine.travel(RECEIVED + timedelta(days=121), tick=False):
        assert watch.purge_report_files(compliance_store) == 0
    assert [e["event"] for e in compliance_store.audit_trail(closed_id)].count("report_files_purged") == 1


def test_report_files_stay_while_a_reissued_download_link_works(compliance_store, slack, tmp_path):
    """A link re-issued after the first expired (include.report.reissue) keeps the files until it expires too."""
    from include import storage

    request_id, _ = _prompted(compliance_store, slack, "run-reissued")
    (storage.request_dir(request_id) / "ccpa-report.zip").write_bytes(b"PK")
    _closed(compliance_store, request_id, RECEIVED + timedelta(days=1))
    reissued_until = RECEIVED + timedelta(days=10)
    compliance_store.audit(request_id, "download_link_issued", detail={"expires_at": reissued_until.isoformat()})
    with time_machine.travel(RECEIVED + timedelta(days=9), tick=False):
        assert watch.purge_report_files(compliance_store) == 0
    assert (tmp_path / "reports" / request_id / "ccpa-report.zip").exists()
    with time_machine.travel(RECEIVED + timedelta(days=10, hours=1), tick=False):
        assert watch.purge_report_files(compliance_store) == 1
    assert not (tmp_path / "reports" / request_id).exists()


def test_7101_retention_counts_from_the_closing_date_not_the_receipt(compliance_store, slack, runs):
    """A request received 2024-01-05 and answered 2024-04-01 (extended): its §7101 record is complete only then, so
    its personal data stays until 24 months after the answer, not after the receipt."""
    late_id, _ = _prompted(compliance_store, slack, "run-late", received=datetime(2024, 1, 5, tzinfo=UTC))
    _closed(compliance_store, late_id, datetime(2024, 4, 1, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        assert watch.apply_retention(compliance_store, runs=runs) == 0
    assert compliance_store.get_request(late_id).email == "jane@example.com"
    with time_machine.travel(datetime(2026, 4, 2, tzinfo=UTC), tick=False):
        assert watch.apply_retention(compliance_store, runs=runs) == 1
    assert compliance_store.get_request(late_id).name == "[redacted]"


def test_7101_retention_removes_free_text_and_response_urls_and_keeps_the_denial_basis(compliance_store, slack, runs):
    """Past retention: the officer's free text (the denial details, the extension reason) and Slack's response_urls
    go; the basis of the denial, one of the fixed reasons (§7024(e)), stays in the §7101 record."""
    from include.slack.blocks import REJECTION_REASONS
    from include.store import records
    from include.store.schema import approvals_table, decisions_table

    standard = REJECTION_REASONS["photo_id_mismatch"]
    denied_id, _ = _prompted(compliance_store, slack, "run-denied", received=datetime(2024, 1, 5, tzinfo=UTC))
    other_id, _ = _prompted(compliance_store, slack, "run-other", received=datetime(2024, 1, 6, tzinfo=UTC))
    approved_id, _ = _prompted(compliance_store, slack, "run-approved", received=datetime(2024, 1, 7, tzinfo=UTC))
    with time_machine.travel(datetime(2024, 1, 20, tzinfo=UTC), tick=False):
        compliance_store.extend(denied_id, "U0OFFICER", "Jane's second account at jane.doe@old.example")
        compliance_store.record_decision(
            denied_id,
            "reject",
            "U0OFFICER",
            reason=f"{standard}. Jane Doe's ID shows Janet",
            response_url="https://hooks.slack.com/actions/T/1/a",
        )
        compliance_store.record_decision(
            other_id,
            "reject",
            "U0OFFICER",
            reason="Jane Doe is a minor",
            response_url="https://hooks.slack.com/actions/T/2/b",
        )
        compliance_store.record_approval(approved_id, "U0OFFICER", response_url="https://hooks.slack.com/actions/T/3/c")
        for request_id in (denied_id, other_id):
            assert compliance_store.claim_delivery(request_id, "rejection", f"<{request_id}@mail>") is None
            compliance_store.confirm_delivery(request_id, "rejection", f"<{request_id}@mail>")
            compliance_store.set_status(request_id, "rejected_notified")
        compliance_store.set_status(approved_id, "completed")
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        assert watch.apply_retention(compliance_store, runs=runs) == 3

    assert compliance_store.get_request(denied_id).extension_reason is None
    assert compliance_store.get_decision(denied_id).reason == standard
    assert compliance_store.get_decision(other_id).reason == "[redacted]"
    with compliance_store.engine.connect() as conn:
        stored = [tuple(row) for table in (decisions_table, approvals_table) for row in conn.execute(table.select())]
    assert stored and not any("hooks.slack.com" in repr(row) or "Jane" in repr(row) for row in stored)
    lines = {
        line.request_id: line
        for line in records.request_records(
            compliance_store, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)
        )
    }
    assert (lines[denied_id].response, lines[denied_id].denial_basis) == ("denied", standard)
    assert lines[denied_id].extended, "that the request was extended stays in the record"
    assert sorted(runs.deleted) == ["run-approved", "run-denied", "run-other"]


def test_7101_requests_redacted_by_an_earlier_release_lose_their_free_text_and_response_urls_too(
    compliance_store, slack, runs
):
    """An upgrade: rows redacted before free text was (redacted_at set, reason and response_url kept) are scrubbed
    by the next retention run, once (audit free_text_redacted), without being redacted again."""
    from include.slack.blocks import REJECTION_REASONS
    from include.store.schema import requests_table

    standard = REJECTION_REASONS["cannot_verify"]
    old_id, _ = _prompted(compliance_store, slack, "run-old", received=datetime(2023, 1, 5, tzinfo=UTC))
    compliance_store.record_decision(
        old_id, "reject", "U0OFFICER", reason=f"{standard}. Jane's ID is expired", response_url="https://hooks/x"
    )
    with compliance_store.engine.begin() as conn:  # what the earlier release's retention left
        conn.execute(
            requests_table.update()
            .where(requests_table.c.request_id == old_id)
            .values(name="[redacted]", redacted_at=datetime(2025, 2, 1), extension_reason="Jane's archive")
        )
    for day in (1, 2):
        with time_machine.travel(datetime(2026, 3, day, tzinfo=UTC), tick=False):
            assert watch.apply_retention(compliance_store, runs=runs) == 0
    decision = compliance_store.get_decision(old_id)
    assert (decision.reason, decision.response_url) == (standard, None)
    assert compliance_store.get_request(old_id).extension_reason is None
    events = [e["event"] for e in compliance_store.audit_trail(old_id)]
    assert events.count("free_text_redacted") == 1 and "personal_data_redacted" not in events


def test_7101_retention_replaces_the_slack_prompt_through_chat_update_once(compliance_store, slack, runs):
    """The prompt shows the name, email and photo link: past retention it is replaced (chat.update, through the one
    client factory); a Slack failure leaves it for the next day's watch, and a redacted prompt is not updated again."""
    old_id, ts = _prompted(compliance_store, slack, "run-old", received=datetime(2024, 1, 5, tzinfo=UTC))
    gone_id, gone_ts = _prompted(compliance_store, slack, "run-gone", received=datetime(2024, 1, 6, tzinfo=UTC))
    with compliance_store.engine.begin() as conn:  # the officer deleted this prompt by hand: nothing left to redact
        from include.store.schema import requests_table

        conn.execute(requests_table.update().where(requests_table.c.request_id == gone_id).values(slack_ts="1.000000"))
    slack.fail("chat.update", times=4, status=500)  # the client's 3 retries, then the call fails
    from slack_sdk.errors import SlackApiError

    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False), pytest.raises(SlackApiError):
        watch.apply_retention(compliance_store, runs=runs)
    assert slack.message(ts)["text"] == "prompt", "the failed call changed nothing: tried again tomorrow"
    assert compliance_store.get_request(old_id).redacted_at is not None, "the store is redacted all the same"
    assert sorted(runs.deleted) == ["run-gone", "run-old"], "one failure does not hold back the rest"

    with time_machine.travel(datetime(2026, 3, 2, tzinfo=UTC), tick=False):
        assert watch.apply_retention(compliance_store, runs=runs) == 0
    prompt = slack.message(ts)
    assert old_id in prompt["text"] and "retention" in prompt["text"]
    assert "prompt" not in prompt["text"] and "actions" not in repr(prompt.get("blocks"))
    events = [e["event"] for e in compliance_store.audit_trail(old_id)]
    assert events.count("review_prompt_redacted") == 1 and events.count("airflow_run_deleted") == 1
    assert "review_prompt_redacted" in [e["event"] for e in compliance_store.audit_trail(gone_id)]
    updates = len(slack.calls("chat.update"))
    with time_machine.travel(datetime(2026, 3, 3, tzinfo=UTC), tick=False):
        watch.apply_retention(compliance_store, runs=runs)
    assert len(slack.calls("chat.update")) == updates, "done once, never again"
    assert sorted(runs.deleted) == ["run-gone", "run-old"]
    assert slack.message(gone_ts)["text"] == "prompt", "an unrelated message is not touched"


def test_retention_without_the_airflow_api_connection_fails_naming_it(compliance_store, slack, monkeypatch):
    """Airflow's runs past retention cannot be deleted without connection ccpa_airflow_api: the task fails, naming
    it (the store and the prompt are redacted all the same), and the next day's watch deletes the runs."""
    from include.config import ConfigurationError

    monkeypatch.delenv("AIRFLOW_CONN_CCPA_AIRFLOW_API", raising=False)
    old_id, ts = _prompted(compliance_store, slack, "run-old", received=datetime(2024, 1, 5, tzinfo=UTC))
    with (
        time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False),
        pytest.raises(ConfigurationError, match="ccpa_airflow_api"),
    ):
        watch.apply_retention(compliance_store)
    assert compliance_store.get_request(old_id).redacted_at is not None
    assert old_id in slack.message(ts)["text"]
    runs = RecordedRuns()
    with time_machine.travel(datetime(2026, 3, 2, tzinfo=UTC), tick=False):
        assert watch.apply_retention(compliance_store, runs=runs) == 0
    assert runs.deleted == ["run-old"]


# -- the legal clock's safety net (§7021) ---------------------------------------------------------------------------


@pytest.fixture
def mail(monkeypatch, tmp_path):
    from devtools.standins.mail_sink import MailSink
    from tests.conftest import use_smtp

    with MailSink(tmp_path / "mail") as sink:
        use_smtp(monkeypatch, sink.port)
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_FROM_EMAIL", "privacy@example.com")
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_ALERT_EMAILS", "dpo@example.com, officer@example.com")
        yield sink


def _html(received) -> str:
    return received.message.get_body(preferencelist=("html",)).get_content()


def _to(sink, address: str) -> list:
    return [m for m in sink.messages() if m.message["To"] == address]


def test_7021b_undecided_at_its_due_date_expires_with_the_categories_disclosure(compliance_store, slack, mail):
    """§7021(b), §7062: no decision by the due date: the requester is told their identity could not be verified in
    time, with the categories we collect (no value, nothing about them), and the record closes."""
    from include.store import Status

    request_id, ts = _prompted(compliance_store, slack, "run-undecided")
    decided_id, _ = _prompted(compliance_store, slack, "run-decided")
    compliance_store.record_decision(decided_id, "approve", "U0APPROVER")  # its run failed later: not expired
    due = compliance_store.get_request(request_id).due_at

    with time_machine.travel(due - timedelta(seconds=1), tick=False):
        assert watch.expire_undecided(compliance_store) == 0  # the last second of the 45th day still counts
    with time_machine.travel(due + timedelta(seconds=1), tick=False):
        assert watch.expire_undecided(compliance_store) == 1
        assert watch.expire_undecided(compliance_store) == 0  # once
    [notice] = _to(mail, "jane@example.com")
    html = _html(notice)
    assert "could not verify your identity" in html
    assert "Identifiers" in html and "Commercial information" in html  # the categories we collect ...
    assert "the consumer, when ordering" in html and "payment processors" in html  # ... sources, recipients
    assert "April 15, 2026 (Pacific Time)" in html  # 01:00 PST 2 March + 44 days: the due date, in California
    assert "+1-415" not in html and "ORD-" not in html  # ... and no value
    record = compliance_store.get_request(request_id)
    assert record.status == Status.EXPIRED_UNVERIFIED and record.closed_at is not None
    assert compliance_store.get_request(decided_id).open
    prompt = slack.message(ts)
    assert "Expired undecided" in prompt["text"] and not any(b["type"] == "actions" for b in prompt["blocks"])
    # A click arriving afterwards decides nothing.
    from include.store import RequestClosed

    with pytest.raises(RequestClosed):
        compliance_store.record_decision(request_id, "approve", "U0APPROVER")


def test_7021a_acknowledgement_is_checked_against_10_business_days(compliance_store, slack, mail, monkeypatch):
    """§7021(a): an acknowledgement that failed after its retries is sent by the watch; one that still cannot be sent
    alerts the officers (Slack and email), naming the deadline in California business days."""
    # Monday 2 March 2026, 01:00 PST: ten business days end on Friday 13 March (no state holiday in between).
    first = compliance_store.register_request("run-ack", JANE, RECEIVED).request_id
    with time_machine.travel(RECEIVED + timedelta(days=1), tick=False):
        assert watch.check_acknowledgements(compliance_store) == {"resent": 1, "alerted": 0}
        assert watch.check_acknowledgements(compliance_store) == {"resent": 0, "alerted": 0}
    [ack] = _to(mail, "jane@example.com")
    assert ack.message["Subject"] == "We received your CCPA access request"

    # The mail server goes away: the acknowledgement and the alert email fail, the Slack alert still goes out.
    second = compliance_store.register_request("run-ack-2", JANE, RECEIVED + timedelta(days=2)).request_id
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        '{"conn_type": "smtp", "host": "127.0.0.1", "port": 9, '
        '"extra": {"disable_tls": true, "disable_ssl": true, "retry_limit": 0, "timeout": 2}}',
    )
    with time_machine.travel(RECEIVED + timedelta(days=3), tick=False), pytest.raises(Exception):
        watch.check_acknowledgements(compliance_store)
    [alert] = [m["text"] for m in slack.messages() if second in m.get("text", "")]
    assert "could not be sent" in alert and "2026-03-17 (America/Los_Angeles)" in alert and "jane" not in alert
    assert first not in json_dumps(slack.messages())


def json_dumps(value) -> str:
    import json

    return json.dumps(value)


def test_7021b_extension_without_its_notice_in_the_first_45_days_does_not_count(compliance_store, slack, mail):
    request_id, _ = _prompted(compliance_store, slack, "run-ext")
    original = compliance_store.get_request(request_id).due_at
    with time_machine.travel(RECEIVED + timedelta(days=10), tick=False):
        extended = compliance_store.extend(request_id, "U0APPROVER", "many datastores")
    assert extended.due_at > original
    # The notice never went out (its run stopped); after the first 45 days the extension is void.
    with time_machine.travel(original + timedelta(seconds=1), tick=False):
        assert watch.check_extension_notices(compliance_store) == {"resent": 0, "voided": 1}
        assert watch.check_extension_notices(compliance_store) == {"resent": 0, "voided": 0}
    record = compliance_store.get_request(request_id)
    assert record.due_at == original and record.extended_at is None
    [alert] = [m["text"] for m in slack.messages() if "does not count" in m.get("text", "")]
    assert request_id in alert and "2026-04-15 (America/Los_Angeles)" in alert
    assert len(_to(mail, "dpo@example.com")) == 1 and len(_to(mail, "officer@example.com")) == 1
    assert _to(mail, "jane@example.com") == []


def test_7021b_extension_notice_still_in_time_is_sent_by_the_watch(compliance_store, slack, mail):
    request_id, _ = _prompted(compliance_store, slack, "run-ext-2")
    with time_machine.travel(RECEIVED + timedelta(days=10), tick=False):
        compliance_store.extend(request_id, "U0APPROVER", "many datastores")
    with time_machine.travel(RECEIVED + timedelta(days=11), tick=False):
        assert watch.check_extension_notices(compliance_store) == {"resent": 1, "voided": 0}
    [notice] = _to(mail, "jane@example.com")
    assert "we need more time" in notice.message["Subject"]
    assert compliance_store.get_request(request_id).extended_at is not None


def test_an_uploaded_photo_id_left_behind_is_deleted_with_the_report_files(compliance_store, slack, monkeypatch):
    from include.requester import uploads

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "watch-test-secret-0123456789")
    photo = uploads.save(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    record = compliance_store.register_request(
        "run-photo", AccessRequest("Jane Doe", "jane@example.com", photo.link), RECEIVED
    )
    with time_machine.travel(RECEIVED + timedelta(days=1), tick=False):
        compliance_store.record_decision(record.request_id, "reject", "U0OFFICER")
        compliance_store.set_status(record.request_id, "rejected_notified")
    stored = uploads.stored_url_of(photo.link)
    assert stored is not None
    from include import storage

    assert storage.resolve(stored).exists()
    with time_machine.travel(RECEIVED + timedelta(days=5), tick=False):
        watch.purge_report_files(compliance_store)
    assert not storage.resolve(stored).exists()
    assert "photo_id_deleted" in [e["event"] for e in compliance_store.audit_trail(record.request_id)]


def test_open_requests_without_a_prompt_after_an_hour_are_emailed_to_the_officers_once(
    compliance_store, slack, monkeypatch, tmp_path
):
    from devtools.standins.mail_sink import MailSink
    from tests.conftest import use_smtp

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_ALERT_EMAILS", "dpo@example.com")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_FROM_EMAIL", "privacy@example.com")
    stuck = compliance_store.register_request("manual__no_prompt", JANE, RECEIVED).request_id
    compliance_store.register_request("manual__just_arrived", JANE, RECEIVED + timedelta(minutes=90))
    _prompted(compliance_store, slack, "manual__prompted")
    with MailSink(tmp_path / "mail") as sink:
        use_smtp(monkeypatch, sink.port)
        now = RECEIVED + timedelta(hours=2)
        assert watch.alert_missing_prompts(compliance_store, now) == 1
        assert watch.alert_missing_prompts(compliance_store, now) == 0, "once per request"
        [alert] = sink.messages()
    assert alert.envelope_to == ["dpo@example.com"]
    assert stuck in str(alert.message["Subject"]) and "jane" not in alert.raw.decode().lower()
