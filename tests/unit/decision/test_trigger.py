"""DecisionTrigger: plain serialisation, and an async run that fires once the decision is in the store."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from include.decision.trigger import DecisionTrigger
from include.request import AccessRequest

AT = "2026-11-28T10:00:00+00:00"


def test_serializes_plain_secret_free_kwargs():
    trigger = DecisionTrigger(
        request_id="abc", poll_interval=2.5, conn_id="ccpa_compliance_db", nudge_kind="reminder", nudge_at=AT
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "include.triggers.DecisionTrigger"
    assert kwargs == {
        "request_id": "abc",
        "poll_interval": 2.5,
        "conn_id": "ccpa_compliance_db",
        "nudge_kind": "reminder",
        "nudge_at": AT,
    }
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert DecisionTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_fires_once_decided_without_blocking_the_event_loop(compliance_store):
    request_id = compliance_store.register_request(
        "manual__trigger", AccessRequest("Jane Doe", "jane@example.com", "https://x.example/id"), datetime.now(UTC)
    ).request_id
    trigger = DecisionTrigger(request_id=request_id, poll_interval=0.05)

    async def scenario():
        ticks = 0
        stop = asyncio.Event()

        async def heartbeat():  # would starve if a poll blocked the loop
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        beat = asyncio.create_task(heartbeat())
        run = trigger.run()
        first = asyncio.create_task(run.__anext__())
        await asyncio.sleep(0.3)
        assert not first.done(), "no decision yet: the trigger must keep waiting"
        await asyncio.to_thread(compliance_store.record_decision, request_id, "reject", "U0APPROVER")
        event = await asyncio.wait_for(first, timeout=5)
        stop.set()
        await beat
        return event, ticks

    event, ticks = asyncio.run(scenario())
    assert event.payload["status"] == "decided"
    assert event.payload["decision"]["action"] == "reject"
    assert event.payload["decision"]["decided_by"] == "U0APPROVER"
    assert "jane" not in str(event.payload).lower()
    assert ticks > 20


def test_keeps_polling_while_the_store_is_unreachable(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_BROKEN_STORE", "mysql://root@127.0.0.1:1/nowhere")
    trigger = DecisionTrigger(request_id="x" * 32, poll_interval=0.05, conn_id="broken_store")

    async def scenario():
        task = asyncio.create_task(trigger.run().__anext__())
        await asyncio.sleep(0.5)
        alive = not task.done()
        task.cancel()
        return alive

    assert asyncio.run(scenario()), "a store outage must not end a 45-day wait"


def test_many_waiting_requests_share_one_query_per_round(compliance_store, monkeypatch):
    from include.decision import trigger as triggers

    ids = [
        compliance_store.register_request(
            f"manual__shared_{n}",
            AccessRequest("Jane Doe", f"jane{n}@example.com", "https://x.example/id"),
            datetime.now(UTC),
        ).request_id
        for n in range(20)
    ]
    asked: list[list[str]] = []
    real = triggers._fetch_states

    def counting(conn_id, request_ids):
        asked.append(sorted(request_ids))
        return real(conn_id, request_ids)

    monkeypatch.setattr(triggers, "_fetch_states", counting)

    async def scenario():
        waits = {
            rid: asyncio.create_task(DecisionTrigger(request_id=rid, poll_interval=0.05).run().__anext__())
            for rid in ids
        }
        await asyncio.sleep(0.4)
        assert not any(t.done() for t in waits.values())
        await asyncio.to_thread(compliance_store.record_decision, ids[3], "approve", "U0APPROVER")
        event = await asyncio.wait_for(waits.pop(ids[3]), timeout=5)
        await asyncio.sleep(0.2)
        still_waiting = not any(t.done() for t in waits.values())
        for t in waits.values():
            t.cancel()
        await asyncio.gather(*waits.values(), return_exceptions=True)
        return event, still_waiting

    event, still_waiting = asyncio.run(scenario())
    assert event.payload["status"] == "decided" and event.payload["decision"]["request_id"] == ids[3]
    assert still_waiting, "one decision wakes only its own request"
    assert len(asked) >= 5, "the poller keeps polling every interval"
    assert all(len(round_) <= 20 for round_ in asked)
    assert sum(len(round_) == 20 for round_ in asked) >= 4, "rounds ask about all waiting requests at once"
    # 20 triggers over ~0.6 s at 0.05 s each would be ~240 queries one by one; shared: one per round.
    assert len(asked) < 25


def test_a_stalled_poll_times_out_and_the_wait_goes_on(compliance_store, monkeypatch):
    """A half-open connection: the shared poll's query never returns. The round fails after fetch_timeout, the
    event loop stays free, and the next round (the store answering again) delivers the decision."""
    import threading

    from include.decision import trigger as module

    request_id = compliance_store.register_request(
        "manual__stall", AccessRequest("Jane Doe", "jane@example.com", "https://x.example/id"), datetime.now(UTC)
    ).request_id
    compliance_store.record_decision(request_id, "approve", "U0APPROVER")
    real = module._fetch_states
    stalled = threading.Event()
    release = threading.Event()

    def stall_once(conn_id, request_ids):
        if not stalled.is_set():
            stalled.set()
            release.wait(10)  # hangs like a read on a dead connection
        return real(conn_id, request_ids)

    monkeypatch.setattr(module, "_fetch_states", stall_once)
    monkeypatch.setattr(module.SharedPoller, "fetch_timeout", 0.3)
    trigger = DecisionTrigger(request_id=request_id, poll_interval=0.05)

    async def scenario():
        started = asyncio.get_running_loop().time()
        event = await asyncio.wait_for(trigger.run().__anext__(), timeout=5)
        return event, asyncio.get_running_loop().time() - started

    try:
        event, took = asyncio.run(scenario())
    finally:
        release.set()
    assert stalled.is_set() and event.payload["status"] == "decided"
    assert took < 2, f"a stalled round must not hold the wait: {took:.2f} s"


def test_a_trigger_stored_under_the_old_class_path_still_loads_and_runs(compliance_store):
    """A request deferred before include/ became packages waits with ``include.triggers.DecisionTrigger`` and its
    kwargs in Airflow's trigger table; the triggerer imports that path (import_string) and runs it after an upgrade."""
    from airflow._shared.module_loading import import_string  # what the triggerer uses

    request_id = compliance_store.register_request(
        "manual__old_path", AccessRequest("Jane Doe", "jane@example.com", "https://x.example/id"), datetime.now(UTC)
    ).request_id
    stored = ("include.triggers.DecisionTrigger", {"request_id": request_id, "poll_interval": 0.05})  # old kwargs
    trigger = import_string(stored[0])(**stored[1])
    compliance_store.record_decision(request_id, "approve", "U0APPROVER")

    async def first_event():
        return await asyncio.wait_for(trigger.run().__anext__(), timeout=5)

    event = asyncio.run(first_event())
    assert event.payload["status"] == "decided" and event.payload["decision"]["action"] == "approve"
    assert trigger.serialize()[0] == stored[0]


