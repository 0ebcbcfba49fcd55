"""The GCS stand-in's OAuth token endpoint behaves as Google's does for a service account key: google-auth's own
refresh gets a token with the server's key and Google's ``invalid_grant`` with any other key."""

from __future__ import annotations

import pytest
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from devtools.standins.gcs_server import GCSServer

SCOPES = ["https://www.googleapis.com/auth/devstorage.full_control"]


@pytest.fixture(scope="module")
def gcs():
    with GCSServer() as server:
        yield server


def test_the_servers_key_gets_an_access_token(gcs):
    credentials = service_account.Credentials.from_service_account_info(gcs.keyfile(), scopes=SCOPES)
    credentials.refresh(Request())
    assert credentials.token and credentials.valid


def test_a_key_the_server_does_not_know_is_refused_with_invalid_grant(gcs):
    foreign = GCSServer(port=gcs.port)  # never started: only its freshly made key
    info = {**gcs.keyfile(), "private_key": foreign.private_key}
    credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
    with pytest.raises(RefreshError, match="invalid_grant"):
        credentials.refresh(Request())


def test_a_token_request_without_the_jwt_grant_is_refused(gcs):
    answer = requests.post(f"{gcs.endpoint_url}/token", data={"grant_type": "password"}, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_objects_written_are_listed_and_deleted(gcs):
    gcs.create_bucket("stand-in-check")
    put = requests.post(
        f"{gcs.endpoint_url}/upload/storage/v1/b/stand-in-check/o",
        params={"uploadType": "media", "name": "a/b.txt"},
        data=b"x",
        timeout=10,
    )
    assert put.ok, put.text
    assert gcs.keys("stand-in-check") == ["a/b.txt"]
    gcs.delete("stand-in-check", "a/b.txt")
    assert gcs.keys("stand-in-check") == []
