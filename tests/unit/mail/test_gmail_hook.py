"""GmailHook with the real google-api-python-client against the local Gmail API stand-in: no mocks.

"The bytes built" is :meth:`GmailHook.mime_bytes`: raw ``bytes`` as given, an ``email.message.Message`` as
``as_bytes()`` with its own policy and CRLF line endings (for an ``EmailMessage`` that is ``policy.SMTP``).
The stand-in stores the decoded ``raw`` untouched, so the .eml must equal those bytes exactly.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import googleapiclient
import pytest
import requests
from googleapiclient.errors import HttpError

from devtools.standins import gmail_api
from devtools.standins.gmail_api import GmailStandIn
from devtools.standins.mail_sink import read_mail
from include.mail.hooks.gmail import GMAIL_SEND_SCOPE, MAX_MESSAGE_BYTES, GmailHook, MessageTooLarge

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "ya29.stand-in"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[GmailStandIn]:
    with GmailStandIn(tmp_path / "gmail") as server:
        yield server
    assert not [t for t in threading.enumerate() if t.name.startswith("gmail-standin")]


def set_conn(monkeypatch: pytest.MonkeyPatch, **extra: object) -> None:
    conn = {"conn_type": "google_cloud_platform", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", json.dumps(conn))


@pytest.fixture
def hook(standin: GmailStandIn, monkeypatch: pytest.MonkeyPatch) -> GmailHook:
    set_conn(monkeypatch, api_endpoint=standin.api_endpoint, access_token=TOKEN)
    return GmailHook()


def report_mail(to: str = "requester@example.com") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Privacy Office <privacy@example.com>"
    msg["To"] = to
    msg["Subject"] = "Your CCPA data report — Auskunft über Ihre Daten"
    msg.set_content("Dear requester,\n\nyour report is attached.\n")
    msg.add_alternative("<p>Dear requester,</p><p>your report is attached.</p>", subtype="html")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    return msg


def post_raw(standin: GmailStandIn, body: object, token: str | None = TOKEN) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(standin.send_url, json=body, headers=headers, timeout=30)


# ---------------------------------------------------------------------- building the client


def test_client_builds_offline_from_bundled_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "gmail.v1.json"
    assert bundled.is_file()
    set_conn(monkeypatch, access_token=TOKEN)  # no endpoint, no internet: only static discovery can build this
    hook = GmailHook()
    assert hook.get_conn() is hook.get_conn()
    assert hook.get_conn()._baseUrl == "https://gmail.googleapis.com/"
    assert hook.scopes == [GMAIL_SEND_SCOPE]

    set_conn(monkeypatch, access_token=TOKEN, api_endpoint="http://127.0.0.1:9/")  # nothing listens there
    assert GmailHook().get_conn()._baseUrl == "http://127.0.0.1:9/"
    assert GmailHook(api_endpoint="http://127.0.0.1:10/").get_conn()._baseUrl == "http://127.0.0.1:10/"


def test_access_token_excludes_key_options(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, access_token=TOKEN, key_path="/nonexistent/key.json")
    with pytest.raises(Exception, match="cannot be combined"):
        GmailHook().get_credentials()


def test_service_account_is_delegated_to_the_mailbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production path, offline: a service-account key, gmail.send, the mailbox as the JWT subject."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.oauth2 import service_account

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    key = {
        "type": "service_account",
        "project_id": "ccpa-demo",
        "private_key_id": "0" * 40,
        "private_key": pem,
        "client_email": "gmail-sender@ccpa-demo.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    set_conn(monkeypatch, keyfile_dict=json.dumps(key), delegate_to="privacy@example.com")
    credentials = GmailHook().get_credentials()
    assert isinstance(credentials, service_account.Credentials)
    assert credentials._subject == "privacy@example.com"
    assert list(credentials.scopes) == [GMAIL_SEND_SCOPE]
    # the constructor wins over the extra; the extra "scope" overrides gmail.send
    set_conn(monkeypatch, keyfile_dict=json.dumps(key), delegate_to="x@example.com", scope="https://mail.google.com/")
    credentials = GmailHook(delegate_to="privacy@example.com").get_credentials()
    assert credentials._subject == "privacy@example.com"
    assert list(credentials.scopes) == ["https://mail.google.com/"]


def test_delegation_needs_service_account_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, is_anonymous=True)
    with pytest.raises(Exception, match="delegate_to needs service-account credentials"):
        GmailHook(delegate_to="privacy@example.com").get_credentials()


# ---------------------------------------------------------------------- sending


def test_multipart_with_attachment_arrives_byte_for_byte(hook: GmailHook, standin: GmailStandIn) -> None:
    msg = report_mail()
    answer = hook.send_message(msg)

    [stored] = standin.wait_for(1)
    assert stored.raw == GmailHook.mime_bytes(msg) == msg.as_bytes(policy=policy.SMTP)
    assert stored.raw.count(b"\n") == stored.raw.count(b"\r\n")  # CRLF wire form, no bare LF
    [accepted] = standin.accepted()
    assert answer == {"id": accepted["id"], "threadId": accepted["threadId"], "labelIds": ["SENT"]}
    assert len(answer["id"]) == 16 and int(answer["id"], 16)
    assert accepted["user_id"] == "me" and Path(accepted["path"]) == stored.path

    parsed = stored.message
    assert parsed["Subject"] == msg["Subject"]
    [attachment] = list(parsed.iter_attachments())
    assert attachment.get_filename() == "report.pdf" and attachment.get_content() == PDF
    assert stored.envelope_to == ["requester@example.com"]


def test_compat32_message_and_raw_bytes_are_sent_as_built(hook: GmailHook, standin: GmailStandIn) -> None:
    legacy = MIMEMultipart()
    legacy["To"] = "requester@example.com"
    legacy["Subject"] = "report"
    legacy.attach(MIMEText("see attachment\n"))
    legacy.attach(MIMEApplication(PDF, Name="report.pdf"))
    hook.send_message(legacy)
    # bytes are never rewritten: LF line endings stay LF
    raw = b"To: requester@example.com\nSubject: plain\n\nbody\n"
    hook.send_message(raw, user_id="privacy@example.com")

    first, second = standin.wait_for(2)
    assert first.raw == GmailHook.mime_bytes(legacy) == legacy.as_bytes(policy=legacy.policy.clone(linesep="\r\n"))
    assert second.raw == raw
    assert [a["user_id"] for a in standin.accepted()] == ["me", "privacy@example.com"]
    assert len(read_mail(standin.directory)) == 2


def test_missing_token_is_refused_with_401(standin: GmailStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, api_endpoint=standin.api_endpoint, is_anonymous=True)  # no Authorization header
    with pytest.raises(HttpError) as err:
        GmailHook().send_message(report_mail())
    assert err.value.status_code == 401
    assert err.value.error_details[0]["reason"] == "required"
    assert standin.messages() == [] and standin.request_count == 1


def test_unknown_token_is_refused_when_tokens_are_pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with GmailStandIn(tmp_path / "pinned", tokens=["ya29.good"]) as pinned:
        set_conn(monkeypatch, api_endpoint=pinned.api_endpoint, access_token="ya29.bad")
        with pytest.raises(HttpError) as err:
            GmailHook().send_message(report_mail())
        assert err.value.status_code == 401
        set_conn(monkeypatch, api_endpoint=pinned.api_endpoint, access_token="ya29.good")
        assert GmailHook().send_message(report_mail())["labelIds"] == ["SENT"]


def test_message_over_25_mb_is_refused_before_any_http_call(hook: GmailHook, standin: GmailStandIn) -> None:
    assert MAX_MESSAGE_BYTES == gmail_api.MAX_MESSAGE_BYTES == 25 * 1024 * 1024
    head = b"To: requester@example.com\r\nSubject: big\r\n\r\n"
    too_big = head + b"x" * (MAX_MESSAGE_BYTES - len(head) + 1)
    with pytest.raises(MessageTooLarge, match="before base64") as err:
        hook.send_message(too_big)
    assert err.value.size == MAX_MESSAGE_BYTES + 1
    assert standin.request_count == 0

    # the stand-in refuses an oversize raw on its own too (Gmail checks the decoded message, not the base64)
    resp = post_raw(standin, {"raw": base64.urlsafe_b64encode(too_big).decode()})
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == 413
    assert standin.messages() == []


def test_size_limit_counts_decoded_bytes_and_includes_the_limit(tmp_path: Path) -> None:
    head = b"To: requester@example.com\r\n\r\n"
    with GmailStandIn(tmp_path / "small", max_message_bytes=1000) as small:
        for size, status in ((1000, 200), (1001, 413), (999, 200), (998, 200)):  # every padding length
            raw = head + b"y" * (size - len(head))
            padded = base64.urlsafe_b64encode(raw).decode()
            assert post_raw(small, {"raw": padded}).status_code == status, size
            assert post_raw(small, {"raw": padded.rstrip("=")}).status_code == status, size
        assert [m["size"] for m in small.accepted()] == [1000, 1000, 999, 999, 998, 998]


def test_invalid_base64_is_refused_with_400(hook: GmailHook, standin: GmailStandIn) -> None:
    good = base64.urlsafe_b64encode(b"To: requester@example.com\r\n\r\nbody\r\n").decode()
    # not base64 at all; the standard alphabet's + and /; a length no encoding produces; not a string
    for raw in ("not base64!", "a+b/" + good, "QUJDR", 42):
        resp = post_raw(standin, {"raw": raw})
        assert resp.status_code == 400, raw
        assert resp.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert post_raw(standin, {"raw": good.rstrip("=")}).status_code == 200  # padding is optional


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "'raw' RFC822 payload message string"),
        ([], "Invalid JSON payload"),
        ({"raw": base64.urlsafe_b64encode(b"Subject: nobody\r\n\r\nbody\r\n").decode()}, "Recipient address required"),
        ({"raw": base64.urlsafe_b64encode(b"To: nobody\r\n\r\nbody\r\n").decode()}, "Invalid To header"),
    ],
)
def test_standin_checks_like_gmail(standin: GmailStandIn, body: object, message: str) -> None:
    resp = post_raw(standin, body)
    assert resp.status_code == 400
    assert resp.json()["error"]["message"].startswith(message)
    assert post_raw(standin, body, token=None).status_code == 401  # authentication is checked first
    assert standin.messages() == []


def test_message_without_recipient_raises_from_the_hook(hook: GmailHook, standin: GmailStandIn) -> None:
    with pytest.raises(HttpError) as err:
        hook.send_message(b"Subject: nobody\r\n\r\nbody\r\n")
    assert err.value.status_code == 400 and "Recipient address required" in str(err.value)


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.standins.gmail_api", "--port", "0", "--dir", str(tmp_path / "cli")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        raw = base64.urlsafe_b64encode(b"To: requester@example.com\r\n\r\nhi\r\n").decode()
        resp = requests.post(
            f"{url}/gmail/v1/users/me/messages/send",
            json={"raw": raw},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert resp.status_code == 200 and resp.json()["labelIds"] == ["SENT"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert [m.raw for m in read_mail(tmp_path / "cli")] == [b"To: requester@example.com\r\n\r\nhi\r\n"]
