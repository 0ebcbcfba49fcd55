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


def test_retention_redacts_and_deletes_files_after_24_months(compliance_store, slack, tmp_path):
    from include import storage

    old_id, _ = _prompted(compliance_store, slack, "run-old", received=datetime(2024, 1, 5, tzinfo=UTC))
    (storage.request_dir(old_id) / "report.json").write_text('{"name": "Jane Doe"}')
    recent_id, _ = _prompted(compliance_store, slack, "run-recent", received=datetime(2025, 6, 1, tzinfo=UTC))
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        assert watch.apply_retention(compliance_store) == 1
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
