"""A local SMTP server that keeps every message as a ``.eml`` file, so the demo and tests send real mail offline.

Airflow's SmtpHook (connection extra ``{"disable_tls": true, "disable_ssl": true}``) or plain ``smtplib.SMTP``
deliver to it; nothing is relayed. Each message lands as ``<dir>/<UTC YYYYmmddTHHMMSSffffff>-<seq>.eml`` holding
the exact bytes received, next to a ``.envelope.json`` with the SMTP envelope (the recipients are not always in
the headers, e.g. Bcc). Files are written atomically, so another process can read the directory at any time.

Run on its own with ``python -m devtools.standins.mail_sink --port 8025 --dir DIR [--web-port 8026]``. With a web port
it also serves a page listing the received mail (newest first); each message opens with its headers, its HTML body
in a sandboxed frame, its text body and its attachments as downloads. The page reads the directory, so it shows mail
stored by any process.
Message contents are never logged: they carry requesters' personal data.
"""

from __future__ import annotations

import argparse
import email
import itertools
import json
import logging
import os
import re
import signal
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Self, cast

from aiosmtpd.controller import Controller
from flask import Flask, Response, abort, jsonify, render_template

from devtools.standins.tls import server_context
from devtools.standins.wsgi_thread import QuietRequestHandler, ServedApp, StartStop

log = logging.getLogger(__name__)

DEFAULT_SIZE_LIMIT = 35 * 1024 * 1024
ENVELOPE_SUFFIX = ".envelope.json"
WEB_DIR = Path(__file__).resolve().parent / "web"
_MAIL_ID = re.compile(r"^[0-9]{8}T[0-9]{6,12}-[0-9]{1,12}$")
#: The pages: their own stylesheet, no script at all, mail bodies only inside a sandboxed frame.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: A mail's HTML body, served alone: a sandbox with no script, no form, no plugin and no request anywhere else.
BODY_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:; frame-ancestors 'self'"


@dataclass(frozen=True)
class ReceivedMail:
    """One received message. Unpacks as ``path, message``; ``mail["Subject"]`` reads a header."""

    path: Path
    message: EmailMessage
    envelope_from: str = ""
    envelope_to: list[str] = field(default_factory=list)

    @property
    def raw(self) -> bytes:
        return self.path.read_bytes()

    def __iter__(self) -> Iterator[Any]:
        return iter((self.path, self.message))

    def __getitem__(self, key: str) -> Any:
        return self.message[key]


class _Handler:
    """aiosmtpd handler: write each DATA to disk, temp file then rename."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        #: Recipients refused at RCPT TO, as Postfix refuses an unknown user (quoting the address in its answer).
        self.refused: set[str] = set()
        #: Fault injection: called once the message is stored, before the server answers 250 (e.g. the compliance
        #: database restarting while the email is accepted: the sender's confirmation then meets the fault).
        self.before_accepting: Any = None

    async def handle_RCPT(self, _server: Any, _session: Any, envelope: Any, address: str, _options: Any) -> str:
        if address.lower() in self.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            seq = next(self._seq)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        stem = f"{stamp}-{seq:06d}"
        content = envelope.original_content or b""
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos), "peer": str(session.peer[0])}
        # The envelope first: a visible .eml always has its envelope next to it.
        _atomic_write(self.directory / f"{stem}{ENVELOPE_SUFFIX}", json.dumps(meta).encode())
        _atomic_write(self.directory / f"{stem}.eml", content)
        log.info("Mail sink stored message %s (%d bytes, %d recipients)", stem, len(content), len(envelope.rcpt_tos))
        if self.before_accepting is not None:
            hook, self.before_accepting = self.before_accepting, None  # once
            hook()
        return "250 Message accepted for delivery"


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _free_port(host: str) -> int:
    """aiosmtpd's Controller probes its own port to know it is up, so port 0 must be resolved beforehand."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def read_mail(directory: str | Path) -> list[ReceivedMail]:
    """Every message stored in ``directory``, in arrival order (works from any process)."""
    out = []
    for path in sorted(Path(directory).glob("*.eml")):
        message = cast(EmailMessage, email.message_from_bytes(path.read_bytes(), policy=default_policy))
        meta_path = path.with_name(path.name[: -len(".eml")] + ENVELOPE_SUFFIX)
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            meta = {}
        out.append(ReceivedMail(path, message, meta.get("mail_from", ""), list(meta.get("rcpt_tos", []))))
    return out


