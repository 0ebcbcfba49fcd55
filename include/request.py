"""The access request as the intake system sends it: normalised and validated before anything happens."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
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
_MAX_ADDRESS = 300
_MAX_ACCOUNT_ID = 128
_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+/-]{0,127}$")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ().\-]+$")
_PHONE_DIGITS = (7, 15)  # E.164: at most 15 digits; fewer than 7 identifies nobody
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: How the intake says the consumer logged in: an open list of short words (password, sso, mfa, passkey, ...).
_LOGIN_METHOD = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ACCOUNT_FIELDS = frozenset(
    {"account_id", "authenticated_at", "method", "delivery_url", "email_changed_at", "password_reset_at"}
)
#: A declaration signed more than this far in the future is a clock error or a forgery.
_CLOCK_SKEW = timedelta(minutes=5)

#: §7062, §7063: what the requester asks for. ``specific_pieces`` is the default (the stronger verification).
SPECIFIC_PIECES = "specific_pieces"
CATEGORIES = "categories"
REQUEST_TYPES = (SPECIFIC_PIECES, CATEGORIES)

#: The declaration texts, by version: the requester signs one of these (include/templates/declarations/).
DECLARATIONS_DIR = Path(__file__).parent / "templates" / "declarations"


def declaration_versions() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in DECLARATIONS_DIR.glob("*.txt")))


#: The statement signed today (on the request form and the verification page); a translation is its own version,
#: ``<version>-<language>``, so the §7101 record names the very text the requester read and signed (§7003, §7063(a)).
CURRENT_DECLARATION = "2026-12-web-form-1"


def declaration_version_for(language: str, base: str = CURRENT_DECLARATION) -> str:
    """The version of ``base`` in the requester's language, or ``base`` itself when it has no such translation."""
    translated = f"{base}-{language}"
    return translated if language != "en" and translated in declaration_versions() else base


def declaration_text(version: str) -> str:
    """The statement the requester signed, under penalty of perjury (§7063(a))."""
    if version not in declaration_versions():
        raise InvalidRequest("declaration.statement_version", "is not a known statement version")
    return (DECLARATIONS_DIR / f"{version}.txt").read_text(encoding="utf-8").strip()


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
    "request_type": {"type": "string", "enum": list(REQUEST_TYPES)},
    "phone": {"type": ["null", "string"], "maxLength": 40, "pattern": r"^\s*(\+?[0-9 ().\-]+)?\s*$"},
    "postal_address": {"type": ["null", "string"], "maxLength": _MAX_ADDRESS},
    "account_id": {"type": ["null", "string"], "maxLength": _MAX_ACCOUNT_ID},
    "account": {
        "type": ["null", "object"],
        "properties": {
            "account_id": {"type": "string", "minLength": 1, "maxLength": _MAX_ACCOUNT_ID},
            "authenticated_at": {"type": "string", "minLength": 10, "maxLength": 40},
            "method": {"type": "string", "minLength": 1, "maxLength": 32},
            "delivery_url": {
                "type": ["null", "string"],
                "maxLength": _MAX_URL,
                "pattern": r"^\s*[Hh][Tt][Tt][Pp][Ss]://\S+\s*$",
            },
            "email_changed_at": {"type": ["null", "string"], "maxLength": 40},
            "password_reset_at": {"type": ["null", "string"], "maxLength": 40},
        },
        "required": ["account_id", "authenticated_at", "method"],
        "additionalProperties": False,
    },
    "agent": {
        "type": ["null", "object"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": _MAX_NAME},
            "email": {"type": "string", "minLength": 3, "maxLength": _MAX_EMAIL},
            "permission": {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "enum": ["signed_permission", "power_of_attorney"]},
                    "document_url": {"type": "string", "maxLength": _MAX_URL},
                },
                "required": ["kind", "document_url"],
                "additionalProperties": False,
            },
        },
        "required": ["name", "email", "permission"],
        "additionalProperties": False,
    },
    "declaration": {
        "type": ["null", "object"],
        "properties": {
            "signed_at": {"type": "string", "minLength": 10, "maxLength": 40},
            "signer_name": {"type": "string", "minLength": 1, "maxLength": _MAX_NAME},
            "statement_version": {"type": "string", "minLength": 1, "maxLength": 32},
        },
        "required": ["signed_at", "signer_name", "statement_version"],
        "additionalProperties": False,
    },
    "language": {"type": "string", "enum": ["", "en", "es"]},  # empty: the Variable ccpa_default_language
    "lookback": {"type": "string", "enum": list(LOOKBACKS)},
}
#: Every task process validates the run's conf against these (Airflow's ``Param.resolve``: ``jsonschema.validate``,
#: which first checks the schema itself against its metaschema), twice per param. Against the default metaschema
#: (2020-12: dynamic references, vocabularies) that check cost ~4x more than against draft-07's, and was most of a
#: short task's own CPU (issue #22). These schemas use only keywords that mean the same in both drafts.
PARAM_SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"
for _schema in PARAM_SCHEMAS.values():
    _schema["$schema"] = PARAM_SCHEMA_DRAFT


