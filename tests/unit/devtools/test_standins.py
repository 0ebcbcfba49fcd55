"""The offline stand-ins, exercised with the real clients the project uses: slack_sdk and smtplib."""

from __future__ import annotations

import json
import smtplib
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Self

import pytest
import requests
from flask import Flask, request
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient
from werkzeug.serving import make_server

from devtools.standins.mail_sink import MailSink
from devtools.standins.slack_emulator import RESPONSE_URL_MAX_USES, SlackEmulator

SECRET = "test-signing-secret"

BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "A request needs a decision"}},
    {
        "type": "actions",
        "block_id": "ccpa_decision",
        "elements": [
            {
                "type": "button",
                "action_id": "ccpa_approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": "req-123",
            },
            {
                "type": "button",
                "action_id": "ccpa_reject",
                "text": {"type": "plain_text", "text": "Reject"},
                "style": "danger",
                "value": "req-123",
            },
        ],
    },
]


class Receiver:
    """The app's interactivity endpoint: verifies Slack's signature like the real callback and records payloads."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.rejected = 0
        app = Flask(__name__)

        @app.post("/slack/actions")
        def actions() -> tuple[str, int]:
            body = request.get_data(as_text=True)
            ok = SignatureVerifier(SECRET).is_valid(
                body=body,
                timestamp=request.headers.get("X-Slack-Request-Timestamp", ""),
                signature=request.headers.get("X-Slack-Signature", ""),
            )
            if not ok:
                self.rejected += 1
                return "invalid signature", 401
            assert request.mimetype == "application/x-www-form-urlencoded"
            assert list(request.form) == ["payload"]
            self.payloads.append(json.loads(request.form["payload"]))
            return "", 200

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/slack/actions"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rec:
        yield rec


@pytest.fixture
def emu(receiver: Receiver) -> Iterator[SlackEmulator]:
    with SlackEmulator(SECRET, callback_url=receiver.url) as emulator:
        yield emulator


@pytest.fixture
def client(emu: SlackEmulator) -> WebClient:
    return WebClient(token="xoxb-test", base_url=emu.api_url, timeout=5)


def test_post_update_and_inspect(emu: SlackEmulator, client: WebClient) -> None:
    assert client.auth_test()["user_id"]
    posted = client.chat_postMessage(channel="#ccpa", text="decide", blocks=BLOCKS)
    assert posted["ok"] and posted["channel"].startswith("C")
    assert posted["ts"].split(".")[1].isdigit() and len(posted["ts"].split(".")[1]) == 6
    reply = client.chat_postMessage(channel=posted["channel"], text="in thread", thread_ts=posted["ts"])
    assert reply["ts"] != posted["ts"]

    client.chat_update(channel=posted["channel"], ts=posted["ts"], text="decided", blocks=[])
    msgs = emu.messages("#ccpa")
    assert [m["ts"] for m in msgs] == [posted["ts"], reply["ts"]]
    assert msgs[0]["text"] == "decided" and msgs[0]["blocks"] == []
    assert msgs[0]["history"][0]["blocks"] == BLOCKS
    assert msgs[0]["response_url"].startswith(f"{emu.url}/response/")
    assert msgs[1]["thread_ts"] == posted["ts"]
    assert emu.messages("#elsewhere") == []
    assert requests.get(f"{emu.url}/_emulator/messages", timeout=5).json()[0]["ts"] == posted["ts"]

    client.chat_postEphemeral(channel="#ccpa", user="U1", text="psst")
    assert emu.ephemerals()[0]["user"] == "U1"


def test_slack_errors(emu: SlackEmulator, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        WebClient(token="", base_url=emu.api_url).auth_test()
    assert err.value.response["error"] == "not_authed"
    for call, error in [
        (lambda: client.chat_postMessage(channel="", text="x"), "channel_not_found"),
        (lambda: client.api_call("chat.postMessage", json={"channel": "#ccpa"}), "no_text"),
        (lambda: client.chat_update(channel="#ccpa", ts="1.000001", text="x"), "message_not_found"),
        (lambda: client.api_call("nope.nothing"), "unknown_method"),
    ]:
        with pytest.raises(SlackApiError) as err:
            call()
        assert err.value.response["error"] == error


def test_form_encoded_bodies(emu: SlackEmulator) -> None:
    resp = requests.post(
        f"{emu.api_url}chat.postMessage",
        data={"channel": "C0FORM", "blocks": json.dumps(BLOCKS)},
        headers={"Authorization": "Bearer xoxb-test"},
        timeout=5,
    ).json()
    assert resp["ok"] and resp["channel"] == "C0FORM"
    assert emu.messages("C0FORM")[0]["blocks"] == BLOCKS


def test_click_sends_signed_block_actions(emu: SlackEmulator, client: WebClient, receiver: Receiver) -> None:
    posted = client.chat_postMessage(channel="#ccpa", text="decide", blocks=BLOCKS)
    status, _ = emu.click(posted["ts"], "ccpa_reject", user_id="U0OFFICER")
    assert status == 200 and receiver.rejected == 0
    payload = receiver.payloads[-1]
    message = emu.messages()[0]
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U0OFFICER"
    assert payload["actions"][0]["action_id"] == "ccpa_reject"
    assert payload["actions"][0]["value"] == "req-123"
    assert payload["actions"][0]["block_id"] == "ccpa_decision"
    assert payload["actions"][0]["type"] == "button" and payload["actions"][0]["style"] == "danger"
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": posted["channel"],
        "is_ephemeral": False,
    }
    assert payload["response_url"] == message["response_url"]
    assert payload["message"]["blocks"] == BLOCKS and payload["trigger_id"]
    assert payload["channel"]["id"] == posted["channel"]

    with pytest.raises(LookupError):
        emu.click(posted["ts"], "no_such_button")

    over_http = requests.post(
        f"{emu.url}/_emulator/click", json={"action_id": "ccpa_approve", "user_id": "U2"}, timeout=5
    ).json()
    assert over_http["status"] == 200 and receiver.payloads[-1]["user"]["id"] == "U2"


def test_forged_requests_fail_verification(emu: SlackEmulator, receiver: Receiver) -> None:
    assert emu.send_signed({"type": "block_actions"}, secret="wrong")[0] == 401
    assert emu.send_signed({"type": "block_actions"}, timestamp=int(time.time()) - 3600)[0] == 401
    assert receiver.rejected == 2 and receiver.payloads == []
    assert emu.send_signed({"type": "block_actions"})[0] == 200


def test_response_url(emu: SlackEmulator, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="#ccpa", text="decide", blocks=BLOCKS)
    emu.click(posted["ts"], "ccpa_approve", user_id="U0OFFICER")
    url = emu.messages()[0]["response_url"]
    hook = WebhookClient(url, timeout=5)
    assert hook.send_dict({"response_type": "ephemeral", "replace_original": False, "text": "no"}).status_code == 200
    assert emu.ephemerals()[0]["user"] == "U0OFFICER"
    assert hook.send_dict({"replace_original": True, "text": "approved", "blocks": []}).status_code == 200
    assert emu.wait_for_message(lambda m: m["text"] == "approved", timeout=1)["blocks"] == []
    assert hook.send_dict({"text": "a new message"}).status_code == 200
    assert [m["text"] for m in emu.messages()] == ["approved", "a new message"]
    assert hook.send_dict({"delete_original": True}).status_code == 200
    assert [m["text"] for m in emu.messages()] == ["a new message"]
    assert RESPONSE_URL_MAX_USES == 5
    assert hook.send_dict({"text": "sixth"}).status_code == 200
    assert hook.send_dict({"text": "too many"}).status_code == 404
    with pytest.raises(TimeoutError):
        emu.wait_for_message(lambda m: m["text"] == "never", timeout=0.1)


def test_views_open_and_submit(emu: SlackEmulator, client: WebClient, receiver: Receiver) -> None:
    view = {
        "type": "modal",
        "callback_id": "reject_reason",
        "private_metadata": "req-123",
        "title": {"type": "plain_text", "text": "Reject"},
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": [
            {
                "type": "input",
                "block_id": "reason",
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {"type": "plain_text_input", "action_id": "reason_text"},
            }
        ],
    }
    opened = client.views_open(trigger_id="1.2.abc", view=view)
    assert opened["view"]["id"].startswith("V")
    assert emu.views()[0]["trigger_id"] == "1.2.abc"

    status, _ = emu.submit_view("reject_reason", {"reason": "ID does not match"}, user_id="U0OFFICER")
    assert status == 200
    payload = receiver.payloads[-1]
    assert payload["type"] == "view_submission" and payload["user"]["id"] == "U0OFFICER"
    assert payload["view"]["id"] == opened["view"]["id"]
    assert payload["view"]["private_metadata"] == "req-123"
    assert payload["view"]["state"]["values"] == {
        "reason": {"reason_text": {"type": "plain_text_input", "value": "ID does not match"}}
    }


def test_mail_sink_with_smtplib(tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["From"] = "privacy@example.com"
    msg["To"] = "requester@example.com"
    msg["Subject"] = "Your CCPA report"
    msg.set_content("Attached.\n.leading dot line\n")
    msg.add_attachment(b"PK\x03\x04zip", maintype="application", subtype="zip", filename="report.zip")
    raw = msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    with MailSink(tmp_path / "mail") as sink:
        with smtplib.SMTP(sink.host, sink.port, timeout=5) as smtp:
            smtp.sendmail("privacy@example.com", ["requester@example.com", "audit@example.com"], raw)
        (received,) = sink.wait_for(1, timeout=5)

    assert received.path.suffix == ".eml" and received.path.read_bytes() == raw
    assert received.message["Subject"] == "Your CCPA report" and received["To"] == "requester@example.com"
    assert received.envelope_to == ["requester@example.com", "audit@example.com"]
    attachment = next(received.message.iter_attachments())
    assert attachment.get_filename() == "report.zip" and attachment.get_content() == b"PK\x03\x04zip"
    path, parsed = received
    assert path == received.path and parsed is received.message
    with pytest.raises(TimeoutError):
        MailSink(tmp_path / "empty").wait_for(1, timeout=0.1)


def test_injected_rate_limit_answers_429_with_retry_after_then_recovers(emu: SlackEmulator, client: WebClient) -> None:
    emu.fail("chat.postMessage", times=2, retry_after=3)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel="#ccpa", text="x")
        assert err.value.response.status_code == 429
        assert err.value.response["error"] == "ratelimited"
        assert err.value.response.headers["retry-after"] in ("3", ["3"])
    assert client.auth_test()["ok"], "other methods are not affected"
    assert client.chat_postMessage(channel="#ccpa", text="x")["ok"]
    assert [c["status"] for c in emu.calls("chat.postMessage")] == [429, 429, 200]
    assert emu.faults() == []


def test_injected_server_errors_and_slow_answers(emu: SlackEmulator, client: WebClient) -> None:
    emu.fail("*", times=1, status=503)
    emu.slow("chat.update", 0.6)
    with pytest.raises(SlackApiError) as err:
        client.auth_test()
    assert err.value.response.status_code == 503
    posted = client.chat_postMessage(channel="#ccpa", text="x")
    started = time.monotonic()
    assert client.chat_update(channel=posted["channel"], ts=posted["ts"], text="y")["ok"]
    assert time.monotonic() - started >= 0.6
    with pytest.raises(ValueError, match="status"):
        emu.fail("chat.update", status=200)


def test_faults_are_controlled_over_http(emu: SlackEmulator, client: WebClient) -> None:
    url = f"{emu.url}/_emulator/faults"
    armed = requests.post(url, json={"method": "chat.postMessage", "times": 1, "status": 500}, timeout=5)
    assert armed.status_code == 201 and armed.json()["status"] == 500
    assert requests.post(url, json={"method": "chat.postMessage", "status": 200}, timeout=5).status_code == 400
    assert requests.post(url, json=["no"], timeout=5).status_code == 400
    assert [f["method"] for f in requests.get(url, timeout=5).json()] == ["chat.postMessage"]
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="#ccpa", text="x")
    requests.post(url, json={"method": "chat.postMessage", "times": None, "status": 503}, timeout=5)
    assert requests.delete(url, timeout=5).json() == {"ok": True}
    assert client.chat_postMessage(channel="#ccpa", text="x")["ok"]
