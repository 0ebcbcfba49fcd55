"""Alerts to the compliance officers by email (Variable ``ccpa_alert_emails``), beside Slack: a Slack outage must not
hide a request at risk. Each alert is sent once per request, kind and address. No personal data: the request id, its
dates and what to do."""

from __future__ import annotations

import html
import logging

from include import config
from include.mail.message import Email
from include.store import ComplianceStore

log = logging.getLogger(__name__)


def alert_officers(store: ComplianceStore, request_id: str, kind: str, subject: str, lines: list[str]) -> int:
    """Email ``lines`` to every address of ``ccpa_alert_emails``, once each; returns how many were sent now.

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
