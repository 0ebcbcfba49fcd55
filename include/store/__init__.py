"""The compliance store: requests, decisions, deliveries and the audit trail, in the database behind
connection ``ccpa_compliance_db`` (MySQL/MariaDB in production, a SQLite file by default).

Exactly-once lives here, in the database, not in Python: a decision is a row keyed by its request (a second
insert fails), and a delivery is claimed by inserting its row before anything is sent.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, bindparam, distinct, func, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from include import clock, law
from include.config import COMPLIANCE_CONN_ID
from include.db import TASK_TIMEOUTS, Timeouts, default_sqlite_url, engine_for
from include.request import AccessRequest, Account, Identifiers
from include.store.schema import (
    ACKNOWLEDGEMENT,
    APPROVE,
    BASES,
    DECISIONS,
    DUPLICATE_NOTICE,
    EXPIRY_NOTICE,
    EXTENSION_NOTICE,
    MARGIN_ALERT,
    REJECT,
    REJECTION,
    REPORT,
    SCOPE_CATEGORIES,
    SCOPE_FULL,
    Status,
    approvals_table,
    audit_table,
    aware,
    decisions_table,
    deliveries_table,
    metadata,
    naive,
    predecessors,
    requests_table,
)

# The Slack callback's statements, built once: building a statement and its cache key costs more CPU than MariaDB
# spends answering it (py-spy of the API server at 100 clicks/s, docs/benchmarks.md), and a click runs several.
_r = requests_table.c
_a = approvals_table.c
_d = decisions_table.c
_REQUEST = select(requests_table).where(_r.request_id == bindparam("rid"))
_REQUEST_LOCKED = _REQUEST.with_for_update()
_DECISION = select(decisions_table).where(_d.request_id == bindparam("rid"))
#: The request and its decision (None's columns when undecided) in one non-locking read.
_DECISION_COLUMNS = ("action", "decided_by", "decided_at", "reason", "response_url", "scope", "basis")
_REQUEST_AND_DECISION = (
    select(requests_table, *(_d[c].label(f"decision_{c}") for c in _DECISION_COLUMNS))
    .select_from(requests_table.outerjoin(decisions_table, _d.request_id == _r.request_id))
    .where(_r.request_id == bindparam("rid"))
)
_APPROVALS = select(approvals_table).where(_a.request_id == bindparam("rid")).order_by(_a.approved_at, _a.approver)
_INSERT_AUDIT = insert(audit_table)
_INSERT_APPROVAL = insert(approvals_table)
#: The approve decision, written only when the database holds ``required_approvals`` distinct approvals.
_INSERT_APPROVE_IF_ENOUGH = insert(decisions_table).from_select(
    ["request_id", "action", "decided_by", "decided_at", "response_url", "scope", "basis"],
    select(
        _r.request_id,
        literal(APPROVE, _d.action.type),
        bindparam("v_decided_by", type_=_d.decided_by.type),
        bindparam("v_decided_at", type_=_d.decided_at.type),
        bindparam("v_response_url", type_=_d.response_url.type),
        bindparam("v_scope", type_=_d.scope.type),
        bindparam("v_basis", type_=_d.basis.type),
    )
    .select_from(requests_table.join(approvals_table, _a.request_id == _r.request_id))
    .where(_r.request_id == bindparam("rid"))
    .group_by(_r.request_id, _r.required_approvals)
    .having(func.count(distinct(_a.approver)) >= _r.required_approvals),
)
_MARK_APPROVED = (
    update(requests_table)
    .where(_r.request_id == bindparam("rid"), _r.status.in_(predecessors(Status.APPROVED)))
    .values(status=Status.APPROVED.value)
)


class UnknownRequest(LookupError):
    pass


class RequestClosed(UnknownRequest):
    """The request closed without a decision (expired, invalid, a duplicate): it can no longer be decided."""


class ExtensionRefused(ValueError):
    """An extension the law does not allow: a second one, or one asked for after the first 45 days."""


class TransitionRefused(ValueError):
    """A status change the request's current status does not allow (see ``include.store.schema.TRANSITIONS``)."""


class DeliveryInDoubt(RuntimeError):
    """A previous attempt claimed this delivery and never confirmed it: sending again could send twice."""


@dataclass(frozen=True)
class RequestRecord:
    request_id: str
    run_id: str
    name: str
    email: str
    photo_id_url: str
    status: Status
    received_at: datetime
    due_at: datetime
    slack_channel: str | None
    slack_ts: str | None
    closed_at: datetime | None
    channel: str = "api"
    nature: str = "right_to_know"
    language: str = "en"
    extended_at: datetime | None = None
    extended_by: str | None = None
    extension_reason: str | None = None
    linked_to: str | None = None
    redacted_at: datetime | None = None
    identity_evidence: str | None = None
    request_type: str = "specific_pieces"
    identifiers: Identifiers = field(default_factory=Identifiers)
    #: The matching data points (JSON, include.verification.evidence.Evidence.to_json); None before the check.
    verification: str | None = None
    #: §7061: the account login the intake asserted (None: not logged in, or cleared at close).
    account: Account | None = None
    #: The account check (JSON, include.verification.account.AccountCheck); None before the check or without login.
    account_check: str | None = None
    entered_at: datetime | None = None
    failed_at: datetime | None = None
    lookback: str = "12_months"
    #: Distinct officers who must approve (fixed when the request was registered).
    required_approvals: int = 1

    @property
    def open(self) -> bool:
        return self.closed_at is None and self.linked_to is None and self.redacted_at is None

    def overdue(self, now: datetime | None = None) -> bool:
        return self.due_at < (now or utcnow())

    @property
    def access_request(self) -> AccessRequest:
        return AccessRequest(
            name=self.name,
            email=self.email,
            photo_id_url=self.photo_id_url,
            request_type=self.request_type,
            identifiers=self.identifiers,
            account=self.account,
        )


@dataclass(frozen=True)
class Decision:
    request_id: str
    action: str
    decided_by: str
    decided_at: datetime
    reason: str | None = None
    response_url: str | None = None
    #: For an approval: ``full`` (specific pieces) or ``categories``. None for a rejection.
    scope: str | None = None
    #: §7101: the verification basis of an approval (include.store.schema.BASES); None for a rejection.
    basis: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain, XCom- and trigger-safe form (no personal data: a Slack user id, a time, a reason)."""
        return {
            "request_id": self.request_id,
            "action": self.action,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat(),
            "reason": self.reason,
            "scope": self.scope,
            "basis": self.basis,
        }


@dataclass(frozen=True)
class Approval:
    """One officer's Approve: with two required, the first is pending until a second officer approves."""

    request_id: str
    approver: str
    approved_at: datetime


