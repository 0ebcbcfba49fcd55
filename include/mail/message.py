"""One MIME message, built once: the same bytes go to SMTP or to Gmail's API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from include.law import MAX_EMAIL_BYTES


class MessageTooLarge(ValueError):
    """The message exceeds the 25 MB that Gmail and most mail servers accept; raised before anything is sent."""

    def __init__(self, size: int, limit: int = MAX_EMAIL_BYTES, what: str = "The message") -> None:
        super().__init__(
            f"{what} is {size} bytes; Gmail and most mail servers accept at most {limit} bytes (25 MB) of RFC 822 "
            "message, counted before base64 encoding. Send a link to the report instead of attaching it."
        )
        self.size, self.limit = size, limit


@dataclass(frozen=True)
class Email:
    """What a person reads: a subject and an HTML body (rendered from include/templates)."""

    subject: str
    html: str


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


def mailbox(address: str) -> str:
    """The address as SMTP must see it: a local part with quotes or other specials goes in a quoted string.

    Without this, smtplib turns ``o'brien+x"--@example.com`` into ``RCPT TO:<o'brien+x>``: another mailbox.
    """
    local, _, domain = address.rpartition("@")
    return str(Address(username=local, domain=domain))


def new_message_id(from_email: str) -> str:
    return make_msgid(domain=from_email.rpartition("@")[2] or None)


def build_message(
    *,
    from_email: str,
    to: str,
    subject: str,
    html: str,
    message_id: str,
    attachments: list[Attachment] | tuple[Attachment, ...] = (),
) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = mailbox(from_email)
    msg["To"] = mailbox(to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = message_id
    msg.set_content(html, subtype="html", charset="utf-8")
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        msg.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=item.filename)
    return msg
