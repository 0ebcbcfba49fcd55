"""A local Google Cloud Storage server (gcp-storage-emulator, a separate process) for ``ccpa_report_storage =
gs://…`` offline, with a stand-in for Google's OAuth token endpoint.

The tests and anyone trying GCS storage start it with::

    with GCSServer() as gcs:
        gcs.create_bucket("ccpa-reports")
        os.environ["AIRFLOW_CONN_CCPA_REPORTS_GCS"] = json.dumps(gcs.connection())

or on its own: ``python -m devtools.standins.gcs_server --port 9023 --bucket ccpa-reports``.

The connection is what a deployment's is: a ``google_cloud_platform`` connection with a service account's key
(``keyfile_dict``, here an RSA key made at start), plus the Google provider's ``gcs.endpoint`` extra that points
gcsfs at this server. The key's ``token_uri`` names this server's ``/token``: google-auth exchanges its signed JWT
there for an access token exactly as it does at oauth2.googleapis.com (an assertion that is not a JWT signed by
the key is refused with Google's ``invalid_grant``), so the real credential code runs. What the emulator does not
model, and so what a test here does not prove: IAM (any bearer token is accepted) and signed-URL verification (it
serves ``/<bucket>/<object>`` to anyone; the V4 signature is checked by tests/unit/report/test_downloads.py).
Everything lives in the server's memory and is gone when it stops.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from http import HTTPStatus
from typing import Any, Self
from urllib.parse import parse_qs, quote

import requests

from devtools.standins.child_server import ChildServer

PROJECT = "ccpa-local"
ACCOUNT = "ccpa-reports@ccpa-local.iam.gserviceaccount.com"
KEY_ID = "ccpa-local-key"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def check_assertion(assertion: str, public_key_pem: str) -> dict[str, Any]:
    """The claims of a service account's JWT grant, if ``public_key_pem`` verifies its RS256 signature."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        header, claims, signature = assertion.split(".")
        public_key = serialization.load_pem_public_key(public_key_pem.encode())
        public_key.verify(  # type: ignore[union-attr, call-arg]
            _b64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        decoded: dict[str, Any] = json.loads(_b64(claims))
    except (ValueError, InvalidSignature) as exc:
        raise PermissionError("invalid JWT signature") from exc
    if decoded.get("iss") != ACCOUNT or decoded.get("exp", 0) < time.time():
        raise PermissionError("invalid JWT claims")
    return decoded


def serve(host: str, port: int, public_key_pem: str) -> None:
    """Run the emulator with a ``POST /token`` route in front of it (in this process, until SIGTERM)."""
    from http.server import ThreadingHTTPServer

    from gcp_storage_emulator.server import RequestHandler
    from gcp_storage_emulator.storage import Storage

    class Handler(RequestHandler):
        def do_POST(self) -> None:
            if self.path != "/token":
                super().do_POST()
                return
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
            try:
                if form.get("grant_type") != [JWT_BEARER]:
                    raise PermissionError("unsupported grant_type")
                check_assertion(form.get("assertion", [""])[0], public_key_pem)
                status, body = HTTPStatus.OK, {"access_token": "ya29.local-" + os.urandom(8).hex(), "expires_in": 3600}
            except PermissionError as exc:
                status, body = HTTPStatus.BAD_REQUEST, {"error": "invalid_grant", "error_description": str(exc)}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # request lines carry object names: keep them out of the output

    httpd = ThreadingHTTPServer((host, port), partial(Handler, Storage(use_memory_fs=True)))
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with contextlib.suppress(KeyboardInterrupt):
        httpd.serve_forever()
    httpd.server_close()


class GCSServer(ChildServer):
    """The emulator in a child process on ``host:port`` (0: a free port), stopped by :meth:`stop`."""

    name = "GCS server"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.private_key = _private_key_pem()

    def _public_key_pem(self) -> str:
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(self.private_key.encode(), password=None)
        return (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def start(self) -> Self:
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-m", "devtools.standins.gcs_server", "--serve", "--host", self.host],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "CCPA_GCS_PORT": str(self.port)},
            start_new_session=True,
        )
        assert self._process.stdin is not None
        self._process.stdin.write(self._public_key_pem().encode())
        self._process.stdin.close()
        return self._until_up()

    def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.endpoint_url}/storage/v1{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def create_bucket(self, name: str) -> None:
        self._api("POST", "/b", params={"project": PROJECT}, json={"name": name})

    def delete(self, bucket: str, name: str) -> None:
        """Delete one object (what a bucket lifecycle rule does)."""
        self._api("DELETE", f"/b/{bucket}/o/{quote(name, safe='')}")

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object name under ``prefix`` (all pages)."""
        names: list[str] = []
        token = None
        while True:
            params = {"prefix": prefix, **({"pageToken": token} if token else {})}
            page = self._api("GET", f"/b/{bucket}/o", params=params)
            names += [item["name"] for item in page.get("items", [])]
            token = page.get("nextPageToken")
            if not token:
                return sorted(names)

    def keyfile(self) -> dict[str, str]:
        """A service account key, as Google issues it, whose ``token_uri`` is this server."""
        return {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": KEY_ID,
            "private_key": self.private_key,
            "client_email": ACCOUNT,
            "client_id": "1",
            "token_uri": f"{self.endpoint_url}/token",
        }

    def connection(self) -> dict[str, Any]:
        """An Airflow ``google_cloud_platform`` connection (JSON for ``AIRFLOW_CONN_…``) aimed at this server."""
        extra = {"keyfile_dict": json.dumps(self.keyfile()), "project": PROJECT, "gcs.endpoint": self.endpoint_url}
        return {"conn_type": "google_cloud_platform", "extra": extra}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9023)
    parser.add_argument("--bucket", action="append", default=[], help="create this bucket (repeatable)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the child: public key on stdin
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.host, int(os.environ["CCPA_GCS_PORT"]), sys.stdin.read())
        return
    with GCSServer(args.host, args.port) as server:
        for bucket in args.bucket:
            server.create_bucket(bucket)
        print(f"GCS server on {server.endpoint_url}; connection: {json.dumps(server.connection())}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
