"""The compliance store on the real MariaDB: idempotent registration, one decision, one delivery."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

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


def test_waiting_states_asks_about_a_large_queue_in_one_query(compliance_store):
    """A triggerer with thousands of waiting requests polls them in one statement per round, not one per 500."""
    from sqlalchemy import event

    known = compliance_store.register_request("run-big", REQUEST, datetime.now(UTC)).request_id
    compliance_store.record_decision(known, "approve", "U1")
    asked = [f"{n:032x}" for n in range(5_000)] + [known]  # the unknown ones are simply left out
    statements: list[str] = []

    def note(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(compliance_store.engine, "before_cursor_execute", note)
    try:
        states = compliance_store.waiting_states(asked)
    finally:
        event.remove(compliance_store.engine, "before_cursor_execute", note)
    assert [s.split()[0].upper() for s in statements] == ["SELECT"]
    assert list(states) == [known] and states[known][0].action == "approve"


# -- scope and limits, the §7101 record -------------------------------------------------------------------------


def _answered(store, run_id: str, received: datetime, sent: datetime | None, *, action: str = "approve") -> str:
    """A request from Jane, decided, and (with ``sent``) its report or rejection delivered at ``sent``."""
    import time_machine

    from include.store import REJECTION, REPORT

    request_id = store.register_request(run_id, REQUEST, received).request_id
    store.record_decision(request_id, action, "U0OFFICER", decided_at=received)
    if sent is not None:
        kind = REPORT if action == "approve" else REJECTION
        with time_machine.travel(sent, tick=False):
            assert store.claim_delivery(request_id, kind, f"<{run_id}@mail>") is None
            store.confirm_delivery(request_id, kind, f"<{run_id}@mail>")
    return request_id


def test_civ_1798_130b_only_answered_requests_count_over_12_calendar_months(compliance_store):
    """Twice in 12 months: only requests actually answered (report delivered) in the 12 calendar months before this
    one's receipt count; denied, open and never-answered ones do not."""
    received = datetime(2027, 3, 1, 18, tzinfo=UTC)  # 12 calendar months back: 1 March 2026 18:00 UTC
    store = compliance_store
    _answered(store, "old", datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, 17, 59, tzinfo=UTC))  # too old
    _answered(store, "in-1", datetime(2026, 2, 20, tzinfo=UTC), datetime(2026, 3, 1, 18, tzinfo=UTC))  # the boundary
    _answered(store, "in-2", datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 20, tzinfo=UTC))
    _answered(store, "denied", datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC), action="reject")
    _answered(store, "open", datetime(2026, 11, 1, tzinfo=UTC), None)  # decided, never answered
    store.register_request("undecided", REQUEST, datetime(2026, 12, 1, tzinfo=UTC))
    this = store.register_request("this", REQUEST, received)
    assert store.earlier_requests(this) == 2
    since = datetime(2026, 3, 1, 18, tzinfo=UTC)
    assert store.answered_since(REQUEST.email, since, excluding=this.request_id) == 2
    assert store.answered_since("someone@example.com", since, excluding=this.request_id) == 0


def test_a_new_request_is_never_linked_to_one_closed_failed_or_overdue(compliance_store):
    store = compliance_store
    closed = store.register_request("closed", REQUEST, RECEIVED)
    store.set_status(closed.request_id, "linked_duplicate")
    failed = store.register_request("failed", REQUEST, RECEIVED)
    store.mark_failed(failed.request_id, reason="extract_crm: OperationalError")
    overdue = store.register_request("overdue", REQUEST, datetime(2026, 1, 5, tzinfo=UTC))
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert overdue.due_at < now
    new = store.register_request("new", REQUEST, now)
    assert store.open_request_for(REQUEST.email, excluding=new.request_id, now=now) is None
    assert store.get_request(failed.request_id).open  # the failed one stays open (escalated), not closed
    in_time = store.register_request("in-time", REQUEST, now)
    found = store.open_request_for(REQUEST.email, excluding=new.request_id, now=now)
    assert found is not None and found.request_id == in_time.request_id


def test_7101_record_keeps_receipt_and_entry(compliance_store):
    """A request made by phone on 5 January at 18:00 PST and entered three days later: the legal dates count from
    the receipt, and the record keeps both."""
    received = datetime(2026, 1, 6, 2, 0, tzinfo=UTC)
    entered = datetime(2026, 1, 8, 17, 0, tzinfo=UTC)
    record = compliance_store.register_request("phone", REQUEST, received, channel="phone", entered_at=entered)
    assert (record.received_at, record.entered_at, record.channel) == (received, entered, "phone")
    assert record.due_at == datetime(2026, 2, 19, 7, 59, 59, 999999, tzinfo=UTC)  # end of 18 February, Pacific


