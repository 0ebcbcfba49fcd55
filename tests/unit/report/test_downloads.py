"""Download links: pre-signed by the object store for s3:// storage, the plugin's signed token for file://."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from include.config import ConfigurationError
from include.report import downloads


def test_object_storage_link_is_the_stores_presigned_url_with_the_configured_ttl(s3_storage, monkeypatch):
    from include import storage

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_TTL_HOURS", "2")
    (storage.request_dir("a" * 32) / downloads.ZIP_NAME).write_bytes(b"PK zip bytes")
    link = downloads.make_link("a" * 32)
    query = parse_qs(urlsplit(link.url).query)
    assert link.url.startswith(f"{s3_storage.server.endpoint_url}/{s3_storage.bucket}/ccpa/reports/{'a' * 32}/")
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Expires"] == ["7200"]
    assert requests.get(link.url, timeout=10).content == b"PK zip bytes"


def test_a_ttl_longer_than_a_presigned_url_can_live_is_a_clear_configuration_error(s3_storage, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_TTL_HOURS", "200")
    with pytest.raises(ConfigurationError, match="ccpa_download_ttl_hours"):
        downloads.make_link("b" * 32)


def test_local_storage_keeps_the_plugins_signed_link(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path}")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "download-secret")
    link = downloads.make_link("c" * 32)
    assert "/ccpa/download/" in link.url
    assert downloads.read_token(link.url.rsplit("/", 1)[1]) == "c" * 32
    assert timedelta(hours=71) < link.expires_at - downloads.datetime.now(downloads.UTC) <= timedelta(hours=72)


def test_gcs_storage_takes_the_same_path_a_v4_signed_url_signed_offline_with_the_connections_key(monkeypatch):
    """gs:// without Google: a service-account key made here; the V4 signature is computed locally by
    google-cloud-storage through gcsfs (what a deployment's key does), nothing is fetched."""
    import json

    from airflow.sdk import ObjectStoragePath
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    account = "ccpa-reports@ccpa-test.iam.gserviceaccount.com"
    info = {
        "type": "service_account",
        "project_id": "ccpa-test",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": account,
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    extra = {"keyfile_dict": json.dumps(info), "project": "ccpa-test"}
    monkeypatch.setenv(
        "AIRFLOW_CONN_CCPA_REPORTS_GCS", json.dumps({"conn_type": "google_cloud_platform", "extra": extra})
    )
    path = ObjectStoragePath(
        "gs://ccpa-bucket/ccpa/reports/" + "d" * 32 + "/ccpa-report.zip", conn_id="ccpa_reports_gcs"
    )

    url = downloads.presign(path, timedelta(hours=3))
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert (parts.netloc, parts.path) == (
        "storage.googleapis.com",
        "/ccpa-bucket/ccpa/reports/" + "d" * 32 + "/ccpa-report.zip",
    )
    assert query["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"] and query["X-Goog-Expires"] == ["10800"]
    assert query["X-Goog-Credential"][0].startswith(account + "/")
    assert query["response-content-disposition"] == ['attachment; filename="ccpa-report.zip"']
    assert len(query["X-Goog-Signature"][0]) == 512  # RSA-2048, hex
