"""Serves the CCPA endpoints on the Airflow API server, under ``/ccpa``:

- ``POST /ccpa/slack/actions``: the Slack callback (a Flask app wrapped by a2wsgi, already an Airflow dependency,
  behind include.slack.asgi: request bodies are read on the event loop, so a client trickling its body cannot hold
  a thread, and downloads run on threads of their own). No FAB, no CSRF exemption: Slack's signature is the
  authentication.
- ``/ccpa/requests/``: the officers' requests page (FastAPI), guarded by Airflow's own authentication and
  authorisation (users who may read runs of ``ccpa_right_of_access``) and linked from Airflow's navigation
  (``external_views``: shown inside the Airflow UI at ``/plugin/ccpa-requests``).

Airflow 3's supported plugin interface (``fastapi_apps``) mounts any ASGI app. Every Airflow component loads plugins,
not only the API server, so the app is built on its first request, not when this file is imported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/ccpa"
REQUESTS_PATH = f"{URL_PREFIX}/requests/"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def create_ccpa_app() -> Any:
    """The requests page's routes first; everything else under /ccpa goes to the Slack callback's Flask app."""
    from include.slack.asgi import create_asgi_app
    from include.slack.callback import create_app as create_callback_app
    from include.web.pages import create_app as create_pages_app

    app = create_pages_app()
    app.mount("/", create_asgi_app(create_callback_app()))
    return app


class LazyASGI:
    """An ASGI app built on its first request; the API server's start-up heap is then frozen (include/preload.py)."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = self._factory()
            _freeze_startup_heap()
        await self._app(scope, receive, send)

    def __repr__(self) -> str:
        return "ccpa_app (the Slack callback and the requests page)"


def _freeze_startup_heap() -> None:
    """By the first request the API server worker has built Airflow's app and ours: all of it lives as long as the
    process, and a full garbage collection re-walking it stalled the callback 0.6-0.7 s (include/preload.py)."""
    from include.preload import freeze_startup_heap  # the factory has just imported include: it is on the path

    freeze_startup_heap()


ccpa_asgi = LazyASGI(create_ccpa_app)


class CcpaSlackCallbackPlugin(AirflowPlugin):
    name = "ccpa_slack_callback"
    # Plain lists as AirflowPlugin declares them (a ClassVar annotation conflicts with its instance variables).
    fastapi_apps: list[Any] = [  # noqa: RUF012
        {"app": ccpa_asgi, "url_prefix": URL_PREFIX, "name": "CCPA Slack callback"}
    ]
    external_views: list[Any] = [  # noqa: RUF012
        {
            "name": "CCPA requests",
            "href": REQUESTS_PATH,
            "url_route": "ccpa-requests",
            "destination": "nav",
            "category": "browse",
        }
    ]

    @classmethod
    def on_load(cls, *args: Any, **kwargs: Any) -> None:
        """Airflow loads plugins in every component, the scheduler before its LocalExecutor forks the workers that
        fork each task process: warming the workflow's imports and templates here (include/preload.py) spares every
        task process that cost. Inside a task process, or with CCPA_PRELOAD=0, this does nothing."""
        try:
            from include.preload import warm
        except ImportError:  # a component without the project on its path: nothing to warm, the plugin still loads
            return
        warm()
