"""Account holders verify by logging in (issue 17, 11 CCR §7061): the login the intake asserted, the result of
checking it against the datastores, and the §7101 verification basis of a decision.

Revision ID: 0007_account_login
Revises: 0006_verification
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa

from include.store.migrations.helpers import add_column_if_missing, drop_column_if_present

revision = "0007_account_login"
down_revision = "0006_verification"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column_if_missing("ccpa_requests", sa.Column("account", sa.Text(), nullable=True))
    add_column_if_missing("ccpa_requests", sa.Column("account_check", sa.Text(), nullable=True))
    # NULL on a decision recorded before this revision: its basis was not recorded (metrics: complied_unrecorded).
    add_column_if_missing("ccpa_decisions", sa.Column("basis", sa.String(32), nullable=True))


def downgrade() -> None:
    for table, column in (
        ("ccpa_decisions", "basis"),
        ("ccpa_requests", "account_check"),
        ("ccpa_requests", "account"),
    ):
        drop_column_if_present(table, column)
