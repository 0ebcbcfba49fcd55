"""The photo ID a requester may upload with the form: checked, kept in report storage, deleted at close.

Only JPEG, PNG and PDF are accepted, recognised by their first bytes (the browser's content type and the file name
are the sender's claims, not evidence), up to ``MAX_PHOTO_BYTES``. The file goes to the report storage
(``ccpa_report_storage``) in a folder of its own; the request's ``photo_id_url`` is a signed link to
``/ccpa/request/photo/<token>`` that the officer opens from the review prompt. When the request closes the file and
its folder are deleted (:func:`delete_for`).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired

from include import config, storage
from include.requester import signing

log = logging.getLogger(__name__)

MAX_PHOTO_BYTES = 5 * 1024 * 1024
#: The photo link must outlive the longest wait for a decision (45 days, extended once by 45): 100 days.
PHOTO_LINK_MAX_AGE = 100 * 24 * 3600
PHOTO_PATH = "/ccpa/request/photo/"

#: (leading bytes, file extension, content type)
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"%PDF-", "pdf", "application/pdf"),
)
CONTENT_TYPES = {ext: ctype for _, ext, ctype in _SIGNATURES}


class BadUpload(ValueError):
    """``code`` says what is wrong ("too_large", "type"), for a message in the requester's language."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class StoredPhoto:
    url: str  # where it is in storage
    link: str  # the signed link the officer opens


def kind_of(data: bytes) -> str:
    """The file's extension from its first bytes; raises BadUpload("type") for anything else."""
    for magic, ext, _ in _SIGNATURES:
        if data.startswith(magic):
            return ext
    raise BadUpload("type")


def check(data: bytes) -> str:
    if len(data) > MAX_PHOTO_BYTES:
        raise BadUpload("too_large")
    if not data:
        raise BadUpload("type")
    return kind_of(data)


def save(data: bytes) -> StoredPhoto:
    """Store a checked photo ID in a folder of its own and return its signed link."""
    ext = check(data)
    folder = storage.request_dir(f"intake-{secrets.token_hex(12)}")
    path = folder / f"photo-id.{ext}"
    with path.open("wb") as out:
        out.write(data)
    url = storage.url_of(path)
    token = signing.timed(signing.PHOTO_SALT).dumps({"u": url})
    return StoredPhoto(url=url, link=f"{config.airflow_base_url()}{PHOTO_PATH}{token}")


def read_token(token: str, max_age: int | None = PHOTO_LINK_MAX_AGE) -> str:
    """The storage URL a valid photo link names; raises LookupError."""
    try:
        data = signing.timed(signing.PHOTO_SALT).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        raise LookupError("invalid photo link") from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), str):
        raise LookupError("invalid photo link")
    return data["u"]


def stored_url_of(photo_id_url: str) -> str | None:
    """The storage URL behind a request's ``photo_id_url`` when it is one of our upload links (else None).

    Any age is accepted here (no ``max_age``): deleting must work even after the link has expired, and whatever
    the clocks of the processes that signed and that delete say."""
    marker = photo_id_url.find(PHOTO_PATH)
    if marker < 0:
        return None
    try:
        return read_token(photo_id_url[marker + len(PHOTO_PATH) :], max_age=None)
    except LookupError:
        return None


def delete_for(photo_id_url: str) -> bool:
    """Delete an uploaded photo ID and its folder (called when the request closes). True if a file was deleted."""
    url = stored_url_of(photo_id_url or "")
    if url is None:
        return False
    path = storage.resolve(url)
    deleted = False
    if path.exists():
        path.unlink()
        deleted = True
    folder = path.parent
    try:
        if folder.exists() and not any(folder.iterdir()):
            folder.rmdir()
    except OSError:
        log.warning("Could not remove an emptied photo-ID folder", exc_info=True)
    return deleted
