"""The columns the requests table gained after the first release, up to issue 18.

Revision ID: 0002_columns_since_first_release
Revises: 0001_baseline
Create Date: 2026-12-05

§7101 records (channel, nature), the §7021(b) extension (extended_at/_by, extension_reason), duplicate links
(linked_to), the identity evidence shown to the officer, retention (redacted_at), and the received_at index. Each is
added only when missing (a database made by ``create_all`` at an intermediate commit holds some of them).
"""

from __future__ import annotations

import sqlalchemy as sa

from include.store.migrations.helpers import (
    TIMESTAMP,
    add_column_if_missing,
    create_index_if_missing,
    drop_column_if_present,
)

revision = "0002_columns_since_first_release"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def columns() -> tuple[sa.Column, ...]:
    """Fresh Column objects (a Column belongs to one table once added)."""
    return (
        sa.Column("channel", sa.String(32), nullable=False, server_default="api"),
        sa.Column("nature", sa.String(32), nullable=False, server_default="right_to_know"),
        sa.Column("extended_at", TIMESTAMP),
        sa.Column("extended_by", sa.String(64)),
        sa.Column("extension_reason", sa.Text),
        sa.Column("linked_to", sa.String(32)),
        sa.Column("identity_evidence", sa.Text),
        sa.Column("redacted_at", TIMESTAMP),
    )


def upgrade() -> None:
    for column in columns():
        add_column_if_missing("ccpa_requests", column)
    create_index_if_missing("ix_ccpa_requests_received_at", "ccpa_requests", ["received_at"])


def downgrade() -> None:
    from alembic import op

    op.drop_index("ix_ccpa_requests_received_at", table_name="ccpa_requests")
    for column in reversed(columns()):
        drop_column_if_present("ccpa_requests", column.name)
