"""What the officers' requests page shows: the queue of open requests, one request's timeline, the year's numbers.

Queries only; no HTML here (``include.web.pages`` renders). Name and email leave the compliance store through this
module only for the requests page, which Airflow's own authorisation guards.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Select, exists, func, select

from include.request import CATEGORIES
from include.store import APPROVE, ComplianceStore, RequestRecord, Status, record_from_row, utcnow
from include.store.schema import audit_table, aware, decisions_table, naive, requests_table
from include.verification.levels import Level, Scope, Thresholds, thresholds
from include.verification.service import level_of

#: Fewer days left than this and the due date shows amber (the compliance watch escalates at the same point).
AMBER_DAYS = 10
#: Requests on one page of the queue, and the most an officer may ask for: thousands may be open at once, and the
#: page is rendered on the API server, so it never reads or renders more than one page.
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
#: The verification cell before the matching points were checked (the review prompt is posted after the check).
NOT_CHECKED = "not checked yet"
#: Audit events that mean the run gave up (the failure callback writes ``run_failed``).
FAILURE_EVENT = "run_failed"


class QueueFilter(StrEnum):
    ALL = "all"
    AWAITING = "awaiting"  # no decision yet
    EXTENDED = "extended"  # the one §7021(b) extension was granted
    OVERDUE = "overdue"  # past the due date
    FAILED = "failed"  # a run failed after its retries (run_failed in the audit trail)


class Urgency(StrEnum):
    OK = "ok"
    SOON = "soon"  # amber: under AMBER_DAYS days left
    OVERDUE = "overdue"  # red


@dataclass(frozen=True)
class QueueRow:
    request_id: str
    run_id: str
    name: str
    email: str
    status: Status
    received_at: datetime
    due_at: datetime
    days_left: int
    urgency: Urgency
    extended_at: datetime | None
    extended_by: str | None
    action: str | None
    decided_by: str | None
    approvers: tuple[str, ...]
    required_approvals: int
    failed: bool
    slack_channel: str | None
    slack_ts: str | None
    #: What the requester asked for (include.request: specific_pieces or categories).
    request_type: str = ""
    #: The verification level (§7062 points, §7061 login) in plain words: its verdict under today's thresholds, e.g.
    #: "enough for categories only (specific pieces need 3 points and a signed declaration)"; NOT_CHECKED before.
    verification: str = NOT_CHECKED
    #: What the level lets an approval disclose now; None before the check.
    scope: Scope | None = None

    @property
    def asked(self) -> str:
        return "categories" if self.request_type == CATEGORIES else "specific pieces"

    @property
    def awaiting_decision(self) -> bool:
        return self.action is None

    @property
    def slack_url(self) -> str | None:
        """The review prompt in Slack (Slack resolves ``/archives/<channel>/p<ts>`` to the workspace)."""
        if not self.slack_channel or not self.slack_ts:
            return None
        return f"https://slack.com/archives/{self.slack_channel}/p{self.slack_ts.replace('.', '')}"


def days_left(due_at: datetime, now: datetime) -> int:
    """Whole days until the due time, rounded down: 0 on the last day, negative once overdue."""
    return math.floor((due_at - now) / timedelta(days=1))


def urgency(due_at: datetime, now: datetime) -> Urgency:
    if now > due_at:
        return Urgency.OVERDUE
    if days_left(due_at, now) < AMBER_DAYS:
        return Urgency.SOON
    return Urgency.OK


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue: its rows, and where it sits among all the open requests that match."""

    rows: list[QueueRow]
    total: int  # open requests matching the filter and search, on every page
    page: int  # 1-based; a page past the last is shown as the last
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        """Position of the page's first row among all matches (1-based; 0 when nothing matches)."""
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * self.per_page + len(self.rows)

    def window(self, around: int = 2) -> list[int | None]:
        """Page numbers to link: the first, the last and ``around`` either side of this one; None marks a gap."""
        near = range(max(1, self.page - around), min(self.pages, self.page + around) + 1)
        result: list[int | None] = []
        previous = 0
        for number in sorted({1, self.pages, *near}):
            if number - previous > 1:
                result.append(None)
            result.append(number)
            previous = number
        return result


