"""A local stand-in for the Slack Web API, so the demo and the tests run offline against real clients.

slack_sdk's ``WebClient`` (directly or through Airflow's ``SlackHook`` with the connection extra ``base_url`` set
to :attr:`SlackEmulator.api_url`) talks to it as it would to ``https://slack.com/api/``. It records what is posted,
hands every message a ``response_url`` and plays the human side: :meth:`SlackEmulator.click` sends Slack's
``block_actions`` payload, signed exactly as Slack signs it, to the app's interactivity endpoint.

Run on its own with ``python -m devtools.standins.slack_emulator --port 8091 --signing-secret S --callback-url URL``.
Open :attr:`SlackEmulator.url` in a browser to try it as a person: the channel as Slack shows it (Block Kit, threads,
ephemerals, modals), where the buttons send the same signed payloads as :meth:`SlackEmulator.click`.
Message bodies are never logged: they carry requesters' personal data.

Failure injection models what real Slack does under load or in an outage, per API method and count:
:meth:`SlackEmulator.fail` (or ``POST /_emulator/faults``) makes the next N calls answer HTTP 429 ``ratelimited``
with a ``Retry-After`` header, a 5xx, or answer only after a delay. Tests drive the real slack_sdk client into them.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import hmac
import itertools
import json
import logging
import re
import secrets
import signal
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlencode

import requests
from flask import Flask, Response, jsonify, request, send_from_directory

from devtools.standins.slack_socket import SocketModeServer
from devtools.standins.tls import server_context
from devtools.standins.wsgi_thread import QuietRequestHandler, ServedStandIn

log = logging.getLogger(__name__)

TEAM_ID = "T0EMULATOR"
TEAM_DOMAIN = "emulator"
APP_ID = "A0EMULATOR"
BOT_ID = "B0EMULATOR"
BOT_USER_ID = "U0EMULBOT"
#: Slack lets an app use one response_url at most five times.
RESPONSE_URL_MAX_USES = 5

#: The browser page (``GET /``): static HTML, CSS and vanilla JS, no build step, nothing fetched from the internet.
WEB_STATIC = Path(__file__).resolve().parent / "web" / "static"
#: Served with the page: no inline script, nothing loaded from elsewhere (message images may come from anywhere).
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' http: https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

Message = dict[str, Any]
#: Faults for every method, whatever their name.
ANY_METHOD = "*"


@dataclass
class Fault:
    """What the next call(s) of one API method get instead of (or before) the normal answer.

    ``status`` 429 answers ``{"ok": false, "error": "ratelimited"}`` with ``Retry-After: retry_after`` (Slack's rate
    limit); another status answers that status with an HTML body, as Slack's edge does in an outage; ``status`` None
    with ``delay`` answers normally after ``delay`` seconds (a slow Slack). ``times`` None means until cleared.
    """

    method: str
    status: int | None = 429
    retry_after: int = 1
    delay: float = 0.0
    times: int | None = 1
    served: int = 0

    def __post_init__(self) -> None:
        if self.status is not None and not (400 <= self.status <= 599):
            raise ValueError(f"fault status must be an HTTP error (4xx/5xx), got {self.status}")
        if self.status is None and self.delay <= 0:
            raise ValueError("a fault needs a status or a delay")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1 (or None: until cleared)")
        if self.retry_after < 0 or self.delay < 0:
            raise ValueError("retry_after and delay cannot be negative")

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.served >= self.times


_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


class _QuietHandler(QuietRequestHandler):
    """Werkzeug logs every request line at INFO; response_url paths are capabilities, keep them at DEBUG."""

    logger = log

    def shown_path(self) -> str:
        return self.path.split("?")[0].split("/response/")[0]


class SlackEmulator(ServedStandIn):
    """Slack Web API + interactivity emulator served from a daemon thread (see the module docstring)."""

    _request_handler = _QuietHandler
    _thread_name = "slack-emulator-{port}"

    def __init__(
        self,
        signing_secret: str,
        callback_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        callback_timeout: float = 10.0,
        app_token: str | None = None,
        socket_port: int = 0,
        socket_public_host: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.signing_secret = signing_secret
        #: HTTPS, as Slack is (devtools/standins/tls.py): the API and every response_url.
        self._tls = tls
        self.callback_url = callback_url
        #: Socket Mode: with an app-level token, ``apps.connections.open`` answers a WebSocket URL, and while an app
        #: is connected there, interactions go to it as envelopes instead of to ``callback_url`` (as in Slack, where
        #: an app in Socket Mode gets no HTTP requests).
        self.app_token = app_token
        self.callback_timeout = callback_timeout
        self.host = host
        self._socket_port, self._socket_public_host = socket_port, socket_public_host
        self.socket: SocketModeServer | None = self._socket_server() if app_token else None
        self._requested_port = port
        self._cond = threading.Condition(threading.RLock())
        self._ids = itertools.count(1)
        self._base_ts = int(time.time())
        self._ts_seq = itertools.count(100, 100)
        self.reset()
        self.app = self._build_app()

    # ------------------------------------------------------------------ lifecycle (the rest: ServedStandIn)

    def _started(self) -> None:
        log.info("Slack emulator listening on %s", self.url)

    def start(self) -> Self:
        if self.socket is not None and not self.socket.port:
            self.socket.start()
        return super().start()

    def stop(self) -> None:
        super().stop()
        if self.socket is not None:
            self.socket.stop()
            self.socket = self._socket_server()

    def _socket_server(self) -> SocketModeServer:
        return SocketModeServer(self.host, APP_ID, self._socket_port, self._socket_public_host)

    @property
    def api_url(self) -> str:
        """What goes into the Slack connection's extra ``base_url`` (slack_sdk needs the trailing slash)."""
        return f"{self.url}/api/"

    # ------------------------------------------------------------------ recorded state

    def reset(self) -> None:
        """Forget every message, ephemeral, view and response_url."""
        with self._cond:
            self._messages: list[Message] = []
            self._deleted: list[Message] = []
            self._ephemerals: list[Message] = []
            self._views: list[dict[str, Any]] = []
            self._responses: dict[str, dict[str, Any]] = {}
            self._channels: dict[str, str] = {}
            self._triggers: set[str] = set()
            self._trigger_users: dict[str, str] = {}
            self._view_ui: dict[str, dict[str, Any]] = {}
            self._faults: deque[Fault] = deque()
            self._calls: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ failure injection

    def fail(
        self,
        method: str,
        times: int | None = 1,
        *,
        status: int | None = 429,
        retry_after: int = 1,
        delay: float = 0.0,
    ) -> Fault:
        """Make the next ``times`` calls of ``method`` (``"*"``: any method) fail; see :class:`Fault`.

        Faults queue up in order: ``fail("chat.postMessage", 2, status=503)`` then ``fail("chat.postMessage", 1)``
        answers 503, 503, then 429, then normally.
        """
        fault = Fault(method=method, status=status, retry_after=retry_after, delay=delay, times=times)
        with self._cond:
            self._faults.append(fault)
        return fault

    def slow(self, method: str, seconds: float, times: int | None = 1) -> Fault:
        """Answer the next ``times`` calls of ``method`` normally, but only after ``seconds``."""
        return self.fail(method, times, status=None, delay=seconds)

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        """The faults still armed, with how often each was served."""
        with self._cond:
            return [asdict(f) for f in self._faults]

    def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        """Every API call received (method, HTTP status answered, time), oldest first; no arguments (personal data)."""
        with self._cond:
            return [dict(c) for c in self._calls if method is None or c["method"] == method]

    def _take_fault(self, method: str) -> Fault | None:
        with self._cond:
            for fault in self._faults:
                if fault.method in (method, ANY_METHOD) and not fault.exhausted:
                    fault.served += 1
                    if fault.exhausted:
                        self._faults.remove(fault)
                    return fault
        return None

    def messages(self, channel: str | None = None) -> list[Message]:
        """Live (not deleted) messages in posting order, as copies; ``channel`` may be a name or an id."""
        with self._cond:
            if channel is None:
                return copy.deepcopy(self._messages)
            wanted = self._channel_id(channel, create=False)
            return [copy.deepcopy(m) for m in self._messages if m["channel"] == wanted]

    def deleted_messages(self) -> list[Message]:
        """Messages removed through ``delete_original``."""
        with self._cond:
            return copy.deepcopy(self._deleted)

    def ephemerals(self) -> list[Message]:
        with self._cond:
            return copy.deepcopy(self._ephemerals)

    def views(self) -> list[dict[str, Any]]:
        with self._cond:
            return copy.deepcopy(self._views)

    def message(self, ts: str, channel: str | None = None) -> Message:
        """One live message by ts; raises LookupError."""
        with self._cond:
            return copy.deepcopy(self._find(ts, channel))

    def wait_for_message(self, predicate: Callable[[Message], bool] | None = None, timeout: float = 10) -> Message:
        """Block until a live message matches (the newest match wins); raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in reversed(self._messages):
                    snapshot = copy.deepcopy(msg)
                    if predicate is None or predicate(snapshot):
                        return snapshot
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching Slack message within {timeout}s")
                self._cond.wait(remaining)

    # ------------------------------------------------------------------ playing the human

    def click(
        self,
        ts: str,
        action_id: str,
        user_id: str = "U0APPROVER",
        user_name: str = "officer",
        channel: str | None = None,
    ) -> tuple[int, str]:
        """Press a button of a posted message: POST a signed ``block_actions`` payload to ``callback_url``."""
        with self._cond:
            msg = self._find(ts, channel)
            block_id, element = _find_button(msg.get("blocks") or [], action_id)
            trigger_id = self._new_trigger()
            self._trigger_users[trigger_id] = user_id
            # Each interaction may use the response_url again; remember who to send ephemerals to.
            self._responses[msg["response_token"]]["user"] = user_id
            payload = {
                "type": "block_actions",
                "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID},
                "api_app_id": APP_ID,
                "token": "emulator-verification-token",
                "container": {
                    "type": "message",
                    "message_ts": msg["ts"],
                    "channel_id": msg["channel"],
                    "is_ephemeral": False,
                },
                "trigger_id": trigger_id,
                "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
                "enterprise": None,
                "is_enterprise_install": False,
                "channel": {"id": msg["channel"], "name": msg["channel_name"]},
                "message": _public_message(msg),
                "state": {"values": {}},
                "response_url": msg["response_url"],
                "actions": [
                    {
                        "action_id": action_id,
                        "block_id": block_id,
                        "text": {
                            "type": "plain_text",
                            "text": (element.get("text") or {}).get("text", ""),
                            "emoji": (element.get("text") or {}).get("emoji", True),
                        },
                        **({"value": element["value"]} if "value" in element else {}),
                        **({"style": element["style"]} if "style" in element else {}),
                        "type": "button",
                        "action_ts": f"{time.time():.6f}",
                    }
                ],
            }
        log.info("Emulated click on action %s by %s", action_id, user_id)
        return self.deliver(payload)

    def submit_view(
        self,
        view_id_or_callback_id: str,
        values: dict[str, Any],
        user_id: str = "U0APPROVER",
        user_name: str = "officer",
    ) -> tuple[int, str]:
        """Submit a modal opened with views.open: POST a signed ``view_submission`` payload to ``callback_url``.

        ``values`` maps block_id to either Slack's own shape ``{action_id: {"type": ..., "value": ...}}``, to
        ``{action_id: raw}`` or to a bare raw value (the input block's element decides type and action_id).
        """
        with self._cond:
            view = next(
                (v for v in reversed(self._views) if view_id_or_callback_id in (v["id"], v.get("callback_id"))), None
            )
            if view is None:
                raise LookupError(f"no view {view_id_or_callback_id!r} was opened")
            state = {
                block_id: _state_value(view.get("blocks") or [], block_id, raw) for block_id, raw in values.items()
            }
            submitted = {**copy.deepcopy(view), "state": {"values": state}}
            submitted.pop("trigger_id", None)
            submitted.pop("trigger_known", None)
            submitted.pop("submissions", None)
            view["submissions"].append({"user": user_id, "values": copy.deepcopy(state)})
            payload = {
                "type": "view_submission",
                "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
                "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID},
                "api_app_id": APP_ID,
                "token": "emulator-verification-token",
                "trigger_id": self._new_trigger(),
                "view": submitted,
                "response_urls": [],
                "is_enterprise_install": False,
                "enterprise": None,
            }
        return self.deliver(payload)

    def deliver(self, payload: dict[str, Any]) -> tuple[int, str]:
        """Hand an interaction to the app: over Socket Mode while the app is connected there, else signed over
        HTTP to ``callback_url``. Returns (HTTP status or 0 for an unacknowledged envelope, the answer's text)."""
        if self.socket is not None and self.socket.connected:
            status, text = self.socket.deliver(payload)
            log.info("%s payload delivered over Socket Mode: %s", payload.get("type"), "ack" if status else text)
            return status, text
        return self.send_signed(payload)

    def send_signed(
        self,
        payload: dict[str, Any],
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> tuple[int, str]:
        """POST ``payload=<json>`` form-encoded and signed like Slack; override the pieces to forge a request."""
        if not self.callback_url:
            raise RuntimeError("SlackEmulator.callback_url is not set")
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
        ts = str(int(time.time()) if timestamp is None else timestamp)
        key = (self.signing_secret if secret is None else secret).encode()
        signature = "v0=" + hmac.new(key, f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        sent = {
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
            **(headers or {}),
        }
        resp = requests.post(self.callback_url, data=body.encode(), headers=sent, timeout=self.callback_timeout)
        log.info("Signed %s payload delivered: HTTP %s", payload.get("type"), resp.status_code)
        return resp.status_code, resp.text

    # ------------------------------------------------------------------ the browser page

    def page_state(self) -> dict[str, Any]:
        """What the channel page draws: channels, live messages, ephemerals and the modals still open."""
        with self._cond:
            channel_ids = dict.fromkeys(
                [m["channel"] for m in self._messages] + [e["channel"] for e in self._ephemerals if e["channel"]]
            )
            messages = [
                {
                    **_public_message(m),
                    "channel": m["channel"],
                    "reply_broadcast": bool(m.get("reply_broadcast")),
                    "versions": len(m["history"]) + 1,
                }
                for m in self._messages
            ]
            views = []
            for view in self._views:
                ui = self._view_ui.get(view["id"], {})
                if ui.get("closed"):
                    continue
                shown = {k: copy.deepcopy(view.get(k)) for k in ("id", "callback_id", "title", "submit", "close")}
                shown["blocks"] = copy.deepcopy(view.get("blocks") or [])
                shown.update(
                    user=self._trigger_users.get(view.get("trigger_id", "")),
                    errors=copy.deepcopy(ui.get("errors") or {}),
                    error=ui.get("error"),
                    opened_seq=self._views.index(view),
                )
                views.append(shown)
            return {
                "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
                "bot": {"user_id": BOT_USER_ID, "bot_id": BOT_ID, "name": "ccpa-bot"},
                "callback_configured": bool(self.callback_url),
                "channels": [{"id": cid, "name": self._channel_name(cid)} for cid in channel_ids],
                "messages": messages,
                "ephemerals": copy.deepcopy(self._ephemerals),
                "views": views,
            }

    def submit_view_from_page(
        self, view_id: str, values: dict[str, Any], user_id: str = "U0APPROVER", user_name: str = "officer"
    ) -> dict[str, Any]:
        """:meth:`submit_view`, then act on the app's answer as Slack's client does.

        An empty 200 (or ``response_action: clear``) closes the modal, ``errors`` shows each message under its input
        block, ``update`` / ``push`` replace the modal's content; any other answer leaves it open with an error.
        """
        with self._cond:
            if self._view_ui.get(view_id, {}).get("closed"):
                raise LookupError(f"view {view_id!r} is closed")
        status, text = self.submit_view(view_id, values, user_id=user_id, user_name=user_name)
        answer: Any = None
        if text.strip():
            try:
                answer = json.loads(text)
            except ValueError:
                answer = None
        action = answer.get("response_action") if isinstance(answer, dict) else None
        with self._cond:
            ui = self._view_ui.setdefault(view_id, {})
            ui["errors"], ui["error"] = {}, None
            if status != 200:
                ui["error"] = f"The app answered HTTP {status}: Slack would say it had trouble connecting."
            elif action == "errors" and isinstance(answer.get("errors"), dict):
                ui["errors"] = {str(k): str(v) for k, v in answer["errors"].items()}
            elif action in ("update", "push") and isinstance(answer.get("view"), dict):
                view = next(v for v in self._views if v["id"] == view_id)
                for key in ("title", "submit", "close", "blocks"):
                    if key in answer["view"]:
                        view[key] = copy.deepcopy(answer["view"][key])
            elif text.strip() and action not in (None, "clear"):
                ui["error"] = f"The app answered with an unknown response_action {action!r}."
            elif text.strip() and action is None and answer is None:
                ui["error"] = "The app answered with a body that is not JSON: Slack would show an error."
            else:
                ui["closed"] = True
            self._cond.notify_all()
            return {
                "status": status,
                "body": text,
                "response_action": action,
                "errors": dict(ui["errors"]),
                "error": ui["error"],
                "closed": bool(ui.get("closed")),
            }

    # ------------------------------------------------------------------ internals

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):08d}"

    def _new_ts(self) -> str:
        n = next(self._ts_seq)
        return f"{self._base_ts + n // 1_000_000}.{n % 1_000_000:06d}"

    def _new_trigger(self) -> str:
        trigger = f"{next(self._ids)}.{int(time.time())}.{secrets.token_hex(16)}"
        self._triggers.add(trigger)
        return trigger

    def _channel_id(self, channel: str, create: bool = True) -> str | None:
        """Slack answers with channel ids; names (``#ccpa`` or ``ccpa``) get a stable fake id."""
        if _CHANNEL_ID.match(channel):
            self._channels.setdefault(channel, channel)
            return channel
        name = channel.lstrip("#")
        if name not in self._channels:
            if not create:
                return None
            self._channels[name] = "C" + hashlib.sha256(name.encode()).hexdigest()[:10].upper()
        return self._channels[name]

    def _channel_name(self, channel_id: str) -> str:
        return next((name for name, cid in self._channels.items() if cid == channel_id and name != cid), channel_id)

    def _find(self, ts: str, channel: str | None = None) -> Message:
        wanted = self._channel_id(channel, create=False) if channel else None
        for msg in self._messages:
            if msg["ts"] == ts and (channel is None or msg["channel"] == wanted):
                return msg
        raise LookupError(f"no message with ts {ts!r}")

    def _post(
        self, channel_id: str, text: str, blocks: list[Any] | None, thread_ts: str | None, extra: dict[str, Any]
    ) -> Message:
        token = secrets.token_urlsafe(18)
        msg: Message = {
            "channel": channel_id,
            "channel_name": self._channel_name(channel_id),
            "ts": self._new_ts(),
            "text": text,
            "blocks": blocks,
            "thread_ts": thread_ts,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "history": [],
            "response_url": f"{self.url}/response/{token}",
            "response_token": token,
            **extra,
        }
        self._messages.append(msg)
        self._responses[token] = {"channel": channel_id, "ts": msg["ts"], "uses": 0, "user": None}
        self._cond.notify_all()
        return msg

    def _replace(self, msg: Message, text: str | None, blocks: list[Any] | None) -> None:
        msg["history"].append({"text": msg["text"], "blocks": copy.deepcopy(msg["blocks"])})
        if text is not None:
            msg["text"] = text
        if blocks is not None:
            msg["blocks"] = blocks
        msg["edited"] = {"user": BOT_USER_ID, "ts": self._new_ts()}
        self._cond.notify_all()

    # ------------------------------------------------------------------ HTTP

    def _build_app(self) -> Flask:
        app = Flask(__name__)

        @app.route("/api/<method>", methods=["GET", "POST"])
        def api(method: str) -> Response:
            args = _request_args()
            token = _bearer(request.headers.get("Authorization", "")) or str(args.pop("token", "") or "")
            if not token:
                return jsonify(ok=False, error="not_authed")
            if method == "apps.connections.open":
                result = self._apps_connections_open(token)
                log.info("Slack API %s -> %s", method, "ok" if result.get("ok") else result.get("error"))
                return jsonify(result)
            if token.startswith("xapp-"):  # an app-level token opens Socket Mode connections, nothing else
                return jsonify(ok=False, error="not_allowed_token_type")
            handler = handlers.get(method)
            if handler is None:
                return jsonify(ok=False, error="unknown_method")
            fault = self._take_fault(method)
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            if fault is not None and fault.status is not None:
                with self._cond:
                    self._calls.append({"method": method, "status": fault.status, "at": time.time()})
                log.info("Slack API %s -> injected HTTP %s", method, fault.status)
                if fault.status == 429:
                    resp = jsonify(ok=False, error="ratelimited")
                    resp.status_code = 429
                    resp.headers["Retry-After"] = str(fault.retry_after)
                    return resp
                return Response(
                    f"<html><body>Slack is having trouble ({fault.status})</body></html>",
                    status=fault.status,
                    mimetype="text/html",
                )
            with self._cond:
                result = handler(args)
                self._calls.append({"method": method, "status": 200, "at": time.time()})
            log.info("Slack API %s -> %s", method, "ok" if result.get("ok") else result.get("error"))
            return jsonify(result)

        @app.post("/response/<token>")
        def response_url(token: str) -> tuple[Response | str, int]:
            body = request.get_json(force=True, silent=True)
            if not isinstance(body, dict):
                return "invalid_payload", 400
            with self._cond:
                entry = self._responses.get(token)
                if entry is None:
                    return "no_service", 404
                if entry["uses"] >= RESPONSE_URL_MAX_USES:
                    return "used_url", 404
                entry["uses"] += 1
                error = self._respond(entry, body)
            if error:
                return error, 404
            return jsonify(ok=True), 200

        @app.get("/_emulator/messages")
        def list_messages() -> Response:
            return jsonify(self.messages(request.args.get("channel")))

        @app.get("/_emulator/ephemerals")
        def list_ephemerals() -> Response:
            return jsonify(self.ephemerals())

        @app.get("/_emulator/views")
        def list_views() -> Response:
            return jsonify(self.views())

        @app.route("/_emulator/faults", methods=["GET", "POST", "DELETE"])
        def faults() -> tuple[Response, int]:
            """GET lists the armed faults, DELETE clears them, POST arms one:
            ``{"method": "chat.postMessage", "times": 3, "status": 429, "retry_after": 1, "delay": 0}``."""
            if request.method == "DELETE":
                self.clear_faults()
                return jsonify(ok=True), 200
            if request.method == "POST":
                body = request.get_json(force=True, silent=True)
                if not isinstance(body, dict) or not isinstance(body.get("method"), str):
                    return jsonify(error="a JSON object with 'method' is required"), 400
                try:
                    fault = self.fail(
                        body["method"],
                        None if body.get("times", 1) is None else int(body.get("times", 1)),
                        status=None if body.get("status", 429) is None else int(body.get("status", 429)),
                        retry_after=int(body.get("retry_after", 1)),
                        delay=float(body.get("delay", 0)),
                    )
                except (TypeError, ValueError) as exc:
                    return jsonify(error=str(exc)), 400
                return jsonify(asdict(fault)), 201
            return jsonify(self.faults()), 200

        @app.post("/_emulator/reset")
        def reset() -> Response:
            self.reset()
            return jsonify(ok=True)

        @app.post("/_emulator/click")
        def click() -> tuple[Response, int]:
            body = request.get_json(force=True, silent=True) or {}
            action_id = body.get("action_id")
            if not action_id:
                return jsonify(error="action_id is required"), 400
            ts = body.get("ts") or self._latest_with_action(action_id)
            if ts is None:
                return jsonify(error=f"no message has an action {action_id!r}"), 404
            kwargs = {k: body[k] for k in ("user_id", "user_name", "channel") if body.get(k)}
            try:
                status, text = self.click(ts, action_id, **kwargs)
            except LookupError as exc:
                return jsonify(error=str(exc)), 404
            except (RuntimeError, requests.RequestException) as exc:
                return jsonify(error=f"callback failed: {type(exc).__name__}"), 502
            return jsonify(status=status, body=text, ts=ts), 200

        @app.post("/_emulator/submit_view")
        def submit_view() -> tuple[Response, int]:
            body = request.get_json(force=True, silent=True) or {}
            view = body.get("view_id") or body.get("callback_id")
            if not view:
                return jsonify(error="view_id or callback_id is required"), 400
            kwargs = {k: body[k] for k in ("user_id", "user_name") if body.get(k)}
            try:
                status, text = self.submit_view(view, body.get("values") or {}, **kwargs)
            except LookupError as exc:
                return jsonify(error=str(exc)), 404
            except (RuntimeError, requests.RequestException) as exc:
                return jsonify(error=f"callback failed: {type(exc).__name__}"), 502
            return jsonify(status=status, body=text), 200

        # -------------------------------------------------------------- the browser page (GET /)

        @app.get("/")
        def page() -> Response:
            resp = send_from_directory(WEB_STATIC, "slack.html", max_age=0)
            resp.headers["Content-Security-Policy"] = PAGE_CSP
            resp.headers["X-Content-Type-Options"] = "nosniff"
            resp.headers["Referrer-Policy"] = "no-referrer"
            return resp

        @app.get("/_emulator/web/<path:name>")
        def web_static(name: str) -> Response:
            resp = send_from_directory(WEB_STATIC, name, max_age=0)
            resp.headers["X-Content-Type-Options"] = "nosniff"
            return resp

        @app.get("/_emulator/state")
        def page_state() -> Response:
            return jsonify(self.page_state())

        @app.post("/_emulator/views/<view_id>/submit")
        def page_submit_view(view_id: str) -> tuple[Response, int]:
            body = request.get_json(force=True, silent=True) or {}
            kwargs = {k: str(body[k]) for k in ("user_id", "user_name") if body.get(k)}
            try:
                return jsonify(self.submit_view_from_page(view_id, body.get("values") or {}, **kwargs)), 200
            except LookupError as exc:
                return jsonify(error=str(exc)), 404
            except (RuntimeError, requests.RequestException) as exc:
                return jsonify(error=f"callback failed: {type(exc).__name__}"), 502

        @app.post("/_emulator/views/<view_id>/close")
        def page_close_view(view_id: str) -> tuple[Response, int]:
            with self._cond:
                if not any(v["id"] == view_id for v in self._views):
                    return jsonify(error=f"no view {view_id!r} was opened"), 404
                self._view_ui.setdefault(view_id, {})["closed"] = True
                self._cond.notify_all()
            return jsonify(ok=True), 200

        handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "api.test": lambda args: {"ok": True, "args": args},
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
        }
        return app

    def _latest_with_action(self, action_id: str) -> str | None:
        with self._cond:
            for msg in reversed(self._messages):
                try:
                    _find_button(msg.get("blocks") or [], action_id)
                except LookupError:
                    continue
                return str(msg["ts"])
        return None

    def _apps_connections_open(self, token: str) -> dict[str, Any]:
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}  # Slack's answer to a bot or user token
        if self.socket is None or token != self.app_token:
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "url": self.socket.new_url()}

    def _auth_test(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Emulated workspace",
            "user": "ccpa-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        blocks, err = _blocks_arg(args)
        if err:
            return {"ok": False, "error": err}
        text = args.get("text")
        if not text and not blocks and not args.get("attachments"):
            return {"ok": False, "error": "no_text"}
        channel_id = self._channel_id(str(channel))
        assert channel_id is not None
        thread_ts = _str_or_none(args.get("thread_ts"))
        extra = {"reply_broadcast": True} if thread_ts and _truthy(args.get("reply_broadcast")) else {}
        msg = self._post(channel_id, str(text or ""), blocks, thread_ts, extra)
        return {"ok": True, "channel": channel_id, "ts": msg["ts"], "message": _public_message(msg)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), args.get("ts")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        try:
            msg = self._find(str(ts or ""), str(channel))
        except LookupError:
            return {"ok": False, "error": "message_not_found"}
        blocks, err = _blocks_arg(args)
        if err:
            return {"ok": False, "error": err}
        text = args.get("text")
        if text is None and blocks is None and not args.get("attachments"):
            return {"ok": False, "error": "no_text"}
        self._replace(msg, None if text is None else str(text), blocks)
        return {
            "ok": True,
            "channel": msg["channel"],
            "ts": msg["ts"],
            "text": msg["text"],
            "message": _public_message(msg),
        }

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, user = args.get("channel"), args.get("user")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not user:
            return {"ok": False, "error": "user_not_in_channel"}
        blocks, err = _blocks_arg(args)
        if err:
            return {"ok": False, "error": err}
        if not args.get("text") and not blocks and not args.get("attachments"):
            return {"ok": False, "error": "no_text"}
        channel_id = self._channel_id(str(channel))
        message_ts = self._new_ts()
        self._ephemerals.append(
            {
                "channel": channel_id,
                "user": str(user),
                "text": str(args.get("text") or ""),
                "blocks": blocks,
                "thread_ts": _str_or_none(args.get("thread_ts")),
                "message_ts": message_ts,
                "source": "chat.postEphemeral",
            }
        )
        self._cond.notify_all()
        return {"ok": True, "message_ts": message_ts}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger_id = args.get("trigger_id")
        if not trigger_id:
            return {"ok": False, "error": "invalid_arguments"}
        view = args.get("view")
        if isinstance(view, str):
            try:
                view = json.loads(view)
            except ValueError:
                return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(view, dict) or view.get("type") not in ("modal", "workflow_step"):
            return {"ok": False, "error": "invalid_arguments"}
        view_id = self._new_id("V")
        opened = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": view["type"],
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": view.get("blocks") or [],
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": APP_ID,
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        record = {
            **copy.deepcopy(opened),
            "trigger_id": str(trigger_id),
            "trigger_known": trigger_id in self._triggers,
            "submissions": [],
        }
        self._views.append(record)
        self._cond.notify_all()
        return {"ok": True, "view": opened}

    def _respond(self, entry: dict[str, Any], body: dict[str, Any]) -> str | None:
        """Apply one response_url POST; returns Slack's error string or None."""
        blocks = body.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return "invalid_blocks"
        text = body.get("text")
        if _truthy(body.get("delete_original")):
            try:
                msg = self._find(entry["ts"], entry["channel"])
            except LookupError:
                return "message_not_found"
            self._messages.remove(msg)
            self._deleted.append(msg)
            self._cond.notify_all()
            return None
        if _truthy(body.get("replace_original")):
            try:
                msg = self._find(entry["ts"], entry["channel"])
            except LookupError:
                return "message_not_found"
            self._replace(msg, None if text is None else str(text), blocks)
            return None
        if not text and not blocks:
            return "no_text"
        if body.get("response_type") == "ephemeral":
            self._ephemerals.append(
                {
                    "channel": entry["channel"],
                    "user": entry["user"],
                    "text": str(text or ""),
                    "blocks": blocks,
                    "thread_ts": _str_or_none(body.get("thread_ts")),
                    "message_ts": self._new_ts(),
                    "source": "response_url",
                }
            )
            self._cond.notify_all()
            return None
        self._post(entry["channel"], str(text or ""), blocks, _str_or_none(body.get("thread_ts")), {})
        return None


# ---------------------------------------------------------------------- helpers


def _request_args() -> dict[str, Any]:
    """slack_sdk sends JSON for most write methods and form fields for the rest (and for GETs, query args)."""
    args: dict[str, Any] = dict(request.args)
    if request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            args.update(body)
    else:
        args.update(request.form.to_dict())
    return args


def _bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _blocks_arg(args: dict[str, Any]) -> tuple[list[Any] | None, str | None]:
    blocks = args.get("blocks")
    if blocks is None or blocks == "":
        return None, None
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return None, "invalid_blocks"
    if not isinstance(blocks, list) or not all(isinstance(b, dict) and b.get("type") for b in blocks):
        return None, "invalid_blocks"
    return blocks, None


def _str_or_none(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _public_message(msg: Message) -> dict[str, Any]:
    """The message as Slack shows it in API answers and interaction payloads."""
    out: dict[str, Any] = {
        "type": "message",
        "subtype": "bot_message",
        "text": msg["text"],
        "user": msg["user"],
        "bot_id": msg["bot_id"],
        "app_id": APP_ID,
        "team": TEAM_ID,
        "ts": msg["ts"],
        "blocks": copy.deepcopy(msg["blocks"] or []),
    }
    if msg.get("thread_ts"):
        out["thread_ts"] = msg["thread_ts"]
    if msg.get("edited"):
        out["edited"] = dict(msg["edited"])
    return out


def _find_button(blocks: list[dict[str, Any]], action_id: str) -> tuple[str, dict[str, Any]]:
    """The (block_id, element) of a button in an actions block (or a section accessory)."""
    for block in blocks:
        candidates = (block.get("elements") or []) if block.get("type") == "actions" else []
        if block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            candidates = [block["accessory"]]
        for element in candidates:
            if element.get("type") == "button" and element.get("action_id") == action_id:
                return str(block.get("block_id") or _block_id(block)), element
    raise LookupError(f"no button with action_id {action_id!r}")


def _block_id(block: dict[str, Any]) -> str:
    """Slack assigns a short random block_id when the app gives none; make it stable instead."""
    return hashlib.sha256(json.dumps(block, sort_keys=True).encode()).hexdigest()[:5]


_SINGLE_OPTION = {"static_select", "external_select", "radio_buttons"}
_MULTI_OPTION = {"multi_static_select", "multi_external_select", "checkboxes"}


def _state_value(blocks: list[dict[str, Any]], block_id: str, raw: Any) -> dict[str, Any]:
    """One ``view.state.values`` entry in Slack's shape, built from the view's input element."""
    block = next((b for b in blocks if b.get("block_id") == block_id), {})
    element = block.get("element") or {}
    if isinstance(raw, dict) and all(isinstance(v, dict) and "type" in v for v in raw.values()) and raw:
        return copy.deepcopy(raw)
    if isinstance(raw, dict) and raw:
        return {action_id: _element_value(element, value) for action_id, value in raw.items()}
    return {str(element.get("action_id") or block_id): _element_value(element, raw)}


def _element_value(element: dict[str, Any], raw: Any) -> dict[str, Any]:
    kind = element.get("type", "plain_text_input")
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])

    def option(value: Any) -> dict[str, Any]:
        found = next((o for o in options if o.get("value") == value), None)
        return copy.deepcopy(found) if found else {"text": {"type": "plain_text", "text": str(value)}, "value": value}

    if kind in _SINGLE_OPTION:
        return {"type": kind, "selected_option": option(raw)}
    if kind in _MULTI_OPTION:
        values = raw if isinstance(raw, list) else [raw]
        return {"type": kind, "selected_options": [option(v) for v in values]}
    if kind == "datepicker":
        return {"type": kind, "selected_date": raw}
    if kind in ("users_select", "conversations_select", "channels_select"):
        key = {"users_select": "selected_user", "conversations_select": "selected_conversation"}.get(
            kind, "selected_channel"
        )
        return {"type": kind, key: raw}
    return {"type": kind, "value": raw}


