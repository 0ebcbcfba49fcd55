"""Email to the requester is sent exactly once, over SMTP or Gmail."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from devtools.standins.mail_sink import MailSink
from include.mail.message import Email
from include.mail.send import send_once
from include.request import AccessRequest
from include.store import DeliveryInDoubt
from tests.conftest import use_smtp

RECEIVED = datetime(2026, 11, 27, tzinfo=UTC)


@pytest.fixture
def sink(tmp_path, monkeypatch):
    with MailSink(tmp_path / "mail") as sink:
        use_smtp(monkeypatch, sink.port)
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_FROM_EMAIL", "privacy@example.com")
        yield sink


@pytest.fixture
def request_id(compliance_store):
    return compliance_store.register_request(
        "manual__notify", AccessRequest("Jane Doe", "jane@example.com", "https://x.example/id"), RECEIVED
    ).request_id


EMAIL = Email(subject="Your report", html="<p>hello</p>")


def test_a_retried_send_does_not_send_twice(sink, compliance_store, request_id):
    first = send_once(compliance_store, request_id, "report", "jane@example.com", EMAIL)
    second = send_once(compliance_store, request_id, "report", "jane@example.com", EMAIL)
    assert first == second
    [mail] = sink.wait_for(1)
    assert mail.message["Message-ID"] == first
    assert mail.message["To"] == "jane@example.com" and mail.message["From"] == "privacy@example.com"
    assert len(sink.messages()) == 1
    events = compliance_store.audit_trail(request_id)
    assert [e["detail"]["message_id"] for e in events if e["event"] == "email_sent"] == [first]


def test_a_send_that_certainly_failed_can_be_retried(sink, compliance_store, request_id, monkeypatch):
    good_conn = json.loads(os.environ["AIRFLOW_CONN_SMTP_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({**good_conn, "port": 1}))
    with pytest.raises(Exception):
        send_once(compliance_store, request_id, "report", "jane@example.com", EMAIL)
    assert sink.messages() == []
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(good_conn))
    send_once(compliance_store, request_id, "report", "jane@example.com", EMAIL)
    assert len(sink.wait_for(1)) == 1


def test_a_send_in_doubt_is_never_repeated(sink, compliance_store, request_id):
    compliance_store.claim_delivery(request_id, "report", "<crashed-mid-send@example.com>")
    with pytest.raises(DeliveryInDoubt, match="check the mail server"):
        send_once(compliance_store, request_id, "report", "jane@example.com", EMAIL)
    assert sink.messages() == []


@pytest.mark.parametrize(
    ("address", "smtp_form"),
    [
        ("jane.doe@example.com", "jane.doe@example.com"),
        ("o'brien+x\"--@example.com", '"o\'brien+x\\"--"@example.com'),
        ("a b@example.com", '"a b"@example.com'),
    ],
)
def test_mailbox_quotes_local_parts_smtplib_would_cut(address, smtp_form):
    import smtplib

    from include.mail.message import mailbox

    assert mailbox(address) == smtp_form
    assert smtplib.quoteaddr(mailbox(address)) == f"<{smtp_form}>"


@pytest.fixture
def gmail(tmp_path, monkeypatch):
    from devtools.standins.gmail_api import GmailStandIn

    with GmailStandIn(tmp_path / "gmail", tokens=["ya29.stand-in"]) as standin:
        monkeypatch.setenv(
            "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT",
            json.dumps(
                {
                    "conn_type": "google_cloud_platform",
                    "extra": {"api_endpoint": standin.api_endpoint, "access_token": "ya29.stand-in"},
                }
            ),
        )
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_EMAIL_BACKEND", "gmail")
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_FROM_EMAIL", "privacy@example.com")
        yield standin


def test_gmail_backend_sends_exactly_the_bytes_built_once(gmail, compliance_store, request_id, monkeypatch):
    from include.mail import send as notify
    from include.mail.message import Attachment

    built = {}
    real_build = notify.build_message

    def keep(**kwargs):
        msg = real_build(**kwargs)
        built.setdefault("msg", msg)  # the first one is the one sent
        return msg

    monkeypatch.setattr(notify, "build_message", keep)  # observe, not replace: the real builder runs
    attachment = Attachment("report.json", "application/json", b'{"a": 1}')
    first = send_once(compliance_store, request_id, "report", "jane@example.com", EMAIL, [attachment])
    again = send_once(compliance_store, request_id, "report", "jane@example.com", EMAIL, [attachment])
    assert first == again
    [mail] = gmail.wait_for(1)
    assert mail.raw == built["msg"].as_bytes()
    assert mail.message["Message-ID"] == first and len(gmail.messages()) == 1
    [sent] = [e for e in compliance_store.audit_trail(request_id) if e["event"] == "email_sent"]
    assert sent["detail"]["backend"] == "gmail" and sent["detail"]["provider_id"] == gmail.accepted()[0]["id"]


def test_gmail_refusal_is_certain_so_the_retry_may_send(gmail, compliance_store, request_id, monkeypatch):
    good = os.environ["AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"]
    bad = json.loads(good)
    bad["extra"]["access_token"] = "ya29.revoked"
    monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", json.dumps(bad))
    with pytest.raises(Exception, match=r"401|Unauthorized|UNAUTHENTICATED"):
        send_once(compliance_store, request_id, "report", "jane@example.com", EMAIL)
    monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", good)
    send_once(compliance_store, request_id, "report", "jane@example.com", EMAIL)
    assert len(gmail.wait_for(1)) == 1


def test_unknown_backend_is_a_clear_error(sink, compliance_store, request_id, monkeypatch):
    from include.config import ConfigurationError

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_EMAIL_BACKEND", "pigeon")
    with pytest.raises(ConfigurationError, match="ccpa_email_backend"):
        send_once(compliance_store, request_id, "report", "jane@example.com", EMAIL)
    assert sink.messages() == []


def test_a_non_ascii_address_is_sent_with_smtputf8(sink, compliance_store, request_id):
    send_once(compliance_store, request_id, "report", "josé@example.com", EMAIL)
    [mail] = sink.wait_for(1)
    assert mail.envelope_to == ["josé@example.com"]
    assert mail.message["To"] == "josé@example.com"


def test_without_smtputf8_a_non_ascii_address_is_refused_clearly_and_not_left_in_doubt(
    compliance_store, request_id, monkeypatch, tmp_path
):
    from include.mail.send import SMTPUTF8Unavailable

    with MailSink(tmp_path / "old", smtputf8=False) as old_server:
        use_smtp(monkeypatch, old_server.port)
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_FROM_EMAIL", "privacy@example.com")
        with pytest.raises(SMTPUTF8Unavailable, match="does not offer SMTPUTF8") as err:
            send_once(compliance_store, request_id, "report", "josé@example.com", EMAIL)
        assert "josé" not in str(err.value)
        assert old_server.messages() == []
    assert "report" not in compliance_store.done_kinds(request_id), "released, not in doubt: a retry may send"


def test_drill_the_database_restarting_as_the_email_is_accepted_leaves_it_sent_once_not_in_doubt(
    compliance_store, request_id, sink
):
    """MariaDB drops the connection confirming a delivery the SMTP server has just accepted (its row locked, then
    the waiting UPDATE's connection killed): the confirmation is tried again on a fresh connection, so the delivery is
    recorded as sent, not left "in doubt"; a retry of the task does not send it again."""
    import threading
    import time

    from sqlalchemy import create_engine, text

    from tests.conftest import MYSQL_URL

    database = compliance_store.engine.url.database
    admin = create_engine(f"{MYSQL_URL}/{database}")
    drill: dict[str, object] = {}

    def restart_while_accepting() -> None:
        holder = admin.connect()
        tx = holder.begin()
        holder.execute(text("SELECT status FROM ccpa_deliveries WHERE request_id = :r FOR UPDATE"), {"r": request_id})

        def kill_the_confirmation() -> None:
            deadline = time.monotonic() + 10
            with admin.connect() as conn:
                while time.monotonic() < deadline:
                    waiting = conn.execute(
                        text(
                            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = :db "
                            "AND INFO LIKE 'UPDATE ccpa_deliveries%'"
                        ),
                        {"db": database},
                    ).all()
                    if waiting:
                        for row in waiting:
                            conn.execute(text(f"KILL CONNECTION {int(row.ID)}"))
                        drill["killed"] = len(waiting)
                        break
                    time.sleep(0.02)
            time.sleep(0.5)
            tx.rollback()  # the database is back
            holder.close()

        threading.Thread(target=kill_the_confirmation, daemon=True).start()

    sink.before_accepting(restart_while_accepting)
    started = time.monotonic()
    message_id = send_once(compliance_store, request_id, "report", "jane@example.com", EMAIL)
    elapsed = time.monotonic() - started
    admin.dispose()

    assert drill.get("killed"), "the confirmation's connection was killed while it waited"
    assert len(sink.messages()) == 1
    assert "report" in compliance_store.done_kinds(request_id)
    sent = [e for e in compliance_store.audit_trail(request_id) if e["event"] == "email_sent"]
    assert len(sent) == 1 and sent[0]["detail"]["message_id"] == message_id
    assert send_once(compliance_store, request_id, "report", "jane@example.com", EMAIL) == message_id
    assert len(sink.messages()) == 1, "a retried task does not send it again"
    print(f"\nconfirmed {elapsed:.1f}s after the send began, after the kill")


def test_mail_goes_over_starttls_with_the_shared_context(tmp_path, monkeypatch, compliance_store, request_id):
    """A server that requires STARTTLS (as a submission server does) gets the message encrypted, its certificate
    verified by the process's one TLS context (include/tls.py)."""
    from devtools.standins.tls import self_signed, server_context
    from include import tls

    cert, key = self_signed(tmp_path / "ca")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.setattr(tls, "_context", None)
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_FROM_EMAIL", "privacy@example.com")
    with MailSink(tmp_path / "mail", tls=server_context(cert, key)) as tls_sink:
        conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": tls_sink.port}
        conn["extra"] = {"disable_ssl": True, "retry_limit": 0, "timeout": 10}  # STARTTLS on (the default)
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(conn))
        message_id = send_once(compliance_store, request_id, "report", "jane@example.com", EMAIL)
        [mail] = tls_sink.wait_for(1)
    assert mail.message["Message-ID"] == message_id  # the sink stores nothing sent before STARTTLS (next test)


def test_the_mail_stand_in_with_tls_refuses_a_client_that_skips_starttls(tmp_path):
    """The stand-in models a server that requires STARTTLS: a client that skips it is refused, nothing stored."""
    import smtplib

    from devtools.standins.tls import self_signed, server_context

    cert, key = self_signed(tmp_path / "ca")
    with MailSink(tmp_path / "mail", tls=server_context(cert, key)) as tls_sink:
        with (
            smtplib.SMTP("127.0.0.1", tls_sink.port, timeout=10) as client,
            pytest.raises(smtplib.SMTPSenderRefused, match="STARTTLS"),
        ):
            client.sendmail("privacy@example.com", ["jane@example.com"], b"Subject: x\r\n\r\nhi\r\n")
        assert tls_sink.messages() == []