def wait_for_mail(
    messages: Callable[[], list[ReceivedMail]], count: int, timeout: float, noun: str = "messages"
) -> list[ReceivedMail]:
    """Poll ``messages()`` until it lists at least ``count``; raises TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = messages()
        if len(found) >= count:
            return found
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{len(found)} of {count} {noun} arrived within {timeout}s")
        time.sleep(0.05)


# ---------------------------------------------------------------------- the web page


def mail_id(path: Path) -> str:
    """A stored message's id in the web page's URLs: its file name without ``.eml``."""
    return path.name[: -len(".eml")]


def _received_at(mail_id_: str) -> str:
    try:
        return datetime.strptime(mail_id_.split("-")[0], "%Y%m%dT%H%M%S%f").strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return ""


def _attachments(message: EmailMessage) -> list[EmailMessage]:
    """The parts a mail client lists as attachments: not the text/HTML bodies, not multipart containers."""
    bodies = {id(part) for part in (message.get_body(("html",)), message.get_body(("plain",))) if part is not None}
    return [
        cast(EmailMessage, part)
        for part in message.walk()
        if not part.is_multipart()
        and id(part) not in bodies
        and (part.get_content_disposition() in ("attachment", "inline") or part.get_filename())
    ]


def _content(part: EmailMessage | None) -> str | None:
    if part is None:
        return None
    try:
        return str(part.get_content())
    except (LookupError, ValueError):  # an unknown charset: show what can be shown
        return (part.get_payload(decode=True) or b"").decode("utf-8", "replace")


def _summary(mail: ReceivedMail) -> dict[str, Any]:
    msg = mail.message
    return {
        "id": mail_id(mail.path),
        "received": _received_at(mail_id(mail.path)),
        "from": str(msg["From"] or mail.envelope_from or ""),
        "to": str(msg["To"] or ", ".join(mail.envelope_to)),
        "subject": str(msg["Subject"] or ""),
        "date": str(msg["Date"] or ""),
        "size": mail.path.stat().st_size,
        "attachments": [
            {
                "n": n,
                "filename": part.get_filename() or f"attachment-{n}",
                "content_type": part.get_content_type(),
                "size": len(part.get_payload(decode=True) or b""),
            }
            for n, part in enumerate(_attachments(msg))
        ],
    }


class _QuietHandler(QuietRequestHandler):
    logger = log


def create_web_app(directory: str | Path) -> Flask:
    """The mail page as a WSGI app reading ``directory`` at each request (see the module docstring)."""
    directory = Path(directory)
    app = Flask(
        __name__,
        template_folder=str(WEB_DIR / "templates"),
        static_folder=str(WEB_DIR / "static"),
        static_url_path="/_static",
    )

    def load(mail_id_: str) -> ReceivedMail:
        if not _MAIL_ID.match(mail_id_):
            abort(404)
        path = directory / f"{mail_id_}.eml"
        for mail in read_mail(directory):
            if mail.path == path:
                return mail
        abort(404)

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.get("/")
    def index() -> str:
        mails = [_summary(m) for m in reversed(read_mail(directory))]
        return render_template("mail_index.html", mails=mails, directory=str(directory))

    @app.get("/api/messages")
    def api_messages() -> Response:
        return jsonify([_summary(m) for m in reversed(read_mail(directory))])

    @app.get("/messages/<mail_id_>")
    def show(mail_id_: str) -> str:
        mail = load(mail_id_)
        msg = mail.message
        return render_template(
            "mail_message.html",
            mail=_summary(mail),
            headers=[(str(k), str(v)) for k, v in msg.items()],
            envelope_from=mail.envelope_from,
            envelope_to=mail.envelope_to,
            has_html=msg.get_body(("html",)) is not None,
            text=_content(cast(EmailMessage | None, msg.get_body(("plain",)))),
        )

    @app.get("/messages/<mail_id_>/html")
    def html_body(mail_id_: str) -> Response:
        body = _content(cast(EmailMessage | None, load(mail_id_).message.get_body(("html",))))
        if body is None:
            abort(404)
        resp = Response(body, mimetype="text/html")
        resp.headers["Content-Security-Policy"] = BODY_CSP
        return resp

    @app.get("/messages/<mail_id_>/raw")
    def raw(mail_id_: str) -> Response:
        resp = Response(load(mail_id_).raw, mimetype="text/plain")
        resp.headers["Content-Disposition"] = f"attachment; filename={mail_id_}.eml"
        return resp

    @app.get("/messages/<mail_id_>/attachments/<int:n>")
    def attachment(mail_id_: str, n: int) -> Response:
        parts = _attachments(load(mail_id_).message)
        if n >= len(parts):
            abort(404)
        part = parts[n]
        resp = Response(part.get_payload(decode=True) or b"", mimetype=part.get_content_type())
        resp.headers["Content-Disposition"] = _disposition(part.get_filename() or f"attachment-{n}")
        resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return resp

    return app


def _disposition(filename: str) -> str:
    """``attachment`` with the name as an ASCII fallback plus RFC 5987 ``filename*`` for anything else."""
    from urllib.parse import quote

    ascii_name = re.sub(r"[^A-Za-z0-9._ -]", "_", filename).strip() or "attachment"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


class MailSink(StartStop):
    """SMTP sink on ``host:port`` storing into ``directory`` (see the module docstring).

    ``web_port`` (``0`` picks a free one) also serves the mail page at :attr:`web_url`; ``None`` serves none.
    """

    def __init__(
        self,
        directory: str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        size_limit: int = DEFAULT_SIZE_LIMIT,
        web_port: int | None = None,
        smtputf8: bool = True,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.directory = Path(directory)
        #: STARTTLS offered and required before MAIL, as a real submission server does (devtools/standins/tls.py).
        self.tls = tls
        #: Offer SMTPUTF8 (RFC 6531, non-ASCII addresses), as Postfix 3 does by default; False models an older server.
        self.smtputf8 = smtputf8
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host = host
        self._requested_port = port
        self.size_limit = size_limit
        self._controller: Controller | None = None
        self._port: int | None = None
        self._requested_web_port = web_port
        self._web: ServedApp | None = None
        self._handler = _Handler(self.directory)

    def refuse_recipient(self, address: str) -> None:
        """Answer RCPT TO for ``address`` with 550 "Recipient address rejected" (quoting it, as Postfix does)."""
        self._handler.refused.add(address.lower())

    def before_accepting(self, hook: Any) -> None:
        """Call ``hook()`` (once) when the next message has been stored, before the server answers 250."""
        self._handler.before_accepting = hook

    def start(self) -> Self:
        """Listen (port 0 picks a free port) on aiosmtpd's own thread."""
        if self._controller is not None:
            return self
        # aiosmtpd logs every MAIL FROM / RCPT TO address at INFO: personal data, keep it out of the logs.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        port = self._requested_port or _free_port(self.host)
        controller = Controller(
            self._handler,
            hostname=self.host,
            port=port,
            data_size_limit=self.size_limit,
            server_hostname="mail-sink.local",
            enable_SMTPUTF8=self.smtputf8,
            **({"tls_context": self.tls, "require_starttls": True} if self.tls is not None else {}),
        )
        controller.start()
        self._controller, self._port = controller, port
        log.info("Mail sink listening on %s:%d, storing into %s", self.host, port, self.directory)
        if self._requested_web_port is not None:
            try:
                self._start_web(self._requested_web_port)
            except BaseException:
                self.stop()
                raise
        return self

    def _start_web(self, port: int) -> None:
        self._web = ServedApp(
            create_web_app(self.directory),
            self.host,
            port,
            request_handler=_QuietHandler,
            thread_name="mail-sink-web",
            poll_interval=0.05,
        ).start()
        log.info("Mail sink page on %s", self.web_url)

    def stop(self) -> None:
        """Stop listening; safe to call twice. Stored files stay."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
        web, self._web = self._web, None
        if web is not None:
            web.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("MailSink is not started")
        return self._port

    @property
    def web_url(self) -> str:
        """The mail page (``http://host:port``); only with a ``web_port``."""
        if self._web is None:
            raise RuntimeError("MailSink serves no web page (give it a web_port) or is not started")
        return f"http://{self.host}:{self._web.port}"

    def messages(self) -> list[ReceivedMail]:
        """Stored messages in arrival order, parsed with ``email.policy.default``."""
        return read_mail(self.directory)

    def wait_for(self, count: int = 1, timeout: float = 10) -> list[ReceivedMail]:
        """Block until at least ``count`` messages are stored; raises TimeoutError."""
        return wait_for_mail(self.messages, count, timeout, "mails")


def main(argv: list[str] | None = None) -> None:
    """Run the sink in the foreground until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", required=True, help="where the .eml files go")
    parser.add_argument("--size-limit", type=int, default=DEFAULT_SIZE_LIMIT, help="bytes, default 35 MB")
    parser.add_argument(
        "--web-port",
        type=int,
        default=8026,
        help="the mail page port (default 8026; 0: any free port; -1: none); a busy port falls back to a free one",
    )
    parser.add_argument("--tls-cert", default=None, help="offer (and require) STARTTLS with this certificate (PEM)")
    parser.add_argument("--tls-key", default=None, help="the certificate's private key (PEM)")
    args = parser.parse_args(argv)
    tls = server_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    web_port = None if args.web_port < 0 else args.web_port
    sink = MailSink(args.dir, host=args.host, port=args.port, size_limit=args.size_limit, web_port=web_port, tls=tls)
    try:
        sink.start()
    except (OSError, SystemExit):  # werkzeug's make_server exits (rather than raises) when its port is taken
        if not web_port:
            raise
        sink.stop()
        log.warning("Port %d is busy: serving the mail page on a free port instead", web_port)
        sink = MailSink(
            args.dir, host=args.host, port=args.port, size_limit=args.size_limit, web_port=0, tls=tls
        ).start()
    with sink:
        print(f"Mail sink on smtp://{sink.host}:{sink.port}, storing into {sink.directory}", flush=True)
        if web_port is not None:
            print(f"Mail sink page: {sink.web_url}/ (open it in a browser to read the mail)", flush=True)
        while not stop.wait(1):
            pass


if __name__ == "__main__":
    main()
