"""The access request as the intake system sends it: normalised and validated before anything happens."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlparse

from include import law

# Deliberately plain: one "@", no spaces, a dotted domain. Full RFC 5322 accepts addresses no mail system delivers.
_EMAIL = re.compile(
    r"^[^@\s]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_MAX_NAME = 200
_MAX_EMAIL = 254
_MAX_URL = 2048

#: JSON schemas for the DAG's params, so the REST API refuses a malformed trigger before a run exists.
PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "name": {"type": "string", "minLength": 1, "maxLength": _MAX_NAME, "pattern": r"\S"},
    "email": {
        "type": "string",
        "minLength": 3,
        "maxLength": _MAX_EMAIL,
        "pattern": r"^\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$",
    },
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


#: Kept for callers of the earlier layout: the due date is the law's (include.law).
due_date = law.due_date


def _text(conf: dict[str, Any], field: str) -> str:
    value = conf.get(field)
    if value is None:
        raise InvalidRequest(field, "is missing")
    if not isinstance(value, str):
        raise InvalidRequest(field, "must be a string")
    return value
