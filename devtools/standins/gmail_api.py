"""A local stand-in for the Gmail API's ``users.messages.send``, so the demo and the tests send mail offline.

The real google-api-python-client talks to it when its ``api_endpoint`` is :attr:`GmailStandIn.api_endpoint`
(``http://HOST:PORT/``): the client builds ``POST {api_endpoint}gmail/v1/users/{userId}/messages/send`` from the
bundled discovery document, with a JSON body ``{"raw": <base64url RFC 822 message>}``. The stand-in checks what
Gmail checks before accepting a message, and answers with Gmail's JSON error shape otherwise:

* ``Authorization: Bearer <token>`` is present (and, if ``tokens`` is given, one of them): else 401;
* the body is a JSON object with a non-empty ``raw`` in base64url (padding optional): else 400;
* the decoded message is at most :data:`MAX_MESSAGE_BYTES` (25 MB, Gmail's limit): else 413;
* the message parses and names a recipient in To, Cc or Bcc (Gmail sends to exactly those): else 400.

An accepted message is stored as ``<dir>/<UTC YYYYmmddTHHMMSSffffff>-<seq>.eml`` holding exactly the decoded
bytes, next to a ``.envelope.json`` (the same layout as :mod:`devtools.standins.mail_sink`, so
:func:`~devtools.standins.mail_sink.read_mail` reads both), and answered with ``{"id", "threadId", "labelIds"}``.
Gmail's wording for an oversize message through the API is not documented; the 413 text follows its SMTP one.

Run on its own with ``python -m devtools.standins.gmail_api --port 8092 --dir DIR``.
Message contents and addresses are never logged: they carry requesters' personal data.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import copy
import email
import itertools
import json
import logging
import re
import secrets
import signal
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import getaddresses
from pathlib import Path
from typing import Any, cast

from flask import Flask, Response, jsonify, request

from devtools.standins.mail_sink import ENVELOPE_SUFFIX, ReceivedMail, _atomic_write, read_mail, wait_for_mail
from devtools.standins.wsgi_thread import QuietRequestHandler, ServedStandIn

log = logging.getLogger(__name__)

#: Gmail's limit on a message, counted on the RFC 822 bytes (before base64).
MAX_MESSAGE_BYTES = 25 * 1024 * 1024
SEND_PATH = "/gmail/v1/users/<user_id>/messages/send"

_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 413: "FAILED_PRECONDITION"}


class _QuietHandler(QuietRequestHandler):
    """Werkzeug logs every request line at INFO; the path carries the sending mailbox, keep it at DEBUG."""

    logger = log

    def shown_path(self) -> str:
        return re.sub(r"/users/[^/]+/", "/users/*/", self.path.split("?")[0])


class GmailApiError(Exception):
    """An answer in Gmail's error shape: ``{"error": {"code", "message", "errors": [...], "status"}}``."""

    def __init__(self, code: int, message: str, reason: str, **extra: str) -> None:
        super().__init__(message)
        self.code, self.message, self.reason, self.extra = code, message, reason, extra

    def response(self) -> Response:
        detail = {"message": self.message, "domain": "global", "reason": self.reason, **self.extra}
        body = {"error": {"code": self.code, "message": self.message, "errors": [detail], "status": _STATUS[self.code]}}
        resp = jsonify(body)
        resp.status_code = self.code
        if self.code == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
        return resp


