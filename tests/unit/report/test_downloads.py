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
