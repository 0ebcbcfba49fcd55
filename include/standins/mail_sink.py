"""A local SMTP server that keeps every message as a ``.eml`` file, so the demo and tests send real mail offline.

Airflow's SmtpHook (connection extra ``{"disable_tls": true, "disable_ssl": true}``) or plain ``smtplib.SMTP``
deliver to it; nothing is relayed. Each message lands as ``<dir>/<UTC YYYYmmddTHHMMSSffffff>-<seq>.eml`` holding
the exact bytes received, next to a ``.envelope.json`` with the SMTP envelope (the recipients are not always in
the headers, e.g. Bcc). Files are written atomically, so another process can read the directory at any time.

Run on its own with ``python -m include.standins.mail_sink --port 8025 --dir DIR``.
Message contents are never logged: they carry requesters' personal data.
"""

from __future__ import annotations

import argparse
import email
import itertools
import json
import logging
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Self, cast

from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)

DEFAULT_SIZE_LIMIT = 35 * 1024 * 1024
ENVELOPE_SUFFIX = ".envelope.json"


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


class MailSink:
    """SMTP sink on ``host:port`` storing into ``directory`` (see the module docstring)."""

    def __init__(
        self, directory: str | Path, host: str = "127.0.0.1", port: int = 0, size_limit: int = DEFAULT_SIZE_LIMIT
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host = host
        self._requested_port = port
        self.size_limit = size_limit
        self._controller: Controller | None = None
        self._port: int | None = None

    def start(self) -> MailSink:
        """Listen (port 0 picks a free port) on aiosmtpd's own thread."""
        if self._controller is not None:
            return self
        # aiosmtpd logs every MAIL FROM / RCPT TO address at INFO: personal data, keep it out of the logs.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        port = self._requested_port or _free_port(self.host)
        controller = Controller(
            _Handler(self.directory),
            hostname=self.host,
            port=port,
            data_size_limit=self.size_limit,
            server_hostname="mail-sink.local",
        )
        controller.start()
        self._controller, self._port = controller, port
        log.info("Mail sink listening on %s:%d, storing into %s", self.host, port, self.directory)
        return self

    def stop(self) -> None:
        """Stop listening; safe to call twice. Stored files stay."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("MailSink is not started")
        return self._port

    def messages(self) -> list[ReceivedMail]:
        """Stored messages in arrival order, parsed with ``email.policy.default``."""
        return read_mail(self.directory)

    def wait_for(self, count: int = 1, timeout: float = 10) -> list[ReceivedMail]:
        """Block until at least ``count`` messages are stored; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages()
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(found)} of {count} mails arrived within {timeout}s")
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> None:
    """Run the sink in the foreground until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", required=True, help="where the .eml files go")
    parser.add_argument("--size-limit", type=int, default=DEFAULT_SIZE_LIMIT, help="bytes, default 35 MB")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with MailSink(args.dir, host=args.host, port=args.port, size_limit=args.size_limit) as sink:
        print(f"Mail sink on smtp://{sink.host}:{sink.port}, storing into {sink.directory}", flush=True)
        while not stop.wait(1):
            pass


if __name__ == "__main__":
    main()
