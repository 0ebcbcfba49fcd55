"""Keep personal data out of logs, including third-party libraries' debug output."""

from __future__ import annotations

import logging
import re
import smtplib
from typing import Any

#: Libraries whose DEBUG lines carry request bodies (Slack messages hold names and emails).
_BODY_LOGGERS = ("slack_sdk", "slack_bolt", "urllib3.connectionpool")


def quiet_body_loggers() -> None:
    """Set these loggers to INFO even when the root logger is at DEBUG; a level the user set on them wins."""
    for name in _BODY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)


#: Something that looks like an email address, with or without angle brackets.
_ADDRESS = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")


def scrub_addresses(text: str) -> str:
    """``text`` with every email address replaced by ``<address>``."""
    return _ADDRESS.sub("<address>", text)


def scrubbed_smtp_error(exc: BaseException) -> BaseException:
    """The same SMTP failure (same class, code and server text) without the addresses smtplib and servers put in it
    (``SMTPRecipientsRefused`` holds the recipient; a server's 550 quotes it). Raise it ``from None``."""

    def text(msg: Any) -> Any:
        if isinstance(msg, bytes):
            return scrub_addresses(msg.decode("utf-8", "replace")).encode()
        return scrub_addresses(str(msg))

    try:
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            refused = {f"<recipient {n}>": (code, text(m)) for n, (code, m) in enumerate(exc.recipients.values(), 1)}
            return smtplib.SMTPRecipientsRefused(refused)
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return smtplib.SMTPSenderRefused(exc.smtp_code, text(exc.smtp_error), "<sender>")
        if isinstance(exc, smtplib.SMTPResponseException):
            return type(exc)(exc.smtp_code, text(exc.smtp_error))
        return type(exc)(*(text(a) if isinstance(a, str | bytes) else a for a in exc.args))
    except Exception:  # an exception class with an unusual constructor: keep the type's name, not the text
        return RuntimeError(f"{type(exc).__name__} (details withheld: they name an email address)")
