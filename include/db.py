"""SQLAlchemy engines for Airflow SQL connections, built by the connection's own provider hook and cached."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc


@dataclass(frozen=True)
class Timeouts:
    """How long one database operation may take before it fails, on MySQL/MariaDB (whole seconds: what the client
    library takes). ``lock_wait`` bounds waiting for a row lock (``innodb_lock_wait_timeout``), ``statement`` a whole
    statement (MariaDB ``max_statement_time``; None: unbounded); ``pool`` waiting for a pooled connection."""

    connect: int
    read: int
    write: int
    lock_wait: int
    statement: float | None
    pool: float
    #: None: check every pooled connection with a round trip before use (SQLAlchemy's ``pool_pre_ping``). A number:
    #: only a connection unused for that many seconds (under load a connection comes back within milliseconds).
    ping_after_idle: float | None = None


#: How long a connection of the Slack callback's pool may sit unused before it is checked again before use.
IDLE_PING_SECONDS = 5.0

#: Tasks, the triggerer and the watch: generous, but a half-open connection (a MariaDB restart, a dropped NAT entry)
#: still ends in an error instead of hanging the task forever.
TASK_TIMEOUTS = Timeouts(connect=10, read=300, write=300, lock_wait=50, statement=None, pool=30)
#: The Slack callback, which must answer within Slack's 3 s: every operation fails well inside its 2 s ack budget,
#: so a write that cannot be made is reported to the officer instead of finishing (or failing) unseen.
#: Under load its connections are not pinged: a ping on each of a click's checkouts was ~9 % of the decision
#: threads' time at 100 clicks/s (docs/benchmarks.md). One that died within the idle window fails its click, which
#: the officer is told to repeat ("not recorded"), and that error discards every older connection of the pool.
INTERACTIVE_TIMEOUTS = Timeouts(
    connect=1, read=1, write=1, lock_wait=1, statement=1.5, pool=1, ping_after_idle=IDLE_PING_SECONDS
)

_engines: dict[tuple[str, Timeouts], Engine] = {}
_urls: dict[tuple[str, str | None], tuple[str, float]] = {}
_lock = threading.Lock()
#: How long a connection's URL is reused before it is looked up again: a poll every second for each of hundreds of
#: waiting requests must not become a secrets-backend lookup every second.
URL_TTL_SECONDS = 60.0
_clock = time.monotonic


def engine_for(
    conn_id: str, *, default_url: str | None = None, timeouts: Timeouts = TASK_TIMEOUTS, pool_size: int = 5
) -> Engine:
    """Return a pooled engine for an Airflow connection (MySqlHook for MySQL, SqliteHook for SQLite, ...).

    ``default_url`` is used when the connection is not defined at all, so a demo runs with no setup.
    Engines are cached per process, URL and timeouts: the pool is what makes a poll or a Slack callback cheap.
    SQL errors never show the statement's parameters (they hold requesters' emails and names).
    """
    key = (conn_id, default_url)
    cached = _urls.get(key)
    if cached is not None and cached[1] > _clock():
        url = cached[0]
    else:
        url = _connection_url(conn_id, default_url)
        _urls[key] = (url, _clock() + URL_TTL_SECONDS)
    with _lock:
        engine = _engines.get((url, timeouts))
        if engine is None:
            engine = _create(url, timeouts, pool_size)
            _engines[(url, timeouts)] = engine
    return engine


def _create(url: str, timeouts: Timeouts, pool_size: int) -> Engine:
    kwargs: dict[str, Any] = {"pool_pre_ping": timeouts.ping_after_idle is None, "hide_parameters": True}
    if not url.startswith("sqlite"):
        kwargs.update(pool_recycle=3600, pool_size=pool_size, max_overflow=2 * pool_size, pool_timeout=timeouts.pool)
    mysql = url.startswith("mysql")
    if mysql:
        kwargs["connect_args"] = {
            "connect_timeout": timeouts.connect,
            "read_timeout": timeouts.read,
            "write_timeout": timeouts.write,
        }
    engine = create_engine(url, **kwargs)
    if mysql:
        event.listen(engine, "connect", _session_limits(timeouts))
    if timeouts.ping_after_idle is not None:
        _ping_when_idle(engine, timeouts.ping_after_idle)
    return engine


_RETURNED_AT = "ccpa_returned_at"


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Pessimistic disconnect handling for connections idle longer than ``idle_seconds`` only: a failed ping raises
    DisconnectionError, on which the pool discards the connection and checks out another (SQLAlchemy's recipe)."""

    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = _clock()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if _clock() - record.info.get(_RETURNED_AT, float("-inf")) < idle_seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception:
            alive = False
        if not alive:
            raise exc.DisconnectionError("connection failed its ping")

    event.listen(engine, "connect", returned)  # a new connection needs no ping
    event.listen(engine, "checkin", returned)
    event.listen(engine, "checkout", checkout)


def _session_limits(timeouts: Timeouts) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SET SESSION innodb_lock_wait_timeout = {int(timeouts.lock_wait)}")
            if timeouts.statement is not None:
                # MariaDB only (MySQL's max_execution_time covers SELECTs alone; there the read timeout bounds it).
                with contextlib.suppress(Exception):
                    cursor.execute(f"SET SESSION max_statement_time = {float(timeouts.statement)}")
        finally:
            cursor.close()

    return on_connect


def _connection_url(conn_id: str, default_url: str | None) -> str:
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import BaseHook

    from include.config import ConfigurationError

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException as exc:
        # Airflow reports a secrets-backend failure as "not found" too: falling back is only for who asked for it.
        if default_url is None:
            raise ConfigurationError(
                f"Airflow connection '{conn_id}' could not be found or read ({type(exc).__name__}); define it "
                "(UI, env AIRFLOW_CONN_" + conn_id.upper() + ", or your secrets backend)"
            ) from None
        return default_url
    except Exception as exc:
        raise ConfigurationError(
            f"Airflow connection '{conn_id}' could not be read ({type(exc).__name__}); check it and the secrets backend"
        ) from None
    hook = conn.get_hook()
    if not hasattr(hook, "get_sqlalchemy_engine"):
        raise ValueError(f"connection '{conn_id}' (type {conn.conn_type}) is not a SQL connection")
    try:
        url = hook.sqlalchemy_url
    except NotImplementedError:
        url = hook.get_uri()
    return url.render_as_string(hide_password=False) if hasattr(url, "render_as_string") else str(url)


def default_sqlite_url(filename: str) -> str:
    home = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
    return f"sqlite:///{os.path.join(home, filename)}"


def dispose_all() -> None:
    """Forget cached engines (tests; after fork)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _urls.clear()


__all__ = ["INTERACTIVE_TIMEOUTS", "TASK_TIMEOUTS", "Timeouts", "default_sqlite_url", "dispose_all", "engine_for"]