@dataclass(frozen=True)
class ApprovalResult:
    """What one Approve click did: whether it added an approval, and the request's decision and approvals after it."""

    request_id: str
    added: bool
    approvals: tuple[Approval, ...]
    required: int
    #: The decision in force (approve once enough officers approved, or a reject that ended it), or None: pending.
    decision: Decision | None
    #: This click wrote the decision.
    decided: bool
    #: The request as read under its row lock by the click (its prompt is rendered from it after the ack, without
    #: reading it again); None where not read.
    request: RequestRecord | None = None

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(a.approver for a in self.approvals)


@dataclass(frozen=True)
class Outcome:
    """What the §7101 record of one request is made of: its dates, its decision and what was sent. No personal data."""

    request_id: str
    received_at: datetime
    due_at: datetime
    nature: str
    channel: str
    extended_at: datetime | None
    linked_to: str | None
    action: str | None
    reason: str | None
    report_sent_at: datetime | None
    rejection_sent_at: datetime | None
    #: Rows in the last report built (``report_built``): 0 is "we hold nothing about you", a complete answer.
    report_rows: int | None
    #: The verification basis of the approval (account_login, data_points_declaration, ...); None otherwise.
    basis: str | None = None
    status: str | None = None
    expiry_sent_at: datetime | None = None
    #: Slack user ids of the officers who approved, in order (two with ``ccpa_required_approvals`` = 2).
    approvers: tuple[str, ...] = ()


#: What the retention job leaves in place of a name.
REDACTED_NAME = "[redacted]"


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
        # A decision recorded before scopes existed approved everything: full.
        scope=row.scope if row.scope or row.action != APPROVE else SCOPE_FULL,
        basis=row.basis,
    )


#: Attempts of a transaction the database ended as a deadlock victim (MySQL error 1213, 1205 lock wait timeout).
DEADLOCK_RETRIES = 10


def _deadlock(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "args", [None])[0]
    return code in (1213, 1205) or "deadlock" in str(exc.orig).lower()


#: The demo's compliance store file in AIRFLOW_HOME (env CCPA_COMPLIANCE_SQLITE=1 only).
SQLITE_FILE = "ccpa_compliance.sqlite"
#: Request ids one poll query asks about: a triggerer's whole queue in one statement (5,000 waiting: one query of
#: ~0.3 s on MariaDB, where 500 per query made ten; docs/benchmarks.md), within SQLite's 32,766 bound parameters.
WAITING_IDS_PER_QUERY = 10_000

_schema_ready: set[str] = set()
_schema_lock = threading.Lock()


class ComplianceStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._ensure_schema()

    @classmethod
    def from_connection(
        cls, conn_id: str = COMPLIANCE_CONN_ID, *, timeouts: Timeouts = TASK_TIMEOUTS, pool_size: int = 5
    ) -> ComplianceStore:
        """The store on connection ``conn_id``; ``timeouts``: see include.db (the Slack callback uses
        ``INTERACTIVE_TIMEOUTS``).

        Without the connection this fails, naming it: a secrets-backend blip must not send a request to a stray
        SQLite file on one worker. Only with env ``CCPA_COMPLIANCE_SQLITE=1`` (the demo) does a missing connection
        mean a SQLite file in AIRFLOW_HOME."""
        from include.config import compliance_sqlite_allowed

        return cls(
            engine_for(
                conn_id,
                default_url=default_sqlite_url(SQLITE_FILE) if compliance_sqlite_allowed() else None,
                timeouts=timeouts,
                pool_size=pool_size,
            )
        )

    def _ensure_schema(self) -> None:
        """Bring the schema to the newest migration, once per process and database (include.store.migrate: Alembic,
        under a lock, so many processes starting together on an empty database do not collide)."""
        from include.store import migrate

        key = self.engine.url.render_as_string(hide_password=True)
        with _schema_lock:
            if key in _schema_ready:
                return
            if not migrate.is_current(self.engine):  # one query when up to date: the usual case
                # Its own engine: a migration may wait for another process's lock and run long ALTERs, which the
                # Slack callback's engine (timeouts of about a second) would cut short.
                from sqlalchemy import create_engine
                from sqlalchemy.pool import NullPool

                url = self.engine.url
                if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
                    migrate.upgrade(self.engine)  # an in-memory database exists on its own connection only
                else:
                    migrating = create_engine(url, poolclass=NullPool, hide_parameters=True)
                    try:
                        migrate.upgrade(migrating)
                    finally:
                        migrating.dispose()
            _schema_ready.add(key)

    # -- requests ---------------------------------------------------------------------------------

    def register_request(
        self,
        run_id: str,
        request: AccessRequest,
        received_at: datetime,
        *,
        channel: str = "api",
        entered_at: datetime | None = None,
        lookback: str = "12_months",
        tz: ZoneInfo | None = None,
        required_approvals: int = 1,
        language: str = "en",
    ) -> RequestRecord:
        """Create the request for a DAG run, or return the one a previous try created.

        ``received_at`` is when the consumer made the request (§7021: every legal date derives from it);
        ``entered_at`` when it was entered here (the run's trigger time; default: ``received_at``)."""
        if required_approvals < 1:
            raise ValueError("required_approvals must be at least 1")
        existing = self.find_by_run_id(run_id)
        if existing is not None:
            return existing
        request_id = uuid.uuid4().hex
        row = {
            "request_id": request_id,
            "run_id": run_id,
            **request.to_dict(),
            "status": Status.RECEIVED,
            "channel": channel,
            "language": language,
            "received_at": naive(received_at),
            "entered_at": naive(entered_at or received_at),
            "lookback": lookback,
            "due_at": naive(clock.due_date(received_at, tz)),
            "required_approvals": required_approvals,
        }
        return self._insert_request(run_id, request_id, row, "request_received", {"run_id": run_id})

    def register_invalid(
        self, run_id: str, fields: list[str], received_at: datetime, *, channel: str, entered_at: datetime
    ) -> RequestRecord:
        """§7101: a request whose conf failed validation is still recorded, as ``invalid``: the fields at fault are
        named, no value is kept (the row's name, email and photo link are placeholders)."""
        existing = self.find_by_run_id(run_id)
        if existing is not None:
            return existing
        request_id = uuid.uuid4().hex
        now = utcnow()
        row = {
            "request_id": request_id,
            "run_id": run_id,
            "name": REDACTED_NAME,
            "email": f"invalid+{request_id}@invalid",
            "photo_id_url": "",
            "status": Status.INVALID,
            "channel": channel,
            "received_at": naive(received_at),
            "entered_at": naive(entered_at),
            "due_at": naive(clock.due_date(received_at)),
            "closed_at": naive(now),
        }
        return self._insert_request(run_id, request_id, row, "request_invalid", {"run_id": run_id, "fields": fields})

    def _insert_request(
        self, run_id: str, request_id: str, row: dict[str, Any], event: str, detail: dict[str, Any]
    ) -> RequestRecord:
        for attempt in range(DEADLOCK_RETRIES):
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(requests_table).values(**row))
                    self._audit(conn, request_id, event, detail=detail)
                break
            except IntegrityError:
                existing = self.find_by_run_id(run_id)
                if existing is None:
                    raise
                return existing
            except OperationalError as exc:  # the insert met a duplicate check's locks (link_if_duplicate)
                if not _deadlock(exc) or attempt == DEADLOCK_RETRIES - 1:
                    raise
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # noqa: S311 (jitter, not security)
        return self.get_request(request_id)

    def get_request(self, request_id: str) -> RequestRecord:
        with self.engine.connect() as conn:
            row = conn.execute(_REQUEST, {"rid": request_id}).first()
        if row is None:
            raise UnknownRequest(request_id)
        return _request(row)

    def decision_and_request(self, request_id: str) -> tuple[Decision | None, RequestRecord | None]:
        """:meth:`get_decision` and :meth:`find_request` in one statement (the Slack callback asks both on every
        click). A decision exists only for a known request, so an unknown request is (None, None)."""
        with self.engine.connect() as conn:
            row = conn.execute(_REQUEST_AND_DECISION, {"rid": request_id}).first()
        if row is None:
            return None, None
        decided = None
        if row.decision_action is not None:
            m = row._mapping
            decided = _decision(SimpleNamespace(**{c: m[f"decision_{c}"] for c in _DECISION_COLUMNS}), row.request_id)
        return decided, _request(row)

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
        """Record the posted prompt. The request awaits a decision unless one already came: an officer may click
        before this write lands (the message is live as soon as Slack answers), and a decision is never undone."""
        r = requests_table.c
        with self.engine.begin() as conn:
            found = conn.execute(
                update(requests_table).where(r.request_id == request_id).values(slack_channel=channel, slack_ts=ts)
            )
            if found.rowcount == 0:
                raise UnknownRequest(request_id)
            conn.execute(
                update(requests_table)
                .where(r.request_id == request_id, r.status.in_(predecessors(Status.AWAITING_DECISION)))
                .values(status=Status.AWAITING_DECISION.value)
            )
            self._audit(conn, request_id, "review_prompt_posted", detail={"channel": channel, "ts": ts})

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

    def files_to_purge(self, cutoff: datetime, *, marker: str) -> list[str]:
        """Requests whose stored files may go: closed before ``cutoff``, or abandoned (never closed, their legal due
        date before ``cutoff``), and not yet purged (no ``marker`` one-off). No lower bound: a watch paused for a
        while catches up instead of missing the requests that closed meanwhile."""
        r = requests_table.c
        purged = select(deliveries_table.c.request_id).where(deliveries_table.c.kind == marker)
        gone = func.coalesce(r.closed_at, r.due_at) < naive(cutoff)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(r.request_id).where(gone, r.request_id.not_in(purged)).order_by(r.received_at, r.request_id)
            ).all()
        return [row.request_id for row in rows]

    def last_link_expiry(self, request_id: str) -> datetime | None:
        """When the last download link issued for the request expires (``download_link_issued`` audit events), or
        None when none was issued."""
        with self.engine.connect() as conn:
            details = conn.execute(
                select(audit_table.c.detail).where(
                    audit_table.c.request_id == request_id, audit_table.c.event == "download_link_issued"
                )
            ).scalars()
            expiries = []
            for detail in details:
                try:
                    expiries.append(datetime.fromisoformat(json.loads(detail or "{}")["expires_at"]))
                except (ValueError, KeyError, TypeError):
                    continue
        return max((_aware(e) for e in expiries), default=None)

    def closed_between(self, start: datetime, end: datetime) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(requests_table.c.request_id).where(
                    requests_table.c.closed_at >= naive(start), requests_table.c.closed_at < naive(end)
                )
            ).all()
        return [r.request_id for r in rows]

    def set_identity_evidence(self, request_id: str, evidence: str, verification: str | None = None) -> None:
        """What the officer is shown (a summary) and, with ``verification``, the matching data points (JSON)."""
        values: dict[str, Any] = {"identity_evidence": evidence}
        if verification is not None:
            values["verification"] = verification
        with self.engine.begin() as conn:
            conn.execute(update(requests_table).where(requests_table.c.request_id == request_id).values(**values))

    def set_account_check(self, request_id: str, check: str) -> None:
        """The account check's result (JSON; kinds, datastore names and times only)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(requests_table).where(requests_table.c.request_id == request_id).values(account_check=check)
            )

    def add_identifiers(self, request_id: str, identifiers: Identifiers, *, actor: str, fields: list[str]) -> None:
        """The requester gave more identifiers (asked for by an officer): merge them into the open request."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(requests_table).where(requests_table.c.request_id == request_id).with_for_update()
            ).first()
            if row is None or row.closed_at is not None or row.redacted_at is not None:
                raise UnknownRequest(request_id)
            merged = Identifiers.from_json(row.identifiers).merged(identifiers)
            conn.execute(
                update(requests_table)
                .where(requests_table.c.request_id == request_id)
                .values(identifiers=merged.to_json())
            )
            self._audit(conn, request_id, "identifiers_added", actor=actor, detail={"fields": sorted(fields)})

    def set_photo_id(self, request_id: str, link: str, *, actor: str) -> str:
        """The requester uploaded a photo ID (asked for by an officer): it becomes the request's photo ID, shown on the
        prompt. Only while the request is open and undecided; returns the photo ID link it replaces ("" if none)."""
        with self.engine.begin() as conn:
            row = conn.execute(
                select(requests_table).where(requests_table.c.request_id == request_id).with_for_update()
            ).first()
            decided = conn.execute(
                select(decisions_table.c.request_id).where(decisions_table.c.request_id == request_id)
            ).first()
            if row is None or not _request(row).open or decided is not None:
                raise UnknownRequest(request_id)
            conn.execute(
                update(requests_table).where(requests_table.c.request_id == request_id).values(photo_id_url=link)
            )
            self._audit(conn, request_id, "photo_id_added", actor=actor, detail={"replaces": bool(row.photo_id_url)})
        return str(row.photo_id_url or "")

    def open_request_for(self, email: str, *, excluding: str, now: datetime | None = None) -> RequestRecord | None:
        """Another request from the same email still being answered in time (the oldest), to link a duplicate to.

        Never one that is closed, whose run failed (or whose wait ended undecided), or that is past its due date:
        linking to it would tell the requester "we are already working on it" with a date already past."""
        now = now or utcnow()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(requests_table)
                .where(
                    requests_table.c.email == email,
                    requests_table.c.request_id != excluding,
                    requests_table.c.closed_at.is_(None),
                    requests_table.c.linked_to.is_(None),
                    requests_table.c.redacted_at.is_(None),
                    requests_table.c.failed_at.is_(None),
                    requests_table.c.due_at >= naive(now),
                )
                .order_by(requests_table.c.received_at)
                .limit(1)
            ).first()
        return None if row is None else _request(row)

    def link_if_duplicate(self, request_id: str) -> RequestRecord:
        """Link the request to another open request of the same email, if there is one; returns the request as it
        now stands.

        Requests arriving together must end with exactly one answered and the others linked to it, never linked to
        each other. So the check and the link are one transaction that first locks every row of that email
        (``FOR UPDATE`` in key order; the index lock also holds back a new request of that email until it commits):
        these transactions run one after another, each sees every request registered before it, and links only
        itself, only to a request that is open and not linked — the oldest such by (received_at, request_id).
        The last one of them to run stays unlinked. A request that was chosen and later links itself (it registered
        while another was checking) takes the requests linked to it along, so every duplicate points at the one
        answered request.

        (Linking only to a strictly older request is not enough: when the older of two registers second, it finds
        nothing older and the younger one, already checked, found nothing either: both would be answered.)
        """
        r = requests_table.c
        now = utcnow()
        for attempt in range(DEADLOCK_RETRIES):
            try:
                with self.engine.begin() as conn:
                    rows = conn.execute(
                        select(requests_table)
                        .where(r.email == select(r.email).where(r.request_id == request_id).scalar_subquery())
                        .order_by(r.request_id)
                        .with_for_update()
                    ).all()
                    me = next((row for row in rows if row.request_id == request_id), None)
                    if me is None:
                        raise UnknownRequest(request_id)
                    if me.linked_to is not None or me.closed_at is not None or me.redacted_at is not None:
                        return _request(me)
                    candidates = sorted(
                        (
                            row
                            for row in rows
                            if row.request_id != request_id
                            and row.closed_at is None
                            and row.linked_to is None
                            and row.redacted_at is None
                            # Never a magnet: not one whose run failed (or whose wait ended), not one overdue.
                            and row.failed_at is None
                            and _aware(row.due_at) >= now
                        ),
                        key=lambda row: (row.received_at, row.request_id),
                    )
                    if not candidates:
                        return _request(me)
                    original = candidates[0].request_id
                    result = conn.execute(
                        update(requests_table)
                        .where(r.request_id == request_id, r.status.in_(predecessors(Status.LINKED_DUPLICATE)))
                        .values(linked_to=original, closed_at=naive(utcnow()), status=Status.LINKED_DUPLICATE.value)
                    )
                    if result.rowcount == 1:
                        self._audit(conn, request_id, "linked_to_open_request", detail={"original": original})
                        moved = conn.execute(
                            update(requests_table).where(r.linked_to == request_id).values(linked_to=original)
                        ).rowcount
                        if moved:
                            self._audit(conn, request_id, "duplicates_relinked", detail={"to": original, "n": moved})
                break
            except OperationalError as exc:
                if not _deadlock(exc) or attempt == DEADLOCK_RETRIES - 1:
                    raise
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # noqa: S311 (jitter, not security)
        return self.get_request(request_id)

    def link_duplicate(self, request_id: str, original_id: str) -> None:
        self._update_request(
            request_id,
            {"linked_to": original_id, "closed_at": naive(utcnow())},
            "linked_to_open_request",
            detail={"original": original_id},
            status=Status.LINKED_DUPLICATE,
        )

    def earlier_requests(self, record: RequestRecord) -> int:
        """Civ. 1798.130(b): how many answers this person received in the 12 calendar months before this request was
        received; a business need not answer a third time. Shown to the officer on the prompt."""
        since = law.months_before(record.received_at, law.LOOKBACK_MONTHS)
        return self.answered_since(record.email, since, excluding=record.request_id, until=record.received_at)

    def answered_since(self, email: str, since: datetime, *, excluding: str, until: datetime | None = None) -> int:
        """Civ. 1798.130(b): requests from this email actually answered (their report delivered) at or after
        ``since`` (and before ``until``). Denied, open, expired, failed and duplicate requests are no answer."""
        r = requests_table.c
        d = deliveries_table.c
        conditions = [
            r.email == email,
            r.request_id != excluding,
            d.kind == REPORT,
            d.status == "sent",
            d.sent_at >= naive(since),
        ]
        if until is not None:
            conditions.append(d.sent_at < naive(until))
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count())
                .select_from(requests_table.join(deliveries_table, d.request_id == r.request_id))
                .where(*conditions)
            ).scalar_one()

    def mark_failed(self, request_id: str, *, reason: str, now: datetime | None = None) -> None:
        """The run stopped (failed after its retries, or its wait ended undecided): the request stays open and
        escalated; no new request is linked to it. Idempotent (the first failure's time is kept)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(requests_table)
                .where(requests_table.c.request_id == request_id, requests_table.c.failed_at.is_(None))
                .values(failed_at=naive(now or utcnow()))
            )
            self._audit(conn, request_id, "request_escalated", detail={"reason": reason})

    def widen_scope(self, request_id: str, *, by_request: str) -> bool:
        """A duplicate asked for everything (back to 1 January 2022): the open request's answer covers it.
        Returns whether the scope changed."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(requests_table)
                .where(requests_table.c.request_id == request_id, requests_table.c.lookback != "all")
                .values(lookback="all")
            )
            if result.rowcount:
                self._audit(conn, request_id, "scope_widened", detail={"lookback": "all", "by": by_request})
        return bool(result.rowcount)

    def void_extension(self, request_id: str, *, tz: ZoneInfo | None = None) -> RequestRecord:
        """§7021(b): the extension notice did not go out within the first 45 days, so the extension does not count:
        the due date returns to the original one, and the record no longer counts as extended (``extended_by`` and the
        reason stay, with the ``extension_void`` audit event, for the history)."""
        record = self.get_request(request_id)
        if record.extended_at is None:
            return record
        original = clock.due_date(record.received_at, tz)
        with self.engine.begin() as conn:
            conn.execute(
                update(requests_table)
                .where(requests_table.c.request_id == request_id)
                .values(due_at=naive(original), extended_at=None)
            )
            self._audit(conn, request_id, "extension_void", detail={"due_at": original.isoformat()})
        return self.get_request(request_id)

    def extend(
        self, request_id: str, by: str, reason: str, *, now: datetime | None = None, tz: ZoneInfo | None = None
    ) -> RequestRecord:
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
                    f"already extended on {clock.format_short(record.extended_at)} by <@{record.extended_by}>: "
                    "the law allows one"
                )
            if now > clock.extension_deadline(record.received_at, tz):
                raise ExtensionRefused("too late: an extension must be noticed within the first 45 days (§7021(b))")
            if not record.open:
                raise ExtensionRefused("this request is closed")
            result = conn.execute(
                update(requests_table)
                .where(requests_table.c.request_id == request_id, requests_table.c.extended_at.is_(None))
                .values(
                    extended_at=naive(now),
                    extended_by=by,
                    extension_reason=reason,
                    due_at=naive(clock.extended_due_date(record.due_at, tz)),
                )
            )
            if result.rowcount != 1:
                raise ExtensionRefused("already extended: the law allows one")
            self._audit(conn, request_id, "deadline_extended", actor=by, detail={"days": law.EXTENSION_DAYS})
        return self.get_request(request_id)

    def set_status(self, request_id: str, status: Status, **detail: Any) -> None:
        """Move the request to ``status`` (closing it when the status is final), if its current status allows."""
        status = Status(status)
        # Identifiers given for verification serve verification only (§7060(d)): gone when the request closes.
        values: dict[str, Any] = (
            {"closed_at": naive(utcnow()), "identifiers": None, "account": None} if status.final else {}
        )
        self._update_request(request_id, values, status.value, detail=detail or None, status=status)

    def _update_request(
        self,
        request_id: str,
        values: dict[str, Any],
        event: str,
        detail: Any = None,
        *,
        status: Status | None = None,
    ) -> None:
        """Update the request and audit ``event`` in one transaction; with ``status``, only along an allowed
        transition (checked by the UPDATE itself, so a concurrent change cannot slip between check and write)."""
        r = requests_table.c
        statement = update(requests_table).where(r.request_id == request_id)
        if status is not None:
            statement = statement.where(r.status.in_(predecessors(status))).values(status=status.value)
        with self.engine.begin() as conn:
            result = conn.execute(statement.values(**values))
            if result.rowcount == 0:
                current = conn.execute(select(r.status).where(r.request_id == request_id)).scalar_one_or_none()
                if current is None:
                    raise UnknownRequest(request_id)
                raise TransitionRefused(f"request {request_id}: {current} -> {status} is not an allowed transition")
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
        scope: str | None = None,
        basis: str | None = None,
    ) -> tuple[Decision, bool]:
        """Record the decision; return (the decision in force, whether this call made it). An approval records its
        ``scope`` (full or categories; the caller has checked it against the verification level)."""
        if action not in DECISIONS:
            raise ValueError(f"unknown decision {action!r}")
        if action == APPROVE:
            scope = scope or SCOPE_FULL
            if scope not in (SCOPE_FULL, SCOPE_CATEGORIES):
                raise ValueError(f"unknown scope {scope!r}")
            if basis is not None and basis not in BASES:
                raise ValueError(f"unknown verification basis {basis!r}")
        else:
            scope = None
            basis = None
        decided_at = decided_at or utcnow()
        try:
            with self.engine.begin() as conn:
                # Lock the request row first: concurrent clicks then queue here instead of deadlocking between
                # the decision's foreign-key check (shared lock) and the status update (exclusive lock).
                exists = conn.execute(
                    select(requests_table.c.request_id, requests_table.c.status)
                    .where(requests_table.c.request_id == request_id)
                    .with_for_update()
                ).first()
                if exists is None:
                    raise UnknownRequest(request_id)
                if exists.status in (Status.EXPIRED_UNVERIFIED, Status.INVALID, Status.LINKED_DUPLICATE):
                    raise RequestClosed(request_id)
                conn.execute(
                    insert(decisions_table).values(
                        request_id=request_id,
                        action=action,
                        decided_by=decided_by,
                        decided_at=naive(decided_at),
                        reason=reason,
                        response_url=response_url,
                        scope=scope,
                        basis=basis,
                    )
                )
                status = Status.APPROVED if action == APPROVE else Status.REJECTED
                conn.execute(
                    update(requests_table)
                    .where(requests_table.c.request_id == request_id, requests_table.c.status.in_(predecessors(status)))
                    .values(status=status.value)
                )
                detail: dict[str, Any] = {"action": action}
                if scope:
                    detail["scope"] = scope
                if basis:
                    detail["basis"] = basis
                self._audit(conn, request_id, "decision_recorded", actor=decided_by, detail=detail)
        except IntegrityError:
            decision = self.get_decision(request_id)
            if decision is None:
                raise
            self.audit(request_id, "duplicate_decision_ignored", actor=decided_by, detail={"action": action})
            return decision, False
        decision = self.get_decision(request_id)
        assert decision is not None
        return decision, True

    def record_approval(
        self,
        request_id: str,
        approver: str,
        *,
        response_url: str | None = None,
        approved_at: datetime | None = None,
        scope: str = SCOPE_FULL,
        basis: str | None = None,
    ) -> ApprovalResult:
        """One officer's Approve. The approve decision is written only when the database holds the request's
        ``required_approvals`` distinct approvals.

        All in one transaction holding the request row's lock (concurrent clicks queue on it): the approval row
        (its primary key refuses the same officer twice), then ``INSERT INTO ccpa_decisions ... SELECT ... HAVING
        COUNT(DISTINCT approver) >= required_approvals``: the database, not Python, decides whether there are enough.
        A decision already in force (a reject ends it) is returned unchanged. The decision records ``scope`` (full
        or categories, checked by the caller against the verification level) and its §7101 verification ``basis``,
        as the approval that completes it gave them.
        """
        if scope not in (SCOPE_FULL, SCOPE_CATEGORIES):
            raise ValueError(f"unknown scope {scope!r}")
        if basis is not None and basis not in BASES:
            raise ValueError(f"unknown verification basis {basis!r}")
        approved_at = approved_at or utcnow()
        try:
            with self.engine.begin() as conn:
                # The whole request row, under its lock: the click's prompt update renders it after the ack.
                row = conn.execute(_REQUEST_LOCKED, {"rid": request_id}).first()
                if row is None:
                    raise UnknownRequest(request_id)
                # Not part of the locking read: a locking read of a missing decision would lock the gap around its
                # key, and two clicks on neighbouring requests would then deadlock inserting their decisions.
                found = conn.execute(_DECISION, {"rid": request_id}).first()
                in_force = None if found is None else _decision(found, request_id)
                added = decided = False
                audits: list[dict[str, Any]] = []
                if in_force is None:
                    conn.execute(
                        _INSERT_APPROVAL,
                        {
                            "request_id": request_id,
                            "approver": approver,
                            "approved_at": naive(approved_at),
                            "response_url": response_url,
                        },
                    )
                    audits.append(_audit_row(request_id, "approval_recorded", actor=approver))
                    added = True
                    inserted = conn.execute(
                        _INSERT_APPROVE_IF_ENOUGH,
                        {
                            "rid": request_id,
                            "v_decided_by": approver,
                            "v_decided_at": naive(approved_at),
                            "v_response_url": response_url,
                            "v_scope": scope,
                            "v_basis": basis,
                        },
                    )
                    decided = inserted.rowcount == 1
                # The result is read in the same transaction, under the request row's lock (the other clicks and
                # decisions on this request wait for it): what this click left, with no round trips after the commit.
                approvals = self._approvals_in(conn, request_id)
                if decided:
                    conn.execute(_MARK_APPROVED, {"rid": request_id})
                    audits.append(
                        _audit_row(
                            request_id,
                            "decision_recorded",
                            actor=approver,
                            detail={
                                "action": APPROVE,
                                "approvers": [x.approver for x in approvals],
                                **({"scope": scope, "basis": basis} if basis else {}),
                            },
                        )
                    )
                    # Exactly what the statement above wrote (the timestamp columns keep microseconds).
                    in_force = Decision(
                        request_id=request_id,
                        action=APPROVE,
                        decided_by=approver,
                        decided_at=_aware(naive(approved_at)),
                        response_url=response_url,
                        scope=scope,
                        basis=basis,
                    )
                if audits:  # one statement for both rows, in this order (their ids are consecutive)
                    conn.execute(_INSERT_AUDIT, audits)
                result = ApprovalResult(
                    request_id=request_id,
                    added=added,
                    approvals=tuple(approvals),
                    required=row.required_approvals,
                    decision=in_force,
                    decided=decided,
                    request=_request(row),
                )
        except IntegrityError:
            # The primary key refused a second approval by the same officer (or a decision raced us): nothing written.
            self.audit(request_id, "duplicate_approval_ignored", actor=approver)
            return self._approval_result(request_id, added=False, decided=False)
        return result

    def _approval_result(self, request_id: str, *, added: bool, decided: bool) -> ApprovalResult:
        with self.engine.connect() as conn:
            required = conn.execute(
                select(requests_table.c.required_approvals).where(requests_table.c.request_id == request_id)
            ).scalar_one()
        return ApprovalResult(
            request_id=request_id,
            added=added,
            approvals=tuple(self.approvals(request_id)),
            required=required,
            decision=self.get_decision(request_id),
            decided=decided,
        )

    def approvals(self, request_id: str) -> list[Approval]:
        """The officers who approved a request, first first."""
        with self.engine.connect() as conn:
            return self._approvals_in(conn, request_id)

    @staticmethod
    def _approvals_in(conn: Any, request_id: str) -> list[Approval]:
        rows = conn.execute(_APPROVALS, {"rid": request_id}).all()
        return [Approval(row.request_id, row.approver, _aware(row.approved_at)) for row in rows]

    def approvers_of(self, request_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Approvers of many requests in one query per 500: what the §7101 record and the requests page show."""
        ids = list(dict.fromkeys(request_ids))
        a = approvals_table.c
        found: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), WAITING_IDS_PER_QUERY):
                rows = conn.execute(
                    select(a.request_id, a.approver)
                    .where(a.request_id.in_(ids[start : start + 500]))
                    .order_by(a.request_id, a.approved_at, a.approver)
                )
                for row in rows:
                    found.setdefault(row.request_id, []).append(row.approver)
        return {request_id: tuple(approvers) for request_id, approvers in found.items()}

    def waiting_states(self, request_ids: Iterable[str]) -> dict[str, tuple[Decision | None, bool]]:
        """What waiting requests' triggers poll for, in one query for up to ``WAITING_IDS_PER_QUERY`` requests: for
        each, (its decision, whether an extension was granted whose notice is not sent yet). The triggerer polls
        every waiting request every few seconds, and thousands may wait at once. Unknown ids are left out."""
        ids = list(dict.fromkeys(request_ids))
        notice = deliveries_table.alias("notice")
        states: dict[str, tuple[Decision | None, bool]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), WAITING_IDS_PER_QUERY):
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
                    .where(requests_table.c.request_id.in_(ids[start : start + WAITING_IDS_PER_QUERY]))
                )
                for row in rows:
                    if row.action is not None:
                        states[row.waiting_id] = (_decision(row, row.waiting_id), False)
                    else:
                        states[row.waiting_id] = (None, row.extended_at is not None and row.notice_kind is None)
        return states

    # -- §7101 records and retention -------------------------------------------------------------------------

    def outcomes(self, start: datetime, end: datetime) -> list[Outcome]:
        """Every request received in [start, end), oldest first, with its decision and what was sent."""
        r = requests_table.c
        report = deliveries_table.alias("report_delivery")
        rejection = deliveries_table.alias("rejection_delivery")
        expiry = deliveries_table.alias("expiry_delivery")

        def sent(delivery: Any, kind: str) -> Any:
            return and_(delivery.c.request_id == r.request_id, delivery.c.kind == kind, delivery.c.status == "sent")

        in_range = and_(r.received_at >= naive(start), r.received_at < naive(end))
        query = (
            select(
                r.request_id,
                r.received_at,
                r.due_at,
                r.nature,
                r.channel,
                r.extended_at,
                r.linked_to,
                decisions_table.c.action,
                decisions_table.c.reason,
                decisions_table.c.basis,
                report.c.sent_at.label("report_sent_at"),
                rejection.c.sent_at.label("rejection_sent_at"),
                expiry.c.sent_at.label("expiry_sent_at"),
                r.status,
            )
            .select_from(
                requests_table.outerjoin(decisions_table, decisions_table.c.request_id == r.request_id)
                .outerjoin(report, sent(report, REPORT))
                .outerjoin(rejection, sent(rejection, REJECTION))
                .outerjoin(expiry, sent(expiry, EXPIRY_NOTICE))
            )
            .where(in_range)
            .order_by(r.received_at, r.request_id)
        )
        # The last report built for each request: its row count tells "we hold nothing about you" from a full report.
        built = (
            select(audit_table.c.request_id, audit_table.c.detail)
            .select_from(audit_table.join(requests_table, audit_table.c.request_id == r.request_id))
            .where(in_range, audit_table.c.event == "report_built")
            .order_by(audit_table.c.id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            report_rows = {row.request_id: _rows_in(row.detail) for row in conn.execute(built)}
        approvers = self.approvers_of(row.request_id for row in rows)
        return [
            Outcome(
                request_id=row.request_id,
                received_at=_aware(row.received_at),
                due_at=_aware(row.due_at),
                nature=row.nature,
                channel=row.channel,
                extended_at=aware(row.extended_at),
                linked_to=row.linked_to,
                action=row.action,
                reason=row.reason,
                report_sent_at=aware(row.report_sent_at),
                rejection_sent_at=aware(row.rejection_sent_at),
                report_rows=report_rows.get(row.request_id),
                basis=row.basis,
                status=row.status,
                expiry_sent_at=aware(row.expiry_sent_at),
                approvers=approvers.get(row.request_id, ()) if row.action == APPROVE else (),
            )
            for row in rows
        ]

    def redact_closed_before(
        self,
        cutoff: datetime,
        *,
        now: datetime,
        detail: Any,
        dry_run: bool = False,
        chunk_size: int = 500,
        standard_reasons: Iterable[str] = (),
    ) -> list[str]:
        """Remove the personal data of requests closed before ``cutoff`` (and of requests never closed, received
        before it: abandoned); keep the rows for the §7101 log and the §7102 counts.

        The closing date, not the receipt, starts the clock: the §7101 record of a request is complete only when it
        is answered, and a request answered late (or after the extension) must keep its record as long as any other.
        Removed: the name, email and photo link, what the officer was shown, the identifiers, the extension reason
        and the ``response_url``s Slack gave with each click. The denial basis (the decision's ``reason``) keeps only
        a reason from ``standard_reasons`` (the officers' fixed choices, no personal data); the officer's free text
        goes. Returns the ids redacted (with ``dry_run``: that would be). Idempotent: redacted rows are skipped. One
        transaction per ``chunk_size`` requests keeps locks short on a large backlog.
        """
        r = requests_table.c
        due = and_(func.coalesce(r.closed_at, r.received_at) < naive(cutoff), r.redacted_at.is_(None))
        order = (r.received_at, r.request_id)
        if dry_run:
            with self.engine.connect() as conn:
                return list(conn.execute(select(r.request_id).where(due).order_by(*order)).scalars())

        values: dict[str, Any] = {
            "name": REDACTED_NAME,
            "email": literal("redacted+") + r.request_id + literal("@invalid"),
            "photo_id_url": "",
            # What the officer was shown to verify identity: the name on file.
            "identity_evidence": None,
            "identifiers": None,
            "verification": None,
            "account": None,
            # Free text the officer wrote to the requester: §7101 keeps that the request was extended, not why.
            "extension_reason": None,
            "redacted_at": naive(now),
        }
        standard = tuple(standard_reasons)
        self._backfill_free_text(standard, chunk_size)
        redacted: list[str] = []
        while True:
            with self.engine.begin() as conn:
                chunk = list(
                    conn.execute(select(r.request_id).where(due).order_by(*order).limit(chunk_size).with_for_update())
                    .scalars()
                    .all()
                )
                if not chunk:
                    return redacted
                conn.execute(
                    update(requests_table).where(r.request_id.in_(chunk), r.redacted_at.is_(None)).values(values)
                )
                self._scrub_free_text(conn, chunk, standard)
                stamp = naive(utcnow())
                encoded = json.dumps(detail, sort_keys=True)
                conn.execute(
                    insert(audit_table),
                    [
                        {
                            "request_id": request_id,
                            "event": "personal_data_redacted",
                            "actor": "retention",
                            "detail": encoded,
                            "created_at": stamp,
                        }
                        for request_id in chunk
                    ],
                )
            redacted.extend(chunk)

    @staticmethod
    def _scrub_free_text(conn: Any, chunk: list[str], standard: tuple[str, ...]) -> None:
        """The free text and Slack links of the requests in ``chunk``: response_urls go (a capability to write into
        the channel, no record needs it), a denial basis keeps only its fixed reason (:func:`standard_reason`)."""
        for table in (decisions_table, approvals_table):
            conn.execute(
                update(table)
                .where(table.c.request_id.in_(chunk), table.c.response_url.is_not(None))
                .values(response_url=None)
            )
        conn.execute(
            update(requests_table)
            .where(requests_table.c.request_id.in_(chunk), requests_table.c.extension_reason.is_not(None))
            .values(extension_reason=None)
        )
        reasons = conn.execute(
            select(decisions_table.c.request_id, decisions_table.c.reason).where(
                decisions_table.c.request_id.in_(chunk), decisions_table.c.reason.is_not(None)
            )
        ).all()
        for row in reasons:
            kept = standard_reason(row.reason, standard)
            if kept != row.reason:
                conn.execute(
                    update(decisions_table).where(decisions_table.c.request_id == row.request_id).values(reason=kept)
                )

    def _backfill_free_text(self, standard: tuple[str, ...], chunk_size: int) -> None:
        """Requests redacted by an earlier release, which kept the free text and the response_urls: scrub them too
        (audit ``free_text_redacted``). Idempotent: a scrubbed request matches none of the conditions below."""
        r = requests_table.c
        d = decisions_table.c
        leftover = and_(
            r.redacted_at.is_not(None),
            or_(
                r.extension_reason.is_not(None),
                r.request_id.in_(
                    select(d.request_id).where(
                        or_(
                            d.response_url.is_not(None),
                            and_(d.reason.is_not(None), d.reason.not_in([*standard, REDACTED_REASON])),
                        )
                    )
                ),
                r.request_id.in_(
                    select(approvals_table.c.request_id).where(approvals_table.c.response_url.is_not(None))
                ),
            ),
        )
        done: set[str] = set()
        while True:
            with self.engine.begin() as conn:
                chunk = list(
                    conn.execute(select(r.request_id).where(leftover).order_by(r.request_id).limit(chunk_size))
                    .scalars()
                    .all()
                )
                if not chunk or done.issuperset(chunk):  # the second: never spin on a row the scrub cannot change
                    return
                done.update(chunk)
                self._scrub_free_text(conn, chunk, standard)
                stamp = naive(utcnow())
                conn.execute(
                    insert(audit_table),
                    [
                        {"request_id": rid, "event": "free_text_redacted", "actor": "retention", "created_at": stamp}
                        for rid in chunk
                    ],
                )

    def redacted_without(self, kind: str) -> list[RequestRecord]:
        """Redacted requests on which the one-off ``kind`` (``record_once``) is not done yet, oldest first: what the
        retention job still has to clean outside the store (the Slack prompt, Airflow's run)."""
        r = requests_table.c
        done = select(deliveries_table.c.request_id).where(deliveries_table.c.kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(requests_table)
                .where(r.redacted_at.is_not(None), r.request_id.not_in(done))
                .order_by(r.received_at, r.request_id)
            ).all()
        return [_request(row) for row in rows]

    def get_decision(self, request_id: str) -> Decision | None:
        with self.engine.connect() as conn:
            row = conn.execute(_DECISION, {"rid": request_id}).first()
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
                        claimed_at=naive(utcnow()),
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
                .values(status="sent", sent_at=naive(utcnow()))
            )
            self._audit(
                conn,
                request_id,
                "email_sent",
                detail={"kind": kind, "message_id": message_id, **{k: v for k, v in detail.items() if v}},
            )

    def record_once(self, request_id: str, kind: str, ref: str, *, event: str | None = None) -> bool:
        """Mark a one-off action (a Slack reminder, ...) as done; False when it already was. ``event``: the audit
        event (default ``<kind>_posted``)."""
        try:
            with self.engine.begin() as conn:
                now = naive(utcnow())
                conn.execute(
                    insert(deliveries_table).values(
                        request_id=request_id, kind=kind, status="sent", message_id=ref, claimed_at=now, sent_at=now
                    )
                )
                self._audit(conn, request_id, event or f"{kind}_posted")
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

    def once_ref(self, request_id: str, kind: str) -> str | None:
        """The reference recorded with a one-off action (``record_once``), or None when it was not done."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(deliveries_table.c.message_id).where(
                    deliveries_table.c.request_id == request_id, deliveries_table.c.kind == kind
                )
            ).scalar_one_or_none()

    # -- audit ------------------------------------------------------------------------------------

    def audit(self, request_id: str | None, event: str, *, actor: str | None = None, detail: Any = None) -> None:
        with self.engine.begin() as conn:
            self._audit(conn, request_id, event, actor=actor, detail=detail)

    @staticmethod
    def _audit(conn, request_id: str | None, event: str, *, actor: str | None = None, detail: Any = None) -> None:
        conn.execute(_INSERT_AUDIT, _audit_row(request_id, event, actor=actor, detail=detail))

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
                "created_at": aware(r.created_at),
            }
            for r in rows
        ]

    def audit_events(self, event: str, *, after_id: int = 0, last: bool = False) -> list[AuditEvent]:
        """The ``event`` entries of the audit trail (every request's) with an id above ``after_id``, oldest first;
        with ``last``, only the newest."""
        a = audit_table.c
        query = select(audit_table).where(a.event == event, a.id > after_id)
        query = query.order_by(a.id.desc()).limit(1) if last else query.order_by(a.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEvent(
                id=r.id,
                request_id=r.request_id,
                event=r.event,
                detail=None if r.detail is None else json.loads(r.detail),
                created_at=_aware(r.created_at),
            )
            for r in rows
        ]


@dataclass(frozen=True)
class AuditEvent:
    """One audit-trail entry (identifiers and outcomes only, never personal data)."""

    id: int
    request_id: str | None
    event: str
    detail: Any
    created_at: datetime


#: What the retention job leaves of a denial basis written by the officer.
REDACTED_REASON = "[redacted]"


def standard_reason(reason: str, standard: tuple[str, ...]) -> str:
    """The part of a denial basis that is one of the officers' fixed reasons (kept: §7024(e), §7101 "basis of any
    denial"), without what the officer added in free text; :data:`REDACTED_REASON` when it is all free text."""
    for text in standard:
        if reason == text or reason.startswith(text + ". "):
            return text
    return REDACTED_REASON


def _rows_in(detail: str | None) -> int | None:
    try:
        value = json.loads(detail or "null")
    except ValueError:
        return None
    rows = value.get("rows") if isinstance(value, dict) else None
    return rows if isinstance(rows, int) else None


def _aware(value: datetime) -> datetime:
    """A NOT NULL stored time, aware."""
    result = aware(value)
    assert result is not None
    return result


def record_from_row(row: Any) -> RequestRecord:
    """A request read by a query of ``requests_table`` made elsewhere (the requests page joins it to decisions)."""
    return _request(row)


def _audit_row(request_id: str | None, event: str, *, actor: str | None = None, detail: Any = None) -> dict[str, Any]:
    """One ``ccpa_audit`` row's values (its id is the database's)."""
    return {
        "request_id": request_id,
        "event": event,
        "actor": actor,
        "detail": None if detail is None else json.dumps(detail, default=str, sort_keys=True),
        "created_at": naive(utcnow()),
    }


def _request(row: Any) -> RequestRecord:
    return RequestRecord(
        request_id=row.request_id,
        run_id=row.run_id,
        name=row.name,
        email=row.email,
        photo_id_url=row.photo_id_url,
        status=Status(row.status),
        received_at=_aware(row.received_at),
        due_at=_aware(row.due_at),
        slack_channel=row.slack_channel,
        slack_ts=row.slack_ts,
        closed_at=aware(row.closed_at),
        channel=row.channel,
        nature=row.nature,
        language=row.language,
        extended_at=aware(row.extended_at),
        extended_by=row.extended_by,
        extension_reason=row.extension_reason,
        linked_to=row.linked_to,
        redacted_at=aware(row.redacted_at),
        identity_evidence=row.identity_evidence,
        request_type=row.request_type or "specific_pieces",
        identifiers=Identifiers.from_json(row.identifiers),
        verification=row.verification,
        account=Account.from_json(row.account),
        account_check=row.account_check,
        entered_at=aware(row.entered_at),
        failed_at=aware(row.failed_at),
        lookback=row.lookback,
        required_approvals=row.required_approvals,
    )


__all__ = [
    "ACKNOWLEDGEMENT",
    "APPROVE",
    "DECISIONS",
    "DUPLICATE_NOTICE",
    "EXPIRY_NOTICE",
    "EXTENSION_NOTICE",
    "MARGIN_ALERT",
    "REDACTED_NAME",
    "REDACTED_REASON",
    "REJECT",
    "REJECTION",
    "REPORT",
    "SCOPE_CATEGORIES",
    "SCOPE_FULL",
    "Approval",
    "ApprovalResult",
    "AuditEvent",
    "ComplianceStore",
    "Decision",
    "DeliveryInDoubt",
    "ExtensionRefused",
    "Outcome",
    "RequestClosed",
    "RequestRecord",
    "Status",
    "TransitionRefused",
    "UnknownRequest",
    "metadata",
    "record_from_row",
    "utcnow",
]
