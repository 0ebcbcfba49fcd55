"""The compliance store: requests, decisions, deliveries and the audit trail, in the database behind
connection ``ccpa_compliance_db`` (MySQL/MariaDB in production, a SQLite file by default).

Exactly-once lives here, in the database, not in Python: a decision is a row keyed by its request (a second
insert fails), and a delivery is claimed by inserting its row before anything is sent.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from include.config import COMPLIANCE_CONN_ID
from include.db import default_sqlite_url, engine_for
from include.request import AccessRequest, due_date

# Microsecond precision on MySQL/MariaDB, where DATETIME would otherwise round to the second.
_Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

metadata = MetaData()

requests_table = Table(
    "ccpa_requests",
    metadata,
    Column("request_id", String(32), primary_key=True),
    Column("run_id", String(250), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("email", String(254), nullable=False),
    Column("photo_id_url", Text, nullable=False),
    Column("status", String(32), nullable=False),
    Column("received_at", _Timestamp, nullable=False),
    Column("due_at", _Timestamp, nullable=False),
    Column("slack_channel", String(64)),
    Column("slack_ts", String(64)),
    Column("closed_at", _Timestamp),
    # §7101 records: how the request was made, and what it was (this workflow answers "right to know").
    Column("channel", String(32), nullable=False, server_default="api"),
    Column("nature", String(32), nullable=False, server_default="right_to_know"),
    # §7021(b): at most one extension of up to 45 days, noticed with its reason within the first 45 days.
    Column("extended_at", _Timestamp),
    Column("extended_by", String(64)),
    Column("extension_reason", Text),
    # A request for an email that already has an open request is linked to it instead of answered twice.
    Column("linked_to", String(32)),
    # What the officer was shown to verify identity (§7060): datastore names and the name on file; redacted later.
    Column("identity_evidence", Text),
    # Personal data removed by the retention job (the row, its dates and outcome stay for the counts).
    Column("redacted_at", _Timestamp),
    Index("ix_ccpa_requests_email", "email"),
    Index("ix_ccpa_requests_received_at", "received_at"),
)

decisions_table = Table(
    "ccpa_decisions",
    metadata,
    # The primary key is the request: the database, not the callback, guarantees one decision per request.
    Column("request_id", String(32), ForeignKey("ccpa_requests.request_id"), primary_key=True),
    Column("action", String(16), nullable=False),
    Column("decided_by", String(64), nullable=False),
    Column("decided_at", _Timestamp, nullable=False),
    Column("reason", Text),
    Column("response_url", Text),
)

deliveries_table = Table(
    "ccpa_deliveries",
    metadata,
    Column("request_id", String(32), ForeignKey("ccpa_requests.request_id"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("status", String(16), nullable=False),  # sending | sent
    Column("message_id", String(255), nullable=False),
    Column("claimed_at", _Timestamp, nullable=False),
    Column("sent_at", _Timestamp),
)

audit_table = Table(
    "ccpa_audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(32), index=True),
    Column("event", String(64), nullable=False),
    Column("actor", String(64)),
    Column("detail", Text),  # JSON; identifiers and outcomes only, never personal data
    Column("created_at", _Timestamp, nullable=False),
)

#: Delivery kinds: what is sent once per request. Here, with the table, so that the trigger and the records job
#: need not import the workflow (and Airflow's task machinery with it).
ACKNOWLEDGEMENT = "acknowledgement"
DUPLICATE_NOTICE = "duplicate_notice"
EXTENSION_NOTICE = "extension"
REPORT = "report"
REJECTION = "rejection"

APPROVE = "approve"
REJECT = "reject"
DECISIONS = (APPROVE, REJECT)


class UnknownRequest(LookupError):
    pass


class ExtensionRefused(ValueError):
    """An extension the law does not allow: a second one, or one asked for after the first 45 days."""


class DeliveryInDoubt(RuntimeError):
    """A previous attempt claimed this delivery and never confirmed it: sending again could send twice."""


@dataclass(frozen=True)
class RequestRecord:
    request_id: str
    run_id: str
    name: str
    email: str
    photo_id_url: str
    status: str
    received_at: datetime
    due_at: datetime
    slack_channel: str | None
    slack_ts: str | None
    closed_at: datetime | None
    channel: str = "api"
    nature: str = "right_to_know"
    extended_at: datetime | None = None
    extended_by: str | None = None
    extension_reason: str | None = None
    linked_to: str | None = None
    redacted_at: datetime | None = None
    identity_evidence: str | None = None

    @property
    def open(self) -> bool:
        return self.closed_at is None and self.linked_to is None and self.redacted_at is None

    @property
    def access_request(self) -> AccessRequest:
        return AccessRequest(name=self.name, email=self.email, photo_id_url=self.photo_id_url)


@dataclass(frozen=True)
class Decision:
    request_id: str
    action: str
    decided_by: str
    decided_at: datetime
    reason: str | None = None
    response_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain, XCom- and trigger-safe form (no personal data: a Slack user id, a time, a reason)."""
        return {
            "request_id": self.request_id,
            "action": self.action,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat(),
            "reason": self.reason,
        }


