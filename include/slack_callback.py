"""Kept for ``flask --app 'include.slack_callback:create_app()'`` (a documented command); the callback lives in
:mod:`include.slack.callback`."""

from include.slack.callback import create_app

__all__ = ["create_app"]