def test_a_missing_compliance_connection_fails_naming_it_instead_of_using_sqlite(monkeypatch, tmp_path):
    from include import db
    from include.config import ConfigurationError

    monkeypatch.delenv("AIRFLOW_CONN_CCPA_COMPLIANCE_DB", raising=False)
    monkeypatch.delenv("CCPA_COMPLIANCE_SQLITE", raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    db.dispose_all()
    with pytest.raises(ConfigurationError, match="ccpa_compliance_db"):
        ComplianceStore.from_connection()
    assert not list(tmp_path.iterdir()), "no stray SQLite file"


def test_a_secrets_backend_failure_fails_naming_the_connection(monkeypatch):
    from airflow.sdk import BaseHook

    from include import db
    from include.config import ConfigurationError

    def broken(conn_id):
        raise RuntimeError("vault sealed: token for jane@example.com")

    monkeypatch.setenv("CCPA_COMPLIANCE_SQLITE", "1")  # even with the opt-in: a backend error is not "not defined"
    monkeypatch.setattr(BaseHook, "get_connection", broken)
    db.dispose_all()
    with pytest.raises(ConfigurationError, match="'ccpa_compliance_db' could not be read") as err:
        ComplianceStore.from_connection()
    assert "jane" not in str(err.value)


def test_sqlite_only_on_explicit_opt_in(monkeypatch, tmp_path):
    from include import db

    monkeypatch.delenv("AIRFLOW_CONN_CCPA_COMPLIANCE_DB", raising=False)
    monkeypatch.setenv("CCPA_COMPLIANCE_SQLITE", "1")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    db.dispose_all()
    store = ComplianceStore.from_connection()
    assert store.engine.url.drivername == "sqlite" and (tmp_path / "ccpa_compliance.sqlite").exists()
    db.dispose_all()


def test_duplicates_arriving_together_leave_exactly_one_answered(compliance_store):
    """Eight requests from one email registered at the same instant, each linking itself in its own thread."""
    from include import db
    from include.store import Status

    received = datetime.now(UTC).replace(microsecond=0)

    def arrive(i):
        store = ComplianceStore.from_connection()  # each thread: its own connection, as each task process has
        record = store.register_request(f"run-dup-{i}", REQUEST, received)
        return store.link_if_duplicate(record.request_id)

    with ThreadPoolExecutor(8) as pool:
        records = list(pool.map(arrive, range(8)))
    records = [compliance_store.get_request(r.request_id) for r in records]
    answered = [r for r in records if r.linked_to is None]
    assert len(answered) == 1, [(r.request_id, r.linked_to) for r in records]
    [original] = answered
    assert all(
        r.linked_to == original.request_id and r.status == Status.LINKED_DUPLICATE for r in records if r.linked_to
    )
    assert original.closed_at is None
    db.dispose_all()


def test_a_request_links_to_the_oldest_open_unlinked_one(compliance_store):
    from datetime import timedelta

    first = compliance_store.register_request("run-old", REQUEST, RECEIVED)
    later = compliance_store.register_request("run-new", REQUEST, RECEIVED + timedelta(days=1))
    assert compliance_store.link_if_duplicate(later.request_id).linked_to == first.request_id
    assert compliance_store.link_if_duplicate(first.request_id).linked_to is None, "never to its own duplicate"
    third = compliance_store.register_request("run-third", REQUEST, RECEIVED + timedelta(days=2))
    assert compliance_store.link_if_duplicate(third.request_id).linked_to == first.request_id, "not to a linked one"


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


def test_the_deciding_approval_returns_the_decision_as_stored_and_the_request_as_read_under_its_lock(
    compliance_store,
):
    """The callback answers and renders the prompt from what record_approval returns, without reading again."""
    from dataclasses import replace

    from include.store import Status
    from include.store.schema import BASIS_DATA_POINTS_DECLARATION

    request_id = _two_approvals(compliance_store, "run-returned")
    later = datetime.now(UTC).replace(microsecond=654321) + timedelta(minutes=1)  # after the first approval
    compliance_store.set_review_prompt(request_id, "C0REVIEW", "1700000000.000100")
    before = compliance_store.get_request(request_id)
    first = compliance_store.record_approval(request_id, "U0FIRST", response_url="https://hooks.example/1")
    assert first.request == before and first.decision is None
    result = compliance_store.record_approval(
        request_id,
        "U0SECOND",
        response_url="https://hooks.example/2",
        approved_at=later,
        scope="categories",
        basis=BASIS_DATA_POINTS_DECLARATION,
    )
    assert result.decided and result.decision == compliance_store.get_decision(request_id)
    assert result.decision.decided_at == later
    stored = compliance_store.get_request(request_id)
    assert stored.status == Status.APPROVED and result.request == replace(stored, status=before.status)
    trail = [(e["event"], e["actor"], e["detail"]) for e in compliance_store.audit_trail(request_id)][-3:]
    assert trail == [
        ("approval_recorded", "U0FIRST", None),
        ("approval_recorded", "U0SECOND", None),
        (
            "decision_recorded",
            "U0SECOND",
            {
                "action": "approve",
                "approvers": ["U0FIRST", "U0SECOND"],
                "scope": "categories",
                "basis": BASIS_DATA_POINTS_DECLARATION,
            },
        ),
    ]


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


def test_decision_and_request_answers_as_get_decision_and_find_request(compliance_store):
    """The callback's one-checkout read gives what the two reads give: unknown, undecided, decided."""
    from tests.factories import register_verified

    assert compliance_store.decision_and_request("0" * 32) == (None, None)
    record = register_verified(compliance_store, "manual__both")
    assert compliance_store.decision_and_request(record.request_id) == (
        None,
        compliance_store.find_request(record.request_id),
    )
    compliance_store.record_decision(record.request_id, "reject", "U1", reason="no")
    decision, found = compliance_store.decision_and_request(record.request_id)
    assert decision == compliance_store.get_decision(record.request_id) and decision.action == "reject"
    assert found == compliance_store.find_request(record.request_id)
