"""The one Slack client factory: retries what real Slack asks to be retried, against the emulator's injected faults."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from slack_sdk.errors import SlackApiError

from devtools.standins.slack_emulator import SlackEmulator
from include.slack import client as slack_client


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackEmulator]:
    with SlackEmulator("secret") as emulator:
        conn = {"conn_type": "slack", "password": "xoxb-test", "extra": {"base_url": emulator.api_url}}
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(conn))
        yield emulator


def test_rate_limited_posts_are_retried_after_retry_after(emu: SlackEmulator) -> None:
    emu.fail("chat.postMessage", times=3, retry_after=1)
    started = time.monotonic()
    posted = slack_client.web_client().chat_postMessage(channel="#ccpa", text="decide")
    took = time.monotonic() - started
    assert posted["ok"] and len(emu.messages("#ccpa")) == 1, "posted once, after the three 429s"
    assert [c["status"] for c in emu.calls("chat.postMessage")] == [429, 429, 429, 200]
    assert 3.0 <= took < 10, f"Retry-After honoured (1 s + jitter each), not the task's minutes of back-off: {took}"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(emu: SlackEmulator, status: int) -> None:
    emu.fail("chat.update", times=2, status=status)
    client = slack_client.web_client()
    posted = client.chat_postMessage(channel="#ccpa", text="decide")
    assert client.chat_update(channel=posted["channel"], ts=posted["ts"], text="decided")["ok"]
    assert [c["status"] for c in emu.calls("chat.update")] == [status, status, 200]


def test_an_outage_longer_than_the_retries_fails_the_call(emu: SlackEmulator) -> None:
    emu.fail("chat.postMessage", times=None, status=503)
    with pytest.raises(SlackApiError):
        slack_client.web_client().chat_postMessage(channel="#ccpa", text="decide")
    assert len(emu.calls("chat.postMessage")) == 1 + slack_client.SERVER_ERROR_RETRIES
    assert emu.messages() == []


def test_a_retry_after_longer_than_the_cap_is_left_to_the_task(emu: SlackEmulator) -> None:
    emu.fail("chat.postMessage", times=1, retry_after=slack_client.MAX_RETRY_AFTER_SECONDS + 1)
    started = time.monotonic()
    with pytest.raises(SlackApiError):
        slack_client.web_client().chat_postMessage(channel="#ccpa", text="decide")
    assert time.monotonic() - started < 5


def test_response_url_posts_are_retried(emu: SlackEmulator) -> None:
    posted = slack_client.web_client().chat_postMessage(channel="#ccpa", text="decide")
    url = emu.message(posted["ts"])["response_url"]
    assert slack_client.webhook(url).send_dict({"replace_original": True, "text": "done"}).status_code == 200


@pytest.fixture
def https_emu(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackEmulator]:
    """The emulator over HTTPS, as Slack is, its certificate trusted through SSL_CERT_FILE (a fresh shared context)."""
    from devtools.standins.tls import self_signed, server_context
    from include import tls

    cert, key = self_signed(tmp_path / "ca")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.setattr(tls, "_context", None)
    with SlackEmulator("secret", tls=server_context(cert, key)) as emulator:
        conn = {"conn_type": "slack", "password": "xoxb-test", "extra": {"base_url": emulator.api_url}}
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(conn))
        yield emulator


def test_slack_over_https_posts_updates_and_answers_response_urls(https_emu: SlackEmulator) -> None:
    assert https_emu.api_url.startswith("https://")
    client = slack_client.web_client()
    posted = client.chat_postMessage(channel="#ccpa", text="decide")
    assert client.chat_update(channel=posted["channel"], ts=posted["ts"], text="decided")["ok"]
    response_url = https_emu.message(posted["ts"])["response_url"]
    assert response_url.startswith("https://")
    assert slack_client.webhook(response_url).send_dict({"replace_original": True, "text": "done"}).status_code == 200
    assert https_emu.message(posted["ts"])["text"] == "done"


def test_a_slack_server_with_an_untrusted_certificate_is_refused(https_emu: SlackEmulator, tmp_path, monkeypatch):
    """Sharing one context keeps verification: a certificate the CA bundle does not vouch for fails the call."""
    from devtools.standins.tls import self_signed
    from include import tls

    other, _ = self_signed(tmp_path / "other-ca")
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    monkeypatch.setattr(tls, "_context", None)
    with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
        slack_client.web_client().chat_postMessage(channel="#ccpa", text="decide")
    assert https_emu.messages() == []
