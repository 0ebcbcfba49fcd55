"""Alembic migrations of the compliance store: an existing deployment upgrades, many processes start at once."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    text,
)
from sqlalchemy.dialects import mysql

from include.request import AccessRequest
from include.store import ComplianceStore, migrate
from tests.conftest import MYSQL_URL, ROOT

REQUEST = AccessRequest("Jane Doe", "jane@example.com", "https://x.example/id")


def first_release_metadata() -> MetaData:
    """The tables exactly as the first release (commit e2bcd5f) created them with create_all: no version table."""
    ts = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    md = MetaData()
    Table(
        "ccpa_requests",
        md,
        Column("request_id", String(32), primary_key=True),
        Column("run_id", String(250), nullable=False, unique=True),
        Column("name", String(200), nullable=False),
        Column("email", String(254), nullable=False),
        Column("photo_id_url", Text, nullable=False),
        Column("status", String(32), nullable=False),
        Column("received_at", ts, nullable=False),
        Column("due_at", ts, nullable=False),
        Column("slack_channel", String(64)),
        Column("slack_ts", String(64)),
        Column("closed_at", ts),
        Index("ix_ccpa_requests_email", "email"),
    )
    Table(
        "ccpa_decisions",
        md,
        Column("request_id", String(32), ForeignKey("ccpa_requests.request_id"), primary_key=True),
        Column("action", String(16), nullable=False),
        Column("decided_by", String(64), nullable=False),
        Column("decided_at", ts, nullable=False),
        Column("reason", Text),
        Column("response_url", Text),
    )
    Table(
        "ccpa_deliveries",
        md,
        Column("request_id", String(32), ForeignKey("ccpa_requests.request_id"), primary_key=True),
        Column("kind", String(32), primary_key=True),
        Column("status", String(16), nullable=False),
        Column("message_id", String(255), nullable=False),
        Column("claimed_at", ts, nullable=False),
        Column("sent_at", ts),
    )
    Table(
        "ccpa_audit_events",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("request_id", String(32), index=True),
        Column("event", String(64), nullable=False),
        Column("actor", String(64)),
        Column("detail", Text),
        Column("created_at", ts, nullable=False),
    )
    return md


@pytest.fixture
def empty_db(mysql_database, monkeypatch):
    from include import store as module

    monkeypatch.setattr(module, "_schema_ready", set())  # as in a freshly started process
    url = f"{MYSQL_URL}/{mysql_database('ccpa_migrate')}"
    engine = create_engine(url)
    yield url, engine
    engine.dispose()


def _shape(engine) -> dict:
    insp = inspect(engine)
    return {
        t: (
            {c["name"]: c["nullable"] for c in insp.get_columns(t)},
            {i["name"] for i in insp.get_indexes(t) if not i["name"].startswith("FK")},
        )
        for t in sorted(insp.get_table_names())
        if t.startswith("ccpa_") and t != migrate.VERSION_TABLE
    }


@pytest.mark.parametrize("backend", ["mariadb", "sqlite"])
def test_a_database_of_the_first_release_upgrades_and_works(empty_db, tmp_path, backend):
    _url, engine = empty_db
    if backend == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'first.sqlite'}")
    first_release_metadata().create_all(engine)
    received = datetime(2026, 11, 27, 10, 0, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as conn:  # a request the first release registered and approved
        conn.execute(
            text(
                "INSERT INTO ccpa_requests (request_id, run_id, name, email, photo_id_url, status, received_at, due_at)"
                " VALUES ('a' , 'manual__old', 'Jane Doe', 'jane@example.com', 'https://x.example/id', 'approved',"
                " :r, :d)"
            ),
            {"r": received, "d": received.replace(day=28)},
        )
        conn.execute(
            text(
                "INSERT INTO ccpa_decisions (request_id, action, decided_by, decided_at) VALUES ('a','approve','U1',:r)"
            ),
            {"r": received},
        )
    assert migrate.current(engine) is None

    store = ComplianceStore(engine)  # what the first task after the upgrade does

    assert migrate.current(engine) == migrate.head()
    old = store.get_request("a")
    assert (old.channel, old.nature, old.linked_to, old.extended_at) == ("api", "right_to_know", None, None)
    assert store.get_decision("a").action == "approve"
    # Still open, and (with the clock at its receipt) not yet due: a new request is linked to it (issue 15 never
    # links to an overdue one).
    import time_machine

    with time_machine.travel(received.replace(tzinfo=UTC, hour=11), tick=False):
        new = store.register_request("manual__new", REQUEST, datetime.now(UTC))
        assert store.link_if_duplicate(new.request_id).linked_to == "a", "the old request is still open: one answer"
    store.extend("a", "U1", "complex", now=received.replace(tzinfo=UTC))
    assert store.get_request("a").extension_reason == "complex"
    engine.dispose()


def test_migrations_end_where_schema_py_is(empty_db, mysql_database):
    """Upgrading a first-release database gives the same tables, columns and indexes as a new database."""
    _url, engine = empty_db
    migrate.upgrade(engine, migrate.BASELINE)
    assert migrate.current(engine) == migrate.BASELINE
    migrate.upgrade(engine)
    fresh = create_engine(f"{MYSQL_URL}/{mysql_database('ccpa_fresh')}")
    migrate.upgrade(fresh)  # an empty database: today's schema, stamped at the head
    assert migrate.current(fresh) == migrate.head()
    assert _shape(engine) == _shape(fresh)
    fresh.dispose()


def _start_process(url: str, i: int, results) -> None:  # a task process starting on the database
    from include import db, store

    db.dispose_all()
    store._schema_ready.clear()
    try:
        s = ComplianceStore(create_engine(url))
        s.register_request(f"manual__proc_{i}", REQUEST, datetime.now(UTC))
        results.put((i, "ok"))
    except Exception as exc:  # report, do not hide
        results.put((i, f"{type(exc).__name__}: {exc}"[:300]))


def test_many_processes_starting_at_once_on_an_empty_database_do_not_fail(empty_db):
    url, engine = empty_db
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_start_process, args=(url, i, results)) for i in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    outcomes = dict(results.get(timeout=5) for _ in procs)
    assert outcomes == {i: "ok" for i in range(8)}, outcomes
    assert migrate.current(engine) == migrate.head()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM ccpa_requests")).scalar() == 8


def test_the_upgrade_command(empty_db):
    url, engine = empty_db
    first_release_metadata().create_all(engine)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "include.store.migrate", "--url", url]
    before = subprocess.run([*run, "--current"], capture_output=True, text=True, env=env, check=True, cwd=ROOT)
    assert "current: (none)" in before.stdout
    for _ in range(2):  # idempotent
        done = subprocess.run(run, capture_output=True, text=True, env=env, check=True, cwd=ROOT)
        assert migrate.head() in done.stdout
    assert "redacted_at" in {c["name"] for c in inspect(engine).get_columns("ccpa_requests")}
