"""The compliance store's tables, the request statuses and the transitions allowed between them.

Status values are strings (a ``StrEnum``), so the rows stored by earlier releases read back unchanged. Transitions are
checked in the database where the status changes (``UPDATE … WHERE status IN (<allowed predecessors>)``), so two
processes racing cannot move a request along a path the table below does not allow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects import mysql

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
    # §7021: when the consumer made the request (the ``received_at`` param, else the trigger time); every legal
    # date derives from it.
    Column("received_at", _Timestamp, nullable=False),
    Column("due_at", _Timestamp, nullable=False),
    Column("slack_channel", String(64)),
    Column("slack_ts", String(64)),
    Column("closed_at", _Timestamp),
    # §7101 records: how the request was made, and what it was (this workflow answers "right to know").
    Column("channel", String(32), nullable=False, server_default="api"),
    Column("nature", String(32), nullable=False, server_default="right_to_know"),
    # Civ. 1798.130(a)(2)(B): "12_months" or "all" (back to 1 January 2022); a duplicate asking for all widens it.
    Column("lookback", String(16), nullable=False, server_default="12_months"),
    # The requester's language (en, es): every email, the report and the status page are written in it.
    Column("language", String(8), nullable=False, server_default="en"),
    # §7021(b): at most one extension of up to 45 days, noticed with its reason within the first 45 days.
    Column("extended_at", _Timestamp),
    Column("extended_by", String(64)),
    Column("extension_reason", Text),
    # A request for an email that already has an open request is linked to it instead of answered twice.
    Column("linked_to", String(32)),
    # What the officer was shown to verify identity (§7060): datastore names and the name on file; redacted later.
    Column("identity_evidence", Text),
    # §7062/§7063: what the requester asked for (specific_pieces | categories) and the identifiers they gave to be
    # matched (JSON: phone, postal_address, account_id, declaration). The identifiers serve verification only
    # (§7060(d)): cleared when the request closes.
    Column("request_type", String(32), nullable=False, server_default="specific_pieces"),
    Column("identifiers", Text),
    # The matching data points found, per datastore (JSON, include.verification.evidence): kinds, never values.
    Column("verification", Text),
    # §7061: the account login the intake asserted (JSON, include.request.Account: account id, when, how, delivery
    # URL, fraud facts). Verification and delivery only: cleared when the request closes.
    Column("account", Text),
    # The account check (JSON, include.verification.account.AccountCheck): match | mismatch | not_held | unchecked,
    # whether the login was recent enough, the datastores checked. No values.
    Column("account_check", Text),
    # §7101: when the request was entered into this system (the run's trigger time), kept beside its receipt.
    Column("entered_at", _Timestamp),
    # The run failed after its retries (or its wait ended undecided): the request stays open and escalated, and a
    # new request from the same person is never linked to it.
    Column("failed_at", _Timestamp),
    # Personal data removed by the retention job (the row, its dates and outcome stay for the counts).
    Column("redacted_at", _Timestamp),
    # How many distinct officers must approve before the report is built (Variable ccpa_required_approvals when the
    # request was registered). The decision is inserted only when ccpa_approvals holds that many: see approvals_table.
    Column("required_approvals", Integer, nullable=False, server_default="1"),
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
    # What was approved (§7062/§7063): full (specific pieces) or categories. The callback refuses a full approval
    # the verification level does not allow; the report task answers at this scope, never above it.
    Column("scope", String(16)),
    # §7101: the verification basis of the answer (account_login | data_points_declaration | power_of_attorney |
    # categories_only), recorded with the approval (include.verification.account.record_basis).
    Column("basis", String(32)),
)

approvals_table = Table(
    "ccpa_approvals",
    metadata,
    # One row per officer who approved: the primary key refuses the same officer twice. The approve decision in
    # ccpa_decisions is inserted, in the same locked transaction, only when the count of rows here reaches the
    # request's required_approvals (INSERT ... SELECT ... HAVING COUNT(DISTINCT approver) >= required_approvals).
    Column("request_id", String(32), ForeignKey("ccpa_requests.request_id"), primary_key=True),
    Column("approver", String(64), primary_key=True),
    Column("approved_at", _Timestamp, nullable=False),
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

#: Delivery kinds: what is sent once per request (a row in ``ccpa_deliveries``). Here, with the table, so that the
#: trigger and the records job need not import the tasks (and Airflow's task machinery with them).
ACKNOWLEDGEMENT = "acknowledgement"
DUPLICATE_NOTICE = "duplicate_notice"
EXTENSION_NOTICE = "extension"
REPORT = "report"
REJECTION = "rejection"
#: §7021(b), §7062: the notice that identity could not be verified in time, with the categories disclosure.
EXPIRY_NOTICE = "expiry_notice"
#: The email to ``ccpa_alert_emails`` when the wait for a decision ends undecided.
MARGIN_ALERT = "margin_alert"

#: Decision scopes: an approval discloses specific pieces (full) or categories only.
SCOPE_FULL = "full"
SCOPE_CATEGORIES = "categories"

#: Verification bases recorded with an approval (§7101 records).
BASIS_ACCOUNT_LOGIN = "account_login"
BASIS_DATA_POINTS_DECLARATION = "data_points_declaration"
BASIS_POWER_OF_ATTORNEY = "power_of_attorney"
BASIS_CATEGORIES_ONLY = "categories_only"
BASES = (BASIS_ACCOUNT_LOGIN, BASIS_DATA_POINTS_DECLARATION, BASIS_POWER_OF_ATTORNEY, BASIS_CATEGORIES_ONLY)

APPROVE = "approve"
REJECT = "reject"
DECISIONS = (APPROVE, REJECT)


class Status(StrEnum):
    """Where a request is. ``closed_at`` is set on entering a final status."""

    RECEIVED = "received"  # registered by validate_request
    AWAITING_DECISION = "awaiting_decision"  # the review prompt is posted
    APPROVED = "approved"  # an officer approved; the report is being built
    REJECTED = "rejected"  # an officer rejected; the rejection is being sent
    COMPLETED = "completed"  # the report was sent (final)
    REJECTED_NOTIFIED = "rejected_notified"  # the rejection was sent (final)
    LINKED_DUPLICATE = "linked_duplicate"  # a second request while one was open: answered by that one (final)
    #: §7021(b), §7062: no decision by the due date; the requester was told their identity could not be verified in
    #: time and received the categories disclosure (final).
    EXPIRED_UNVERIFIED = "expired_unverified"
    #: §7101: the conf passed the REST schema but not validate_request; recorded (fields named, no values) (final).
    INVALID = "invalid"

    @property
    def final(self) -> bool:
        return not TRANSITIONS[self]


#: status -> the statuses it may move to. A final status moves nowhere.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.RECEIVED: frozenset(
        {
            Status.AWAITING_DECISION,
            Status.LINKED_DUPLICATE,
            Status.APPROVED,
            Status.REJECTED,
            Status.EXPIRED_UNVERIFIED,
        }
    ),
    Status.AWAITING_DECISION: frozenset({Status.APPROVED, Status.REJECTED, Status.EXPIRED_UNVERIFIED}),
    Status.APPROVED: frozenset({Status.COMPLETED}),
    Status.REJECTED: frozenset({Status.REJECTED_NOTIFIED}),
    Status.COMPLETED: frozenset(),
    Status.REJECTED_NOTIFIED: frozenset(),
    Status.LINKED_DUPLICATE: frozenset(),
    Status.EXPIRED_UNVERIFIED: frozenset(),
    Status.INVALID: frozenset(),
}


def predecessors(status: Status) -> tuple[str, ...]:
    """The statuses from which a request may move to ``status`` (what the guarded UPDATE accepts)."""
    return tuple(sorted(s.value for s, targets in TRANSITIONS.items() if status in targets))


def aware(value: datetime | None) -> datetime | None:
    """A stored time (naive UTC) as an aware datetime."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def naive(value: datetime) -> datetime:
    """Stored as naive UTC: MySQL DATETIME has no zone, SQLite has no type."""
    return value.astimezone(UTC).replace(tzinfo=None)
