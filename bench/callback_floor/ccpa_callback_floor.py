"""Airflow's floor for a Slack callback: what the API server costs to answer a click that does no work.

Loaded by ``bench/callback_cpu.py --floor`` beside the project's plugin (never by a deployment). Two mounts, as
``plugins/ccpa_slack_callback.py`` mounts ours (``fastapi_apps``, built on the first request):

- ``/ccpa-floor/flask/slack/actions``: a Flask app behind a2wsgi, the shape the project's design fixes for the
  callback, whose view reads the form Slack posts and answers 200 with an empty body — no signature check, no
  database, no prompt update;
- ``/ccpa-floor/asgi/slack/actions``: the same answer from a bare ASGI app (no a2wsgi, no Flask): the API server
  alone (uvicorn, Airflow's middlewares, the mount).
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin


def _flask_app() -> Any:
    from a2wsgi import WSGIMiddleware
    from flask import Flask, request

    app = Flask("ccpa_callback_floor")

    @app.post("/flask/slack/actions")
    def actions() -> tuple[str, int]:
        request.form.get("payload")  # what any callback reads: the form Slack posts
        return "", 200

    return WSGIMiddleware(app)


async def _asgi_actions(scope: Any, receive: Any, send: Any) -> None:
    more = True
    while more:  # read the whole body, as the Flask floor does
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


class _Floor:
    def __init__(self) -> None:
        self._flask: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"].endswith("/asgi/slack/actions"):
            await _asgi_actions(scope, receive, send)
            return
        if self._flask is None:
            self._flask = _flask_app()
        await self._flask(scope, receive, send)


class CcpaCallbackFloorPlugin(AirflowPlugin):
    name = "ccpa_callback_floor"
    fastapi_apps: list[Any] = [{"app": _Floor(), "url_prefix": "/ccpa-floor", "name": "CCPA callback floor"}]  # noqa: RUF012