def _open_query(show: QueueFilter, search: str, now: datetime) -> Select[Any]:
    """Open requests (not closed, not a linked duplicate, not redacted) matching the filter and reference."""
    r = requests_table.c
    d = decisions_table.c
    failed = exists().where(audit_table.c.request_id == r.request_id, audit_table.c.event == FAILURE_EVENT)
    query = (
        select(requests_table, d.action, d.decided_by, failed.label("failed"))
        .select_from(requests_table.outerjoin(decisions_table, d.request_id == r.request_id))
        .where(r.closed_at.is_(None), r.linked_to.is_(None), r.redacted_at.is_(None))
    )
    if show == QueueFilter.AWAITING:
        query = query.where(d.request_id.is_(None))
    elif show == QueueFilter.EXTENDED:
        query = query.where(r.extended_at.is_not(None))
    elif show == QueueFilter.OVERDUE:
        query = query.where(r.due_at < naive(now))
    elif show == QueueFilter.FAILED:
        query = query.where(failed)
    reference = search.strip().lower()
    if reference:
        query = query.where(r.request_id.startswith(reference, autoescape=True))
    return query


def _fetch(conn: Connection, query: Select[Any], *, descending: bool, limit: int, offset: int) -> list[Any]:
    """One slice in a total order: the due date, then the request id (unique), so pages never overlap or skip."""
    r = requests_table.c
    order = (r.due_at.desc(), r.request_id.desc()) if descending else (r.due_at, r.request_id)
    return list(conn.execute(query.order_by(*order).limit(limit).offset(offset)).all())