def test_the_shared_poll_keeps_its_interval_when_a_round_is_slow(compliance_store, monkeypatch):
    """Rounds start one interval apart: the time a round's query took comes off the pause after it (a queue of
    thousands makes each query take a while), and a query slower than the interval still leaves a tenth of it."""
    import time

    from include.decision import trigger as module

    request_id = compliance_store.register_request(
        "manual__slow_poll", AccessRequest("Jane Doe", "jane@example.com", "https://x.example/id"), datetime.now(UTC)
    ).request_id
    real = module._fetch_states

    def slow(conn_id, request_ids):
        time.sleep(0.08)  # most of the interval
        return real(conn_id, request_ids)

    monkeypatch.setattr(module, "_fetch_states", slow)
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds, *args, **kwargs):
        pauses.append(seconds)
        return await real_sleep(seconds, *args, **kwargs)

    monkeypatch.setattr(module.asyncio, "sleep", sleep)

    async def scenario():
        wait = asyncio.create_task(DecisionTrigger(request_id=request_id, poll_interval=0.1).run().__anext__())
        # Watch until a few rounds have run (about 0.3 s; up to 10 s when the host is busy or the first connection
        # is slow: a fixed 0.6 s window saw no round at all once in a CI run).
        deadline = time.monotonic() + 10
        while len(pauses) < 4 and time.monotonic() < deadline:
            await real_sleep(0.05)
        wait.cancel()
        await asyncio.gather(wait, return_exceptions=True)

    asyncio.run(scenario())
    assert len(pauses) >= 2
    assert all(0.01 - 1e-9 <= p < 0.1 for p in pauses), pauses  # never the whole interval after a slow query
