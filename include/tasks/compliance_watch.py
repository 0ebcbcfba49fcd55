"""The daily compliance watch: what the law's clock needs even when no run is awake to notice.

Each waiting run already nudges its own officers (its sensor wakes for the reminder and the escalation); the
watch is the safety net for requests whose run stopped, and the one place that sees all of them: overdue requests
are reported to the channel, personal data past retention is removed, report files past their download window are
deleted. Everything is idempotent: a nudge is posted once per request, whoever posts it first.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from include import config, law, storage
from include.decision import reminders
from include.slack import client as slack_client
from include.store import ComplianceStore, records, utcnow

log = logging.getLogger(__name__)

#: Report files stay this long after the request closes at the least (the download link's lifetime).
PURGE_LOOKBACK = timedelta(days=30)


def nudge_undecided(store: ComplianceStore, now: datetime | None = None) -> dict[str, int]:
    from include.tasks.access_request import post_nudge

    now = now or utcnow()
    hours = reminders.reminder_hours()
    posted = {reminders.REMINDER: 0, reminders.ESCALATION: 0}
    for record in store.open_requests():
        if not record.slack_ts or store.get_decision(record.request_id) is not None:
            continue
        done = store.done_kinds(record.request_id)
        for kind, at in reminders.schedule(record.received_at, record.due_at, hours):
            if at <= now and reminders.done_key(kind) not in done:
                post_nudge(record.request_id, kind)
                posted[kind] += 1
    return posted


def report_overdue(store: ComplianceStore, now: datetime | None = None) -> int:
    """One message to the review channel listing every open request past its legal deadline."""
    now = now or utcnow()
    overdue = [r for r in store.open_requests() if r.due_at < now]
    if not overdue:
        return 0
    lines = [
        f"• request `{r.request_id}`: due {r.due_at:%Y-%m-%d}, {(now - r.due_at).days} day(s) late, status {r.status}"
        for r in overdue
    ]
    text = f":rotating_light: {len(overdue)} CCPA request(s) are past their legal deadline:\n" + "\n".join(lines)
    slack_client.web_client().chat_postMessage(channel=config.get_variable(config.VAR_REVIEW_CHANNEL), text=text)
    for r in overdue:
        store.audit(r.request_id, "reported_overdue")
    return len(overdue)


def apply_retention(store: ComplianceStore, now: datetime | None = None) -> int:
    """§7101: keep the record 24 months, then remove the personal data (the counts stay)."""
    redacted = records.redact_older_than(store, months=law.RETENTION_MONTHS, now=now)
    for request_id in redacted:
        _delete_files(request_id)
    return len(redacted)


def purge_report_files(store: ComplianceStore, now: datetime | None = None) -> int:
    """Delete the files of requests closed longer ago than the download link lives: they hold personal data."""
    from include.report.downloads import ttl

    now = now or utcnow()
    cutoff = now - ttl()
    return sum(_delete_files(rid) for rid in store.closed_between(cutoff - PURGE_LOOKBACK, cutoff))


def _delete_files(request_id: str) -> bool:
    folder = storage.request_dir(request_id)
    files: list[storage.StoragePath] = list(folder.iterdir()) if folder.exists() else []
    for path in files:
        path.unlink()
    folder.rmdir()
    if files:
        log.info("Deleted %d stored file(s) of request %s", len(files), request_id)
    return bool(files)
