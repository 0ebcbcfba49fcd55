"""include.db: the Slack callback's pool checks a connection before use only after it sat idle."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from include import db
from include.store import ComplianceStore
from tests.conftest import MYSQL_URL


@pytest.fixture
def interactive(mysql_database):
    """A pool as the Slack callback has it (INTERACTIVE_TIMEOUTS) on a throw-away MariaDB database."""
    engine = db._create(f"{MYSQL_URL}/{mysql_database('ccpa_db')}", db.INTERACTIVE_TIMEOUTS, pool_size=1)
    pings = []
    real_ping = engine.dialect.do_ping

    def counting_ping(dbapi_connection):
        pings.append(1)
        return real_ping(dbapi_connection)

    engine.dialect.do_ping = counting_ping  # type: ignore[method-assign]
    yield engine, pings
    engine.dispose()


def _connection_id(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT CONNECTION_ID()")).scalar_one()


def _kill(engine, connection_id: int) -> None:
    other = db._create(str(engine.url.render_as_string(hide_password=False)), db.TASK_TIMEOUTS, pool_size=1)
    with other.connect() as conn:
        conn.execute(text(f"KILL CONNECTION {int(connection_id)}"))
    other.dispose()


def test_a_connection_back_within_the_idle_window_is_used_without_a_ping(interactive):
    engine, pings = interactive
    first = _connection_id(engine)
    assert [_connection_id(engine) for _ in range(5)] == [first] * 5
    assert pings == []


def test_a_connection_idle_longer_is_pinged_and_a_dead_one_replaced_before_use(interactive, monkeypatch):
    engine, pings = interactive
    dead = _connection_id(engine)
    _kill(engine, dead)
    now = db._clock()
    monkeypatch.setattr(db, "_clock", lambda: now + db.IDLE_PING_SECONDS + 1)
    fresh = _connection_id(engine)  # no error: the ping found it dead and the pool connected again
    assert fresh != dead and len(pings) == 1


def test_a_connection_killed_inside_the_window_fails_one_use_and_the_pool_recovers(interactive):
    """What the idle window costs: the one operation on a connection that died unseen fails (the officer is told
    "not recorded"), and the next one gets a new connection."""
    from sqlalchemy.exc import OperationalError

    engine, _ = interactive
    dead = _connection_id(engine)
    _kill(engine, dead)
    with pytest.raises(OperationalError):
        _connection_id(engine)
    assert _connection_id(engine) != dead


def test_the_callback_store_uses_the_idle_ping_and_tasks_keep_pre_ping(compliance_store, monkeypatch):
    url = compliance_store.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("AIRFLOW_CONN_CCPA_COMPLIANCE_DB", url)
    callback = ComplianceStore.from_connection(timeouts=db.INTERACTIVE_TIMEOUTS).engine
    task = ComplianceStore.from_connection().engine
    assert callback.pool._pre_ping is False and task.pool._pre_ping is True
