"""A local S3 server (moto's server mode, a separate process) for ``ccpa_report_storage = s3://…`` offline.

The tests, ``scripts/distributed-run.sh`` and anyone trying object storage start it with::

    with S3Server() as s3:
        s3.create_bucket("ccpa-reports")
        os.environ["AIRFLOW_CONN_CCPA_REPORTS_S3"] = json.dumps(s3.connection())

or on its own: ``python -m devtools.standins.s3_server --port 5000 --bucket ccpa-reports``. It speaks the real S3
REST protocol (signatures, pre-signed URLs and their expiry, ``NoSuchKey`` …): boto3, s3fs and Airflow's
ObjectStoragePath talk to it as to AWS. Everything lives in the server's memory and is gone when it stops.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from typing import Any, Self

from devtools.standins.child_server import ChildServer

#: Credentials the server accepts (moto accepts any); the connection must carry some, else s3fs goes anonymous.
ACCESS_KEY = "ccpa-local"
SECRET_KEY = "ccpa-local-secret"  # noqa: S105 - a stand-in's credential
REGION = "us-east-1"


class S3Server(ChildServer):
    """moto's S3 server in a child process on ``host:port`` (0: a free port), stopped by :meth:`stop`."""

    name = "S3 server"

    def start(self) -> Self:
        env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        return self._until_up()

    def client(self) -> Any:
        """A boto3 S3 client on this server."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` (all pages)."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def connection(self) -> dict[str, Any]:
        """An Airflow ``aws`` connection (as JSON for ``AIRFLOW_CONN_…``) aimed at this server."""
        return {
            "conn_type": "aws",
            "login": ACCESS_KEY,
            "password": SECRET_KEY,
            "extra": {"endpoint_url": self.endpoint_url, "region_name": REGION},
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--bucket", action="append", default=[], help="create this bucket (repeatable)")
    args = parser.parse_args(argv)
    with S3Server(args.host, args.port) as server:
        for bucket in args.bucket:
            server.create_bucket(bucket)
        print(f"S3 server on {server.endpoint_url}; connection: {server.connection()}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
