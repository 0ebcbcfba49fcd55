"""Slack Socket Mode: the inbound path when Slack cannot reach ``/ccpa/slack/actions``.

On managed Airflow (MWAA, Cloud Composer, Astronomer) the API server sits behind the provider's login, so Slack's
HTTP requests never arrive. In Socket Mode the app opens an outbound WebSocket to Slack instead, and Slack sends
every button click and modal submission over it. This small long-running service holds that connection::

    PYTHONPATH=. python -m include.slack.socket_mode

with the same Airflow configuration (environment, secrets backend) as the API server. It reads the app-level token
(``xapp-…``, scope ``connections:write``) from the password of the Airflow connection ``slack_socket_mode``, and
feeds each payload to the SAME handler as the HTTP callback (:func:`include.slack.callback.interaction_handler`):
the same approvers allow-list, the same one-decision-per-request in the compliance store, the same answers (a modal's
validation errors go back in the acknowledgement). The WebSocket is authenticated by the app token, so there is no
request signature to check. Run one or two instances: Slack hands each envelope to one open connection.

slack_sdk's built-in Socket Mode client is used (no extra dependency); it reconnects on its own when Slack asks.
The connection's extra ``base_url`` (like ``slack_api_default``'s) points it at an emulator.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING, Any

from include import config
from include.log_redaction import quiet_body_loggers

if TYPE_CHECKING:
    from slack_sdk.socket_mode import SocketModeClient
    from slack_sdk.socket_mode.client import BaseSocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest

log = logging.getLogger(__name__)


def app_token_and_base_url() -> tuple[str, str | None]:
    """The app-level token (connection ``slack_socket_mode``'s password) and its extra ``base_url``, if any."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(config.SLACK_SOCKET_MODE_CONN_ID)
    except AirflowNotFoundException:
        raise config.ConfigurationError(
            f"define the Airflow connection '{config.SLACK_SOCKET_MODE_CONN_ID}' with the Slack app-level token "
            "(xapp-…, scope connections:write) as its password"
        ) from None
    token = conn.password or ""
    config.refuse_demo_secret(f"connection '{config.SLACK_SOCKET_MODE_CONN_ID}' (the app-level token)", token)
    if not token.startswith("xapp-"):
        raise config.ConfigurationError(
            f"connection '{config.SLACK_SOCKET_MODE_CONN_ID}': the password must be an app-level token (xapp-…)"
        )
    base_url = (conn.extra_dejson or {}).get("base_url") or None
    return token, base_url


class SocketModeService:
    """One Socket Mode connection whose interactions go to the callback's handler."""

    def __init__(self, handler: Any | None = None, client: SocketModeClient | None = None) -> None:
        from include.slack.callback import interaction_handler

        self.handler = handler or interaction_handler()
        self.client = client or _client()
        self.client.socket_mode_request_listeners.append(self._on_request)

    def _on_request(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        from slack_sdk.socket_mode.response import SocketModeResponse

        from include.slack.callback import BadPayload

        answer = None
        if req.type == "interactive":
            try:
                answer = self.handler.handle(req.payload)
            except BadPayload as exc:
                log.warning("Socket Mode: refused an interaction payload: %s", exc)
            except Exception:  # acknowledge anyway: an unanswered envelope shows the officer an error
                log.exception("Socket Mode: an interaction failed")
        client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id, payload=answer))

    def connect(self) -> SocketModeService:
        self.client.connect()
        log.info("Socket Mode connected; waiting for Slack interactions")
        return self

    def close(self) -> None:
        self.client.close()


def _client() -> SocketModeClient:
    from slack_sdk import WebClient
    from slack_sdk.socket_mode import SocketModeClient

    quiet_body_loggers()
    token, base_url = app_token_and_base_url()
    web = WebClient(base_url=base_url) if base_url else WebClient()
    return SocketModeClient(app_token=token, web_client=web)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service = SocketModeService().connect()
    try:
        stop.wait()
    finally:
        service.close()


if __name__ == "__main__":
    main()
