"""The legal clock (issue 15): when a request was entered beside when it was received (§7101), when its run failed or
its wait ended undecided (never linked to afterwards), and its scope (a duplicate asking for all widens it).

New status values (``expired_unverified``, ``invalid``) are strings: no DDL.

Revision ID: 0005_legal_clock
Revises: 0004_requester_language
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from include.store.migrations.helpers import add_column_if_missing, drop_column_if_present

revision = "0005_legal_clock"
down_revision = "0004_requester_language"
branch_labels = None
depends_on = None

_Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    add_column_if_missing("ccpa_requests", sa.Column("entered_at", _Timestamp))
    add_column_if_missing("ccpa_requests", sa.Column("failed_at", _Timestamp))
    add_column_if_missing(
        "ccpa_requests", sa.Column("lookback", sa.String(16), nullable=False, server_default="12_months")
    )


def downgrade() -> None:
    for column in ("lookback", "failed_at", "entered_at"):
        drop_column_if_present("ccpa_requests", column)
