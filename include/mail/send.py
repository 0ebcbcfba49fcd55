"""Email to the requester, exactly once per request and kind (acknowledgement, report, rejection, ...).

Two backends, chosen by the Variable ``ccpa_email_backend``: ``smtp`` (default; connection ``smtp_default``
through the smtp provider's SmtpHook) or ``gmail`` (connection ``google_cloud_default``, a service account with
domain-wide delegation sending as ``ccpa_from_email``, through our GmailHook). Both send the same MIME bytes.
"""

from __future__ import annotations

import logging
import smtplib
from email.policy import SMTPUTF8 as SMTPUTF8_POLICY
from typing import Any

from include import config
from include.log_redaction import scrubbed_smtp_error
from include.mail.message import (
    MAX_EMAIL_BYTES,
    Attachment,
    Email,
    MessageTooLarge,
    build_message,
    mailbox,
    new_message_id,
)
from include.store import ComplianceStore

log = logging.getLogger(__name__)

BACKENDS = ("smtp", "gmail")


# Failures after which the server certainly accepted nothing: safe to let a retry send again.
class SMTPUTF8Unavailable(smtplib.SMTPNotSupportedError):
    """A non-ASCII address needs the server's SMTPUTF8 extension, and the server does not offer it: nothing was sent
    (checked before MAIL FROM), so the delivery is released, never left "in doubt"."""


_NOT_SENT = (
    ConnectionError,
    smtplib.SMTPConnectError,
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    SMTPUTF8Unavailable,
)


def backend() -> str:
    value = config.get_variable(config.VAR_EMAIL_BACKEND, "smtp").strip().lower()
    if value not in BACKENDS:
        raise config.ConfigurationError(f"Variable '{config.VAR_EMAIL_BACKEND}' must be one of {BACKENDS}")
    return value


def send_once(
    store: ComplianceStore,
    request_id: str,
    kind: str,
    to: str,
    email: Email,
    attachments: list[Attachment] | tuple[Attachment, ...] = (),
) -> str:
    """Send ``email`` unless this request's ``kind`` email was already sent; return its Message-ID.

    The delivery is claimed in the compliance store before sending, so a retried task, or two tasks racing, can
    never send twice. A send that fails for certain releases the claim; one that fails in doubt keeps it and the
    retry stops with a message saying what to check.
    """
    from_email = config.get_variable(config.VAR_FROM_EMAIL)
    chosen = backend()
    message_id = new_message_id(from_email)
    msg = build_message(
        from_email=from_email,
        to=to,
        subject=email.subject,
        html=email.html,
        message_id=message_id,
        attachments=attachments,
    )
    # A non-ASCII address (josé@…) goes as UTF-8 headers with SMTPUTF8 (RFC 6531); ASCII ones as before.
    raw = msg.as_bytes() if _ascii(from_email, to) else msg.as_bytes(policy=SMTPUTF8_POLICY)
    if len(raw) > MAX_EMAIL_BYTES:
        raise MessageTooLarge(len(raw), what=f"The {kind} email")
    already = store.claim_delivery(request_id, kind, message_id)
    if already is not None:
        log.info("The %s email for request %s was already sent (%s): not sending again", kind, request_id, already)
        return already
    try:
        provider_id = _send_smtp(from_email, to, raw) if chosen == "smtp" else _send_gmail(from_email, msg)
    except _NOT_SENT:
        store.release_delivery(request_id, kind)
        raise
    except Exception as exc:
        if _before_sending(exc):
            store.release_delivery(request_id, kind)
        raise
    _confirm(store, request_id, kind, message_id, backend=chosen, provider_id=provider_id)
    log.info("Sent the %s email for request %s as %s via %s", kind, request_id, message_id, chosen)
    return message_id


