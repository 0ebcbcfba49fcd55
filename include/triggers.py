"""Triggers: how a request waits for its decision without holding a worker slot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from include.config import COMPLIANCE_CONN_ID


def _fetch_state(conn_id: str, request_id: str) -> tuple[dict[str, Any] | None, bool]:
    """(the decision if any, whether an extension was granted whose notice is not sent yet)."""
    from include.compliance_store import ComplianceStore

    decision, extension_pending = ComplianceStore.from_connection(conn_id).waiting_state(request_id)
    return (None if decision is None else decision.to_dict()), extension_pending


class DecisionTrigger(BaseTrigger):
    """Fires once the Slack callback has written a decision for ``request_id`` to the compliance store, when an
    officer extended the deadline (the requester must be told), or when a nudge (``nudge_kind``, due at
    ``nudge_at``, ISO 8601) must be posted to the officers.

    Polls with a pooled connection in a thread (``sync_to_async``), so the triggerer's event loop never blocks;
    hundreds of waiting requests cost one small query each per interval.
    """

    def __init__(
        self,
        request_id: str,
        poll_interval: float = 5.0,
        conn_id: str = COMPLIANCE_CONN_ID,
        nudge_kind: str | None = None,
        nudge_at: str | None = None,
    ) -> None:
        super().__init__()
        self.request_id = request_id
        self.poll_interval = poll_interval
        self.conn_id = conn_id
        self.nudge_kind = nudge_kind
        self.nudge_at = nudge_at

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "request_id": self.request_id,
                "poll_interval": self.poll_interval,
                "conn_id": self.conn_id,
                "nudge_kind": self.nudge_kind,
                "nudge_at": self.nudge_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        fetch = sync_to_async(_fetch_state, thread_sensitive=False)
        nudge_at = datetime.fromisoformat(self.nudge_at) if self.nudge_at else None
        failures = 0
        while True:
            try:
                decision, extension_pending = await fetch(self.conn_id, self.request_id)
                failures = 0
            except Exception:
                # The store being briefly unreachable is not a reason to lose a 45-day wait: keep polling.
                failures += 1
                self.log.warning("Compliance store unreachable (attempt %d); polling again", failures, exc_info=True)
                decision, extension_pending = None, False
            if decision is not None:
                self.log.info("Decision for request %s: %s", self.request_id, decision["action"])
                yield TriggerEvent({"status": "decided", "decision": decision})
                return
            if extension_pending:
                yield TriggerEvent({"status": "extended"})
                return
            if nudge_at is not None and datetime.now(UTC) >= nudge_at:
                yield TriggerEvent({"status": "nudge", "kind": self.nudge_kind})
                return
            await asyncio.sleep(self.poll_interval)