class SharedSchema(dict[str, Any]):
    """A Param's JSON schema that Airflow's copies of the Param share instead of copying.

    Airflow deep-copies the DAG's Params for every operator it builds, once per class in the operator's hierarchy
    (45 copies for this DAG's 11 operators), and every task process parses the DAG file again: copying these
    schemas was ~7 of the ~24 CPU-ms a task process spends parsing (issue #22). Nothing changes a schema after the
    DAG is built (Airflow validates against it and serializes it), so one object serves every copy; the Param
    objects, their values and their sources are still copied.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedSchema:
        return self


def sharing_schemas(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` (name → ``Param``) with each Param's schema made a :class:`SharedSchema`."""
    for param in params.values():
        param.schema = SharedSchema(param.schema)
    return params


class InvalidRequest(ValueError):
    """A request field is missing or malformed; the message names the field, never its value."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid access request: field '{field}' {problem}")
        self.field = field


@dataclass(frozen=True)
class Declaration:
    """§7063(a): the requester signed, under penalty of perjury, that they are the consumer."""

    signed_at: datetime
    signer_name: str
    statement_version: str

    def to_dict(self) -> dict[str, str]:
        return {
            "signed_at": self.signed_at.isoformat(),
            "signer_name": self.signer_name,
            "statement_version": self.statement_version,
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Declaration:
        return cls(datetime.fromisoformat(value["signed_at"]), value["signer_name"], value["statement_version"])


AGENT_PERMISSIONS = ("signed_permission", "power_of_attorney")


@dataclass(frozen=True)
class Agent:
    """§7063: an authorised agent acting for the consumer. The consumer's identifiers are the ones searched; the
    agent's email only receives a notice that the answer was sent (to the consumer)."""

    name: str
    email: str
    permission_kind: str
    document_url: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "email": self.email,
            "permission": {"kind": self.permission_kind, "document_url": self.document_url},
        }

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Agent:
        permission = value["permission"]
        return cls(value["name"], value["email"], permission["kind"], permission["document_url"])