def open_queue(
    store: ComplianceStore,
    *,
    show: QueueFilter = QueueFilter.ALL,
    search: str = "",
    descending: bool = False,
    now: datetime | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[QueueRow]:
    """Open requests by due date, filtered in SQL: ``limit`` of them from ``offset``."""
    now = now or utcnow()
    with store.engine.connect() as conn:
        rows = _fetch(conn, _open_query(show, search, now), descending=descending, limit=limit, offset=offset)
    return _rows(store, rows, now)


def queue_page(
    store: ComplianceStore,
    *,
    show: QueueFilter = QueueFilter.ALL,
    search: str = "",
    descending: bool = False,
    page: int = 1,
    per_page: int = PAGE_SIZE,
    now: datetime | None = None,
) -> QueuePage:
    """One page of the open queue (LIMIT/OFFSET in SQL) with the number of all matches."""
    if not 1 <= per_page <= MAX_PAGE_SIZE:
        raise ValueError(f"per_page must be between 1 and {MAX_PAGE_SIZE}, got {per_page}")
    if page < 1:
        raise ValueError(f"page must be 1 or more, got {page}")
    now = now or utcnow()
    query = _open_query(show, search, now)
    # One transaction: on MariaDB (InnoDB's repeatable read) the count and the slice read the same snapshot.
    with store.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        page = min(page, max(1, math.ceil(total / per_page)))
        rows = _fetch(conn, query, descending=descending, limit=per_page, offset=(page - 1) * per_page)
    return QueuePage(rows=_rows(store, rows, now), total=total, page=page, per_page=per_page)


def _rows(store: ComplianceStore, rows: list[Any], now: datetime) -> list[QueueRow]:
    approvers = store.approvers_of(row.request_id for row in rows)
    limits = thresholds() if rows else Thresholds()  # the Variables are read once per page, not once per row
    return [_row(row, approvers.get(row.request_id, ()), now, limits) for row in rows]


def _level(record: RequestRecord, limits: Thresholds | None = None) -> Level | None:
    """The request's verification level now, or None before its points were checked (nothing to judge yet)."""
    if record.verification is None and record.account_check is None:
        return None
    return level_of(record, limits)


def verification_words(record: RequestRecord) -> str:
    """The level in full plain words, for a request's page: the points that match, the declaration, the verdict."""
    level = _level(record)
    return level.words(record.request_type) if level else NOT_CHECKED


def _row(row: Any, approvers: tuple[str, ...], now: datetime, limits: Thresholds) -> QueueRow:
    due_at = aware(row.due_at)
    received_at = aware(row.received_at)
    assert due_at is not None and received_at is not None
    record = record_from_row(row)
    level = _level(record, limits)
    return QueueRow(
        request_id=row.request_id,
        run_id=row.run_id,
        name=row.name,
        email=row.email,
        status=Status(row.status),
        received_at=received_at,
        due_at=due_at,
        days_left=days_left(due_at, now),
        urgency=urgency(due_at, now),
        extended_at=aware(row.extended_at),
        extended_by=row.extended_by,
        action=row.action,
        decided_by=row.decided_by,
        approvers=approvers if row.action in (None, APPROVE) else (),
        required_approvals=row.required_approvals,
        failed=bool(row.failed),
        slack_channel=row.slack_channel,
        slack_ts=row.slack_ts,
        request_type=record.request_type,
        verification=level.verdict(record.request_type) if level else NOT_CHECKED,
        scope=level.scope if level else None,
    )


# -- one request's timeline -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime  # in the business's time zone
    what: str
    actor: str | None
    detail: str


_LABELS = {
    "request_received": "Received",
    "review_prompt_posted": "Review prompt posted in Slack",
    "linked_to_open_request": "Linked to an open request (duplicate)",
    "approval_recorded": "Approved",
    "decision_recorded": "Decision",
    "deadline_extended": "Deadline extended (§7021(b))",
    "report_built": "Report built",
    "download_link_issued": "Download link issued",
    "report_downloaded": "Report downloaded",
    "email_send_failed": "Email failed (will retry)",
    "run_failed": "Run failed",
    "reported_overdue": "Reported overdue in Slack",
    "personal_data_redacted": "Personal data redacted (retention)",
    "slack_reminder_posted": "Reminder posted in Slack",
    "slack_escalation_posted": "Escalation posted in Slack",
    Status.COMPLETED.value: "Closed: report sent",
    Status.REJECTED_NOTIFIED.value: "Closed: rejection sent",
    "decision_refused_not_approver": "Refused: not an approver",
    "duplicate_approval_ignored": "Second approval by the same officer refused",
    "duplicate_decision_ignored": "Late click ignored (already decided)",
    "extension_refused": "Extension refused",
    "uncategorised_columns": "Columns without a CCPA category flagged",
}

_EMAIL_KINDS = {
    "acknowledgement": "Acknowledgement emailed (§7021(a))",
    "report": "Report emailed",
    "rejection": "Rejection emailed",
    "extension": "Extension notice emailed (§7021(b))",
    "duplicate_notice": "Duplicate notice emailed",
}


def timeline(store: ComplianceStore, request_id: str, zone: tzinfo) -> list[TimelineEntry]:
    """The request's audit trail, oldest first, in words, at local times of ``zone``."""
    return [_entry(event, zone) for event in store.audit_trail(request_id)]


def _entry(event: dict[str, Any], zone: tzinfo) -> TimelineEntry:
    name = event["event"]
    detail = event["detail"] if isinstance(event["detail"], dict) else {}
    what = _LABELS.get(name, name.replace("_", " ").capitalize())
    shown: dict[str, Any] = dict(detail)
    if name == "email_sent":
        what = _EMAIL_KINDS.get(str(detail.get("kind")), f"Email sent ({detail.get('kind')})")
        shown = {k: v for k, v in detail.items() if k != "kind"}
    elif name == "decision_recorded":
        action = detail.get("action")
        what = "Decision: approved" if action == APPROVE else "Decision: rejected"
        shown = {k: v for k, v in detail.items() if k != "action"}
    text = "; ".join(f"{key.replace('_', ' ')}: {_value(value)}" for key, value in sorted(shown.items()))
    return TimelineEntry(at=event["created_at"].astimezone(zone), what=what, actor=event["actor"], detail=text)


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)
