"""The access request as the intake system sends it: normalised and validated before anything happens."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from include import clock

# Deliberately plain: one "@", no spaces, a dotted domain. Full RFC 5322 accepts addresses no mail system delivers.
_EMAIL = re.compile(
    r"^[^@\s]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_MAX_NAME = 200
_MAX_EMAIL = 254
_MAX_URL = 2048

#: §7101: how the request was made (the consumer's method, not the intake system).
CHANNELS = ("web_form", "email", "phone", "mail", "in_person", "app", "agent", "api")
LOOKBACKS = ("12_months", "all")
#: ISO 8601 with a UTC offset (or Z): a receipt time without a zone would be read in the wrong one.
_ISO_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}:?\d{2})$"

#: JSON schemas for the DAG's params, so the REST API refuses a malformed trigger before a run exists.
PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "name": {"type": "string", "minLength": 1, "maxLength": _MAX_NAME, "pattern": r"\S"},
    "email": {
        "type": "string",
        "minLength": 3,
        "maxLength": _MAX_EMAIL,
        "pattern": r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$",
    },
    # Required (no default): the §7101 record says how the request was made.
    "channel": {"type": "string", "enum": list(CHANNELS)},
    # Optional: when the consumer made the request, if it was entered later (email, phone, mail).
    "received_at": {"type": ["null", "string"], "pattern": _ISO_WITH_OFFSET},
    # Optional (the request form makes the upload optional): empty, or an http(s) link.
    "photo_id_url": {
        "type": "string",
        "maxLength": _MAX_URL,
        "pattern": r"^\s*([Hh][Tt][Tt][Pp][Ss]?://\S+\s*)?$",
    },
}


class InvalidRequest(ValueError):
    """A request field is missing or malformed; the message names the field, never its value."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid access request: field '{field}' {problem}")
        self.field = field


@dataclass(frozen=True)
class AccessRequest:
    name: str
    email: str
    photo_id_url: str

    @classmethod
    def from_conf(cls, conf: dict[str, Any] | None) -> AccessRequest:
        """Normalise (trim, collapse spaces, lower-case the email) and validate a DAG run conf."""
        conf = conf or {}
        name = " ".join(_text(conf, "name").split())
        if not name:
            raise InvalidRequest("name", "must not be empty")
        if len(name) > _MAX_NAME:
            raise InvalidRequest("name", f"must be at most {_MAX_NAME} characters")

        email = _text(conf, "email").strip().lower()
        if len(email) > _MAX_EMAIL or not _EMAIL.match(email):
            raise InvalidRequest("email", "is not a valid email address")

        url = _text(conf, "photo_id_url").strip() if conf.get("photo_id_url") is not None else ""
        parsed = urlparse(url)
        if url and (len(url) > _MAX_URL or parsed.scheme not in ("http", "https") or not parsed.netloc or " " in url):
            raise InvalidRequest("photo_id_url", "must be an http(s) URL")
        return cls(name=name, email=email, photo_id_url=url)

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


#: Kept for callers of the earlier layout: the due date is the clock's (include.clock, in the business's zone).
due_date = clock.due_date


def channel_of(conf: dict[str, Any] | None) -> str:
    """§7101: how the request was made; one of ``CHANNELS``."""
    value = (conf or {}).get("channel")
    if value is None:
        raise InvalidRequest("channel", "is missing")
    if value not in CHANNELS:
        raise InvalidRequest("channel", f"must be one of {', '.join(CHANNELS)}")
    return str(value)


def lookback_of(conf: dict[str, Any] | None) -> str:
    value = (conf or {}).get("lookback", "12_months")
    if value not in LOOKBACKS:
        raise InvalidRequest("lookback", "must be '12_months' or 'all'")
    return str(value)


def received_at_of(conf: dict[str, Any] | None, entered_at: datetime) -> datetime:
    """§7021: when the consumer made the request: the ``received_at`` param (ISO 8601 with its UTC offset), else
    ``entered_at`` (the trigger time). A receipt in the future is refused."""
    value = (conf or {}).get("received_at")
    if value is None or value == "":
        return entered_at
    if not isinstance(value, str) or not re.match(_ISO_WITH_OFFSET, value.strip()):
        raise InvalidRequest("received_at", "must be an ISO 8601 date and time with its UTC offset")
    try:
        received = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRequest("received_at", "must be an ISO 8601 date and time with its UTC offset") from None
    if received.tzinfo is None:
        raise InvalidRequest("received_at", "must carry its UTC offset")
    if received > entered_at:
        raise InvalidRequest("received_at", "must not be in the future")
    return received


def _text(conf: dict[str, Any], field: str) -> str:
    value = conf.get(field)
    if value is None:
        raise InvalidRequest(field, "is missing")
    if not isinstance(value, str):
        raise InvalidRequest(field, "must be a string")
    return value
