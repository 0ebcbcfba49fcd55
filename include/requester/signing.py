"""Signed tokens of the requester's pages: the form's CSRF token, the status link, the link to an uploaded photo ID.

All are signed (itsdangerous, HMAC) with the Variable ``ccpa_download_secret`` or Airflow's ``[api] secret_key``, as
the report download links are, each kind with its own salt so that one can never be replayed as another.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from include import config

CSRF_SALT = "ccpa-request-form"
STATUS_SALT = "ccpa-request-status"
PHOTO_SALT = "ccpa-request-photo"


def secret() -> str:
    value = config.get_variable(config.VAR_DOWNLOAD_SECRET, "")
    config.refuse_demo_secret(f"Airflow Variable '{config.VAR_DOWNLOAD_SECRET}'", value)
    if not value:
        from airflow.configuration import conf

        value = conf.get("api", "secret_key", fallback="") or ""
    if not value:
        raise config.ConfigurationError(f"set the Airflow Variable '{config.VAR_DOWNLOAD_SECRET}' to sign links")
    return value


def timed(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret(), salt=salt)


def plain(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret(), salt=salt)


def new_csrf_token() -> tuple[str, str]:
    """(token, nonce): the form carries the token; the nonce is what makes each token single-use."""
    nonce = secrets.token_urlsafe(16)
    return timed(CSRF_SALT).dumps(nonce), nonce


def read_csrf_token(token: str, max_age: int) -> str:
    """The nonce of a valid token no older than ``max_age`` seconds; raises LookupError otherwise."""
    try:
        nonce = timed(CSRF_SALT).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        raise LookupError("invalid or expired form token") from None
    if not isinstance(nonce, str):
        raise LookupError("invalid form token")
    return nonce


def status_token(run_id: str, language: str) -> str:
    return plain(STATUS_SALT).dumps({"r": run_id, "l": language})


def read_status_token(token: str) -> dict[str, Any]:
    try:
        data = plain(STATUS_SALT).loads(token)
    except BadSignature:
        raise LookupError("invalid status link") from None
    if not isinstance(data, dict) or not isinstance(data.get("r"), str) or not isinstance(data.get("l"), str):
        raise LookupError("invalid status link")
    return data


def status_url(run_id: str, language: str) -> str:
    """The status page's address, for the receipt page and the acknowledgement email."""
    return f"{config.airflow_base_url()}/ccpa/request/status/{status_token(run_id, language)}"


def reference(run_id: str) -> str:
    """A short reference the requester can quote (``R-XXXXX-XXXXX``), derived from the run id (kept in the run's
    note, so an officer finds the run from it)."""
    digest = base64.b32encode(hashlib.sha256(run_id.encode()).digest()).decode()[:10]
    return f"R-{digest[:5]}-{digest[5:]}"
