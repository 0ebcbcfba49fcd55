"""Slack's Socket Mode, emulated: the WebSocket end of ``apps.connections.open`` (used by the Slack emulator).

An app in Socket Mode opens a WebSocket to the URL ``apps.connections.open`` returned (one-use ticket in the query),
receives ``{"type": "hello"}``, then gets each interaction as an envelope
``{"envelope_id", "type": "interactive", "payload", "accepts_response_payload", "retry_attempt", "retry_reason"}``
and must acknowledge it with ``{"envelope_id", "payload"?}`` within 3 seconds, as Slack requires; an
unacknowledged interaction fails for the user (Slack shows an error and does not retry it). With several open
connections Slack picks one per envelope. :meth:`SocketModeServer.disconnect_all` sends Slack's
``{"type": "disconnect", "reason": "refresh_requested"}`` (clients reconnect with a new ticket).

Served by the ``websockets`` library on its own asyncio loop in a daemon thread, on loopback.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import threading
import uuid
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

log = logging.getLogger(__name__)

#: Slack gives a Socket Mode app 3 seconds to acknowledge an envelope.
ACK_TIMEOUT = 3.0


class SocketModeServer:
    def __init__(
        self, host: str = "127.0.0.1", app_id: str = "A0EMULATOR", port: int = 0, public_host: str | None = None
    ) -> None:
        self.host = host
        self.app_id = app_id
        self._requested_port = port
        #: The host name apps reach the WebSocket at (in compose: the service name), if not ``host``.
        self.public_host = public_host
        self._tickets: set[str] = set()
        self._connections: list[ServerConnection] = []
        self._acks: dict[str, tuple[threading.Event, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.delivered: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def open_server() -> None:
                self._server = await serve(self._serve, self.host, self._requested_port, ping_interval=None)
                self.port = int(next(iter(self._server.sockets)).getsockname()[1])
                ready.set()

            loop.run_until_complete(open_server())
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="slack-socket-mode", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise TimeoutError("the Socket Mode server did not start")
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def close() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop = self._server = None

    # ------------------------------------------------------------------ apps.connections.open

    def new_url(self) -> str:
        """A one-use WebSocket URL, as ``apps.connections.open`` answers."""
        ticket = secrets.token_urlsafe(16)
        with self._lock:
            self._tickets.add(ticket)
        host = self.public_host or ("127.0.0.1" if self.host in ("0.0.0.0", "") else self.host)  # noqa: S104
        return f"ws://{host}:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    @property
    def connected(self) -> int:
        with self._lock:
            return len(self._connections)

    async def _serve(self, connection: ServerConnection) -> None:
        query = parse_qs(urlsplit(connection.request.path if connection.request else "").query)
        ticket = (query.get("ticket") or [""])[0]
        with self._lock:
            valid = ticket in self._tickets
            self._tickets.discard(ticket)
        if not valid:
            await connection.close(1008, "invalid or reused ticket")
            return
        await connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": self.connected + 1,
                    "debug_info": {"host": "emulator", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": self.app_id},
                }
            )
        )
        with self._lock:
            self._connections.append(connection)
        try:
            async for raw in connection:
                self._on_message(raw)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if connection in self._connections:
                    self._connections.remove(connection)

    def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("Socket Mode: a message that is not JSON")
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        with self._lock:
            waiting = self._acks.get(envelope_id) if isinstance(envelope_id, str) else None
        if waiting is None:
            log.warning("Socket Mode: an acknowledgement for no open envelope")
            return
        event, box = waiting
        box["payload"] = message.get("payload")
        event.set()

    # ------------------------------------------------------------------ delivering interactions

    def deliver(self, payload: dict[str, Any], timeout: float = ACK_TIMEOUT) -> tuple[int, str]:
        """Send ``payload`` as an ``interactive`` envelope over one open connection and wait for its ack.

        Returns ``(200, <ack payload as JSON, or "">)``, or ``(0, why)`` when no app is connected or the ack did
        not come in time (what Slack shows the user as an error)."""
        with self._lock:
            connections = list(self._connections)
        if not connections or self._loop is None:
            return 0, "no Socket Mode connection"
        connection = connections[next(self._turn) % len(connections)]
        envelope_id = str(uuid.uuid4())
        event, box = threading.Event(), dict[str, Any]()
        with self._lock:
            self._acks[envelope_id] = (event, box)
        envelope = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": "interactive",
            "accepts_response_payload": payload.get("type") == "view_submission",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        try:
            asyncio.run_coroutine_threadsafe(connection.send(json.dumps(envelope)), self._loop).result(timeout)
            acked = event.wait(timeout)
        except (ConnectionClosed, TimeoutError):
            acked = False
        finally:
            with self._lock:
                self._acks.pop(envelope_id, None)
        self.delivered.append({"envelope_id": envelope_id, "type": payload.get("type"), "acked": acked})
        if not acked:
            log.info("Socket Mode: envelope %s not acknowledged within %.0f s", envelope_id, timeout)
            return 0, "not acknowledged in time"
        answer = box.get("payload")
        return 200, json.dumps(answer) if answer else ""

    def disconnect_all(self, reason: str = "refresh_requested") -> None:
        """Ask every connected app to reconnect, as Slack does every few hours."""
        with self._lock:
            connections = list(self._connections)
        if self._loop is None:
            return
        for connection in connections:
            message = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "emulator"}})
            asyncio.run_coroutine_threadsafe(connection.send(message), self._loop).result(5)
