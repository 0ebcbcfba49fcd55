"""The one way this project talks to Slack's Web API and to an interaction's ``response_url``.

Every Slack client is built here, so what each needs is set once: the provider's ``SlackHook`` (connection
``slack_api_default``: token, ``base_url``, timeout, proxy), and quiet body loggers (slack_sdk's DEBUG lines hold the
messages, which hold names and emails).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from include import config
from include.log_redaction import quiet_body_loggers

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.webhook import WebhookClient

#: How long a ``response_url`` post may take (Slack answers in well under a second).
WEBHOOK_TIMEOUT_SECONDS = 10


def web_client() -> WebClient:
    """A Web API client for connection ``slack_api_default``, through the Slack provider's hook."""
    from airflow.providers.slack.hooks.slack import SlackHook

    quiet_body_loggers()
    return SlackHook(slack_conn_id=config.SLACK_CONN_ID).client


def webhook(response_url: str) -> WebhookClient:
    """A client for one interaction's ``response_url`` (ephemeral notes, replacing the clicked message)."""
    from slack_sdk.webhook import WebhookClient

    quiet_body_loggers()
    return WebhookClient(response_url, timeout=WEBHOOK_TIMEOUT_SECONDS)
