"""The verification page (/ccpa/verify/<token>) on the real MariaDB store: a photo ID asked for is uploaded with the
request form's checks, kept in report storage, shown to the officer, and deleted when the request closes (§7060)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest

from include import storage
from include.request import AccessRequest
from include.requester import uploads
from include.verification import links

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"0" * 64
RECEIVED = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "verify-page-test-secret-0123456789")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path / 'reports'}")
    monkeypatch.delenv("AIRFLOW_VAR_CCPA_DEFAULT_LANGUAGE", raising=False)
    return tmp_path / "reports"


@pytest.fixture
def client(env, compliance_store):
    from include.slack.callback import create_app

    return create_app(store_factory=lambda: compliance_store).test_client()


def _asked(store, fields, *, language="en", photo_id_url="", run_id="manual__verify"):
    record = store.register_request(
        run_id, AccessRequest("Jane Doe", "jane@example.com", photo_id_url), RECEIVED, language=language
    )
    token = links.make_link(record.request_id, fields, record.due_at, now=RECEIVED)["token"]
    return record, token


def _stored_files(root) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _events(store, request_id) -> list[str]:
    return [e["event"] for e in store.audit_trail(request_id)]


def _post_photo(client, token, data: bytes, filename: str = "id.png", **fields):
    return client.post(
        f"/verify/{token}",
        data={"photo_id": (io.BytesIO(data), filename), **fields},
        content_type="multipart/form-data",
    )


def test_7060_a_photo_id_asked_for_is_uploaded_kept_behind_a_signed_link_and_shown_to_the_officer(
    client, compliance_store, env
):
    from include.slack.blocks import review_prompt

    record, token = _asked(compliance_store, ["photo_id"])
    page = client.get(f"/verify/{token}").get_data(as_text=True)
    assert 'type="file" id="photo_id" name="photo_id"' in page and 'enctype="multipart/form-data"' in page
    assert "JPEG, PNG or PDF file of at most 5 MB" in page

    answer = _post_photo(client, token, PNG)
    assert answer.status_code == 200 and "Thank you" in answer.get_data(as_text=True)

    updated = compliance_store.get_request(record.request_id)
    assert uploads.PHOTO_PATH in updated.photo_id_url
    stored = uploads.stored_url_of(updated.photo_id_url)
    assert stored is not None and storage.resolve(stored).read_bytes() == PNG  # in report storage, its own folder
    assert "photo_id_added" in _events(compliance_store, record.request_id)
    # The officer's evidence: the prompt links the upload, and the signed link serves it (only with the signature).
    text = str(review_prompt(updated)[1])
    assert "open the photo ID" in text and updated.photo_id_url.split("/ccpa", 1)[1] in text
    served = client.get(updated.photo_id_url.split("/ccpa", 1)[1])
    assert served.status_code == 200 and served.data == PNG and served.mimetype == "image/png"
    assert client.get("/request/photo/forged").status_code == 404


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a" + b"\x00" * 64, "The photo ID must be a JPEG, PNG or PDF file."),
        (b"<svg onload=alert(1)>", "The photo ID must be a JPEG, PNG or PDF file."),
        (PNG + b"\x00" * uploads.MAX_PHOTO_BYTES, "The photo ID must be at most 5 MB."),
    ],
)
def test_7060_a_photo_id_of_the_wrong_type_or_too_big_is_refused_and_nothing_is_stored(
    client, compliance_store, env, data, message
):
    record, token = _asked(compliance_store, ["photo_id", "phone"], photo_id_url="https://intake.example/id/1")
    answer = _post_photo(client, token, data, phone="(415) 555-1000")
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert _stored_files(env) == []
    unchanged = compliance_store.get_request(record.request_id)
    assert unchanged.photo_id_url == "https://intake.example/id/1"
    assert unchanged.identifiers.phone is None, "a refused form changes nothing, the valid fields included"
    assert not {"photo_id_added", "identifiers_added"} & set(_events(compliance_store, record.request_id))


def test_7060_a_post_over_the_upload_limit_gets_a_page_and_stores_nothing(client, compliance_store, env):
    from include.verification.page import MAX_FORM_BYTES, MAX_PHOTO_FORM_BYTES

    record, token = _asked(compliance_store, ["photo_id"])
    huge = _post_photo(client, token, PNG + b"\x00" * MAX_PHOTO_FORM_BYTES)
    assert huge.status_code == 413 and "at most 5 MB" in huge.get_data(as_text=True)
    # A photo where none was asked for: the small form's limit applies, and an upload is never read.
    _, phone_only = _asked(compliance_store, ["phone"], run_id="manual__verify_phone")
    sneaked = _post_photo(client, phone_only, PNG + b"\x00" * MAX_FORM_BYTES)
    assert sneaked.status_code == 413
    small = _post_photo(client, phone_only, PNG, phone="(415) 555-1000")
    assert small.status_code == 200
    assert _stored_files(env) == []
    assert compliance_store.get_request(record.request_id).photo_id_url == ""


def test_7060_a_closed_request_takes_no_photo_and_keeps_none(client, compliance_store, env):
    record, token = _asked(compliance_store, ["photo_id"])
    compliance_store.record_decision(record.request_id, "reject", "U0APPROVER")
    answer = _post_photo(client, token, PNG)
    assert answer.status_code == 410 and "no longer waiting" in answer.get_data(as_text=True)
    assert _stored_files(env) == []


def test_7060_a_new_photo_id_replaces_the_earlier_upload_which_is_deleted(client, compliance_store, env):
    earlier = uploads.save(PNG)
    _, token = _asked(compliance_store, ["photo_id"], photo_id_url=earlier.link)
    assert _post_photo(client, token, PDF, filename="id.pdf").status_code == 200
    assert not storage.resolve(uploads.stored_url_of(earlier.link)).exists()
    assert _stored_files(env) == ["photo-id.pdf"]


def test_7060d_the_uploaded_photo_id_is_deleted_when_the_request_closes(client, compliance_store, env):
    """Like the request form's upload: used only for verification, deleted when the run closes the request."""
    from include.tasks.access_request import close_review_prompt

    record, token = _asked(compliance_store, ["photo_id"])
    assert _post_photo(client, token, PNG).status_code == 200
    link = compliance_store.get_request(record.request_id).photo_id_url
    assert _stored_files(env) == ["photo-id.png"]
    compliance_store.record_decision(record.request_id, "reject", "U0APPROVER")
    close_review_prompt(record.request_id)
    assert _stored_files(env) == []
    assert not [p for p in env.rglob("*") if p.is_dir() and p.name.startswith("intake-")], "its folder too"
    assert "photo_id_deleted" in _events(compliance_store, record.request_id)
    assert client.get(link.split("/ccpa", 1)[1]).status_code == 410  # the officer's link says it is gone


def test_7003_the_verification_page_speaks_the_requesters_language(client, compliance_store, env):
    _, token = _asked(compliance_store, ["photo_id", "phone", "declaration"], language="es")
    page = client.get(f"/verify/{token}").get_data(as_text=True)
    assert 'lang="es"' in page and "Verifique su solicitud" in page
    refused = _post_photo(client, token, b"GIF89a", phone="(415) 555-1000").get_data(as_text=True)
    assert "El documento con foto debe ser un archivo JPEG, PNG o PDF." in refused
    bad_phone = client.post(f"/verify/{token}", data={"phone": "call me"}).get_data(as_text=True)
    assert re.search(r"número de teléfono", bad_phone)
