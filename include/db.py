"""SQLAlchemy engines for Airflow SQL connections, built by the connection's own provider hook and cached."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from sqlalchemy import Engine, create_engine

_engines: dict[str, Engine] = {}
_urls: dict[tuple[str, str | None], tuple[str, float]] = {}
_lock = threading.Lock()
#: How long a connection's URL is reused before it is looked up again: a poll every second for each of hundreds of
#: waiting requests must not become a secrets-backend lookup every second.
URL_TTL_SECONDS = 60.0
_clock = time.monotonic


def engine_for(conn_id: str, *, default_url: str | None = None) -> Engine:
    """Return a pooled engine for an Airflow connection (MySqlHook for MySQL, SqliteHook for SQLite, ...).

    ``default_url`` is used when the connection is not defined at all, so a demo runs with no setup.
    Engines are cached per process and URL: the pool is what makes a poll or a Slack callback cheap.
    """
    key = (conn_id, default_url)
    cached = _urls.get(key)
    if cached is not None and cached[1] > _clock():
        url = cached[0]
    else:
        url = _connection_url(conn_id, default_url)
        _urls[key] = (url, _clock() + URL_TTL_SECONDS)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            kwargs: dict[str, Any] = {"pool_pre_ping": True}
            if not url.startswith("sqlite"):
                kwargs.update(pool_recycle=3600, pool_size=5, max_overflow=10)
            engine = create_engine(url, **kwargs)
            _engines[url] = engine
    return engine


def _connection_url(conn_id: str, default_url: str | None) -> str:
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        if default_url is None:
            raise
        return default_url
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


__all__ = ["default_sqlite_url", "dispose_all", "engine_for"]
