"""Verification before disclosing (issue 16): request type, the identifiers given for verification, the matching
data points found, and the scope of an approval.

Revision ID: 0006_verification
Revises: 0005_legal_clock
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa

from include.store.migrations.helpers import add_column_if_missing, drop_column_if_present

revision = "0006_verification"
down_revision = "0005_legal_clock"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column_if_missing(
        "ccpa_requests", sa.Column("request_type", sa.String(32), nullable=False, server_default="specific_pieces")
    )
    add_column_if_missing("ccpa_requests", sa.Column("identifiers", sa.Text(), nullable=True))
    add_column_if_missing("ccpa_requests", sa.Column("verification", sa.Text(), nullable=True))
    # NULL on an approval recorded before this revision reads as "full" (include/store: _decision).
    add_column_if_missing("ccpa_decisions", sa.Column("scope", sa.String(16), nullable=True))


def downgrade() -> None:
    drop_column_if_present("ccpa_decisions", "scope")
    drop_column_if_present("ccpa_requests", "verification")
    drop_column_if_present("ccpa_requests", "identifiers")
    drop_column_if_present("ccpa_requests", "request_type")
