"""Signed, expiring links to the verification page (``/ccpa/verify/<token>``): the token names the request and what
the officer asked for, and is signed (itsdangerous, HMAC-SHA256) with the same key as download links (Variable
``ccpa_download_secret`` or Airflow's ``[api] secret_key``), under its own salt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from include import config
from include.i18n import N_

#: What an officer can ask the requester for (§7060(c): only what verification needs), as the requester reads it
#: (translated in the email).
ASKABLE = {
    "phone": N_("your phone number"),
    "postal_address": N_("your postal address"),
    "account_id": N_("your account id (customer number)"),
    "photo_id": N_("a photo of an identity document, such as your driver's licence or passport (JPEG, PNG or PDF)"),
    "declaration": N_("a declaration, signed under penalty of perjury, that you are the person the request is about"),
}
#: The link lives at most this long, and never past the request's due date.
MAX_TTL = timedelta(days=14)


def _serializer() -> URLSafeSerializer:
    from include.report.downloads import _serializer as download_serializer

    return URLSafeSerializer(download_serializer().secret_key, salt="ccpa-verify")


def make_link(request_id: str, fields: list[str], due_at: datetime, now: datetime | None = None) -> dict[str, Any]:
    unknown = set(fields) - set(ASKABLE)
    if unknown or not fields:
        raise ValueError(f"cannot ask for {sorted(unknown) or 'nothing'}")
    now = now or datetime.now(UTC)
    expires_at = min(now + MAX_TTL, due_at)
    token = _serializer().dumps({"r": request_id, "f": sorted(fields), "e": int(expires_at.timestamp())})
    return {"url": f"{config.airflow_base_url()}/ccpa/verify/{token}", "token": token, "expires_at": expires_at}


def read_token(token: str, now: datetime | None = None) -> tuple[str, list[str]]:
    """(request id, fields asked) of a valid, unexpired token; LookupError (invalid) or TimeoutError (expired)."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise LookupError("invalid verification link") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("r"), str)
        or not isinstance(data.get("e"), int)
        or not isinstance(data.get("f"), list)
        or not set(data["f"]) <= set(ASKABLE)
    ):
        raise LookupError("invalid verification link")
    if (now or datetime.now(UTC)).timestamp() > data["e"]:
        raise TimeoutError("this verification link has expired")
    return data["r"], list(data["f"])


def _agent_serializer() -> URLSafeSerializer:
    from include.report.downloads import _serializer as download_serializer

    return URLSafeSerializer(download_serializer().secret_key, salt="ccpa-agent-confirm")


def make_agent_link(request_id: str, due_at: datetime, now: datetime | None = None) -> dict[str, Any]:
    """§7063(a)(2): the link the consumer follows to confirm that they gave the agent permission."""
    now = now or datetime.now(UTC)
    expires_at = due_at
    token = _agent_serializer().dumps({"r": request_id, "e": int(expires_at.timestamp())})
    return {"url": f"{config.airflow_base_url()}/ccpa/confirm-agent/{token}", "token": token, "expires_at": expires_at}


def read_agent_token(token: str, now: datetime | None = None) -> str:
    try:
        data = _agent_serializer().loads(token)
    except BadSignature:
        raise LookupError("invalid confirmation link") from None
    if not isinstance(data, dict) or not isinstance(data.get("r"), str) or not isinstance(data.get("e"), int):
        raise LookupError("invalid confirmation link")
    if (now or datetime.now(UTC)).timestamp() > data["e"]:
        raise TimeoutError("this confirmation link has expired")
    return data["r"]
