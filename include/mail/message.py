"""One MIME message, built once: the same bytes go to SMTP or to Gmail's API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

#: Gmail refuses messages over 25 MB; most servers are similar. Past this, the report goes by download link.
MAX_EMAIL_BYTES = 25 * 1024 * 1024


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