class GmailStandIn(ServedStandIn):
    """Gmail API stand-in served from a daemon thread (see the module docstring)."""

    _request_handler = _QuietHandler
    _thread_name = "gmail-standin-{port}"

    def __init__(
        self,
        directory: str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host = host
        self._requested_port = port
        #: Accepted bearer tokens; ``None`` accepts any non-empty one (Gmail would check it with Google's OAuth).
        self.tokens = frozenset(tokens) if tokens is not None else None
        self.max_message_bytes = max_message_bytes
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._accepted: list[dict[str, Any]] = []
        self._threads: set[str] = set()
        #: Every HTTP request received, accepted or not: lets tests prove a client made no call at all.
        self.request_count = 0
        self.app = self._build_app()

    # ------------------------------------------------------------------ lifecycle (the rest: ServedStandIn)

    def _started(self) -> None:
        log.info("Gmail API stand-in listening on %s, storing into %s", self.url, self.directory)

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice. Stored files stay."""
        super().stop()

    @property
    def api_endpoint(self) -> str:
        """What goes into the connection extra ``api_endpoint`` (or ``client_options``): the client appends
        ``gmail/v1/...`` to it."""
        return f"{self.url}/"

    @property
    def send_url(self) -> str:
        """The URL the client POSTs to for ``users.messages.send`` as ``me``."""
        return f"{self.url}/gmail/v1/users/me/messages/send"

    # ------------------------------------------------------------------ inspection

    def messages(self) -> list[ReceivedMail]:
        """Stored messages in arrival order, parsed with ``email.policy.default`` (works from any process)."""
        return read_mail(self.directory)

    def accepted(self) -> list[dict[str, Any]]:
        """What this instance answered for each accepted message: ``id``, ``threadId``, ``labelIds``, ``path``,
        ``user_id``, ``size``."""
        with self._lock:
            return copy.deepcopy(self._accepted)

    def wait_for(self, count: int = 1, timeout: float = 10) -> list[ReceivedMail]:
        """Block until at least ``count`` messages are stored; raises TimeoutError."""
        return wait_for_mail(self.messages, count, timeout)

    # ------------------------------------------------------------------ the API

    def _build_app(self) -> Flask:
        app = Flask(__name__)

        @app.before_request
        def _count() -> None:
            with self._lock:
                self.request_count += 1

        @app.errorhandler(GmailApiError)
        def _gmail_error(exc: GmailApiError) -> Response:
            return exc.response()

        @app.post(SEND_PATH)
        def send(user_id: str) -> Response:
            self._check_auth()
            body = request.get_json(force=True, silent=True)
            if not isinstance(body, dict):
                raise GmailApiError(400, "Invalid JSON payload received.", "parseError")
            raw = _decode_raw(body.get("raw"), self.max_message_bytes)
            message = _parse(raw)
            recipients = _recipients(message)
            thread_id = body.get("threadId")
            return jsonify(self._store(user_id, raw, message, recipients, thread_id))

        return app

    def _check_auth(self) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise GmailApiError(
                401,
                "Request is missing required authentication credential. Expected OAuth 2 access token, login "
                "cookie or other valid authentication credential.",
                "required",
                location="Authorization",
                locationType="header",
            )
        if self.tokens is not None and token.strip() not in self.tokens:
            raise GmailApiError(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                "other valid authentication credential.",
                "authError",
                location="Authorization",
                locationType="header",
            )

    def _store(
        self, user_id: str, raw: bytes, message: EmailMessage, recipients: list[str], thread_id: Any
    ) -> dict[str, Any]:
        with self._lock:
            if thread_id not in (None, "") and thread_id not in self._threads:
                raise GmailApiError(404, "Requested entity was not found.", "notFound")
            seq = next(self._seq)
            message_id = "1" + secrets.token_hex(8)[1:]
            thread = str(thread_id) if thread_id else message_id
            self._threads.add(thread)
            stem = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}-{seq:06d}"
            path = self.directory / f"{stem}.eml"
            meta = {
                "mail_from": _first_address(message.get_all("From", [])) or user_id,
                "rcpt_tos": recipients,
                "user_id": user_id,
                "id": message_id,
                "threadId": thread,
            }
            # The envelope first: a visible .eml always has its envelope next to it.
            _atomic_write(self.directory / f"{stem}{ENVELOPE_SUFFIX}", json.dumps(meta).encode())
            _atomic_write(path, raw)
            answer = {"id": message_id, "threadId": thread, "labelIds": ["SENT"]}
            self._accepted.append({**answer, "path": str(path), "user_id": user_id, "size": len(raw)})
        log.info("Gmail stand-in accepted message %s (%d bytes, %d recipients)", message_id, len(raw), len(recipients))
        return answer


def _decode_raw(value: Any, limit: int) -> bytes:
    """Gmail's ``raw``: the RFC 822 message in base64url, padding optional, at most ``limit`` bytes decoded."""
    if value in (None, ""):
        raise GmailApiError(
            400, "'raw' RFC822 payload message string or uploading message via /upload/* URL required", "badRequest"
        )
    invalid = GmailApiError(
        400, "Invalid value at 'message.raw' (TYPE_BYTES), Base64 decoding failed.", "invalidArgument"
    )
    if not isinstance(value, str) or not _BASE64URL.match(value):
        raise invalid
    data = value.rstrip("=")
    if len(data) % 4 == 1:
        raise invalid
    size = len(data) * 3 // 4  # the decoded length, known before decoding
    if size > limit:
        raise GmailApiError(
            413,
            f"Your message exceeded Google's message size limits ({size} bytes, the limit is {limit} bytes).",
            "uploadTooLarge",
        )
    try:
        return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError) as exc:
        raise invalid from exc


def _parse(raw: bytes) -> EmailMessage:
    try:
        message = cast(EmailMessage, email.message_from_bytes(raw, policy=default_policy))
        list(message.items())  # header parsing is lazy: force it so a broken header fails here
    except Exception as exc:
        raise GmailApiError(400, "Invalid RFC 822 message.", "invalidArgument") from exc
    if not message.keys():
        raise GmailApiError(400, "Invalid RFC 822 message.", "invalidArgument")
    return message


def _recipients(message: EmailMessage) -> list[str]:
    """The addresses in To, Cc and Bcc; Gmail refuses a message with none, or with a To it cannot read."""
    found: list[str] = []
    for header in ("To", "Cc", "Bcc"):
        values = [str(v) for v in message.get_all(header, [])]
        addresses = [addr for _, addr in getaddresses(values) if "@" in addr]
        if values and any(v.strip() for v in values) and not addresses:
            raise GmailApiError(400, f"Invalid {header} header", "invalidArgument")
        found.extend(addresses)
    if not found:
        raise GmailApiError(400, "Recipient address required", "invalidArgument")
    return found


def _first_address(values: list[Any]) -> str:
    addresses = [addr for _, addr in getaddresses([str(v) for v in values]) if addr]
    return addresses[0] if addresses else ""


def main(argv: list[str] | None = None) -> None:
    """Run the stand-in in the foreground until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--dir", required=True, help="where the .eml files go")
    parser.add_argument("--token", action="append", help="accept only this bearer token (repeatable)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with GmailStandIn(args.dir, host=args.host, port=args.port, tokens=args.token) as standin:
        print(
            f"Gmail API stand-in on {standin.url} (api_endpoint {standin.api_endpoint}), "
            f"storing into {standin.directory}",
            flush=True,
        )
        while not stop.wait(1):
            pass


if __name__ == "__main__":
    main()
