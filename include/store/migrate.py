"""Bring the compliance store's schema up to date: Alembic migrations, run once under a lock.

Every task process, the triggerer and the Slack callback call :func:`upgrade` on first use of a database (through
``ComplianceStore``), so a deployment upgrades itself; many processes starting together on an empty database take the
lock in turn, the first migrates, the others find it done. To upgrade by hand (before deploying a release, or to see
the SQL):

    python -m include.store.migrate                 # connection ccpa_compliance_db
    python -m include.store.migrate --url mysql://user:pw@host/db
    python -m include.store.migrate --current        # print the revision the database is at

The lock: ``GET_LOCK`` on MySQL/MariaDB, ``pg_advisory_lock`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite. An empty
database gets today's tables (include/store/schema.py) and is stamped at the newest revision; a database created by
``create_all`` before migrations existed (no version table) is stamped at the revision it matches, then upgraded; a
versioned one is upgraded. The version table is ``ccpa_alembic_version``, so the store may share a database with
Airflow's own. tests/unit/store/test_migrations.py checks that the migrations end where schema.py is.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "ccpa_alembic_version"
LOCK_NAME = "ccpa_compliance_migrate"
#: How long a process waits for another one's migration before failing.
LOCK_TIMEOUT_SECONDS = 120
#: Columns of each revision, newest first: how an unversioned (create_all) database is recognised.
_MARKERS = (
    ("0007_account_login", "account_check"),
    ("0006_verification", "verification"),
    ("0005_legal_clock", "failed_at"),
    ("0004_requester_language", "language"),
    ("0003_required_approvals", "required_approvals"),
    ("0002_columns_since_first_release", "redacted_at"),
)
BASELINE = "0001_baseline"

_head: str | None = None


class MigrationLockTimeout(RuntimeError):
    pass


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision (cached per process)."""
    global _head
    if _head is None:
        from alembic.script import ScriptDirectory

        _head = ScriptDirectory.from_config(_config()).get_current_head()
        assert _head is not None
    return _head


def current(engine: Engine) -> str | None:
    """The revision the database is at; None when unversioned (empty, or made by create_all)."""
    with engine.connect() as conn:
        return _current(conn)


def _current(conn: Connection) -> str | None:
    if VERSION_TABLE not in inspect(conn).get_table_names():
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one_or_none()


def is_current(engine: Engine) -> bool:
    """One query: the database is at :func:`head` and has every table (a missing table makes the query fail)."""
    from include.store.schema import metadata

    tables = " AND ".join(f"NOT EXISTS (SELECT 1 FROM {t} WHERE 1 = 0)" for t in sorted(metadata.tables))
    try:
        with engine.connect() as conn:
            version = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE} WHERE {tables}")).scalar_one_or_none()
    except Exception:  # no version table or a table missing: take the lock and look properly
        return False
    return version == head()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Migrate the database to ``revision`` under the migration lock; returns the revision it is at."""
    from alembic import command

    from include.store.schema import metadata

    with engine.connect() as conn, _locked(conn):
        at = _current(conn)
        ours = set(metadata.tables) & set(inspect(conn).get_table_names())
        if at is None and not ours and revision == "head":
            log.info("Creating the compliance store's tables at %s", head())
            metadata.create_all(conn)
            command.stamp(_config(conn), "head")
            conn.commit()
            return head()
        if at is None and ours:
            _stamp_unversioned(conn)
            at = _current(conn)
        target = head() if revision == "head" else revision
        if at != target:
            log.info("Migrating the compliance store from %s to %s", at or "an empty database", target)
            command.upgrade(_config(conn), target)
            conn.commit()
        if target == head():  # a table dropped by hand comes back (empty), as create_all did
            metadata.create_all(conn, checkfirst=True)
            conn.commit()
        return target


def _stamp_unversioned(conn: Connection) -> None:
    """A database made by create_all: record which revision it already matches (nothing for an empty one)."""
    from alembic import command

    if "ccpa_requests" not in inspect(conn).get_table_names():
        return
    columns = {c["name"] for c in inspect(conn).get_columns("ccpa_requests")}
    revision = next((rev for rev, marker in _MARKERS if marker in columns), BASELINE)
    log.info("Compliance store made before migrations: stamping it at %s", revision)
    command.stamp(_config(conn), revision)
    conn.commit()


@contextmanager
def _locked(conn: Connection) -> Iterator[None]:
    dialect = conn.dialect.name
    if dialect in ("mysql", "mariadb"):
        got = conn.execute(text("SELECT GET_LOCK(:n, :t)"), {"n": LOCK_NAME, "t": LOCK_TIMEOUT_SECONDS}).scalar()
        conn.commit()
        if got != 1:
            raise MigrationLockTimeout(f"another process held the migration lock for {LOCK_TIMEOUT_SECONDS} s")
        try:
            yield
        finally:
            conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": LOCK_NAME})
            conn.commit()
    elif dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_lock(hashtext(:n))"), {"n": LOCK_NAME})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(hashtext(:n))"), {"n": LOCK_NAME})
            conn.commit()
    elif dialect == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the database's write lock, held until the migration commits
        try:
            yield
        finally:
            if conn.in_transaction():
                conn.commit()
    else:
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Upgrade the CCPA compliance store's schema (Alembic).")
    parser.add_argument("--conn-id", default=None, help="Airflow connection (default ccpa_compliance_db)")
    parser.add_argument("--url", default=None, help="a SQLAlchemy URL instead of an Airflow connection")
    parser.add_argument("--current", action="store_true", help="print the revision and the newest; change nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.url:
        engine = create_engine(args.url, hide_parameters=True)
    else:
        from include.config import COMPLIANCE_CONN_ID
        from include.db import engine_for

        engine = engine_for(args.conn_id or COMPLIANCE_CONN_ID)
    if args.current:
        print(f"current: {current(engine) or '(none)'}  head: {head()}")
        return 0
    print(f"compliance store at {upgrade(engine)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
