"""Signed, expiring download links for reports too big to email (served at ``/ccpa/download/<token>``).

The token names the request and its expiry and is signed (itsdangerous, HMAC-SHA256) with the Variable
``ccpa_download_secret`` (or Airflow's ``[api] secret_key``): the worker signs, the API server checks, no database
row needed. Only the ZIP of that request's report is reachable through a token.
"""

from __future__ import annotations

import logging
import zipfile
from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, abort, jsonify
from itsdangerous import BadSignature, URLSafeSerializer

from include import config, storage
from include.report.model import DownloadLink

log = logging.getLogger(__name__)

ZIP_NAME = "ccpa-report.zip"
DEFAULT_TTL_HOURS = 72.0


def _serializer() -> URLSafeSerializer:
    secret = config.get_variable(config.VAR_DOWNLOAD_SECRET, "")
    if not secret:
        from airflow.configuration import conf

        secret = conf.get("api", "secret_key", fallback="") or ""
    if not secret:
        raise config.ConfigurationError(
            f"set the Airflow Variable '{config.VAR_DOWNLOAD_SECRET}' to sign download links"
        )
    return URLSafeSerializer(secret, salt="ccpa-report-download")


def ttl() -> timedelta:
    raw = config.get_variable(config.VAR_DOWNLOAD_TTL_HOURS, str(DEFAULT_TTL_HOURS))
    try:
        hours = float(raw)
    except ValueError:
        raise config.ConfigurationError(f"Variable '{config.VAR_DOWNLOAD_TTL_HOURS}' must be a number") from None
    return timedelta(hours=hours)


def make_link(request_id: str, now: datetime | None = None) -> DownloadLink:
    expires_at = (now or datetime.now(UTC)) + ttl()
    token = _serializer().dumps({"r": request_id, "e": int(expires_at.timestamp())})
    return DownloadLink(url=f"{config.airflow_base_url()}/ccpa/download/{token}", expires_at=expires_at)


def read_token(token: str, now: datetime | None = None) -> str:
    """The request id a valid, unexpired token names; raises LookupError (unknown) or TimeoutError (expired)."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise LookupError("invalid download link") from None
    if not isinstance(data, dict) or not isinstance(data.get("r"), str) or not isinstance(data.get("e"), int):
        raise LookupError("invalid download link")
    if (now or datetime.now(UTC)).timestamp() > data["e"]:
        raise TimeoutError("this download link has expired")
    return data["r"]


def write_zip(request_id: str, files: list[str]) -> str:
    """Bundle the report's files into one ZIP in the request's storage folder; returns its URL."""
    dest = storage.request_dir(request_id) / ZIP_NAME
    with dest.open("wb") as raw, zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for url in files:
            source = storage.resolve(url)
            with source.open("rb") as src, bundle.open(source.name, "w") as member:
                while chunk := src.read(1 << 20):
                    member.write(chunk)
    return storage.url_of(dest)


blueprint = Blueprint("ccpa_downloads", __name__)


@blueprint.get("/download/<token>")
def download(token: str) -> Response | tuple[Response, int]:
    try:
        request_id = read_token(token)
    except LookupError:
        abort(404)
    except TimeoutError:
        return jsonify(error="this download link has expired; reply to our email for a new one"), 410
    source = storage.request_dir(request_id) / ZIP_NAME
    if not source.exists():
        abort(404)

    def stream():
        with source.open("rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk

    _audit(request_id)
    return Response(
        stream(),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{ZIP_NAME}"', "Cache-Control": "no-store"},
    )


def _audit(request_id: str) -> None:
    try:
        from include.store import ComplianceStore

        ComplianceStore.from_connection().audit(request_id, "report_downloaded")
    except Exception:  # the download itself must not fail for want of an audit row
        log.warning("Could not record the download of request %s", request_id, exc_info=True)
