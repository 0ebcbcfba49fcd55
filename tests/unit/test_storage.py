"""Report storage: every read confined to the configured storage and the request's own folder."""

from __future__ import annotations

import pytest

from include import storage


@pytest.fixture
def base(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path / 'reports'}")
    return tmp_path / "reports"


def test_paths_inside_the_request_folder_resolve(base):
    folder = storage.request_dir("abc123")
    (folder / "report.html").write_text("x")
    url = storage.url_of(folder / "report.html")
    assert storage.resolve(url, request_id="abc123").read_text() == "x"
    assert storage.resolve(url) == base / "abc123" / "report.html"
    assert storage.resolve("file:///etc/hostname") is not None, "without a request id any location may be named"
    with pytest.raises(storage.OutsideStorage):
        storage.resolve("file:///tmp/../etc/passwd")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "{base}/abc123/../other/report.html",
        "{base}/abc123/%2e%2e/other/report.html",
        "{base}/other/report.html",
        "{base}x/abc123/report.html",
        "s3://bucket/{base}/abc123/report.html",
    ],
)
def test_paths_outside_the_request_folder_are_refused(base, url):
    (base / "other").mkdir(parents=True)
    with pytest.raises(storage.OutsideStorage):
        storage.resolve(url.format(base=f"file://{base}"), request_id="abc123")


@pytest.mark.parametrize("request_id", ["..", ".", ".hidden", "a/b", "a\\b", ""])
def test_request_ids_cannot_name_another_folder(base, request_id):
    with pytest.raises(ValueError):
        storage.request_dir(request_id)


def test_an_unreadable_download_secret_fails_instead_of_falling_back(monkeypatch):
    from airflow.sdk import Variable

    from include.config import ConfigurationError
    from include.report import downloads

    def broken(key, *args, **kwargs):
        raise RuntimeError("secrets backend unavailable")

    monkeypatch.setattr(Variable, "get", broken)
    with pytest.raises(ConfigurationError, match="ccpa_download_secret' could not be read"):
        downloads.make_link("abc123")
