"""What a distributed deployment must share, checked before a request is registered.

With the CeleryExecutor or the KubernetesExecutor the tasks of one run execute on different machines: a report
folder on one worker's disk, or a SQLite compliance store in one worker's AIRFLOW_HOME, would silently split a
request's state between machines (an extraction written where the report builder cannot read it; a decision
recorded where the sensor never looks). ``validate_request`` calls :func:`check_shared_state` first, so such a
deployment fails its first task with a message saying what to set, before anything is registered or sent.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from include import config

#: Executors whose tasks all run on the scheduler's machine (Airflow 2 names included).
LOCAL_EXECUTORS = frozenset({"LocalExecutor", "SequentialExecutor", "DebugExecutor"})


def executors(raw: str | None = None) -> list[str]:
    """The class names of the configured executors (``[core] executor``: a comma-separated list in Airflow 3, each
    optionally ``alias:module.path.Class``)."""
    if raw is None:
        from airflow.configuration import conf

        raw = conf.get("core", "executor", fallback="LocalExecutor") or "LocalExecutor"
    names = []
    for entry in raw.split(","):
        entry = entry.strip()
        if entry:
            names.append(entry.rsplit(":", 1)[-1].rsplit(".", 1)[-1])
    return names


def distributed_executor(raw: str | None = None) -> str | None:
    """The first configured executor that may run a run's tasks on different machines, or None."""
    return next((name for name in executors(raw) if name not in LOCAL_EXECUTORS), None)


def problems(executor: str, storage_url: str, storage_shared: bool, compliance_backend: str) -> list[str]:
    """What is not shared between the machines ``executor`` runs tasks on, each with what to set instead."""
    found = []
    if urlsplit(storage_url).scheme in ("", "file") and not storage_shared:
        found.append(
            f"Variable '{config.VAR_REPORT_STORAGE}' is local storage ({storage_url}), which each worker sees "
            f"alone: set it to object storage (s3://bucket/prefix or gs://bucket/prefix, with the connection in "
            f"'{config.VAR_REPORT_STORAGE_CONN_ID}'), or, if that path is one volume mounted at the same place on "
            f"every worker and on the API server, set Variable '{config.VAR_REPORT_STORAGE_SHARED}' to true"
        )
    if compliance_backend == "sqlite":
        found.append(
            f"the compliance store is a SQLite file on each worker: define connection '{config.COMPLIANCE_CONN_ID}' "
            f"(MySQL/MariaDB or PostgreSQL) for every Airflow component"
        )
    if not found:
        return []
    return [f"{executor} runs this DAG's tasks on several machines, but {p}." for p in found]


def check_shared_state() -> None:
    """Raise ConfigurationError when a distributed executor would split a request's state between machines."""
    executor = distributed_executor()
    if executor is None:
        return
    from include import storage
    from include.db import default_sqlite_url, engine_for

    url = config.get_variable(config.VAR_REPORT_STORAGE, storage.default_url())
    shared = config.flag(config.get_variable(config.VAR_REPORT_STORAGE_SHARED, "false"))
    backend = engine_for(
        config.COMPLIANCE_CONN_ID, default_url=default_sqlite_url("ccpa_compliance.sqlite")
    ).url.get_backend_name()
    found = problems(executor, url, shared, backend)
    if found:
        raise config.ConfigurationError(" ".join(found))


__all__ = ["check_shared_state", "distributed_executor", "executors", "problems"]
