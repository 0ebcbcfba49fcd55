"""The API server's front for the callback (include.slack.asgi): Slack's POSTs to /slack/actions skip a2wsgi and
Flask, and are answered byte for byte as the Flask route answers them."""

from __future__ import annotations

import json
import time

import pytest
from slack_sdk import WebClient
from starlette.testclient import TestClient

from devtools.standins.slack_emulator import SlackEmulator
from include.slack.asgi import create_asgi_app
from include.slack.callback import create_app
from tests.factories import register_verified
from tests.unit.slack.test_callback import (
    APPROVER,
    SECRET,
    StaticSettings,
    payload,
    post,
    reject_submission,
    sign,
)


@pytest.fixture
def slack():
    with SlackEmulator(signing_secret=SECRET) as emulator:
        yield emulator


@pytest.fixture
def apps(compliance_store, slack):
    """The Flask app's test client, and the same Flask app behind the ASGI front."""
    flask_app = create_app(
        store_factory=lambda: compliance_store,
        settings=StaticSettings(),
        slack_client_factory=lambda: WebClient(token="xoxb-test", base_url=slack.api_url),
    )
    with TestClient(create_asgi_app(flask_app)) as asgi:
        yield flask_app, flask_app.test_client(), asgi


class _Asgi:
    """Lets tests.unit.slack.test_callback.post() send through the ASGI front (it calls ``client.post``)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def post(self, path, data, headers):
        # Header values as the bytes a client sends (latin-1, as WSGI and so Flask's test client read them).
        return self.client.post(path, content=data, headers={k: v.encode("latin-1") for k, v in headers.items()})


def _answer(response) -> tuple[int, str, bytes]:
    body = response.data if hasattr(response, "data") else response.content
    return response.status_code, response.headers["content-type"], body


CASES = {
    "approve": lambda rid: (payload(rid), {}),
    "forged": lambda rid: (payload(rid), {"secret": "not-the-secret"}),
    "expired": lambda rid: (payload(rid), {"age": 600}),
    "non-approver": lambda rid: (payload(rid, user="U0INTRUDER"), {}),
    "unknown action": lambda rid: (payload(rid, "ccpa_bogus"), {}),
    "modal sent back": lambda rid: (reject_submission(rid, None, None), {}),
    "non-ascii signature": lambda rid: (payload(rid), {"headers": {"X-Slack-Signature": "v0=\u00e9"}}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_slack_actions_through_the_front_answer_as_flask_does(apps, compliance_store, case):
    _, flask_client, asgi = apps
    answers, decisions = [], []
    for client in (flask_client, _Asgi(asgi)):
        request_id = register_verified(compliance_store, f"manual__asgi_{case}_{len(answers)}").request_id
        body, options = CASES[case](request_id)
        headers = options.pop("headers", None)
        if headers:  # a header the signing helper does not set: sent as raw bytes, as a client could
            options["headers"] = headers
        answers.append(_answer(post(client, body, **options)))
        decisions.append(compliance_store.get_decision(request_id) is not None)
    assert answers[0] == answers[1]
    assert decisions[0] == decisions[1]


def test_a_bad_payload_through_the_front_answers_as_flask_does(apps):
    _, flask_client, asgi = apps
    body = b"payload=not-json"
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign(SECRET, ts, body),
    }
    flask = flask_client.post("/slack/actions", data=body, headers=headers)
    front = asgi.post("/slack/actions", content=body, headers=headers)
    assert _answer(flask) == _answer(front) and front.status_code == 400
    assert json.loads(front.content) == {"error": "expected a form field 'payload' holding JSON"}


def test_only_post_slack_actions_skips_flask(apps, compliance_store, monkeypatch):
    flask_app, _, asgi = apps
    through_flask = []
    wsgi_app = flask_app.wsgi_app

    def counting(environ, start_response):
        through_flask.append(environ["PATH_INFO"])
        return wsgi_app(environ, start_response)

    monkeypatch.setattr(flask_app, "wsgi_app", counting)
    request_id = register_verified(compliance_store, "manual__asgi_route").request_id
    assert post(_Asgi(asgi), payload(request_id)).status_code == 200
    assert compliance_store.get_decision(request_id).decided_by == APPROVER
    assert asgi.get("/health").status_code == 200
    assert asgi.get("/slack/actions").status_code == 405  # Flask's answer to a GET
    assert through_flask == ["/health", "/slack/actions"]


def test_an_unexpected_error_is_a_logged_500_as_under_flask(apps, monkeypatch, caplog):
    from include.slack import callback

    _, _, asgi = apps

    def broken(_payload):
        raise RuntimeError("boom")

    monkeypatch.setattr(callback._Handler, "handle", lambda self, p: broken(p))
    response = post(_Asgi(asgi), payload("0" * 32))
    assert response.status_code == 500
    assert "The Slack callback failed" in caplog.text
