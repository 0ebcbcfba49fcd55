"""Where a request's extracted data and report live while the run works: files, not XCom.

Personal data never travels through XCom or the task logs; tasks pass paths and counts. The location is the
Variable ``ccpa_report_storage`` (a URL: ``file:///…`` by default, ``s3://…`` or ``gs://…`` with the connection in
``ccpa_report_storage_conn_id``), through Airflow's ObjectStoragePath.
"""

from __future__ import annotations

import os
import re

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
