"""How long the request DAG's tasks keep retrying, as numbers the DAG file reads at parse time.

A MariaDB restart, an SMTP outage or a datastore failover must not fail every run in flight (issue 18): the tasks
that are safe to run again (idempotent: an extraction rewrites its file, a report is rebuilt, every email is
claimed in the compliance store before it is sent, so a retry never sends twice) keep retrying for about an hour,
with back-off doubling from the retry delay up to :data:`MAX_RETRY_DELAY`. The Slack-facing tasks keep theirs
(:data:`SLACK_TASK_RETRIES`, about 3.5 hours).

Airflow computes each wait itself (``TaskInstance.next_retry_datetime``): ``delay × 2^(try-1)`` rounded up to whole
seconds (at least 1), plus a deterministic jitter of up to as much again, capped by ``max_retry_delay``.
:func:`minimum_waits` is the jitter-free lower bound, which is what the budget is measured against.
"""

from __future__ import annotations

import math
import os
from datetime import timedelta
from typing import Any

#: Environment knobs (read when the DAG file is parsed, like the datastore registry): the first retry's delay and
#: how long the idempotent tasks keep retrying.
ENV_RETRY_DELAY_SECONDS = "CCPA_RETRY_DELAY_SECONDS"
ENV_RETRY_BUDGET_SECONDS = "CCPA_RETRY_BUDGET_SECONDS"

DEFAULT_RETRY_DELAY = timedelta(seconds=20)
#: About an hour: longer than a database restart or failover, an SMTP relay's maintenance window or a datastore's
#: brief outage; short enough that a real failure reaches the officers the same hour.
DEFAULT_RETRY_BUDGET = timedelta(hours=1)
MAX_RETRY_DELAY = timedelta(minutes=10)
BACKOFF_MULTIPLIER = 2.0
#: Slack-facing tasks outlast a Slack outage: back-off doubling up to 10 minutes, about 3.5 hours in all.
SLACK_TASK_RETRIES = 24


def _seconds(env: str, default: timedelta) -> timedelta:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"environment variable {env} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"environment variable {env} must be positive, got {raw!r}")
    return timedelta(seconds=value)


def retry_delay() -> timedelta:
    return _seconds(ENV_RETRY_DELAY_SECONDS, DEFAULT_RETRY_DELAY)


def retry_budget() -> timedelta:
    return _seconds(ENV_RETRY_BUDGET_SECONDS, DEFAULT_RETRY_BUDGET)


def minimum_waits(
    retries: int,
    delay: timedelta,
    max_delay: timedelta = MAX_RETRY_DELAY,
    multiplier: float = BACKOFF_MULTIPLIER,
) -> list[timedelta]:
    """The waits before each retry without Airflow's jitter (which adds up to as much again, under the cap)."""
    waits = []
    for try_number in range(1, retries + 1):
        base = max(1, math.ceil(delay.total_seconds() * multiplier ** (try_number - 1)))
        waits.append(min(timedelta(seconds=base), max_delay))
    return waits


def retries_within(
    budget: timedelta,
    delay: timedelta,
    max_delay: timedelta = MAX_RETRY_DELAY,
    multiplier: float = BACKOFF_MULTIPLIER,
) -> int:
    """The fewest retries whose back-off adds up to ``budget`` (at least 1)."""
    retries, total = 0, timedelta(0)
    while total < budget:
        retries += 1
        total = sum(minimum_waits(retries, delay, max_delay, multiplier), timedelta(0))
    return max(retries, 1)


def idempotent_task_retries() -> int:
    """Retries of the idempotent tasks: about :func:`retry_budget` of back-off (10 with the defaults)."""
    return retries_within(retry_budget(), retry_delay())


def retry_policy() -> Any:
    """What retrying cannot fix fails at once instead of after an hour: an email claimed and never confirmed
    (``DeliveryInDoubt``: sending again could send twice; an officer must check the mail server's log). Everything
    else follows the back-off above (Airflow's ``ExceptionRetryPolicy``, evaluated in the task's process)."""
    from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule

    return ExceptionRetryPolicy(
        rules=[
            RetryRule(
                exception="include.store.DeliveryInDoubt",
                action=RetryAction.FAIL,
                reason="an email in doubt is never sent again: check the mail server's log",
            )
        ]
    )
