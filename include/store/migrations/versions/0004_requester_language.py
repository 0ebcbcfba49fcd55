"""The requester's language (issue 20): every email, the report and the status page are written in it.

Revision ID: 0004_requester_language
Revises: 0003_required_approvals
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa

from include.store.migrations.helpers import add_column_if_missing, drop_column_if_present

revision = "0004_requester_language"
down_revision = "0003_required_approvals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column_if_missing("ccpa_requests", sa.Column("language", sa.String(8), nullable=False, server_default="en"))


def downgrade() -> None:
    drop_column_if_present("ccpa_requests", "language")
