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


# -- two-person approval ------------------------------------------------------------------------------------------


def _two_approvals(compliance_store, run_id: str = "run-two") -> str:
    return compliance_store.register_request(run_id, REQUEST, RECEIVED, required_approvals=2).request_id


def test_with_two_required_the_first_approval_is_pending_and_decides_nothing(compliance_store):
    request_id = _two_approvals(compliance_store)
    result = compliance_store.record_approval(request_id, "U0FIRST")
    assert (result.added, result.decided, result.decision, result.required) == (True, False, None, 2)
    assert result.approvers == ("U0FIRST",)
    assert compliance_store.get_decision(request_id) is None
    assert compliance_store.get_request(request_id).status == "received"


def test_the_same_officer_cannot_give_the_second_approval(compliance_store):
    request_id = _two_approvals(compliance_store)
    compliance_store.record_approval(request_id, "U0FIRST")
    again = compliance_store.record_approval(request_id, "U0FIRST")
    assert (again.added, again.decided, again.decision) == (False, False, None)
    assert again.approvers == ("U0FIRST",)
    events = [e["event"] for e in compliance_store.audit_trail(request_id)]
    assert events.count("approval_recorded") == 1 and "duplicate_approval_ignored" in events


def test_the_primary_key_refuses_a_second_row_for_the_same_officer(compliance_store):
    """The rule lives in the database: even a direct INSERT cannot record one officer twice."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from include.store.schema import approvals_table

    request_id = _two_approvals(compliance_store)
    row = {"request_id": request_id, "approver": "U0FIRST", "approved_at": RECEIVED.replace(tzinfo=None)}
    with compliance_store.engine.begin() as conn:
        conn.execute(insert(approvals_table).values(**row))
    with pytest.raises(IntegrityError), compliance_store.engine.begin() as conn:
        conn.execute(insert(approvals_table).values(**row))


def test_a_second_officer_completes_the_approval_and_both_are_recorded(compliance_store):
    request_id = _two_approvals(compliance_store)
    compliance_store.record_approval(request_id, "U0FIRST")
    second = compliance_store.record_approval(request_id, "U0SECOND")
    assert (second.added, second.decided) == (True, True)
    assert (second.decision.action, second.decision.decided_by) == ("approve", "U0SECOND")
    assert second.approvers == ("U0FIRST", "U0SECOND")
    assert compliance_store.get_request(request_id).status == "approved"
    [decided] = [e for e in compliance_store.audit_trail(request_id) if e["event"] == "decision_recorded"]
    assert decided["detail"] == {"action": "approve", "approvers": ["U0FIRST", "U0SECOND"]}
    late = compliance_store.record_approval(request_id, "U0THIRD")  # decided: a third click changes nothing
    assert (late.added, late.decided, late.approvers) == (False, False, ("U0FIRST", "U0SECOND"))


def test_a_reject_ends_a_pending_approval(compliance_store):
    request_id = _two_approvals(compliance_store)
    compliance_store.record_approval(request_id, "U0FIRST")
    decision, created = compliance_store.record_decision(request_id, "reject", "U0SECOND", reason="cannot verify")
    assert created and decision.action == "reject"
    after = compliance_store.record_approval(request_id, "U0THIRD")
    assert (after.added, after.decided, after.decision.action) == (False, False, "reject")
    assert compliance_store.get_request(request_id).status == "rejected"


def test_one_required_approval_decides_at_the_first_click(compliance_store):
    request_id = compliance_store.register_request("run-one", REQUEST, RECEIVED).request_id
    result = compliance_store.record_approval(request_id, "U0FIRST")
    assert (result.added, result.decided, result.decision.decided_by) == (True, True, "U0FIRST")


def test_twenty_concurrent_clicks_from_two_officers_give_one_decision_with_both_approvers(compliance_store):
    import threading

    request_id = _two_approvals(compliance_store, "run-storm")
    barrier = threading.Barrier(20)

    def click(i: int):
        barrier.wait()
        return compliance_store.record_approval(request_id, ("U0FIRST", "U0SECOND")[i % 2])

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(click, range(20)))
    assert sum(r.decided for r in results) == 1
    assert sum(r.added for r in results) == 2
    decision = compliance_store.get_decision(request_id)
    assert decision.action == "approve"
    assert {a.approver for a in compliance_store.approvals(request_id)} == {"U0FIRST", "U0SECOND"}
    events = [e["event"] for e in compliance_store.audit_trail(request_id)]
    assert events.count("decision_recorded") == 1 and events.count("approval_recorded") == 2


def test_the_decision_needs_the_approvals_in_the_database_not_a_python_count(compliance_store):
    """Two approvals required, one in the table: the INSERT ... SELECT ... HAVING writes no decision whoever asks."""
    from sqlalchemy import text

    request_id = _two_approvals(compliance_store, "run-sql")
    compliance_store.record_approval(request_id, "U0FIRST")
    with compliance_store.engine.begin() as conn:
        conn.execute(text("DELETE FROM ccpa_audit_events WHERE request_id = :r"), {"r": request_id})
        conn.execute(text("UPDATE ccpa_approvals SET approver = 'U0OTHER' WHERE request_id = :r"), {"r": request_id})
    result = compliance_store.record_approval(request_id, "U0OTHER")  # the same officer as the row now says
    assert result.decision is None and compliance_store.get_decision(request_id) is None


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
