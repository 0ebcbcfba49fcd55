"""Where a request's extracted data and report live while the run works: files, not XCom.

Personal data never travels through XCom or the task logs; tasks pass paths and counts. The location is the
Variable ``ccpa_report_storage`` (a URL: ``file:///…`` by default, ``s3://…`` or ``gs://…`` with the connection in
``ccpa_report_storage_conn_id``), through Airflow's ObjectStoragePath.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from airflow.sdk import ObjectStoragePath

from include import config

_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")


def default_url() -> str:
    home = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
    return "file://" + os.path.join(os.path.abspath(home), "ccpa_reports")


def request_dir(request_id: str) -> ObjectStoragePath:
    if not _SAFE.match(request_id):
        raise ValueError("request ids are hex strings")
    base = config.get_variable(config.VAR_REPORT_STORAGE, default_url())
    conn_id = config.get_variable(config.VAR_REPORT_STORAGE_CONN_ID, "") or None
    path = ObjectStoragePath(base.rstrip("/") + "/" + request_id, conn_id=conn_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def resolve(url: str) -> ObjectStoragePath:
    conn_id = config.get_variable(config.VAR_REPORT_STORAGE_CONN_ID, "") or None
    return ObjectStoragePath(url, conn_id=conn_id)


class _Buffered:
    """Collects small writes and hands them on in ~1 MiB pieces.

    ObjectStoragePath's file wrapper does lineage bookkeeping on every ``write()``: per row, that was 70% of the
    time to build a 100,000-row report (see docs/benchmarks.md). Callers write freely; the file sees few calls.
    """

    def __init__(self, out: Any, limit: int = 1 << 20) -> None:
        self._out = out
        self._parts: list[str] = []
        self._size = 0
        self._limit = limit

    def write(self, text: str) -> int:
        self._parts.append(text)
        self._size += len(text)
        if self._size >= self._limit:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._parts:
            self._out.write("".join(self._parts))
            self._parts.clear()
            self._size = 0


@contextmanager
def text_writer(path: Any) -> Iterator[TextIO]:
    """Open ``path`` (an ObjectStoragePath or a pathlib.Path) for writing text, buffered."""
    with path.open("w", encoding="utf-8", newline="") as out:
        buffered = _Buffered(out)
        yield buffered  # type: ignore[misc]
        buffered.flush()