def utcnow() -> datetime:
    return datetime.now(UTC)


def _decision(row: Any, request_id: str) -> Decision:
    """A ``ccpa_decisions`` row (alone or joined) as a Decision."""
    return Decision(
        request_id=request_id,
        action=row.action,
        decided_by=row.decided_by,
        decided_at=_aware(row.decided_at),
        reason=row.reason,
        response_url=row.response_url,
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _naive(value: datetime) -> datetime:
    """Stored as naive UTC: MySQL DATETIME has no zone, SQLite has no type."""
    return value.astimezone(UTC).replace(tzinfo=None)


_schema_ready: set[str] = set()
_schema_lock = threading.Lock()


class ComplianceStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ensure_schema()

    @classmethod
    def from_connection(cls, conn_id: str = COMPLIANCE_CONN_ID) -> ComplianceStore:
        return cls(engine_for(conn_id, default_url=default_sqlite_url("ccpa_compliance.sqlite")))

    def _ensure_schema(self) -> None:
        key = self.engine.url.render_as_string(hide_password=True)
        with _schema_lock:
            if key in _schema_ready:
                return
            # One query lists the tables (create_all's own check asks once per table, in every task process).
            if set(metadata.tables) <= set(inspect(self.engine).get_table_names()):
                _schema_ready.add(key)
                return
            try:
                metadata.create_all(self.engine, checkfirst=True)
            except (OperationalError, ProgrammingError):
                # Another process created the tables between our check and our CREATE: check again.
                metadata.create_all(self.engine, checkfirst=True)
            _schema_ready.add(key)

    # -- requests ---------------------------------------------------------------------------------

    def register_request(
        self, run_id: str, request: AccessRequest, received_at: datetime, *, channel: str = "api"
    ) -> RequestRecord:
        """Create the request for a DAG run, or return the one a previous try created."""
        existing = self.find_by_run_id(run_id)
        if existing is not None:
            return existing
        request_id = uuid.uuid4().hex
        row = {
            "request_id": request_id,
            "run_id": run_id,
            **request.to_dict(),
            "status": "received",
            "channel": channel,
            "received_at": _naive(received_at),
            "due_at": _naive(due_date(received_at)),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(requests_table).values(**row))
                self._audit(conn, request_id, "request_received", detail={"run_id": run_id})
        except IntegrityError:
            existing = self.find_by_run_id(run_id)
            if existing is None:
                raise
            return existing
        return self.get_request(request_id)

    def get_request(self, request_id: str) -> RequestRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(requests_table).where(requests_table.c.request_id == request_id)).first()
        if row is None:
            raise UnknownRequest(request_id)
        return _request(row)

    def find_request(self, request_id: str) -> RequestRecord | None:
        try:
            return self.get_request(request_id)
        except UnknownRequest:
            return None

    def find_by_run_id(self, run_id: str) -> RequestRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(requests_table).where(requests_table.c.run_id == run_id)).first()
        return None if row is None else _request(row)

    def set_review_prompt(self, request_id: str, channel: str, ts: str) -> None:
        self._update_request(
            request_id,
            {"slack_channel": channel, "slack_ts": ts, "status": "awaiting_decision"},
            "review_prompt_posted",
            detail={"channel": channel, "ts": ts},
        )

    def open_requests(self) -> list[RequestRecord]:
        """Requests still being answered (not closed, not linked, not redacted), oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(requests_table)
                .where(
                    requests_table.c.closed_at.is_(None),
                    requests_table.c.linked_to.is_(None),
                    requests_table.c.redacted_at.is_(None),
                )
                .order_by(requests_table.c.received_at)
            ).all()
        return [_request(r) for r in rows]

    def closed_between(self, start: datetime, end: datetime) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(requests_table.c.request_id).where(
                    requests_table.c.closed_at >= _naive(start), requests_table.c.closed_at < _naive(end)
                )
            ).all()
        return [r.request_id for r in rows]

    def set_identity_evidence(self, request_id: str, evidence: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(requests_table)
                .where(requests_table.c.request_id == request_id)
                .values(identity_evidence=evidence)
            )

    def open_request_for(self, email: str, *, excluding: str) -> RequestRecord | None:
        """Another open request from the same email (the oldest), to link a duplicate to."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(requests_table)
                .where(
                    requests_table.c.email == email,
                    requests_table.c.request_id != excluding,
                    requests_table.c.closed_at.is_(None),
                    requests_table.c.linked_to.is_(None),
                    requests_table.c.redacted_at.is_(None),
                )
                .order_by(requests_table.c.received_at)
                .limit(1)
            ).first()
        return None if row is None else _request(row)

    def link_duplicate(self, request_id: str, original_id: str) -> None:
        self._update_request(
            request_id,
            {"linked_to": original_id, "status": "linked_duplicate", "closed_at": _naive(utcnow())},
            "linked_to_open_request",
            detail={"original": original_id},
        )

    def answered_since(self, email: str, since: datetime, *, excluding: str) -> int:
        """Requests from this email received since ``since`` that were answered or are being answered (not
        duplicates): Civ. 1798.130(b) lets a business decline a third within 12 months."""
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count())
                .select_from(requests_table)
                .where(
                    requests_table.c.email == email,
                    requests_table.c.request_id != excluding,
                    requests_table.c.received_at >= _naive(since),
                    requests_table.c.linked_to.is_(None),
                )
            ).scalar_one()

    def extend(self, request_id: str, by: str, reason: str, *, now: datetime | None = None) -> RequestRecord:
        """Grant the one extension of 45 days (§7021(b)); the database refuses a second one, not Python."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(requests_table).where(requests_table.c.request_id == request_id).with_for_update()
            ).first()
            if row is None:
                raise UnknownRequest(request_id)
            record = _request(row)
            if record.extended_at is not None:
                raise ExtensionRefused(
                    f"already extended on {record.extended_at:%Y-%m-%d} by <@{record.extended_by}>: the law allows one"
                )
            if now > record.received_at + timedelta(days=45):
                raise ExtensionRefused("too late: an extension must be noticed within the first 45 days (§7021(b))")
            if not record.open:
                raise ExtensionRefused("this request is closed")
            result = conn.execute(
                update(requests_table)
                .where(requests_table.c.request_id == request_id, requests_table.c.extended_at.is_(None))
                .values(
                    extended_at=_naive(now),
                    extended_by=by,
                    extension_reason=reason,
                    due_at=_naive(record.due_at + timedelta(days=45)),
                )
            )
            if result.rowcount != 1:
                raise ExtensionRefused("already extended: the law allows one")
            self._audit(conn, request_id, "deadline_extended", actor=by, detail={"days": 45})
        return self.get_request(request_id)

    def set_status(self, request_id: str, status: str, *, closed: bool = False, **detail: Any) -> None:
        values: dict[str, Any] = {"status": status}
        if closed:
            values["closed_at"] = _naive(utcnow())
        self._update_request(request_id, values, status, detail=detail or None)

    def _update_request(self, request_id: str, values: dict[str, Any], event: str, detail: Any = None) -> None:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(requests_table).where(requests_table.c.request_id == request_id).values(**values)
            )
            if result.rowcount == 0:
                raise UnknownRequest(request_id)
            self._audit(conn, request_id, event, detail=detail)

    # -- decisions --------------------------------------------------------------------------------

    def record_decision(
        self,
        request_id: str,
        action: str,
        decided_by: str,
        *,
        reason: str | None = None,
        response_url: str | None = None,
        decided_at: datetime | None = None,
    ) -> tuple[Decision, bool]:
        """Record the decision; return (the decision in force, whether this call made it)."""
        if action not in DECISIONS:
            raise ValueError(f"unknown decision {action!r}")
        decided_at = decided_at or utcnow()
        try:
            with self.engine.begin() as conn:
                # Lock the request row first: concurrent clicks then queue here instead of deadlocking between
                # the decision's foreign-key check (shared lock) and the status update (exclusive lock).
                exists = conn.execute(
                    select(requests_table.c.request_id)
                    .where(requests_table.c.request_id == request_id)
                    .with_for_update()
                ).first()
                if exists is None:
                    raise UnknownRequest(request_id)
                conn.execute(
                    insert(decisions_table).values(
                        request_id=request_id,
                        action=action,
                        decided_by=decided_by,
                        decided_at=_naive(decided_at),
                        reason=reason,
                        response_url=response_url,
                    )
                )
                conn.execute(
                    update(requests_table)
                    .where(requests_table.c.request_id == request_id)
                    .values(status="approved" if action == APPROVE else "rejected")
                )
                self._audit(conn, request_id, "decision_recorded", actor=decided_by, detail={"action": action})
        except IntegrityError:
            decision = self.get_decision(request_id)
            if decision is None:
                raise
            self.audit(request_id, "duplicate_decision_ignored", actor=decided_by, detail={"action": action})
            return decision, False
        decision = self.get_decision(request_id)
        assert decision is not None
        return decision, True

    def waiting_states(self, request_ids: Iterable[str]) -> dict[str, tuple[Decision | None, bool]]:
        """What waiting requests' triggers poll for, in one query per 500 requests: for each, (its decision,
        whether an extension was granted whose notice is not sent yet). The triggerer polls every waiting request
        every few seconds, and thousands may wait at once. Unknown ids are left out."""
        ids = list(dict.fromkeys(request_ids))
        notice = deliveries_table.alias("notice")
        states: dict[str, tuple[Decision | None, bool]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                rows = conn.execute(
                    select(
                        requests_table.c.request_id.label("waiting_id"),
                        requests_table.c.extended_at,
                        notice.c.kind.label("notice_kind"),
                        decisions_table,
                    )
                    .select_from(
                        requests_table.outerjoin(
                            decisions_table, decisions_table.c.request_id == requests_table.c.request_id
                        ).outerjoin(
                            notice,
                            (notice.c.request_id == requests_table.c.request_id) & (notice.c.kind == EXTENSION_NOTICE),
                        )
                    )
                    .where(requests_table.c.request_id.in_(ids[start : start + 500]))
                )
                for row in rows:
                    if row.action is not None:
                        states[row.waiting_id] = (_decision(row, row.waiting_id), False)
                    else:
                        states[row.waiting_id] = (None, row.extended_at is not None and row.notice_kind is None)
        return states

    def get_decision(self, request_id: str) -> Decision | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(decisions_table).where(decisions_table.c.request_id == request_id)).first()
        return None if row is None else _decision(row, row.request_id)

    # -- deliveries (exactly-once email) ------------------------------------------------------------

    def claim_delivery(self, request_id: str, kind: str, message_id: str) -> str | None:
        """Claim the right to send ``kind`` for a request.

        Returns None when the claim is ours (go ahead and send), or the message id already sent.
        Raises DeliveryInDoubt when an earlier attempt claimed it and never confirmed.
        """
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(deliveries_table).values(
                        request_id=request_id,
                        kind=kind,
                        status="sending",
                        message_id=message_id,
                        claimed_at=_naive(utcnow()),
                    )
                )
            return None
        except IntegrityError:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(deliveries_table).where(
                        deliveries_table.c.request_id == request_id, deliveries_table.c.kind == kind
                    )
                ).first()
            if row is None:
                raise
            if row.status == "sent":
                return row.message_id
            raise DeliveryInDoubt(
                f"the {kind} email for request {request_id} (message {row.message_id}) was claimed at "
                f"{row.claimed_at} and never confirmed; check the mail server's log, then delete the "
                f"'{deliveries_table.name}' row to send again"
            ) from None

    def release_delivery(self, request_id: str, kind: str) -> None:
        """The send failed for certain (nothing left our hands): let a retry send."""
        with self.engine.begin() as conn:
            conn.execute(
                deliveries_table.delete().where(
                    deliveries_table.c.request_id == request_id,
                    deliveries_table.c.kind == kind,
                    deliveries_table.c.status == "sending",
                )
            )
            self._audit(conn, request_id, "email_send_failed", detail={"kind": kind})

    def confirm_delivery(self, request_id: str, kind: str, message_id: str, **detail: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(deliveries_table)
                .where(deliveries_table.c.request_id == request_id, deliveries_table.c.kind == kind)
                .values(status="sent", sent_at=_naive(utcnow()))
            )
            self._audit(
                conn,
                request_id,
                "email_sent",
                detail={"kind": kind, "message_id": message_id, **{k: v for k, v in detail.items() if v}},
            )

    def record_once(self, request_id: str, kind: str, ref: str) -> bool:
        """Mark a one-off action (a Slack reminder, ...) as done; False when it already was."""
        try:
            with self.engine.begin() as conn:
                now = _naive(utcnow())
                conn.execute(
                    insert(deliveries_table).values(
                        request_id=request_id, kind=kind, status="sent", message_id=ref, claimed_at=now, sent_at=now
                    )
                )
                self._audit(conn, request_id, f"{kind}_posted")
            return True
        except IntegrityError:
            return False

    def forget_once(self, request_id: str, kind: str) -> None:
        """The one-off action failed after all: let it be tried again."""
        with self.engine.begin() as conn:
            conn.execute(
                deliveries_table.delete().where(
                    deliveries_table.c.request_id == request_id, deliveries_table.c.kind == kind
                )
            )

    def done_kinds(self, request_id: str) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries_table.c.kind).where(deliveries_table.c.request_id == request_id)
            ).all()
        return {r.kind for r in rows}

    # -- audit ------------------------------------------------------------------------------------

    def audit(self, request_id: str | None, event: str, *, actor: str | None = None, detail: Any = None) -> None:
        with self.engine.begin() as conn:
            self._audit(conn, request_id, event, actor=actor, detail=detail)

    @staticmethod
    def _audit(conn, request_id: str | None, event: str, *, actor: str | None = None, detail: Any = None) -> None:
        conn.execute(
            insert(audit_table).values(
                request_id=request_id,
                event=event,
                actor=actor,
                detail=None if detail is None else json.dumps(detail, default=str, sort_keys=True),
                created_at=_naive(utcnow()),
            )
        )

    def audit_trail(self, request_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(audit_table).where(audit_table.c.request_id == request_id).order_by(audit_table.c.id)
            ).all()
        return [
            {
                "event": r.event,
                "actor": r.actor,
                "detail": None if r.detail is None else json.loads(r.detail),
                "created_at": _aware(r.created_at),
            }
            for r in rows
        ]


def _request(row) -> RequestRecord:
    return RequestRecord(
        request_id=row.request_id,
        run_id=row.run_id,
        name=row.name,
        email=row.email,
        photo_id_url=row.photo_id_url,
        status=row.status,
        received_at=_aware(row.received_at),
        due_at=_aware(row.due_at),
        slack_channel=row.slack_channel,
        slack_ts=row.slack_ts,
        closed_at=_aware(row.closed_at),
        channel=row.channel,
        nature=row.nature,
        extended_at=_aware(row.extended_at),
        extended_by=row.extended_by,
        extension_reason=row.extension_reason,
        linked_to=row.linked_to,
        redacted_at=_aware(row.redacted_at),
        identity_evidence=row.identity_evidence,
    )