@dataclass(frozen=True)
class Account:
    """§7061: the intake asserts that the consumer was logged in to this account when making the request. Used only
    for verification and delivery through the account channel; cleared when the request closes."""

    account_id: str
    authenticated_at: datetime
    method: str
    #: The business's secure message centre for this account (https): the report is delivered there, not by email.
    delivery_url: str | None = None
    #: Fraud facts (optional): when the account's email address last changed, when its password was last reset.
    email_changed_at: datetime | None = None
    password_reset_at: datetime | None = None

    def to_json(self) -> str:
        value: dict[str, str] = {
            "account_id": self.account_id,
            "authenticated_at": self.authenticated_at.isoformat(),
            "method": self.method,
        }
        if self.delivery_url:
            value["delivery_url"] = self.delivery_url
        if self.email_changed_at:
            value["email_changed_at"] = self.email_changed_at.isoformat()
        if self.password_reset_at:
            value["password_reset_at"] = self.password_reset_at.isoformat()
        return json.dumps(value, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Account | None:
        if not text:
            return None
        value = json.loads(text)

        def moment(key: str) -> datetime | None:
            return datetime.fromisoformat(value[key]) if value.get(key) else None

        return cls(
            account_id=value["account_id"],
            authenticated_at=datetime.fromisoformat(value["authenticated_at"]),
            method=value["method"],
            delivery_url=value.get("delivery_url"),
            email_changed_at=moment("email_changed_at"),
            password_reset_at=moment("password_reset_at"),
        )


@dataclass(frozen=True)
class Identifiers:
    """What the requester gave beyond name and email, to be matched against data held (§7060-§7062). Used only
    for verification (§7060(d)) and redacted when the request closes."""

    phone: str | None = None
    postal_address: str | None = None
    account_id: str | None = None
    declaration: Declaration | None = None
    agent: Agent | None = None

    def to_json(self) -> str | None:
        value: dict[str, Any] = {
            k: v for k, v in (("phone", self.phone), ("postal_address", self.postal_address)) if v is not None
        }
        if self.account_id is not None:
            value["account_id"] = self.account_id
        if self.declaration is not None:
            value["declaration"] = self.declaration.to_dict()
        if self.agent is not None:
            value["agent"] = self.agent.to_dict()
        return json.dumps(value, sort_keys=True) if value else None

    @classmethod
    def from_json(cls, text: str | None) -> Identifiers:
        value = json.loads(text) if text else {}
        declaration = value.get("declaration")
        return cls(
            phone=value.get("phone"),
            postal_address=value.get("postal_address"),
            account_id=value.get("account_id"),
            declaration=Declaration.from_dict(declaration) if declaration else None,
            agent=Agent.from_dict(value["agent"]) if value.get("agent") else None,
        )

    def merged(self, other: Identifiers) -> Identifiers:
        """These identifiers with ``other``'s given values added (the requester answered "ask for more")."""
        return Identifiers(
            phone=other.phone or self.phone,
            postal_address=other.postal_address or self.postal_address,
            account_id=other.account_id or self.account_id,
            declaration=other.declaration or self.declaration,
            agent=self.agent,  # the agent is named at intake only
        )


@dataclass(frozen=True)
class AccessRequest:
    name: str
    email: str
    photo_id_url: str = ""
    request_type: str = SPECIFIC_PIECES
    identifiers: Identifiers = Identifiers()
    account: Account | None = None

    @classmethod
    def from_conf(cls, conf: dict[str, Any] | None, *, now: datetime | None = None) -> AccessRequest:
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

        url = (_optional(conf, "photo_id_url") or "").strip()
        parsed = urlparse(url)
        if url and (len(url) > _MAX_URL or parsed.scheme not in ("http", "https") or not parsed.netloc or " " in url):
            raise InvalidRequest("photo_id_url", "must be an http(s) URL")
        request_type = conf.get("request_type") or SPECIFIC_PIECES
        if request_type not in REQUEST_TYPES:
            raise InvalidRequest("request_type", f"must be one of {', '.join(REQUEST_TYPES)}")
        identifiers = parse_identifiers(conf, name=name, now=now)
        account = parse_account(conf.get("account"), now=now)
        if account and identifiers.account_id and identifiers.account_id != account.account_id:
            raise InvalidRequest("account.account_id", "must be the same as account_id when both are given")
        return cls(
            name=name,
            email=email,
            photo_id_url=url,
            request_type=request_type,
            identifiers=identifiers,
            account=account,
        )

    def to_dict(self) -> dict[str, Any]:
        """The columns of the request's row (``ccpa_requests``)."""
        return {
            "name": self.name,
            "email": self.email,
            "photo_id_url": self.photo_id_url,
            "request_type": self.request_type,
            "identifiers": self.identifiers.to_json(),
            "account": self.account.to_json() if self.account else None,
        }


def parse_identifiers(conf: dict[str, Any], *, name: str, now: datetime | None = None) -> Identifiers:
    """The optional identifiers (phone, postal_address, account_id, declaration), normalised and validated. Used at
    intake and by the verification page (the requester answering "ask for more")."""
    phone = _optional(conf, "phone")
    if phone is not None:
        phone = " ".join(phone.split())
        digits = sum(c.isdigit() for c in phone)
        if not _PHONE_CHARS.match(phone) or not _PHONE_DIGITS[0] <= digits <= _PHONE_DIGITS[1]:
            raise InvalidRequest("phone", "must be a phone number (7 to 15 digits; +, spaces, dashes, dots, brackets)")
    address = _optional(conf, "postal_address")
    if address is not None:
        address = " ".join(address.split())
        if len(address) > _MAX_ADDRESS or _CONTROL.search(address):
            raise InvalidRequest("postal_address", f"must be at most {_MAX_ADDRESS} printable characters")
    account_id = _optional(conf, "account_id")
    if account_id is not None:
        account_id = account_id.strip()
        if not _ACCOUNT_ID.match(account_id):
            raise InvalidRequest("account_id", "must be 1 to 128 letters, digits or . _ : @ + / -")
    return Identifiers(
        phone=phone or None,
        postal_address=address or None,
        account_id=account_id or None,
        declaration=_declaration(conf.get("declaration"), name=name, now=now),
        agent=_agent(conf.get("agent")),
    )


def _agent(value: Any) -> Agent | None:
    """§7063: ``{"name", "email", "permission": {"kind": signed_permission | power_of_attorney, "document_url"}}``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("agent", "must be an object {name, email, permission}")
    unknown = set(value) - {"name", "email", "permission"}
    if unknown:
        raise InvalidRequest("agent", f"has unknown field(s) {sorted(unknown)}")
    name = " ".join(_text(value, "name", prefix="agent.").split())
    if not name or len(name) > _MAX_NAME:
        raise InvalidRequest("agent.name", f"must be 1 to {_MAX_NAME} characters")
    email = _text(value, "email", prefix="agent.").strip().lower()
    if len(email) > _MAX_EMAIL or not _EMAIL.match(email):
        raise InvalidRequest("agent.email", "is not a valid email address")
    permission = value.get("permission")
    if not isinstance(permission, dict) or set(permission) - {"kind", "document_url"}:
        raise InvalidRequest("agent.permission", "must be an object {kind, document_url}")
    kind = permission.get("kind")
    if kind not in AGENT_PERMISSIONS:
        raise InvalidRequest("agent.permission.kind", f"must be one of {', '.join(AGENT_PERMISSIONS)}")
    url = _text(permission, "document_url", prefix="agent.permission.").strip()
    parsed = urlparse(url)
    if len(url) > _MAX_URL or parsed.scheme not in ("http", "https") or not parsed.netloc or " " in url:
        raise InvalidRequest("agent.permission.document_url", "must be an http(s) URL")
    return Agent(name=name, email=email, permission_kind=kind, document_url=url)


def _declaration(value: Any, *, name: str, now: datetime | None) -> Declaration | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("declaration", "must be an object {signed_at, signer_name, statement_version}")
    unknown = set(value) - {"signed_at", "signer_name", "statement_version"}
    if unknown:
        raise InvalidRequest("declaration", f"has unknown field(s) {sorted(unknown)}")
    signed_at_text = _text(value, "signed_at", prefix="declaration.")
    try:
        signed_at = datetime.fromisoformat(signed_at_text.strip())
    except ValueError:
        raise InvalidRequest("declaration.signed_at", "must be an ISO 8601 date and time") from None
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=UTC)
    if signed_at > (now or datetime.now(UTC)) + _CLOCK_SKEW:
        raise InvalidRequest("declaration.signed_at", "must not be in the future")
    signer = " ".join(_text(value, "signer_name", prefix="declaration.").split())
    if not signer or len(signer) > _MAX_NAME:
        raise InvalidRequest("declaration.signer_name", f"must be 1 to {_MAX_NAME} characters")
    if signer.casefold() != name.casefold():
        raise InvalidRequest("declaration.signer_name", "must be the requester's name (the consumer signs)")
    version = _text(value, "statement_version", prefix="declaration.").strip()
    declaration_text(version)  # raises for an unknown version
    return Declaration(signed_at=signed_at.astimezone(UTC), signer_name=signer, statement_version=version)


def parse_account(value: Any, *, now: datetime | None = None) -> Account | None:
    """§7061: the optional ``account`` object. Its times must not be in the future (a clock error or a forgery);
    whether the login is recent enough is judged against the request's receipt (include.verification.account)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("account", "must be an object {account_id, authenticated_at, method, ...}")
    unknown = set(value) - _ACCOUNT_FIELDS
    if unknown:
        raise InvalidRequest("account", f"has unknown field(s) {sorted(unknown)}")
    account_id = _text(value, "account_id", prefix="account.").strip()
    if not _ACCOUNT_ID.match(account_id):
        raise InvalidRequest("account.account_id", "must be 1 to 128 letters, digits or . _ : @ + / -")
    method = _text(value, "method", prefix="account.").strip().lower()
    if not _LOGIN_METHOD.match(method):
        raise InvalidRequest("account.method", "must be a short word (password, sso, mfa, ...)")
    url = (_optional(value, "delivery_url", prefix="account.") or "").strip()
    parsed = urlparse(url)
    if url and (len(url) > _MAX_URL or parsed.scheme != "https" or not parsed.netloc or " " in url):
        raise InvalidRequest("account.delivery_url", "must be an https URL")
    latest = (now or datetime.now(UTC)) + _CLOCK_SKEW

    def moment(field: str, required: bool) -> datetime | None:
        text = _text(value, field, prefix="account.") if required else _optional(value, field, prefix="account.")
        if text is None:
            return None
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            raise InvalidRequest(f"account.{field}", "must be an ISO 8601 date and time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if when > latest:
            raise InvalidRequest(f"account.{field}", "must not be in the future")
        return when.astimezone(UTC)

    authenticated_at = moment("authenticated_at", True)
    assert authenticated_at is not None
    return Account(
        account_id=account_id,
        authenticated_at=authenticated_at,
        method=method,
        delivery_url=url or None,
        email_changed_at=moment("email_changed_at", False),
        password_reset_at=moment("password_reset_at", False),
    )


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


def _text(conf: dict[str, Any], field: str, prefix: str = "") -> str:
    value = conf.get(field)
    if value is None:
        raise InvalidRequest(prefix + field, "is missing")
    if not isinstance(value, str):
        raise InvalidRequest(prefix + field, "must be a string")
    return value


def _optional(conf: dict[str, Any], field: str, prefix: str = "") -> str | None:
    """An optional string field: absent, null and blank are all "not given"."""
    value = conf.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(prefix + field, "must be a string")
    return value if value.strip() else None
