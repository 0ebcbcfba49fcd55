"""Triggers: how a request waits for its decision without holding a worker slot."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent
from asgiref.sync import sync_to_async

from include.config import COMPLIANCE_CONN_ID

log = logging.getLogger(__name__)


#: What a waiting request looks like to its trigger: (the decision as a dict, or None; whether an extension was
#: granted whose notice is not sent yet). ``None`` instead of the pair: the store could not be asked this round.
State = tuple[dict[str, Any] | None, bool]


def _fetch_states(conn_id: str, request_ids: list[str]) -> dict[str, State]:
    from include.store import ComplianceStore

    states = ComplianceStore.from_connection(conn_id).waiting_states(request_ids)
    return {rid: (None if d is None else d.to_dict(), pending) for rid, (d, pending) in states.items()}


class SharedPoller:
    """One query per interval for every request waiting in this triggerer, instead of one per request.

    Each trigger awaits :meth:`next_state` once per round; the poller asks the store about all of them together
    (``IN (…)``), in a thread so the event loop never blocks, and stops when nobody waits. 100 triggers polling on
    their own cost the triggerer a quarter of a core at a 1 s interval (docs/benchmarks.md).
    """

    _pollers: ClassVar[dict[tuple[str, float], SharedPoller]] = {}
    #: One round's query may take this long (a half-open connection would otherwise stall every waiting request of
    #: the triggerer); then the round counts as failed and the next one starts on a fresh connection.
    fetch_timeout: ClassVar[float] = 30.0

    def __init__(self, conn_id: str, interval: float) -> None:
        self.conn_id = conn_id
        self.interval = interval
        self.loop = asyncio.get_running_loop()
        self.waiters: dict[str, list[asyncio.Future[State | None]]] = {}
        self.task: asyncio.Task[None] | None = None

    @classmethod
    def for_(cls, conn_id: str, interval: float) -> SharedPoller:
        """The poller of this event loop for ``conn_id`` and ``interval``."""
        key = (conn_id, interval)
        poller = cls._pollers.get(key)
        if poller is None or poller.loop is not asyncio.get_running_loop():
            poller = cls._pollers[key] = cls(conn_id, interval)
        return poller

    async def next_state(self, request_id: str) -> State | None:
        """The request's state at the next round (``None``: the store was unreachable, or does not know it)."""
        future: asyncio.Future[State | None] = self.loop.create_future()
        self.waiters.setdefault(request_id, []).append(future)
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run())
        try:
            return await future
        finally:  # also when the trigger is cancelled while it waits
            mine = self.waiters.get(request_id, [])
            if future in mine:
                mine.remove(future)
                if not mine:
                    del self.waiters[request_id]

    async def _run(self) -> None:
        fetch = sync_to_async(_fetch_states, thread_sensitive=False)
        failures = 0
        while self.waiters:
            asked, self.waiters = self.waiters, {}
            started = self.loop.time()
            try:
                states: dict[str, State] | None = await asyncio.wait_for(
                    fetch(self.conn_id, list(asked)), timeout=self.fetch_timeout
                )
                failures = 0
            except TimeoutError:
                failures += 1
                log.warning(
                    "Compliance store did not answer within %.0f s (attempt %d); polling again",
                    self.fetch_timeout,
                    failures,
                )
                states = None
            except Exception:
                # The store being briefly unreachable is not a reason to lose a 45-day wait: keep polling.
                failures += 1
                log.warning("Compliance store unreachable (attempt %d); polling again", failures, exc_info=True)
                states = None
            for request_id, futures in asked.items():
                state = None if states is None else states.get(request_id)
                for future in futures:
                    if not future.done():
                        future.set_result(state)
            # One round per interval, however long the query took (with 5,000 waiting a round's query takes a
            # third of a second: sleeping the whole interval after it made rounds 1.3 s apart at a 1 s interval);
            # a query slower than the interval still leaves the store a tenth of it between rounds.
            took = self.loop.time() - started
            await asyncio.sleep(max(self.interval - took, self.interval / 10))


#: The class path Airflow stores for a waiting request: the public re-export (include/triggers.py), stable across
#: layouts.
CLASSPATH = "include.triggers.DecisionTrigger"


class DecisionTrigger(BaseTrigger):
    """Fires once the Slack callback has written a decision for ``request_id`` to the compliance store, when an
    officer extended the deadline (the requester must be told), when the wait's window closes (``window_ends_at``,
    ISO 8601: the decision margin before the due date), or when a nudge (``nudge_kind``, due at
    ``nudge_at``, ISO 8601) must be posted to the officers.

    Polls through the triggerer's :class:`SharedPoller`: thousands of waiting requests cost one query per
    interval, run in a thread so the event loop never blocks.
    """

    def __init__(
        self,
        request_id: str,
        poll_interval: float = 5.0,
        conn_id: str = COMPLIANCE_CONN_ID,
        nudge_kind: str | None = None,
        nudge_at: str | None = None,
        hold_until: str | None = None,
        window_ends_at: str | None = None,
    ) -> None:
        super().__init__()
        self.window_ends_at = window_ends_at
        self.request_id = request_id
        self.poll_interval = poll_interval
        self.conn_id = conn_id
        self.nudge_kind = nudge_kind
        self.nudge_at = nudge_at
        #: ISO 8601: no nudge or extension event before then (a nudge or notice that just failed is retried later,
        #: not in a tight loop); a decision still fires at once.
        self.hold_until = hold_until

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "request_id": self.request_id,
            "poll_interval": self.poll_interval,
            "conn_id": self.conn_id,
            "nudge_kind": self.nudge_kind,
            "nudge_at": self.nudge_at,
        }
        if self.hold_until:  # only when set: triggers serialised before it existed stay identical
            kwargs["hold_until"] = self.hold_until
        if self.window_ends_at:  # likewise
            kwargs["window_ends_at"] = self.window_ends_at
        return CLASSPATH, kwargs

    async def run(self) -> AsyncIterator[TriggerEvent]:
        nudge_at = datetime.fromisoformat(self.nudge_at) if self.nudge_at else None
        hold_until = datetime.fromisoformat(self.hold_until) if self.hold_until else None
        window_ends_at = datetime.fromisoformat(self.window_ends_at) if self.window_ends_at else None
        while True:
            state = await SharedPoller.for_(self.conn_id, self.poll_interval).next_state(self.request_id)
            decision, extension_pending = state if state is not None else (None, False)
            if decision is not None:
                self.log.info("Decision for request %s: %s", self.request_id, decision["action"])
                yield TriggerEvent({"status": "decided", "decision": decision})
                return
            if window_ends_at is not None and datetime.now(UTC) >= window_ends_at:  # not held back: the deadline
                yield TriggerEvent({"status": "window_closed"})
                return
            if hold_until is not None and datetime.now(UTC) < hold_until:
                continue
            if extension_pending:
                yield TriggerEvent({"status": "extended"})
                return
            if nudge_at is not None and datetime.now(UTC) >= nudge_at:
                yield TriggerEvent({"status": "nudge", "kind": self.nudge_kind})
                return
