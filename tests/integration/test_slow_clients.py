"""Hostile clients on the API server's callback: bodies trickled (or never sent) must not stop officers deciding."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from devtools.standins.slack_emulator import SlackEmulator
from tests.factories import register_verified

pytestmark = pytest.mark.integration

SECRET = "slow-clients-secret"
SLOW_CLIENTS = 32


class _Settings:
    signing_secret = SECRET
    approvers = frozenset({"U0APPROVER"})


@pytest.fixture
def served(compliance_store) -> Iterator[str]:
    """The callback as the plugin serves it (include.slack.asgi), under uvicorn as in the API server."""
    import asyncio

    import uvicorn

    from include.slack.asgi import create_asgi_app
    from include.slack.callback import create_app

    with SlackEmulator(signing_secret=SECRET) as slack:
        flask_app = create_app(
            store_factory=lambda: compliance_store,
            settings=_Settings(),
            slack_client_factory=lambda: WebClient(token="xoxb-test", base_url=slack.api_url),
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_asgi_app(flask_app), log_level="warning", lifespan="off"))
        thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
        thread.start()
        deadline = time.time() + 10
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(10)
            sock.close()


def _trickler(base: str) -> socket.socket:
    """Headers promising 4 KiB of body, then a few bytes: and nothing more."""
    host, port = base.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)))
    s.sendall(
        b"POST /slack/actions HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"X-Slack-Request-Timestamp: 1\r\nX-Slack-Signature: v0=00\r\nContent-Length: 4000\r\n\r\npayload="
    )
    return s


def _signed_click(request_id: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode(
        {
            "payload": json.dumps(
                {
                    "type": "block_actions",
                    "user": {"id": "U0APPROVER"},
                    "actions": [{"action_id": "ccpa_approve", "value": request_id, "type": "button"}],
                }
            )
        }
    )
    ts = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }
    return body.encode(), headers


def test_drill_32_slow_clients_do_not_stop_a_signed_click(served, compliance_store):
    # Verified for specific pieces (3 points and a declaration), so the approval is one the callback records.
    request_id = register_verified(compliance_store, "manual__slow").request_id
    slow = [_trickler(served) for _ in range(SLOW_CLIENTS)]
    try:
        time.sleep(0.3)  # every slow client is connected and waiting
        body, headers = _signed_click(request_id)
        started = time.perf_counter()
        response = requests.post(f"{served}/slack/actions", data=body, headers=headers, timeout=10)
        answered = time.perf_counter() - started
    finally:
        for s in slow:
            s.close()
    assert response.status_code == 200
    assert answered < 3.0, f"Slack gives up after 3 s: answered after {answered:.2f} s"
    assert compliance_store.get_decision(request_id).action == "approve"


def test_a_body_that_never_completes_is_refused_with_408_and_an_oversized_one_with_413(served):
    s = _trickler(served)
    try:
        s.settimeout(10)
        started = time.perf_counter()
        answer = s.recv(200)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert time.perf_counter() - started < 5
    finally:
        s.close()
    big = requests.post(f"{served}/slack/actions", data=b"x" * (70 * 1024), timeout=10)
    assert big.status_code == 413
    assert requests.get(f"{served}/health", timeout=10).json() == {"status": "ok"}


def test_7060_a_photo_id_passes_the_front_up_to_the_uploads_limit_and_slack_posts_keep_theirs(
    served, compliance_store, monkeypatch, tmp_path
):
    """The 64 KiB cap is Slack's: the requester's forms that carry a photo ID (the verification page asked for one,
    the request form) get the upload's limit through the ASGI front, still read on the event loop."""
    from datetime import UTC, datetime

    from include.request import AccessRequest
    from include.requester import uploads
    from include.verification import links

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "slow-clients-download-secret-0123")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path / 'reports'}")
    record = compliance_store.register_request(
        "manual__front_photo", AccessRequest("Jane Doe", "jane@example.com"), datetime.now(UTC)
    )
    token = links.make_link(record.request_id, ["photo_id"], record.due_at)["token"]
    photo = b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024)  # 2 MiB: a phone's photo
    answer = requests.post(f"{served}/verify/{token}", files={"photo_id": ("id.png", photo)}, timeout=30)
    assert answer.status_code == 200, answer.text[:200]
    assert uploads.stored_url_of(compliance_store.get_request(record.request_id).photo_id_url) is not None
    over = b"\x89PNG\r\n\x1a\n" + b"\x00" * (uploads.MAX_PHOTO_BYTES + 128 * 1024)
    assert (
        requests.post(f"{served}/verify/{token}", files={"photo_id": ("id.png", over)}, timeout=30).status_code == 413
    )
    assert requests.post(f"{served}/slack/actions", data=b"x" * (70 * 1024), timeout=10).status_code == 413
