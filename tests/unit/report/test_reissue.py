"""Re-issuing an expired download link: ``python -m include.report.downloads reissue <request_id>`` on the real
MariaDB store, the SMTP sink and local (file://) report storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from include.report import downloads
from include.request import AccessRequest
from include.store import REJECTION, REPORT
from tests.conftest import use_smtp

RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SENT = RECEIVED + timedelta(days=3)
FIRST_EXPIRY = SENT + timedelta(hours=72)
LATER = SENT + timedelta(days=5)  # the first link expired
JANE = AccessRequest("Jane Doe", "jane@example.com", "https://x.example/id")


@pytest.fixture
def mail(monkeypatch, tmp_path):
    from devtools.standins.mail_sink import MailSink

    with MailSink(tmp_path / "mail") as sink:
        use_smtp(monkeypatch, sink.port)
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_FROM_EMAIL", "privacy@example.com")
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path / 'reports'}")
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "reissue-test-secret-0123456789")
        yield sink


def _delivered(store, run_id: str = "run-1", *, link: bool = True) -> str:
    """A report delivered on SENT; with ``link`` by a download link valid 72 hours, its ZIP in storage."""
    from include import storage

    request_id = store.register_request(run_id, JANE, RECEIVED).request_id
    with time_machine.travel(SENT, tick=False):
        store.record_decision(request_id, "approve", "U0OFFICER")
        if link:
            (storage.request_dir(request_id) / downloads.ZIP_NAME).write_bytes(b"PK zip")
            store.audit(request_id, "download_link_issued", detail={"expires_at": FIRST_EXPIRY.isoformat()})
        assert store.claim_delivery(request_id, REPORT, "<r@mail>") is None
        store.confirm_delivery(request_id, REPORT, "<r@mail>")
        store.set_status(request_id, "completed")
    return request_id


def _issued(store, request_id):
    return [e["detail"] for e in store.audit_trail(request_id) if e["event"] == "download_link_issued"]


def test_an_expired_link_is_reissued_emailed_exactly_once_and_audited(compliance_store, mail, capsys):
    request_id = _delivered(compliance_store)
    with time_machine.travel(LATER, tick=False):
        assert downloads.main(["reissue", request_id], store=compliance_store) == 0
    [sent] = mail.messages()
    assert sent.message["To"] == "jane@example.com"
    body = sent.message.get_body(preferencelist=("html",)).get_content()
    token = body.split("/ccpa/download/")[1].split('"')[0]
    with time_machine.travel(LATER + timedelta(hours=1), tick=False):
        assert downloads.read_token(token) == request_id, "the new link opens the same report"
    assert "new download link" in sent.message["Subject"]
    assert _issued(compliance_store, request_id)[-1] == {
        "expires_at": (LATER + timedelta(hours=72)).isoformat(),
        "reissue": 1,
    }
    assert "valid until" in capsys.readouterr().err

    with time_machine.travel(LATER + timedelta(hours=1), tick=False):  # the new link still works: refused
        assert downloads.main(["reissue", request_id], store=compliance_store) == 2
    assert "works until" in capsys.readouterr().err and len(mail.messages()) == 1
    with time_machine.travel(LATER + timedelta(days=4), tick=False):  # expired again: one more, and only one
        assert downloads.main(["reissue", request_id], store=compliance_store) == 0
    assert len(mail.messages()) == 2
    assert [d.get("reissue") for d in _issued(compliance_store, request_id)] == [None, 1, 2]


def test_a_send_that_fails_records_no_link_and_the_next_invocation_sends_it(compliance_store, mail, monkeypatch):
    import socket

    from include.db import dispose_all

    request_id = _delivered(compliance_store)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    use_smtp(monkeypatch, dead_port)  # nothing listens: the email certainly did not leave
    dispose_all()
    with time_machine.travel(LATER, tick=False), pytest.raises(OSError):
        downloads.main(["reissue", request_id], store=compliance_store)
    assert len(_issued(compliance_store, request_id)) == 1, "no link recorded as issued: none was sent"
    use_smtp(monkeypatch, mail.port)
    with time_machine.travel(LATER, tick=False):
        assert downloads.main(["reissue", request_id], store=compliance_store) == 0
    assert len(mail.messages()) == 1


@pytest.mark.parametrize("case", ["unknown", "open", "rejected", "attachments", "purged", "redacted"])
def test_reissue_is_refused_with_a_clear_error_and_changes_nothing(compliance_store, mail, capsys, case):
    from include import storage

    store = compliance_store
    if case == "unknown":
        request_id, expected = "f" * 32, "no request"
    elif case == "open":
        request_id, expected = store.register_request("run-open", JANE, RECEIVED).request_id, "awaiting|received"
    elif case == "rejected":
        request_id = store.register_request("run-rejected", JANE, RECEIVED).request_id
        store.record_decision(request_id, "reject", "U0OFFICER", reason="x")
        assert store.claim_delivery(request_id, REJECTION, "<x@mail>") is None
        store.confirm_delivery(request_id, REJECTION, "<x@mail>")
        store.set_status(request_id, "rejected_notified")
        expected = "rejected_notified"
    elif case == "attachments":
        request_id, expected = _delivered(store, link=False), "attachments"
    elif case == "purged":
        request_id, expected = _delivered(store), "deleted"
        (storage.request_dir(request_id) / downloads.ZIP_NAME).unlink()
    else:
        request_id, expected = _delivered(store), "retention"
        from include.store import records

        with time_machine.travel(SENT + timedelta(days=800), tick=False):
            assert records.redact_older_than(store, 24) == [request_id]
    before = [] if case == "unknown" else store.audit_trail(request_id)
    with time_machine.travel(LATER, tick=False):
        assert downloads.main(["reissue", request_id], store=store) == 2
    err = capsys.readouterr().err
    assert err.startswith("refused:") and any(word in err for word in expected.split("|")), err
    assert "jane" not in err.lower(), "no personal data in the message"
    assert mail.messages() == []
    assert ([] if case == "unknown" else store.audit_trail(request_id)) == before
