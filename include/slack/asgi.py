"""The callback as the API server serves it: an ASGI front that reads request bodies on the event loop.

a2wsgi runs the Flask app on a pool of threads and feeds each thread its request body as it arrives: a client that
sends headers and then trickles the body (or never sends it) holds a thread for as long as it likes, and 10 such
clients stop every officer from deciding. Here the whole body is read first, on the event loop, with a size cap and
a deadline; only a complete request reaches a thread. Decisions (``/slack/actions``) and downloads
(``/download/...``, which stream large files) run on separate thread pools, so neither can starve the other.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from a2wsgi import WSGIMiddleware

from include.slack.callback import MAX_BODY_BYTES, create_app

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: A request body must have arrived in full within this long (Slack sends a few KiB at once; the 3 s it gives us
#: to answer count from its send, so a slower body is not Slack's).
BODY_TIMEOUT_SECONDS = 2.0
#: The requester's forms that carry a photo ID (``/request``, ``/verify/<token>``): up to the upload's limit, and a
#: deadline a phone on a slow network can meet for 5 MB. Still read on the event loop, never holding a thread.
UPLOAD_TIMEOUT_SECONDS = 120.0
#: Threads that run decisions, and threads that stream downloads.
CALLBACK_WORKERS = 16
DOWNLOAD_WORKERS = 4


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


class BufferedBodies:
    """ASGI middleware: for requests with a body, read it whole on the event loop (at most ``max_bytes``, within
    ``timeout`` seconds) before calling ``app``; 413 / 408 otherwise, without ever committing one of ``app``'s threads.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, timeout: float = BODY_TIMEOUT_SECONDS) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        max_bytes, timeout = self._limits(scope)
        declared = _content_length(scope)
        if declared is not None and declared > max_bytes:
            await _answer(send, 413, "request body too large")
            return
        try:
            body = await asyncio.wait_for(self._read(receive, max_bytes), timeout)
        except _TooLarge:
            await _answer(send, 413, "request body too large")
            return
        except TimeoutError:
            await _answer(send, 408, "request body not received in time")
            return
        except _Disconnected:
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # then: wait for the disconnect, as the server would tell it

        await self.app(scope, replay, send)

    def _limits(self, scope: Scope) -> tuple[int, float]:
        """(body cap, deadline) of a request: the forms that upload a photo ID get the upload's; the rest Slack's."""
        local = _local_path(scope)
        if local.rstrip("/") == "/request" or local.startswith("/verify/"):
            from include.requester.form import MAX_FORM_BYTES

            return max(self.max_bytes, MAX_FORM_BYTES), max(self.timeout, UPLOAD_TIMEOUT_SECONDS)
        return self.max_bytes, self.timeout

    async def _read(self, receive: Receive, max_bytes: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                raise _TooLarge
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)


class _ByPath:
    """Downloads on their own threads; everything else (the Slack callback, health) on the callback's."""

    def __init__(self, callback: ASGIApp, downloads: ASGIApp) -> None:
        self.callback = callback
        self.downloads = downloads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.downloads if _local_path(scope).startswith("/download/") else self.callback
        await app(scope, receive, send)


def _local_path(scope: Scope) -> str:
    """The path below the mount point (``/request``, not ``/ccpa/request``)."""
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or []:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _answer(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_asgi_app(flask_app: Any | None = None) -> ASGIApp:
    """The ASGI app the plugin mounts at ``/ccpa``."""
    app = flask_app if flask_app is not None else create_app()
    callback: ASGIApp = WSGIMiddleware(app, workers=CALLBACK_WORKERS)  # type: ignore[arg-type,assignment]
    downloads: ASGIApp = WSGIMiddleware(app, workers=DOWNLOAD_WORKERS)  # type: ignore[arg-type,assignment]
    return BufferedBodies(_ByPath(callback, downloads))
