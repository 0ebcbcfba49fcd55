"""Test settings: an isolated AIRFLOW_HOME, the project's DAG folder, and the real MariaDB.

Airflow reads its configuration on import, so the environment is set here, before any test imports it.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_HOME = Path(os.environ.get("CCPA_TEST_AIRFLOW_HOME", "/tmp/ccpa-test-airflow-home"))  # noqa: S108

os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("CCPA_DECISION_POLL_SECONDS", "0.5")
# gcsfs (2026.x) first asks Google's Storage Control API over gRPC what kind of bucket a gs:// path is in; the GCS
# stand-in speaks only the JSON API, so that probe would wait 60 s per call before falling back to the JSON API
# that deployments use anyway. Read when gcsfs is imported, hence here.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
sys.path.insert(0, str(ROOT))

MYSQL_URL = os.environ.get("CCPA_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata DB (SQLite, in AIRFLOW_HOME): what ``dag.test()`` needs."""
    AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
    )
    return AIRFLOW_HOME


def _mysql_engine(database: str = ""):
    from sqlalchemy import create_engine

    return create_engine(f"{MYSQL_URL}/{database}", pool_pre_ping=True)


@pytest.fixture(scope="session")
def mysql_database():
    """Factory for throw-away MariaDB databases, dropped at the end of the session."""
    from sqlalchemy import text

    server = _mysql_engine()
    created: list[str] = []

    def make(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with server.begin() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
        created.append(name)
        return name

    yield make
    with server.begin() as conn:
        for name in created:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


@pytest.fixture
def compliance_store(mysql_database, monkeypatch):
    """A fresh compliance store on the real MariaDB, reachable as connection ccpa_compliance_db."""
    from include.store import ComplianceStore

    url = f"{MYSQL_URL}/{mysql_database('ccpa_compliance')}"
    monkeypatch.setenv("AIRFLOW_CONN_CCPA_COMPLIANCE_DB", url)
    return ComplianceStore.from_connection()


@pytest.fixture(scope="session")
def s3_server():
    """A local S3 server (moto's server mode, its own process) for the whole session."""
    from devtools.standins.s3_server import S3Server

    with S3Server() as server:
        yield server


@dataclass(frozen=True)
class BucketStorage:
    """A bucket and prefix on a local object store (the S3 or the GCS stand-in: both offer ``keys()``)."""

    server: Any
    bucket: str
    prefix: str

    def keys(self, below: str = "") -> list[str]:
        """The keys under the storage prefix (and ``below`` it), relative to the prefix."""
        start = f"{self.prefix}/{below}".rstrip("/")
        return [key[len(self.prefix) + 1 :] for key in self.server.keys(self.bucket, start)]


S3_CONN_ID = "ccpa_reports_s3"
GCS_CONN_ID = "ccpa_reports_gcs"


@pytest.fixture(scope="session")
def gcs_server():
    """A local GCS server (gcp-storage-emulator, its own process, with a stand-in OAuth token endpoint)."""
    from devtools.standins.gcs_server import GCSServer

    with GCSServer() as server:
        yield server


@pytest.fixture
def gcs_storage(gcs_server, monkeypatch) -> BucketStorage:
    """ccpa_report_storage = gs://<a fresh bucket>/ccpa/reports on the local GCS server, through a
    google_cloud_platform connection holding a service account key (as a deployment's does)."""
    import json

    suffix = uuid.uuid4().hex[:8]
    bucket = f"ccpa-test-{suffix}"
    gcs_server.create_bucket(bucket)
    # A connection id of its own: Airflow's ObjectStoragePath keeps one filesystem per connection id for the life
    # of the process, so a gs:// path another test made under the same id (with other credentials) would be reused.
    conn_id = f"{GCS_CONN_ID}_{suffix}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(gcs_server.connection()))
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"gs://{bucket}/ccpa/reports")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE_CONN_ID", conn_id)
    return BucketStorage(gcs_server, bucket, "ccpa/reports")


@pytest.fixture
def s3_storage(s3_server, monkeypatch) -> BucketStorage:
    """ccpa_report_storage = s3://<a fresh bucket>/ccpa/reports on the local S3 server, through an aws connection."""
    import json

    bucket = f"ccpa-test-{uuid.uuid4().hex[:8]}"
    s3_server.create_bucket(bucket)
    monkeypatch.setenv(f"AIRFLOW_CONN_{S3_CONN_ID.upper()}", json.dumps(s3_server.connection()))
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"s3://{bucket}/ccpa/reports")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE_CONN_ID", S3_CONN_ID)
    return BucketStorage(s3_server, bucket, "ccpa/reports")


# -- connections as the tests' env sets them ---------------------------------------------------------------------

DEMO_DATASTORE_CONNS = ("CCPA_CRM_DB", "CCPA_ORDERS_DB", "CCPA_WEB_DB")


def use_datastores(monkeypatch, url: str) -> None:
    """Point the three demo datastore connections of include/datastores/datastores.yaml at one database."""
    for name in DEMO_DATASTORE_CONNS:
        monkeypatch.setenv(f"AIRFLOW_CONN_{name}", url)


def use_slack(monkeypatch, api_url: str) -> None:
    """slack_api_default aimed at a Slack emulator, as the demo's connection is."""
    import json

    connection = {"conn_type": "slack", "password": "xoxb-test-token", "extra": {"base_url": api_url}}
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", json.dumps(connection))


def smtp_connection(port: int) -> dict:
    return {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"disable_tls": True, "disable_ssl": True, "retry_limit": 0, "timeout": 10},
    }


def use_smtp(monkeypatch, port: int) -> None:
    """smtp_default aimed at a local mail sink: no TLS, no login, no hook-level retries."""
    import json

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(smtp_connection(port)))


@pytest.fixture(autouse=True)
def _fresh_connection_cache():
    """include.db reuses a connection's URL for a minute; each test brings its own databases through the env."""
    from include.config import clear_variable_memo
    from include.db import dispose_all

    dispose_all()
    clear_variable_memo()  # include.config remembers a Variable per task try: no test sees another's reads
    yield
    # A test that builds Airflow's API app in this process has the plugin freeze the garbage collector's view of
    # the heap, as an API server worker does (include/preload.py): the rest of the test run keeps its collector.
    if gc.get_freeze_count():
        gc.unfreeze()


@contextmanager
def api_server_at(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """A real ``airflow api-server`` with ``env`` (which sets ``AIRFLOW__API__PORT``), its output in ``log_path``:
    yields its URL once /api/v2/monitor/health answers; the test fails with the log's tail if it never does."""
    import requests

    url = f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            deadline = time.time() + 180
            while time.time() < deadline:
                if server.poll() is not None:
                    pytest.fail("api-server exited: " + log_path.read_text()[-3000:])
                try:
                    if requests.get(f"{url}/api/v2/monitor/health", timeout=2).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.5)
            else:
                pytest.fail("api-server did not start: " + log_path.read_text()[-3000:])
            yield url
        finally:
            os.killpg(server.pid, 15)
            server.wait(20)
