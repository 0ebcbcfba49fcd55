"""The one way this project talks to Slack's Web API and to an interaction's ``response_url``.

Every Slack client is built here, so what each needs is set once: the provider's ``SlackHook`` (connection
``slack_api_default``: token, ``base_url``, timeout, proxy), retry handlers (slack_sdk retries nothing but a reset
connection by default: a ``ratelimited`` 429 or a 5xx would fail the call), the process's one TLS context (include.tls:
without it every HTTPS request reads the CA bundle again), and quiet body loggers (slack_sdk's DEBUG
lines hold the messages, which hold names and emails).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING

from include import config, tls
from include.log_redaction import quiet_body_loggers

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.http_retry import RetryHandler
    from slack_sdk.webhook import WebhookClient

#: How long a ``response_url`` post may take (Slack answers in well under a second).
WEBHOOK_TIMEOUT_SECONDS = 10
#: 429 ``ratelimited`` answers retried within one call, each after the ``Retry-After`` Slack asks for (about one
#: message per second per channel: a burst of prompts waits its turn instead of failing the task).
RATE_LIMIT_RETRIES = 8
#: 5xx answers (and reset connections) retried within one call, with exponential back-off (0.5 s, 1 s, 2 s);
#: a longer outage is the task's retries' business.
SERVER_ERROR_RETRIES = 3
#: The largest ``Retry-After`` honoured inside a call: a longer wait is better spent by the task's own retry
#: (which frees the worker slot) than asleep in it.
MAX_RETRY_AFTER_SECONDS = 60


def retry_handlers() -> list[RetryHandler]:
    """What every Slack client retries by itself: reset connections, 429 (honouring ``Retry-After``) and 5xx."""
    from slack_sdk.http_retry import ConnectionErrorRetryHandler

    capped_rate_limit, any_server_error = _handler_classes()
    return [
        ConnectionErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES),
        capped_rate_limit(max_retry_count=RATE_LIMIT_RETRIES),
        any_server_error(max_retry_count=SERVER_ERROR_RETRIES),
    ]


@functools.cache
def _handler_classes() -> tuple[type[RetryHandler], type[RetryHandler]]:
    """Our two retry handler classes, defined once (slack_sdk is imported on first use; defining the classes on
    every call was ~1/8 of the prompt update after each Slack click)."""
    from slack_sdk.http_retry import HttpRequest, HttpResponse, RateLimitErrorRetryHandler, RetryState
    from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

    class _CappedRateLimitRetryHandler(RateLimitErrorRetryHandler):
        def _can_retry(
            self,
            *,
            state: RetryState,
            request: HttpRequest,
            response: HttpResponse | None = None,
            error: Exception | None = None,
        ) -> bool:
            if not super()._can_retry(state=state, request=request, response=response, error=error):
                return False
            return _retry_after(response.headers if response is not None else {}) <= MAX_RETRY_AFTER_SECONDS

    class _AnyServerErrorRetryHandler(ServerErrorRetryHandler):
        """slack_sdk's handler retries 500 and 503 only; a gateway's 502/504 is the same outage."""

        def _can_retry(
            self,
            *,
            state: RetryState,
            request: HttpRequest,
            response: HttpResponse | None = None,
            error: Exception | None = None,
        ) -> bool:
            return response is not None and 500 <= response.status_code <= 599

    return _CappedRateLimitRetryHandler, _AnyServerErrorRetryHandler


def _retry_after(headers: Mapping[str, list[str] | str]) -> int:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return int(raw)
            except (TypeError, ValueError):
                return MAX_RETRY_AFTER_SECONDS + 1
    return 1


def web_client() -> WebClient:
    """A Web API client for connection ``slack_api_default``, through the Slack provider's hook, with
    :func:`retry_handlers`."""
    from airflow.providers.slack.hooks.slack import SlackHook

    quiet_body_loggers()
    client = SlackHook(
        slack_conn_id=config.SLACK_CONN_ID, retry_handlers=retry_handlers(), ssl=tls.client_context()
    ).client
    config.refuse_demo_secret(f"connection '{config.SLACK_CONN_ID}' (the bot token)", client.token)
    return client


def webhook(response_url: str) -> WebhookClient:
    """A client for one interaction's ``response_url`` (ephemeral notes, replacing the clicked message)."""
    from slack_sdk.webhook import WebhookClient

    quiet_body_loggers()
    return WebhookClient(
        response_url, timeout=WEBHOOK_TIMEOUT_SECONDS, retry_handlers=retry_handlers(), ssl=tls.client_context()
    )
