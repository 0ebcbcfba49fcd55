"""The deferrable wait for an officer's decision."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowException

from include import config
from include.compliance_store import ComplianceStore, utcnow
from include.triggers import DecisionTrigger

#: A request whose legal deadline is (almost) past still gets this long before the sensor gives up.
MIN_WAIT = timedelta(minutes=10)


class WaitForDecisionSensor(BaseSensorOperator):
    """Waits, deferred, until the request has a decision; returns the decision (no personal data) as XCom.

    The timeout is the request's legal due date, not a fixed number: a request waits at most until it is due.
    """

    template_fields = ("request_id",)
    ui_color = "#ffe8b3"

    def __init__(
        self,
        *,
        request_id: str,
        conn_id: str = config.COMPLIANCE_CONN_ID,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("timeout", timedelta(days=45).total_seconds())
        super().__init__(**kwargs)
        self.request_id = request_id
        self.conn_id = conn_id
        self.deferrable = deferrable

    def _decision(self) -> dict[str, Any] | None:
        decision = ComplianceStore.from_connection(self.conn_id).get_decision(self.request_id)
        return None if decision is None else decision.to_dict()

    def poke(self, context: Any) -> bool | Any:
        decision = self._decision()
        return decision is not None

    def execute(self, context: Any) -> dict[str, Any]:
        decision = self._decision()
        if decision is not None:  # decided before we even waited: no trip through the triggerer
            return decision
        if not self.deferrable:
            super().execute(context)
            return self._decision()
        store = ComplianceStore.from_connection(self.conn_id)
        remaining = store.get_request(self.request_id).due_at - utcnow()
        self.defer(
            trigger=DecisionTrigger(
                request_id=self.request_id, poll_interval=config.poll_seconds(), conn_id=self.conn_id
            ),
            method_name="execute_complete",
            timeout=max(remaining, MIN_WAIT),
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        if not event or event.get("status") != "decided":
            raise AirflowException(f"unexpected event while waiting for a decision: {event!r}")
        return event["decision"]
