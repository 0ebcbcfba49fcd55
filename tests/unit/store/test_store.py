"""The compliance store on the real MariaDB: idempotent registration, one decision, one delivery."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from include.request import AccessRequest
from include.store import ComplianceStore, DeliveryInDoubt, UnknownRequest

REQUEST = AccessRequest("Jane Doe", "jane@example.com", "https://x.example/id")
RECEIVED = datetime(2026, 11, 27, 10, 30, 15, 123456, tzinfo=UTC)


def test_schema_creation_is_idempotent(compliance_store):
    ComplianceStore(compliance_store.engine)
    compliance_store._ensure_schema()
    from include.store import metadata

    metadata.create_all(compliance_store.engine, checkfirst=True)


def test_a_new_process_checks_the_schema_with_one_query_and_creates_what_is_missing(compliance_store, monkeypatch):
    """Every task process opens the store: on a ready database that costs one query (it was one per table)."""
    from sqlalchemy import event, inspect, text

    from include import store as module

    engine = compliance_store.engine
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        monkeypatch.setattr(module, "_schema_ready", set())  # as in a freshly started task process
        ComplianceStore(engine)
        assert len(statements) == 1

        with engine.begin() as conn:
            conn.execute(text("DROP TABLE ccpa_deliveries"))
        monkeypatch.setattr(module, "_schema_ready", set())
        ComplianceStore(engine)
        assert "ccpa_deliveries" in inspect(engine).get_table_names()
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_registering_twice_for_one_run_gives_one_request(compliance_store):
    first = compliance_store.register_request("run-1", REQUEST, RECEIVED)
    again = compliance_store.register_request("run-1", REQUEST, RECEIVED)
    assert first.request_id == again.request_id
    assert first.received_at == RECEIVED  # microseconds and zone survive MariaDB
    assert first.due_at.date().isoformat() == "2027-01-11"
    assert [e["event"] for e in compliance_store.audit_trail(first.request_id)] == ["request_received"]


def test_concurrent_registration_for_one_run_gives_one_request(compliance_store):
    with ThreadPoolExecutor(8) as pool:
        ids = set(
            pool.map(lambda _: compliance_store.register_request("run-c", REQUEST, RECEIVED).request_id, range(8))
        )
    assert len(ids) == 1


def test_concurrent_decisions_give_exactly_one(compliance_store):
    request_id = compliance_store.register_request("run-2", REQUEST, RECEIVED).request_id

    def decide(i):
        return compliance_store.record_decision(request_id, "approve" if i % 2 else "reject", f"U{i:03d}")

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(decide, range(32)))
    made = [d for d, created in results if created]
    assert len(made) == 1
    assert {(d.action, d.decided_by) for d, _ in results} == {(made[0].action, made[0].decided_by)}
    events = [e["event"] for e in compliance_store.audit_trail(request_id)]
    assert events.count("decision_recorded") == 1
    assert events.count("duplicate_decision_ignored") == 31


def test_decision_on_unknown_request_raises(compliance_store):
    with pytest.raises(UnknownRequest):
        compliance_store.record_decision("0" * 32, "approve", "U1")


def test_delivery_is_claimed_once(compliance_store):
    request_id = compliance_store.register_request("run-3", REQUEST, RECEIVED).request_id
    assert compliance_store.claim_delivery(request_id, "report", "<m1@x>") is None
    with pytest.raises(DeliveryInDoubt):
        compliance_store.claim_delivery(request_id, "report", "<m2@x>")
    compliance_store.confirm_delivery(request_id, "report", "<m1@x>")
    assert compliance_store.claim_delivery(request_id, "report", "<m3@x>") == "<m1@x>"


def test_released_delivery_can_be_claimed_again(compliance_store):
    request_id = compliance_store.register_request("run-4", REQUEST, RECEIVED).request_id
    assert compliance_store.claim_delivery(request_id, "report", "<m1@x>") is None
    compliance_store.release_delivery(request_id, "report")
    assert compliance_store.claim_delivery(request_id, "report", "<m2@x>") is None


def test_audit_detail_holds_no_personal_data(compliance_store):
    record = compliance_store.register_request("run-5", REQUEST, RECEIVED)
    compliance_store.set_review_prompt(record.request_id, "C123", "1.2")
    compliance_store.record_decision(record.request_id, "approve", "U1")
    trail = str(compliance_store.audit_trail(record.request_id))
    assert "jane" not in trail.lower()


def test_connection_lookups_are_reused_for_a_minute(compliance_store, monkeypatch):
    """A poll a second per waiting request must not be a secrets-backend lookup a second."""
    from include import db

    db.dispose_all()
    calls = []
    real = db._connection_url
    monkeypatch.setattr(db, "_connection_url", lambda *a: calls.append(a) or real(*a))  # count, then do the real work
    for _ in range(50):
        ComplianceStore.from_connection()
    assert len(calls) == 1
    later = db._clock() + db.URL_TTL_SECONDS + 1
    monkeypatch.setattr(db, "_clock", lambda: later)  # a minute has passed
    ComplianceStore.from_connection()
    ComplianceStore.from_connection()
    assert len(calls) == 2


def test_waiting_states_is_one_query_of_decision_and_pending_extension_notice(compliance_store):
    from include.store import EXTENSION_NOTICE

    request_id = compliance_store.register_request("run-w", REQUEST, datetime.now(UTC)).request_id
    other = compliance_store.register_request("run-w2", REQUEST, datetime.now(UTC)).request_id

    def state(rid=request_id):
        return compliance_store.waiting_states([rid, other])[rid]

    assert state() == (None, False)
    compliance_store.extend(request_id, "U1", "more systems to search")
    assert state() == (None, True)
    compliance_store.claim_delivery(request_id, EXTENSION_NOTICE, "<n@x>")
    compliance_store.confirm_delivery(request_id, EXTENSION_NOTICE, "<n@x>")
    assert state() == (None, False)
    compliance_store.record_decision(request_id, "reject", "U1", reason="cannot verify")
    decision, pending = state()
    assert (decision.action, decision.decided_by, decision.reason, pending) == ("reject", "U1", "cannot verify", False)
    assert state(other) == (None, False)  # one query answers for every id asked
    assert "0" * 32 not in compliance_store.waiting_states(["0" * 32, request_id])  # unknown ids are left out


def test_a_decision_made_before_the_prompt_is_recorded_is_never_undone(compliance_store):
    """The prompt is live as soon as Slack answers: an officer can click before post_review_prompt records it."""
    from include.request import AccessRequest
    from include.store import Status

    request_id = compliance_store.register_request(
        "manual__fast_click", AccessRequest("Jane Doe", "jane@example.com", "https://x.example/id"), datetime.now(UTC)
    ).request_id
    compliance_store.record_decision(request_id, "approve", "U0APPROVER")
    compliance_store.set_review_prompt(request_id, "C0REVIEW", "1700000000.000100")
    record = compliance_store.get_request(request_id)
    assert record.status == Status.APPROVED and record.slack_ts == "1700000000.000100"
