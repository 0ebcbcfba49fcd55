"""Email to the requester, exactly once per request and kind (report, rejection, ...)."""

from __future__ import annotations

import logging
import smtplib
from email.headerregistry import Address
from email.utils import make_msgid

from airflow.providers.smtp.hooks.smtp import SmtpHook

from include import config
from include.compliance_store import ComplianceStore
from include.report import Email

log = logging.getLogger(__name__)

# Failures after which the server certainly accepted nothing: safe to let a retry send again.
_NOT_SENT = (ConnectionError, smtplib.SMTPConnectError, smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused)


def mailbox(address: str) -> str:
    """The address as SMTP must see it: a local part with quotes or other specials goes in a quoted string.

    Without this, smtplib turns ``o'brien+x"--@example.com`` into ``RCPT TO:<o'brien+x>``: another mailbox.
    """
    local, _, domain = address.rpartition("@")
    return str(Address(username=local, domain=domain))


def send_once(store: ComplianceStore, request_id: str, kind: str, to: str, email: Email) -> str:
    """Send ``email`` unless this request's ``kind`` email was already sent; return its Message-ID.

    The delivery is claimed in the compliance store before sending, so a retried task, or two tasks racing, can
    never send twice. A send that fails for certain releases the claim; one that fails in doubt keeps it and the
    retry stops with a message saying what to check.
    """
    from_email = config.get_variable(config.VAR_FROM_EMAIL)
    message_id = make_msgid(domain=from_email.rpartition("@")[2] or None)
    already = store.claim_delivery(request_id, kind, message_id)
    if already is not None:
        log.info("The %s email for request %s was already sent (%s): not sending again", kind, request_id, already)
        return already
    try:
        with SmtpHook(smtp_conn_id=config.SMTP_CONN_ID) as hook:
            hook.send_email_smtp(
                to=mailbox(to),
                from_email=from_email,
                subject=email.subject,
                html_content=email.html,
                custom_headers={"Message-ID": message_id},
            )
    except _NOT_SENT:
        store.release_delivery(request_id, kind)
        raise
    except Exception as exc:
        if _before_sending(exc):
            store.release_delivery(request_id, kind)
        raise
    store.confirm_delivery(request_id, kind, message_id)
    log.info("Sent the %s email for request %s as %s", kind, request_id, message_id)
    return message_id


def _before_sending(exc: Exception) -> bool:
    """SmtpHook's own 'cannot connect' error: raised before any message left."""
    return "Unable to connect" in str(exc) or "connection is not found" in str(exc)
