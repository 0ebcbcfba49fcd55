"""Idempotent steps for the compliance store's migrations: a database created by ``create_all`` at any commit
between two releases may already hold some of a migration's columns."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

#: Microsecond precision on MySQL/MariaDB (as include.store.schema), frozen here: migrations never import the
#: current schema's column objects, which keep changing.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def _indexes(table: str) -> set[str]:
    return {str(i["name"]) for i in sa.inspect(op.get_bind()).get_indexes(table) if i.get("name")}


def add_column_if_missing(table: str, column: sa.Column) -> None:
    if column.name not in _columns(table):
        op.add_column(table, column)


def create_index_if_missing(name: str, table: str, columns: list[str]) -> None:
    if name not in _indexes(table):
        op.create_index(name, table, columns)


def drop_column_if_present(table: str, name: str) -> None:
    if name in _columns(table):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(name)
