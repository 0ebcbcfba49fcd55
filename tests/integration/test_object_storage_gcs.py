"""The whole workflow with ``ccpa_report_storage`` on Google Cloud Storage: the real DAG (dag.test()), a local GCS
server (gcp-storage-emulator, its own process) reached through Airflow's ObjectStoragePath, the Google provider's
gcs filesystem (gcsfs) and a ``google_cloud_platform`` connection holding a service account key, MariaDB, the Slack
emulator and the mail sink. Extracts, report files, the ZIP, the V4 signed download link, the purge and retention.

The emulator checks neither IAM nor signed-URL signatures: the signature itself is checked offline by
tests/unit/report/test_downloads.py. The key's OAuth exchange does run (devtools/standins/gcs_server.py)."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import time_machine

from tests.integration.conftest import REQUEST, everything_html

pytestmark = pytest.mark.integration


@pytest.fixture
def gcs_stack(stack, gcs_storage):
    """The integration stack with its report storage moved to GCS (set after the stack's file:// default)."""
    return stack, gcs_storage


# The whole run on GCS (files in the bucket, purge, retention): tests/integration/test_object_storage.py, with S3's.


def test_a_report_too_big_to_email_is_fetched_from_gcs_by_a_v4_signed_url(gcs_stack, run_dag, monkeypatch):
    from include.report import files as report_files
    from include.tasks import compliance_watch as watch

    stack, gcs = gcs_stack
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
    [url] = {part.split('"')[0] for part in html.split('href="')[1:] if gcs.server.endpoint_url in part}
    url = url.replace("&amp;", "&")
    assert "/ccpa/download/" not in url, "the API server does not stream it"
    parts = urlsplit(url)
    assert parts.path == f"/{gcs.bucket}/{gcs.prefix}/{record.request_id}/ccpa-report.zip"
    query = parse_qs(parts.query)
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
    assert query["X-Goog-Expires"] == [str(6 * 3600)], "the configured ccpa_download_ttl_hours"
    assert query["X-Goog-Credential"][0].startswith(gcs.server.keyfile()["client_email"] + "/")

    response = requests.get(url, timeout=10)  # the requester's browser, straight from the store
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="ccpa-report.zip"'
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        assert {"report.html", "report.json", "crm.csv", "report.pdf"} <= set(bundle.namelist())
        assert "+1-415-555-1000" in bundle.read("report.json").decode()

    # A bucket lifecycle rule (docs/deployment.md, section 7) deleted the objects first: the purge still runs.
    for name in gcs.keys(record.request_id):
        gcs.server.delete(gcs.bucket, f"{gcs.prefix}/{name}")
    closed = stack.store.get_request(record.request_id).closed_at
    with time_machine.travel(closed + timedelta(hours=7), tick=False):
        assert watch.purge_report_files(stack.store) == 0
    assert gcs.keys() == []
