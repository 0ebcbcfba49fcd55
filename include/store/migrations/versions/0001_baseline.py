"""The compliance store as of its first release (commit e2bcd5f, "Walking skeleton").

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-27

Frozen: a database created by that release must be described exactly by this revision (later columns come in later
revisions). Tables are created only when missing: a database made by ``create_all`` before migrations existed is
stamped, not re-created (include.store.migrate decides which revision it is at).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from include.store.migrations.helpers import TIMESTAMP

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "ccpa_requests" not in existing:
        op.create_table(
            "ccpa_requests",
            sa.Column("request_id", sa.String(32), primary_key=True),
            sa.Column("run_id", sa.String(250), nullable=False, unique=True),
            sa.Column("name", sa.String(200), nullable=False),
            sa.Column("email", sa.String(254), nullable=False),
            sa.Column("photo_id_url", sa.Text, nullable=False),
            sa.Column("status", sa.String(32), nullable=False),
            sa.Column("received_at", TIMESTAMP, nullable=False),
            sa.Column("due_at", TIMESTAMP, nullable=False),
            sa.Column("slack_channel", sa.String(64)),
            sa.Column("slack_ts", sa.String(64)),
            sa.Column("closed_at", TIMESTAMP),
        )
        op.create_index("ix_ccpa_requests_email", "ccpa_requests", ["email"])
    if "ccpa_decisions" not in existing:
        op.create_table(
            "ccpa_decisions",
            sa.Column("request_id", sa.String(32), sa.ForeignKey("ccpa_requests.request_id"), primary_key=True),
            sa.Column("action", sa.String(16), nullable=False),
            sa.Column("decided_by", sa.String(64), nullable=False),
            sa.Column("decided_at", TIMESTAMP, nullable=False),
            sa.Column("reason", sa.Text),
            sa.Column("response_url", sa.Text),
        )
    if "ccpa_deliveries" not in existing:
        op.create_table(
            "ccpa_deliveries",
            sa.Column("request_id", sa.String(32), sa.ForeignKey("ccpa_requests.request_id"), primary_key=True),
            sa.Column("kind", sa.String(32), primary_key=True),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("message_id", sa.String(255), nullable=False),
            sa.Column("claimed_at", TIMESTAMP, nullable=False),
            sa.Column("sent_at", TIMESTAMP),
        )
    if "ccpa_audit_events" not in existing:
        op.create_table(
            "ccpa_audit_events",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("request_id", sa.String(32)),
            sa.Column("event", sa.String(64), nullable=False),
            sa.Column("actor", sa.String(64)),
            sa.Column("detail", sa.Text),
            sa.Column("created_at", TIMESTAMP, nullable=False),
        )
        op.create_index("ix_ccpa_audit_events_request_id", "ccpa_audit_events", ["request_id"])


def downgrade() -> None:
    for table in ("ccpa_audit_events", "ccpa_deliveries", "ccpa_decisions", "ccpa_requests"):
        op.drop_table(table)
