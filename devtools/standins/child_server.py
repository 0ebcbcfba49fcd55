"""A stand-in served by a child process (moto's S3 server, the GCS emulator): started on a free port, waited for
until it answers HTTP, stopped with its whole process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from typing import Self

import requests

from devtools.standins.wsgi_thread import StartStop


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class ChildServer(StartStop):
    """Subclasses start ``self._process`` (in its own session) in :meth:`start`, then call :meth:`_until_up`."""

    #: How the server is named in errors ("the S3 server did not start within 30 s").
    name = "server"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _until_up(self, seconds: float = 30) -> Self:
        assert self._process is not None, "start the process first"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the {self.name} exited with {self._process.returncode}")
            try:
                requests.get(self.endpoint_url, timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"the {self.name} did not start within {seconds:g} s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None
