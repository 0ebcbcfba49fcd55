"""Retry budgets: the idempotent tasks outlast a MariaDB restart or an SMTP outage (about an hour of back-off), the
Slack-facing ones a Slack outage (hours). The waits are computed by Airflow's own ``next_retry_datetime``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from include import retries
from tests.conftest import ROOT

IDEMPOTENT = (
    "validate_request",
    "send_acknowledgement",
    "wait_for_decision",
    "aggregate_personal_data.extract_crm",
    "aggregate_personal_data.extract_orders",
    "aggregate_personal_data.extract_web",
    "build_report",
    "send_report",
    "send_rejection",
)
SLACK_FACING = ("post_review_prompt", "close_review_prompt")


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(ROOT / "dags")).dags["ccpa_right_of_access"]


def airflow_waits(task) -> list[timedelta]:
    """The wait before each retry of ``task``, as the scheduler computes it (jitter included)."""
    from airflow.models.taskinstance import TaskInstance

    end = datetime(2026, 1, 5, tzinfo=UTC)
    waits = []
    for try_number in range(1, task.retries + 1):
        ti = SimpleNamespace(
            task=task,
            try_number=try_number,
            end_date=end,
            retry_delay_override=None,
            dag_id="ccpa_right_of_access",
            task_id=task.task_id,
            logical_date=None,
            log=logging.getLogger("test"),
        )
        waits.append(TaskInstance.next_retry_datetime(ti) - end)  # type: ignore[arg-type]
    return waits


@pytest.mark.parametrize("task_id", IDEMPOTENT)
def test_idempotent_tasks_retry_for_about_an_hour_with_exponential_back_off(dag, task_id):
    task = dag.get_task(task_id)
    waits = airflow_waits(task)
    total = sum(waits, timedelta(0))
    assert timedelta(minutes=55) <= total <= timedelta(minutes=80), total
    assert waits[0] < timedelta(minutes=1), "a blip is retried at once"
    assert waits[1] > waits[0] and waits[2] > waits[1], "the back-off grows"
    assert max(waits) <= timedelta(minutes=10), "never more than 10 minutes between tries"


@pytest.mark.parametrize("task_id", SLACK_FACING)
def test_slack_facing_tasks_retry_for_hours(dag, task_id):
    total = sum(airflow_waits(dag.get_task(task_id)), timedelta(0))
    assert total >= timedelta(hours=3), total


def test_the_budget_follows_the_environment_knobs(monkeypatch):
    assert retries.idempotent_task_retries() == 10  # 20 s doubling to 10 minutes: 60 min 20 s without jitter
    monkeypatch.setenv(retries.ENV_RETRY_DELAY_SECONDS, "0.2")
    monkeypatch.setenv(retries.ENV_RETRY_BUDGET_SECONDS, "3")
    assert retries.idempotent_task_retries() == 3  # waits are whole seconds, at least 1
    monkeypatch.setenv(retries.ENV_RETRY_BUDGET_SECONDS, "soon")
    with pytest.raises(ValueError, match="CCPA_RETRY_BUDGET_SECONDS"):
        retries.retry_budget()


def test_an_email_in_doubt_fails_at_once_instead_of_retrying_for_an_hour(dag):
    from airflow.sdk import RetryAction
    from sqlalchemy.exc import OperationalError

    from include.store import DeliveryInDoubt

    policy = dag.get_task("send_report").retry_policy
    assert policy.evaluate(DeliveryInDoubt("claimed, never confirmed"), 1, 11).action == RetryAction.FAIL
    lost = OperationalError("UPDATE", {}, Exception(2013, "Lost connection to server during query"))
    assert policy.evaluate(lost, 1, 11).action == RetryAction.DEFAULT, "a lost connection is retried"
