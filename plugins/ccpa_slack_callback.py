"""Serves the Slack callback on the Airflow API server: ``POST /ccpa/slack/actions``.

Airflow 3's supported plugin interface (``fastapi_apps``) mounts any ASGI app; the Flask app is wrapped by a2wsgi,
already an Airflow dependency. No FAB, no CSRF exemption: Slack's signature is the authentication.
"""

from __future__ import annotations

from a2wsgi import WSGIMiddleware
from airflow.plugins_manager import AirflowPlugin

from include.slack.callback import create_app

URL_PREFIX = "/ccpa"

slack_callback_asgi = WSGIMiddleware(create_app())  # type: ignore[arg-type] # Flask is a WSGI app; a2wsgi's stub is narrower


class CcpaSlackCallbackPlugin(AirflowPlugin):
    name = "ccpa_slack_callback"
    fastapi_apps = [  # noqa: RUF012 (AirflowPlugin declares it; a ClassVar annotation would shadow that)
        {"app": slack_callback_asgi, "url_prefix": URL_PREFIX, "name": "CCPA Slack callback"}
    ]
