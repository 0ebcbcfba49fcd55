"""One TLS client context per process (include/tls.py), used by every Slack and SMTP connection, verification on."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest

from devtools.standins.tls import self_signed
from include import tls
from include.mail.hooks.smtp import SmtpHook
from include.slack import client as slack_client


@pytest.fixture
def counted_contexts(monkeypatch: pytest.MonkeyPatch) -> list[ssl.SSLContext]:
    """Every default context built from now on (the process's shared one forgotten first)."""
    # Imported first: aiohttp (under the Slack provider's async client) builds its own contexts once, at import.
    import airflow.providers.slack.hooks.slack  # noqa: F401

    built: list[ssl.SSLContext] = []
    real = ssl.create_default_context

    def counting(*args, **kwargs):
        built.append(real(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(tls, "_context", None)
    monkeypatch.setattr(ssl, "create_default_context", counting)
    return built


def _smtp_conn(monkeypatch: pytest.MonkeyPatch, **extra: object) -> None:
    conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": 25, "extra": {"disable_ssl": True, **extra}}
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(conn))


def _smtp_context() -> ssl.SSLContext | None:
    """The context the hook would connect with (the connection loaded as its ``get_conn`` does, without connecting)."""
    hook = SmtpHook(smtp_conn_id="smtp_default")
    hook.smtp_connection = hook.get_connection(hook.smtp_conn_id)
    return hook._build_ssl_context()


def test_every_slack_and_smtp_client_shares_one_tls_context(monkeypatch, counted_contexts):
    """Issue #22: a default context reads the CA bundle (26-32 CPU-ms each with OpenSSL 3); Python builds one per
    connection unless given one. Slack's Web API client, a response_url client and the SMTP hook all get the same."""
    conn = {"conn_type": "slack", "password": "xoxb-test", "extra": {"base_url": "https://slack.example/api/"}}
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(conn))
    _smtp_conn(monkeypatch)
    shared = tls.client_context()
    for _ in range(2):
        assert slack_client.web_client().ssl is shared
        assert slack_client.webhook("https://hooks.slack.example/actions/T/1/x").ssl is shared
        assert _smtp_context() is shared
    assert counted_contexts == [shared], "one context built in the process, on first use"


def test_the_shared_context_verifies_certificates_and_host_names():
    context = tls.client_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_the_smtp_connections_ssl_context_extra_keeps_its_meaning(monkeypatch, counted_contexts):
    """``ssl_context: none`` still means no context (the provider's), an unknown value is still refused."""
    _smtp_conn(monkeypatch, ssl_context="none")
    assert _smtp_context() is None
    _smtp_conn(monkeypatch, ssl_context="default")
    assert _smtp_context() is tls.client_context()
    _smtp_conn(monkeypatch, ssl_context="lenient")
    with pytest.raises(RuntimeError, match="ssl_context"):
        _smtp_context()


def test_the_context_reads_ssl_cert_file_when_first_built(tmp_path: Path, monkeypatch, counted_contexts):
    """The CA bundle is the system's (or SSL_CERT_FILE's), read once: what a deployment with a private CA sets."""
    cert, _ = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    names = [c["subject"] for c in tls.client_context().get_ca_certs()]
    assert names == [((("commonName", "ccpa-standin"),),)]
