"""Alerts to the privacy officers by email, for when Slack (their usual channel) cannot be used.

Sent to the comma-separated addresses in the Variable ``ccpa_alert_emails`` through the same backend as the
requester emails (``ccpa_email_backend``). An alert names the request by id and says what failed and what to do; it
carries no personal data (the officers look the request up in the compliance store or the Airflow run).
Alerting is best effort: a failing alert is logged at ERROR and never hides the failure it reports.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from include import config
from include.log_redaction import scrub_addresses
from include.mail.message import Email, build_message, mailbox, new_message_id

if TYPE_CHECKING:
    from include.store import AuditEvent, ComplianceStore

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "[CCPA alert] "


def alert_recipients() -> list[str]:
    raw = config.get_variable(config.VAR_ALERT_EMAILS, "")
    return [part.strip() for part in raw.split(",") if part.strip()]


def alert_officers(
    subject: str,
    body: str,
    *,
    store: ComplianceStore | None = None,
    request_id: str | None = None,
    once_key: str | None = None,
) -> bool:
    """Email ``subject``/``body`` to ``ccpa_alert_emails``; True when sent.

    With ``store``, ``request_id`` and ``once_key``, the alert goes out once per request and key (a retried task
    does not alert again); a send that fails releases the key so the next try alerts.
    """
    recipients = alert_recipients()
    if not recipients:
        log.error(
            "Officers' alert not sent (%s): set the Variable '%s' to the addresses to alert",
            subject,
            config.VAR_ALERT_EMAILS,
        )
        return False
    once = store is not None and request_id is not None and once_key is not None
    if once and not store.record_once(request_id, once_key, ref="alert"):  # type: ignore[union-attr,arg-type]
        log.info("Officers were already alerted (%s) for request %s", once_key, request_id)
        return False
    try:
        _send(recipients, SUBJECT_PREFIX + subject, body)
    except Exception as exc:
        log.error("Could not send the officers' alert (%s): %s", subject, scrub_addresses(str(exc))[:300])
        if once:
            store.forget_once(request_id, once_key)  # type: ignore[union-attr,arg-type]
        return False
    log.warning("Officers alerted by email: %s", subject)
    if store is not None and request_id is not None:
        store.audit(request_id, "officers_alerted", detail={"subject": subject})
    return True


def _send(recipients: list[str], subject: str, body: str) -> None:
    from include.mail.send import backend

    from_email = config.get_variable(config.VAR_FROM_EMAIL)
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n"))
    msg = build_message(
        from_email=from_email,
        to=recipients[0],
        subject=subject,
        html=f"<!doctype html><html><body>{paragraphs}</body></html>",
        message_id=new_message_id(from_email),
    )
    if len(recipients) > 1:
        del msg["To"]
        msg["To"] = ", ".join(mailbox(r) for r in recipients)
    if backend() == "gmail":
        from include.mail.hooks.gmail import GmailHook

        GmailHook(gcp_conn_id=config.GMAIL_CONN_ID, delegate_to=from_email).send_message(msg)
        return
    from include.mail.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=config.SMTP_CONN_ID) as hook:
        client = hook._smtp_client
        if client is None:
            raise ConnectionError("the SMTP hook did not connect")
        client.sendmail(mailbox(from_email), [mailbox(r) for r in recipients], msg.as_bytes())


def email_officers_once(store: ComplianceStore, request_id: str, kind: str, subject: str, lines: list[str]) -> int:
    """Email ``lines`` to every address of ``ccpa_alert_emails``, once each, exactly once (a delivery row per
    address, as for the requester's emails): for alerts a task must not lose, such as a request at risk of its legal
    deadline. Returns how many were sent now.

    Every address is tried even if one fails; the first failure is raised at the end (the task retries, and the
    addresses already sent are not sent again)."""
    from include.mail.send import send_once

    addresses = config.alert_emails()
    if not addresses:
        log.warning(
            "Variable '%s' is empty: request %s's %s alert goes to Slack only",
            config.VAR_ALERT_EMAILS,
            request_id,
            kind,
        )
        return 0
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    email = Email(subject=subject, html=f"<!doctype html><html><body>{body}</body></html>")
    sent, failure = 0, None
    for index, address in enumerate(addresses):
        try:
            before = store.done_kinds(request_id)
            send_once(store, request_id, f"{kind}_{index}"[:32], address, email)
            sent += f"{kind}_{index}"[:32] not in before
        except Exception as exc:  # try the others; report the first failure
            failure = failure or exc
    if failure is not None:
        raise failure
    return sent


# -- aggregated failure alerts (issue 18) ----------------------------------------------------------------------------

#: A database restart or an SMTP outage longer than the tasks' hour of retries fails every run in flight within
#: minutes: their failure alerts go out as one email per this interval (the first at once), not one per run.
DIGEST_INTERVAL = timedelta(minutes=15)
#: Audit events: a line waiting for the next digest; a digest sent (its detail: the last queued id it carried).
QUEUED = "alert_queued"
DIGEST_SENT = "alert_digest_sent"


def alert_in_digest(store: ComplianceStore, request_id: str, line: str, now: datetime | None = None) -> bool:
    """Queue ``line`` (no personal data: ids, task, error type, dates) for the officers and send every queued line
    as one email, unless a digest went out less than :data:`DIGEST_INTERVAL` ago: then the line waits for the next
    failure's digest or the daily watch (:func:`flush_digest`), whichever comes first.

    Returns False when the line was only queued (a digest went out moments ago), True otherwise, even if the email
    could not be sent (no addresses, SMTP down): the caller then makes this failure loud in Slack. Two processes
    flushing at the same instant may both send (the lines listed twice): never none."""
    from include.store import utcnow

    now = now or utcnow()
    store.audit(request_id, QUEUED, detail={"line": line})
    last = _last_digest(store)
    if last is not None and now - last.created_at < DIGEST_INTERVAL:
        log.warning("Failure alert queued: the next digest goes out within %s", DIGEST_INTERVAL)
        return False
    flush_digest(store)
    return True


def _last_digest(store: ComplianceStore) -> AuditEvent | None:
    newest = store.audit_events(DIGEST_SENT, last=True)
    return newest[0] if newest else None


def flush_digest(store: ComplianceStore) -> bool:
    """Send the queued failure lines as one email to ``ccpa_alert_emails`` (nothing when none wait); True if sent.
    A digest that cannot be sent leaves its lines queued for the next one."""
    last = _last_digest(store)
    carried = int(last.detail.get("up_to", 0)) if last is not None and isinstance(last.detail, dict) else 0
    pending = store.audit_events(QUEUED, after_id=carried)
    if not pending:
        return False
    lines = [str(e.detail.get("line", "")) for e in pending if isinstance(e.detail, dict)]
    subject = f"{len(pending)} CCPA run failure(s)" + (
        f" since {last.created_at:%Y-%m-%d %H:%M} UTC" if last is not None else ""
    )
    if not alert_officers(subject, "\n\n".join(lines)):
        return False  # logged at ERROR; the lines stay queued
    store.audit(None, DIGEST_SENT, detail={"up_to": pending[-1].id, "count": len(pending)})
    return True
