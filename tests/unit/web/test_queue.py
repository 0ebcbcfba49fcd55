"""The requests page's queries on the real MariaDB: the open queue, its filters, search, order, and a timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from include.request import AccessRequest
from include.store import ComplianceStore, Status
from include.web.queue import QueueFilter, Urgency, basis_label, days_left, open_queue, timeline, urgency

NOW = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)


def _register(store: ComplianceStore, key: str, received: datetime, **kwargs) -> str:
    request = AccessRequest(f"Person {key}", f"{key}@example.com", f"https://ids.example/{key}.png")
    with time_machine.travel(received, tick=False):
        record = store.register_request(f"manual__{key}", request, received, **kwargs)
        store.set_review_prompt(record.request_id, "C0REVIEW", f"{received.timestamp():.6f}")
    return record.request_id


@pytest.fixture
def queue_store(compliance_store):
    """Five open requests (fresh, amber, overdue, extended, pending 1 of 2, failed), a decided one and a closed one."""
    s = compliance_store
    ids = {
        "fresh": _register(s, "fresh", NOW - timedelta(days=2)),
        "amber": _register(s, "amber", NOW - timedelta(days=40)),
        "overdue": _register(s, "overdue", NOW - timedelta(days=50)),
        "extended": _register(s, "extended", NOW - timedelta(days=30)),
        "pending": _register(s, "pending", NOW - timedelta(days=5), required_approvals=2),
        "decided": _register(s, "decided", NOW - timedelta(days=20)),
        "closed": _register(s, "closed", NOW - timedelta(days=25)),
    }
    with time_machine.travel(NOW - timedelta(days=1), tick=False):
        s.extend(ids["extended"], "U0EXTENDER", "many datastores")
    s.record_approval(ids["pending"], "U0FIRST")
    s.record_approval(ids["decided"], "U0FIRST")
    s.audit(ids["decided"], "run_failed", detail={"task_id": "send_report", "error": "SMTPException"})
    s.record_decision(ids["closed"], "reject", "U0FIRST", reason="cannot verify")
    s.set_status(ids["closed"], Status.REJECTED_NOTIFIED)
    return s, ids


def _ids(rows) -> list[str]:
    return [row.request_id for row in rows]


def test_queue_lists_open_requests_by_due_date_with_days_left_and_urgency(queue_store):
    store, ids = queue_store
    rows = open_queue(store, now=NOW)
    assert _ids(rows) == [ids[k] for k in ("overdue", "amber", "decided", "pending", "fresh", "extended")]
    by_key = {key: row for row in rows for key, rid in ids.items() if rid == row.request_id}
    assert by_key["overdue"].urgency == Urgency.OVERDUE and by_key["overdue"].days_left < 0
    assert by_key["amber"].urgency == Urgency.SOON and 0 <= by_key["amber"].days_left < 10
    assert by_key["fresh"].urgency == Urgency.OK and by_key["fresh"].days_left == (by_key["fresh"].due_at - NOW).days
    assert by_key["extended"].extended_by == "U0EXTENDER" and by_key["extended"].days_left > 45
    assert (by_key["pending"].approvers, by_key["pending"].required_approvals, by_key["pending"].action) == (
        ("U0FIRST",),
        2,
        None,
    )
    assert (by_key["decided"].action, by_key["decided"].approvers, by_key["decided"].failed) == (
        "approve",
        ("U0FIRST",),
        True,
    )
    assert by_key["fresh"].name == "Person fresh" and by_key["fresh"].email == "fresh@example.com"
    assert by_key["fresh"].slack_url.startswith("https://slack.com/archives/C0REVIEW/p")


def test_queue_sorts_by_due_date_descending_too(queue_store):
    store, _ = queue_store
    assert _ids(open_queue(store, now=NOW, descending=True)) == list(reversed(_ids(open_queue(store, now=NOW))))


@pytest.mark.parametrize(
    ("show", "expected"),
    [
        (QueueFilter.AWAITING, ["overdue", "amber", "pending", "fresh", "extended"]),
        (QueueFilter.EXTENDED, ["extended"]),
        (QueueFilter.OVERDUE, ["overdue"]),
        (QueueFilter.FAILED, ["decided"]),
    ],
)
def test_queue_filters(queue_store, show, expected):
    store, ids = queue_store
    assert _ids(open_queue(store, show=show, now=NOW)) == [ids[k] for k in expected]


def test_queue_search_by_reference_is_a_prefix_and_wildcards_are_literal(queue_store):
    store, ids = queue_store
    assert _ids(open_queue(store, search=ids["amber"][:10].upper(), now=NOW)) == [ids["amber"]]
    assert open_queue(store, search="%", now=NOW) == []
    assert open_queue(store, search="_", now=NOW) == []


def test_days_left_and_the_amber_and_red_thresholds():
    due = datetime(2026, 12, 15, 12, tzinfo=UTC)
    assert days_left(due, due - timedelta(days=10)) == 10 and urgency(due, due - timedelta(days=10)) == Urgency.OK
    assert urgency(due, due - timedelta(days=9, hours=23)) == Urgency.SOON
    assert days_left(due, due - timedelta(hours=1)) == 0 and urgency(due, due - timedelta(hours=1)) == Urgency.SOON
    assert days_left(due, due + timedelta(hours=1)) == -1 and urgency(due, due + timedelta(hours=1)) == Urgency.OVERDUE


def test_timeline_is_in_the_business_time_zone_and_names_both_approvers(compliance_store):
    s = compliance_store
    received = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    request_id = _register(s, "tl", received, required_approvals=2)
    s.record_approval(request_id, "U0FIRST", basis="data_points_declaration")
    s.record_approval(request_id, "U0SECOND", basis="data_points_declaration")
    s.claim_delivery(request_id, "report", "<m1@example.com>")
    s.confirm_delivery(request_id, "report", "<m1@example.com>")
    entries = timeline(s, request_id, ZoneInfo("America/Los_Angeles"))
    assert entries[0].what == "Received" and entries[0].at.strftime("%Y-%m-%d %H:%M %Z") == "2026-07-01 09:00 PDT"
    whats = [e.what for e in entries]
    assert whats[:2] == ["Received", "Review prompt posted in Slack"]
    assert whats.count("Approved") == 2 and "Decision: approved" in whats and "Report emailed" in whats
    decision = next(e for e in entries if e.what == "Decision: approved")
    assert decision.detail == (
        "approvers: U0FIRST, U0SECOND; basis: verified by matching data points and a signed declaration (§7062); "
        "scope: full"
    )
    assert "message id: <m1@example.com>" in next(e for e in entries if e.what == "Report emailed").detail


def test_7101_the_queue_and_the_timeline_show_each_approvals_verification_basis_in_plain_words(compliance_store):
    """Every basis (§7061 account login, §7062 data points and declaration, §7063(b) power of attorney, categories
    only) as a label on the queue row and the timeline's decision; a rejection shows none; an approval recorded
    before bases were says so rather than guessing."""
    s = compliance_store
    received = NOW - timedelta(days=3)
    labels = {
        "account_login": "verified by account login (§7061)",
        "data_points_declaration": "verified by matching data points and a signed declaration (§7062)",
        "power_of_attorney": "made by an agent with a power of attorney (§7063)",
        "categories_only": "answered with categories only (§7062(b), §7024)",
    }
    ids = {basis: _register(s, basis.replace("_", "-"), received) for basis in labels}
    for basis, request_id in ids.items():
        scope = "categories" if basis == "categories_only" else "full"
        s.record_decision(request_id, "approve", "U0OFFICER", scope=scope, basis=basis)
    old = _register(s, "old", received)
    s.record_decision(old, "approve", "U0OFFICER")  # before bases were recorded
    rejected = _register(s, "rejected", received)
    s.record_decision(rejected, "reject", "U0OFFICER", reason="cannot verify")

    rows = {row.request_id: row for row in open_queue(s, now=NOW)}
    assert {basis: rows[request_id].basis_label for basis, request_id in ids.items()} == labels
    assert rows[old].basis_label == "approved before the verification basis was recorded"
    assert rows[rejected].basis_label == ""
    zone = ZoneInfo("America/Los_Angeles")
    for basis, request_id in ids.items():
        [decided] = [e for e in timeline(s, request_id, zone) if e.what == "Decision: approved"]
        assert f"basis: {labels[basis]}" in decided.detail and basis not in decided.detail
    [refused] = [e for e in timeline(s, rejected, zone) if e.what == "Decision: rejected"]
    assert "basis" not in refused.detail
    assert basis_label(None) == "approved before the verification basis was recorded"
