"""Where a request's extracted data and report live while the run works: files, not XCom.

Personal data never travels through XCom or the task logs; tasks pass paths and counts. The location is the
Variable ``ccpa_report_storage`` (a URL: ``file:///…`` by default, ``s3://…`` or ``gs://…`` with the connection in
``ccpa_report_storage_conn_id``), through Airflow's ObjectStoragePath. Local ``file://`` URLs use plain
``pathlib``: the first ObjectStoragePath in a process costs ~1 s and ~45 MiB (fsspec), paid by every task process
(docs/benchmarks.md).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, Union
from urllib.parse import unquote, urlsplit

from include import config

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

#: What the functions here return: a ``pathlib.Path`` for local storage, an ObjectStoragePath otherwise.
StoragePath = Union[Path, "ObjectStoragePath"]

#: A request id as a folder name: no separators, and never "." or ".." (nor any name starting with a dot).
_SAFE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")


class OutsideStorage(ValueError):
    """A storage URL that leads outside the configured storage (or outside the request's folder): refused."""


def default_url() -> str:
    home = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
    return "file://" + os.path.join(os.path.abspath(home), "ccpa_reports")


def _base() -> str:
    return config.get_variable(config.VAR_REPORT_STORAGE, default_url()).rstrip("/")


def _checked_id(request_id: str) -> str:
    if not _SAFE.match(request_id):
        raise ValueError("request ids are hex strings")
    return request_id


def request_dir(request_id: str) -> StoragePath:
    path = resolve(_base() + "/" + _checked_id(request_id), request_id=request_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _location(url: str) -> tuple[str, str, tuple[str, ...]]:
    """(scheme, host, path segments) of a URL, decoded; '.' / '..' segments refused."""
    parts = urlsplit(url)
    scheme = parts.scheme or "file"
    # ObjectStoragePath names its connection in the URL's user part (s3://conn_id@bucket/key): the place is the host.
    host = parts.netloc.rpartition("@")[2]
    netloc = "" if scheme == "file" and host == "localhost" else host
    segments = tuple(s for s in unquote(parts.path).split("/") if s)
    if any(s in (".", "..") for s in segments) or "\x00" in url:
        raise OutsideStorage("storage paths may not contain '.' or '..' segments")
    return scheme, netloc, segments


def resolve(url: str, *, request_id: str | None = None) -> StoragePath:
    """The path behind a storage URL (as :func:`url_of` wrote it); '.' and '..' segments are refused.

    With ``request_id`` (every path that comes back through XCom), only a path inside that request's folder in the
    configured storage resolves: a tampered or mistaken XCom value cannot make a task read, mail or zip anything
    else. Without it (a deployment's own source reading its own file, say) any location may be named.
    """
    scheme, netloc, segments = _location(url)
    if request_id is not None:
        base_scheme, base_netloc, base_segments = _location(_base())
        root = (*base_segments, _checked_id(request_id))
        if (scheme, netloc) != (base_scheme, base_netloc) or segments[: len(root)] != root:
            raise OutsideStorage(f"refused: a storage path outside the request's folder ({config.VAR_REPORT_STORAGE})")
    if scheme == "file" and netloc == "":
        return Path("/" + "/".join(segments))
    from airflow.sdk import ObjectStoragePath

    conn_id = config.get_variable(config.VAR_REPORT_STORAGE_CONN_ID, "") or None
    return ObjectStoragePath(url, conn_id=conn_id)


def url_of(path: StoragePath) -> str:
    """The URL that names ``path`` in XCom and in the compliance store (``file:///…`` for local files)."""
    return path.as_uri() if isinstance(path, Path) else str(path)


def delete_tree(path: StoragePath) -> int:
    """Delete ``path`` and everything under it; returns how many files were deleted (0 when it did not exist).

    An object store has no folders, only keys sharing a prefix: there the prefix's keys are deleted (an empty
    "folder" does not exist to remove, and ``rmdir()`` on one raises NotADirectoryError).
    """
    if isinstance(path, Path):
        if not path.exists():
            return 0
        count = sum(1 for p in path.rglob("*") if not p.is_dir())
        shutil.rmtree(path)
        return count
    fs, prefix = path.fs, path.path.rstrip("/") + "/"
    keys = [key for key in fs.find(prefix) if not key.endswith("/")]
    if keys:
        fs.rm(keys)
    fs.invalidate_cache(prefix)
    return len(keys)


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
    if isinstance(path, Path):  # a local file buffers in C already: a Python buffer in front only costs time
        with path.open("w", encoding="utf-8", newline="", buffering=1 << 20) as local:
            yield local
        return
    with path.open("w", encoding="utf-8", newline="") as out:
        buffered = _Buffered(out)
        yield buffered  # type: ignore[misc]
        buffered.flush()
