"""The Slack interactivity endpoint: ``POST /slack/actions``.

Served by the Airflow API server through the plugin (``/ccpa/slack/actions``) or on its own with
``flask --app include.slack_callback:create_app run``. Slack's signature is the only authentication, so nothing
is read from the body before it is verified, and every rejection writes nothing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

from flask import Flask, Response, jsonify, request
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from include import config
from include.compliance_store import ComplianceStore, UnknownRequest
from include.slack_blocks import ACTIONS, outcome_prompt

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
#: Slack's own rule: a request whose timestamp is more than five minutes off is a replay.
MAX_CLOCK_SKEW_SECONDS = 5 * 60

_followups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ccpa-slack-followup")


class _Settings:
    """Signing secret and approvers, re-read at most every ``ttl`` seconds (a Variable change applies quickly)."""

    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self._loaded_at = 0.0
        self._secret: str = ""
        self._approvers: frozenset[str] = frozenset()

    def _refresh(self) -> None:
        if time.monotonic() - self._loaded_at < self.ttl:
            return
        self._secret = config.get_variable(config.VAR_SIGNING_SECRET, "")
        self._approvers = config.approvers()
        self._loaded_at = time.monotonic()

    @property
    def signing_secret(self) -> str:
        self._refresh()
        return self._secret

    @property
    def approvers(self) -> frozenset[str]:
        self._refresh()
        return self._approvers


def create_app(
    store_factory: Callable[[], ComplianceStore] = ComplianceStore.from_connection,
    settings: Any | None = None,
) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    settings = settings or _Settings()
    store_cache: list[ComplianceStore] = []

    def store() -> ComplianceStore:
        if not store_cache:
            store_cache.append(store_factory())
        return store_cache[0]

    @app.errorhandler(413)
    def too_large(_: Exception) -> tuple[Response, int]:
        return jsonify(error="request body too large"), 413

    @app.get("/health")
    def health() -> Response:
        return jsonify(status="ok")

    @app.post("/slack/actions")
    def slack_actions() -> tuple[Response | str, int]:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return jsonify(error="request body too large"), 413
        body = request.get_data(cache=False, as_text=False)
        if len(body) > MAX_BODY_BYTES:
            return jsonify(error="request body too large"), 413
        secret = settings.signing_secret
        if not secret:
            log.error("Slack callback refused: Variable '%s' is not set", config.VAR_SIGNING_SECRET)
            return jsonify(error="signing secret not configured"), 401
        if not _signature_valid(secret, body, request.headers):
            log.warning("Slack callback refused: missing, forged or expired signature")
            return jsonify(error="invalid signature"), 401

        try:
            payload = _parse_payload(body)
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        if payload.get("type") != "block_actions":
            return jsonify(error=f"unsupported payload type {payload.get('type')!r}"), 400
        try:
            action, user_id, request_id, response_url = _block_action(payload)
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        return _decide(store(), settings, action, user_id, request_id, response_url)

    return app


def _signature_valid(secret: str, body: bytes, headers: Any) -> bool:
    """slack_sdk's verifier (v0 HMAC-SHA256, 5-minute window), hardened against garbage headers and bodies."""
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    try:
        return SignatureVerifier(secret).is_valid(body=body, timestamp=timestamp, signature=signature)
    except (ValueError, UnicodeDecodeError):
        return False


def _parse_payload(body: bytes) -> dict[str, Any]:
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        payload = json.loads(form["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError, IndexError):
        raise ValueError("expected a form field 'payload' holding JSON") from None
    if not isinstance(payload, dict):
        raise ValueError("payload must be a JSON object")
    return payload


def _block_action(payload: dict[str, Any]) -> tuple[str, str, str, str | None]:
    actions = payload.get("actions")
    user = payload.get("user")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise ValueError("block_actions payload has no actions")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        raise ValueError("block_actions payload has no user id")
    action_id = actions[0].get("action_id")
    if action_id not in ACTIONS:
        raise ValueError(f"unknown action {action_id!r}")
    request_id = actions[0].get("value")
    if not isinstance(request_id, str) or not request_id:
        raise ValueError("action carries no request id")
    response_url = payload.get("response_url")
    return ACTIONS[action_id], user["id"], request_id, response_url if isinstance(response_url, str) else None


def _decide(
    store: ComplianceStore,
    settings: Any,
    action: str,
    user_id: str,
    request_id: str,
    response_url: str | None,
) -> tuple[str, int]:
    approvers = settings.approvers
    if user_id not in approvers:
        store.audit(request_id, "decision_refused_not_approver", actor=user_id, detail={"action": action})
        message = (
            "You are not an approver for CCPA requests."
            if approvers
            else f"Nobody can decide CCPA requests yet: set the Airflow Variable '{config.VAR_APPROVERS}'."
        )
        _follow_up(response_url, {"response_type": "ephemeral", "replace_original": False, "text": message})
        return "", 200
    try:
        decision, created = store.record_decision(request_id, action, user_id, response_url=response_url)
    except UnknownRequest:
        _follow_up(
            response_url,
            {"response_type": "ephemeral", "replace_original": False, "text": "This request is unknown or closed."},
        )
        return "", 200
    if not created:
        when = decision.decided_at.strftime("%Y-%m-%d %H:%M UTC")
        _follow_up(
            response_url,
            {
                "response_type": "ephemeral",
                "replace_original": False,
                "text": f"Already decided ({decision.action}) by <@{decision.decided_by}> at {when}.",
            },
        )
        return "", 200
    record = store.get_request(request_id)
    progress = "building the report…" if action == "approve" else "sending the rejection…"
    text, blocks = outcome_prompt(record, action=action, decided_by=user_id, outcome=progress)
    _follow_up(response_url, {"replace_original": True, "text": text, "blocks": blocks})
    return "", 200


def _follow_up(response_url: str | None, body: dict[str, Any]) -> None:
    """After the ack: Slack wants its answer within 3 s, the response_url can wait."""
    if not response_url:
        return

    def send() -> None:
        try:
            WebhookClient(response_url, timeout=10).send_dict(body)
        except Exception:  # a lost courtesy message must not fail the decision already recorded
            log.warning("Slack follow-up through response_url failed", exc_info=True)

    _followups.submit(send)
