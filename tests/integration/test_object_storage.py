"""The whole workflow with ``ccpa_report_storage`` on S3: the real DAG (dag.test()), a local S3 server (moto's server
mode, its own process) reached through Airflow's ObjectStoragePath and an ``aws`` connection, MariaDB, the Slack
emulator and the mail sink. Extracts, report files, the ZIP, the pre-signed download, the purge and retention."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import time_machine

from include.store import utcnow
from tests.factories import RecordedRuns
from tests.integration.conftest import REQUEST, everything_html

pytestmark = pytest.mark.integration


@pytest.fixture
def s3_stack(stack, s3_storage):
    """The integration stack with its report storage moved to S3 (set after the stack's file:// default)."""
    return stack, s3_storage


@pytest.mark.parametrize("kind", ["s3", "gcs"])
def test_a_whole_run_on_object_storage_keeps_every_file_in_the_bucket_and_the_purge_empties_it(
    kind, stack, run_dag, request
):
    """The same run on S3 (moto) and on GCS (the emulator, through gcsfs): one test, so both stores keep every check."""
    from include.tasks import compliance_watch as watch

    bucket = request.getfixturevalue(f"{kind}_storage")  # after the stack's file:// default
    officer = stack.click_when_posted("ccpa_approve")
    dag_run = run_dag(REQUEST)
    officer.join(5)

    assert dag_run.state == "success"
    [mail] = stack.answers()
    html = everything_html(mail)
    assert "+1-415-555-1000" in html and "ORD-000000" in html and "203.0.113.10" in html
    assert {a.get_filename() for a in mail.message.iter_attachments()} >= {"report.pdf", "report.json", "crm.csv"}
    record = stack.store.find_by_run_id(dag_run.run_id)
    keys = bucket.keys(record.request_id)
    assert {f"{record.request_id}/{name}" for name in ("report.html", "report.json", "report.pdf", "crm.csv")} <= set(
        keys
    )
    assert len(keys) > 4, "the extracts are in the bucket too"
    assert not (stack.storage / record.request_id).exists(), "nothing went to local disk"

    closed = stack.store.get_request(record.request_id).closed_at
    with time_machine.travel(closed + timedelta(hours=71), tick=False):
        assert watch.purge_report_files(stack.store) == 0, "still inside the download window"
    assert bucket.keys(record.request_id) == keys
    with time_machine.travel(closed + timedelta(hours=73), tick=False):
        assert watch.purge_report_files(stack.store) == 1
        # The next day's purge finds the request again (it looks back): nothing left, and its mkdir() of the
        # request's prefix must not leave a placeholder object behind (GCS).
        assert watch.purge_report_files(stack.store) == 0
    assert bucket.keys() == []
    runs = RecordedRuns()  # Airflow's REST API: the real one in test_retention_runs.py
    with time_machine.travel(utcnow() + timedelta(days=31 * 25), tick=False):
        assert watch.apply_retention(stack.store, runs=runs) == 1
    assert stack.store.get_request(record.request_id).name == "[redacted]"
    assert runs.deleted == [dag_run.run_id], "the run holding the requester's conf is deleted too"


def test_a_report_too_big_to_email_is_fetched_from_s3_by_a_presigned_url(s3_stack, run_dag, monkeypatch):
    from include.report import files as report_files

    stack, s3 = s3_stack
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_TTL_HOURS", "6")
    monkeypatch.setattr(report_files, "MAX_EMAIL_BYTES", 4096)  # this report is "too big": the link path
    officer = stack.click_when_posted("ccpa_approve")
    dag_run = run_dag(REQUEST)
    officer.join(5)

    assert dag_run.state == "success"
    [mail] = stack.answers()
    assert list(mail.message.iter_attachments()) == []
    html = everything_html(mail)
    assert "too large to attach" in html and "+1-415-555-1000" not in html
    record = stack.store.find_by_run_id(dag_run.run_id)
    [url] = {part.split('"')[0] for part in html.split('href="')[1:] if s3.server.endpoint_url in part}
    url = url.replace("&amp;", "&")
    assert "/ccpa/download/" not in url, "the API server does not stream it"
    parts = urlsplit(url)
    assert parts.path == f"/{s3.bucket}/{s3.prefix}/{record.request_id}/ccpa-report.zip"
    assert parse_qs(parts.query)["X-Amz-Expires"] == [str(6 * 3600)], "the configured ccpa_download_ttl_hours"

    response = requests.get(url, timeout=10)  # the requester's browser, straight from the store
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="ccpa-report.zip"'
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        assert {"report.html", "report.json", "crm.csv", "report.pdf"} <= set(bundle.namelist())
        assert "+1-415-555-1000" in bundle.read("report.json").decode()
    unsigned = requests.get(f"{parts.scheme}://{parts.netloc}{parts.path}", timeout=10)
    assert unsigned.status_code == 403, "without the signature the object is private"
