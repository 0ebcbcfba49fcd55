"""The deferrable wait for an officer's decision."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NoReturn

from airflow.providers.standard.operators.branch import BranchMixIn
from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from include import config, law
from include.decision import reminders
from include.store import APPROVE, ComplianceStore, utcnow

log = logging.getLogger(__name__)

#: A request whose legal deadline is (almost) past still gets this long before the sensor gives up.
MIN_WAIT = timedelta(minutes=10)
#: A reminder or extension notice that failed inside the wait is tried again after this long (the wait goes on).
BEST_EFFORT_RETRY = timedelta(minutes=15)


class DecisionWindowClosed(AirflowFailException):
    """No decision came before the margin kept ahead of the due date (``ccpa_decision_margin_days``): the wait ends,
    the officers were alerted (Slack and email), and the request stays open for a late decision or its expiry."""


def window_end(due_at: datetime) -> datetime:
    """When the wait for a decision ends: ``ccpa_decision_margin_days`` before the due date, leaving the time to
    build and send a report after a last-minute approval."""
    return due_at - timedelta(days=config.decision_margin_days())


class WaitForDecisionSensor(BaseSensorOperator, BranchMixIn):
    """Waits, deferred, until the request has a decision; returns the decision (no personal data) as XCom.

    Given ``approve_branch`` and ``reject_branch`` (task or task-group ids), it also follows the decision, as
    Airflow's own ``HITLBranchOperator`` does: the other branch is skipped. A separate branch task would cost every
    approved request one more task process and scheduling round (~1.3 s of its click-to-email time, measured in
    docs/benchmarks.md).

    The wait ends a margin (``ccpa_decision_margin_days``, default 3) before the request's legal due date, not
    after a fixed time: the officers are then alerted in Slack and by email and the task fails (no retry); a
    decision made later is acted on by clearing the task, and an undecided request expires at its due date (the
    daily watch). On the way, the trigger wakes the
    sensor for a moment to post the reminder and the escalation (``nudge``) in the prompt's thread.
    """

    inherits_from_skipmixin = True
    template_fields = ("request_id", "request")
    ui_color = "#ffe8b3"

    def __init__(
        self,
        *,
        request_id: str | None = None,
        request: Any = None,
        approve_branch: str | Iterable[str] | None = None,
        reject_branch: str | Iterable[str] | None = None,
        conn_id: str = config.COMPLIANCE_CONN_ID,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        """``request_id``, or ``request``: the registering task's whole output (a mapping with ``request_id``), which
        the DAG passes so that task pushes one XCom instead of one per key."""
        if (request_id is None) == (request is None):
            raise ValueError("WaitForDecisionSensor needs request_id or request (not both)")
        kwargs.setdefault("timeout", law.RESPONSE_PERIOD.total_seconds())
        super().__init__(**kwargs)
        # Until rendered, a DAG's sensor has only the XCom reference in ``request``; "" stands for its id.
        self.request_id: str = request_id or ""
        self.request = request
        self.approve_branch = approve_branch
        self.reject_branch = reject_branch
        self.conn_id = conn_id
        self.deferrable = deferrable

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        super().render_template_fields(context, jinja_env)
        if self.request is not None:  # resolved from XCom now: the id every step below uses
            self.request_id = self.request["request_id"]

    @property
    def store(self) -> ComplianceStore:
        return ComplianceStore.from_connection(self.conn_id)

    def _decision(self) -> dict[str, Any] | None:
        decision = self.store.get_decision(self.request_id)
        return None if decision is None else decision.to_dict()

    def poke(self, context: Any) -> bool:
        return self._decision() is not None

    def execute(self, context: Any) -> dict[str, Any]:
        decision = self._decision()
        if decision is not None:  # decided before we even waited: no trip through the triggerer
            return self._follow(context, decision)
        if not self.deferrable:
            super().execute(context)  # pokes until decided (or times out)
            decided = self._decision()
            if decided is None:
                raise AirflowException(f"request {self.request_id}: the wait ended without a decision")
            return self._follow(context, decided)
        self._defer()

    def _defer(self, hold_until: str | None = None) -> NoReturn:
        # Imported here: every task process parses the DAG file, only this one defers (Airflow's trigger base ~12 ms).
        from include.decision.trigger import DecisionTrigger

        store = self.store
        record = store.get_request(self.request_id)
        ends = window_end(record.due_at)
        if utcnow() >= ends:
            self._window_closed()
        nudge = reminders.next_nudge(
            record.received_at, record.due_at, reminders.reminder_hours(), store.done_kinds(self.request_id)
        )
        self.defer(
            trigger=DecisionTrigger(
                request_id=self.request_id,
                poll_interval=config.poll_seconds(),
                conn_id=self.conn_id,
                nudge_kind=nudge[0] if nudge else None,
                nudge_at=nudge[1].isoformat() if nudge else None,
                hold_until=hold_until,
                window_ends_at=ends.isoformat(),
            ),
            method_name="execute_complete",
            # A backstop only: the trigger ends the wait at ``ends``.
            timeout=max(record.due_at - utcnow(), MIN_WAIT),
        )
        raise AssertionError("defer() raises TaskDeferred")  # pragma: no cover

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        event = event or {}
        status = event.get("status")
        if status == "decided":
            return self._follow(context, event["decision"])
        if status == "window_closed":
            decision = self._decision()
            if decision is not None:
                return self._follow(context, decision)
            self._defer()  # an extension may have moved the window: wait on, or close it there
        if status in ("nudge", "extended"):
            hold_until = self._best_effort(event or {})
            decision = self._decision()
            if decision is not None:
                return self._follow(context, decision)
            self._defer(hold_until)  # the timeout follows the (possibly extended) due date
        raise AirflowException(f"unexpected event while waiting for a decision: {event!r}")

    def _window_closed(self) -> NoReturn:
        from include.tasks import access_request as workflow

        workflow.escalate_undecided(self.request_id)
        raise DecisionWindowClosed(
            f"no decision for request {self.request_id} within the margin before its due date: officers alerted"
        )

    def _best_effort(self, event: dict[str, Any]) -> str | None:
        """Post the nudge or send the extension notice; a failure must not end the 45-day wait (a retried sensor
        would fire the same nudge again within seconds and spend its retries in minutes). It is logged, recorded in
        the audit trail, the officers are emailed (once), and it is tried again after :data:`BEST_EFFORT_RETRY`.
        Returns when the wait may fire again (ISO 8601), or None."""
        from include.tasks import access_request as workflow

        what = f"the {event.get('kind')} in Slack" if event["status"] == "nudge" else "the extension notice"
        try:
            if event["status"] == "nudge":
                workflow.post_nudge(self.request_id, event["kind"])
            else:
                workflow.send_extension_notice(self.request_id)
            return None
        except Exception as exc:
            retry_at = utcnow() + BEST_EFFORT_RETRY
            log.error(
                "Could not post %s for request %s (%s); the wait goes on, next try at %s",
                what,
                self.request_id,
                type(exc).__name__,
                retry_at.isoformat(timespec="seconds"),
            )
            store = self.store
            store.audit(
                self.request_id,
                "nudge_failed" if event["status"] == "nudge" else "extension_notice_failed",
                detail={"kind": event.get("kind"), "error": type(exc).__name__, "retry_at": retry_at.isoformat()},
            )
            try:
                record = store.get_request(self.request_id)
                workflow.alert_slack_unusable(
                    store,
                    record,
                    f"{what} could not be sent ({type(exc).__name__}); it is tried again every "
                    f"{int(BEST_EFFORT_RETRY.total_seconds() // 60)} minutes while the request waits",
                    None,
                    once_key=f"alert_{event.get('kind') or 'extension'}",
                    subject="Reminder failed" if event["status"] == "nudge" else "Extension notice failed",
                )
            except Exception:
                log.exception("Could not alert the officers either")
            return retry_at.isoformat()

    def _follow(self, context: Any, decision: dict[str, Any]) -> dict[str, Any]:
        """Return the decision; with branches set, also skip the branch not taken."""
        if self.approve_branch is None and self.reject_branch is None:
            return decision
        # Skipping ends the task by exception, before Airflow would push the return value: push it first.
        context["ti"].xcom_push(key="return_value", value=decision)
        self.do_branch(context, self.approve_branch if decision["action"] == APPROVE else self.reject_branch)
        return decision