def main(argv: list[str] | None = None) -> None:
    """Run the emulator in the foreground until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--signing-secret", required=True)
    parser.add_argument("--callback-url", default=None)
    parser.add_argument("--app-token", default=None, help="an xapp-… token: Socket Mode on (apps.connections.open)")
    parser.add_argument("--socket-port", type=int, default=0, help="Socket Mode WebSocket port (0: any free one)")
    parser.add_argument("--socket-public-host", default=None, help="host name apps reach the WebSocket at")
    parser.add_argument("--tls-cert", default=None, help="serve HTTPS with this certificate (PEM), as Slack does")
    parser.add_argument("--tls-key", default=None, help="the certificate's private key (PEM)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with SlackEmulator(
        args.signing_secret,
        args.callback_url,
        host=args.host,
        port=args.port,
        app_token=args.app_token,
        socket_port=args.socket_port,
        socket_public_host=args.socket_public_host,
        tls=server_context(args.tls_cert, args.tls_key) if args.tls_cert else None,
    ) as emu:
        print(f"Slack emulator on {emu.url} (base_url {emu.api_url}); callbacks to {args.callback_url}", flush=True)
        print(f"Slack channel page: {emu.url}/ (open it in a browser to click as a person)", flush=True)
        while not stop.wait(1):
            pass


if __name__ == "__main__":
    main()
