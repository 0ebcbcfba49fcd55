"""Where a request stands, as the requester's status page says it: no personal data, only dates and the state.

"received" (the run has not registered it yet, or it is registered), "verifying" (the officer's review), "preparing"
(approved, the answer is being built), "answered on …" (report or rejection sent), "extended to …, because …"
(§7021(b): the one extension and its reason), "linked" (answered with the earlier open request).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from include.store import ComplianceStore, RequestRecord, Status


@dataclass(frozen=True)
class State:
    kind: str  # received | registering | verifying | preparing | answered | extended | linked
    received_at: datetime | None = None
    due_at: datetime | None = None
    answered_at: datetime | None = None
    reason: str | None = None


def state_of(record: RequestRecord | None) -> State:
    if record is None:
        return State("registering")
    status = Status(record.status)
    if status in (Status.COMPLETED, Status.REJECTED_NOTIFIED):
        return State("answered", received_at=record.received_at, answered_at=record.closed_at)
    if status is Status.LINKED_DUPLICATE or record.linked_to:
        return State("linked", received_at=record.received_at)
    if record.extended_at is not None:
        return State(
            "extended", received_at=record.received_at, due_at=record.due_at, reason=record.extension_reason or ""
        )
    kind = {Status.RECEIVED: "received", Status.AWAITING_DECISION: "verifying"}.get(status, "preparing")
    return State(kind, received_at=record.received_at, due_at=record.due_at)


def status_of(run_id: str, store: ComplianceStore | None = None) -> State:
    store = store or ComplianceStore.from_connection()
    return state_of(store.find_by_run_id(run_id))
