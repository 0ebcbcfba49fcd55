"""Serve a WSGI app from a daemon thread, on loopback by default: the Slack callback in tests and the bench, and the
local stand-ins (Slack emulator, Gmail API stand-in, mail sink page).

:class:`ServedApp` is one bound server; :class:`ServedStandIn` is the start/stop/``port``/``url`` plumbing of a
stand-in that serves its ``app`` with one; :class:`QuietRequestHandler` keeps request lines out of the INFO log.
"""

from __future__ import annotations

import logging
import ssl
import threading
from typing import Any, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger(__name__)


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug logs every request line at INFO; this logs it at DEBUG on :attr:`logger`, path through
    :meth:`shown_path` (override it to hide what a path carries)."""

    logger: logging.Logger = log

    def shown_path(self) -> str:
        return self.path

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.logger.debug("%s %s -> %s", self.command, self.shown_path(), code)


class StartStop:
    """A context manager that calls ``start()`` on entering (and yields what it returns) and ``stop()`` on leaving."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServedApp(StartStop):
    """``app`` bound on ``host:port`` (port 0 picks a free one) at construction, served by :meth:`start` from a
    daemon thread named ``thread_name`` (``{port}`` in it becomes the bound port) until :meth:`stop`."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        request_handler: type[WSGIRequestHandler] | None = None,
        thread_name: str = "ccpa-wsgi",
        poll_interval: float = 0.5,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=request_handler, ssl_context=tls
        )
        self._scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name=thread_name.format(port=self.port),
            daemon=True,
        )
        self._started = self._stopped = False

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"{self._scheme}://{self._server.host}:{self._server.port}"

    def start(self) -> Self:
        self._thread.start()
        self._started = True
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice (or without :meth:`start`)."""
        if self._stopped:
            return
        self._stopped = True
        if self._started:
            self._server.shutdown()
        self._server.server_close()
        if self._started:
            self._thread.join(timeout=5)


class ServedStandIn(StartStop):
    """Lifecycle of a stand-in serving its WSGI ``app`` on ``host`` and the requested port, bound at each
    :meth:`start` (so it can start again after :meth:`stop`).

    A subclass sets ``app``, ``host`` and ``_requested_port`` in its ``__init__``, and may set ``_tls`` (served over
    HTTPS, as the real service is: devtools/standins/tls.py), the class attributes ``_request_handler`` and
    ``_thread_name``, and override :meth:`_started` (called once serving).
    """

    app: Any
    host: str
    _requested_port: int
    _request_handler: type[WSGIRequestHandler] | None = QuietRequestHandler
    _thread_name: str = "ccpa-standin-{port}"
    _served: ServedApp | None = None
    _tls: ssl.SSLContext | None = None

    def start(self) -> Self:
        """Bind (port 0 picks a free port) and serve in a daemon thread."""
        if self._served is not None:
            return self
        self._served = ServedApp(
            self.app,
            self.host,
            self._requested_port,
            request_handler=self._request_handler,
            thread_name=self._thread_name,
            # A short poll interval keeps stop() (and so every test teardown) fast.
            poll_interval=0.05,
            tls=self._tls,
        ).start()
        self._started()
        return self

    def _started(self) -> None:
        """Called once serving (e.g. to log where)."""

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        served, self._served = self._served, None
        if served is not None:
            served.stop()

    @property
    def port(self) -> int:
        if self._served is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._served.port

    @property
    def url(self) -> str:
        return f"{'https' if self._tls is not None else 'http'}://{self.host}:{self.port}"
