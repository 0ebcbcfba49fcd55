"""Several approvals per request: requests.required_approvals and the ccpa_approvals table.

Revision ID: 0003_required_approvals
Revises: 0002_columns_since_first_release
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from include.store.migrations.helpers import TIMESTAMP, add_column_if_missing, drop_column_if_present

revision = "0003_required_approvals"
down_revision = "0002_columns_since_first_release"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column_if_missing(
        "ccpa_requests", sa.Column("required_approvals", sa.Integer, nullable=False, server_default="1")
    )
    if "ccpa_approvals" not in sa.inspect(op.get_bind()).get_table_names():
        op.create_table(
            "ccpa_approvals",
            sa.Column("request_id", sa.String(32), sa.ForeignKey("ccpa_requests.request_id"), primary_key=True),
            sa.Column("approver", sa.String(64), primary_key=True),
            sa.Column("approved_at", TIMESTAMP, nullable=False),
            sa.Column("response_url", sa.Text),
        )


def downgrade() -> None:
    op.drop_table("ccpa_approvals")
    drop_column_if_present("ccpa_requests", "required_approvals")