def _send_smtp(from_email: str, to: str, raw: bytes) -> str | None:
    from include.mail.hooks.smtp import SmtpHook

    try:
        with SmtpHook(smtp_conn_id=config.SMTP_CONN_ID) as hook:
            # The provider connects, upgrades to TLS and logs in; it has no public call for a pre-built message.
            client = hook._smtp_client
            if client is None:
                raise ConnectionError(f"could not connect to the SMTP server of connection '{config.SMTP_CONN_ID}'")
            options: list[str] = []
            if not _ascii(from_email, to):
                _require_smtputf8(client, "nothing was sent")
                options = ["SMTPUTF8"]
            client.sendmail(mailbox(from_email), [mailbox(to)], raw, mail_options=options)
    except (smtplib.SMTPException, OSError) as exc:
        # Task logs show the exception: without the requester's address (smtplib and servers quote it).
        raise scrubbed_smtp_error(exc) from None
    return None


def check_deliverable(address: str) -> None:
    """Raise :class:`SMTPUTF8Unavailable` when ``address`` can never be answered by email: it is not ASCII and the SMTP
    server does not offer SMTPUTF8 (RFC 6531). Called at intake, so such a request is refused clearly there instead of
    failing at its first email (issue 18). ASCII addresses and the Gmail API (which takes UTF-8 addresses) pass without
    a connection; a server that cannot be reached raises ``ConnectionError``/``OSError`` (retry: it proves nothing)."""
    if address.isascii() or backend() != "smtp":
        return
    from include.mail.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=config.SMTP_CONN_ID) as hook:
        client = hook._smtp_client  # the provider connects, upgrades to TLS and logs in
        if client is None:
            raise ConnectionError(f"could not connect to the SMTP server of connection '{config.SMTP_CONN_ID}'")
        _require_smtputf8(client, "it can never be answered by email")


def _require_smtputf8(client: Any, consequence: str) -> None:
    """Raise :class:`SMTPUTF8Unavailable` unless the connected server offers SMTPUTF8 (RFC 6531)."""
    if not isinstance(client, smtplib.SMTP):  # the sync hook always gives smtplib; be explicit
        raise SMTPUTF8Unavailable("SMTPUTF8 needs the synchronous smtplib client")
    client.ehlo_or_helo_if_needed()
    if not client.has_extn("smtputf8"):
        raise SMTPUTF8Unavailable(
            f"the address is not ASCII and the SMTP server of connection '{config.SMTP_CONN_ID}' does not offer "
            f"SMTPUTF8: {consequence}; enable SMTPUTF8 on the server (Postfix: smtputf8_enable) or answer this "
            "requester another way"
        )


def _ascii(*addresses: str) -> bool:
    return all(a.isascii() for a in addresses)


def _send_gmail(from_email: str, msg: Any) -> str | None:
    from include.mail.hooks.gmail import GmailHook

    response = GmailHook(gcp_conn_id=config.GMAIL_CONN_ID, delegate_to=from_email).send_message(msg)
    return response.get("id")


def _before_sending(exc: Exception) -> bool:
    """Failures that prove nothing was sent: SmtpHook could not connect, or Gmail refused the request (4xx)."""
    status = getattr(getattr(exc, "resp", None), "status", None)
    if status is not None:
        return 400 <= int(status) < 500
    return any(s in str(exc) for s in ("Unable to connect", "connection is not found", "invalid_grant"))


#: The email has left: only its confirmation remains, and a confirmation lost to a database restart would leave the
#: delivery "in doubt" (never resent, an officer must check). Tried this many times, waiting 1, 2, 4, 8 s between.
CONFIRM_ATTEMPTS = 5


def _confirm(store: ComplianceStore, request_id: str, kind: str, message_id: str, **detail: Any) -> None:
    import time

    from sqlalchemy.exc import OperationalError

    for attempt in range(1, CONFIRM_ATTEMPTS + 1):
        try:
            store.confirm_delivery(request_id, kind, message_id, **detail)
            return
        except OperationalError as exc:  # a lost connection, a lock wait timeout: a fresh connection may do it
            if attempt == CONFIRM_ATTEMPTS:
                log.error(
                    "The %s email for request %s was sent (%s) but could not be confirmed: it stays in doubt",
                    kind,
                    request_id,
                    message_id,
                )
                raise
            log.warning(
                "Confirming the %s email for request %s failed (%s); trying again", kind, request_id, type(exc).__name__
            )
            time.sleep(2 ** (attempt - 1))
