"""The requests page's queries on the real MariaDB: the open queue, its filters, search, order, and a timeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from include.request import AccessRequest
from include.store import ComplianceStore, Status
from include.verification.levels import Scope
from include.web.queue import (
    MAX_PAGE_SIZE,
    NOT_CHECKED,
    QueueFilter,
    QueuePage,
    Urgency,
    days_left,
    open_queue,
    queue_page,
    timeline,
    urgency,
)
from tests.factories import points_json, register_verified, verified_request

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
    s.record_approval(request_id, "U0FIRST")
    s.record_approval(request_id, "U0SECOND")
    s.claim_delivery(request_id, "report", "<m1@example.com>")
    s.confirm_delivery(request_id, "report", "<m1@example.com>")
    entries = timeline(s, request_id, ZoneInfo("America/Los_Angeles"))
    assert entries[0].what == "Received" and entries[0].at.strftime("%Y-%m-%d %H:%M %Z") == "2026-07-01 09:00 PDT"
    whats = [e.what for e in entries]
    assert whats[:2] == ["Received", "Review prompt posted in Slack"]
    assert whats.count("Approved") == 2 and "Decision: approved" in whats and "Report emailed" in whats
    decision = next(e for e in entries if e.what == "Decision: approved")
    assert decision.detail == "approvers: U0FIRST, U0SECOND"
    assert "message id: <m1@example.com>" in next(e for e in entries if e.what == "Report emailed").detail


# -- paging: a queue of thousands is read and rendered one page at a time ----------------------------------------


def _many(store: ComplianceStore, count: int) -> dict[str, list[str]]:
    """``count`` open requests; every third shares its received time (so its due date) with the next two, every
    seventh is overdue, every fifth of the others is extended. Returns the ids of each kind."""
    kinds: dict[str, list[str]] = {"all": [], "extended": [], "overdue": []}
    for i in range(count):
        overdue = i % 7 == 0
        received = NOW - timedelta(days=50 if overdue else 1, minutes=i // 3)
        request = AccessRequest(f"Person {i}", f"p{i}@example.com", f"https://ids.example/{i}.png")
        record = store.register_request(f"manual__many_{i}", request, received)
        kinds["all"].append(record.request_id)
        if i % 5 == 0 and not overdue:
            with time_machine.travel(NOW, tick=False):
                store.extend(record.request_id, "U0EXTENDER", "many datastores")
            kinds["extended"].append(record.request_id)
        if overdue:
            kinds["overdue"].append(record.request_id)
    return kinds


def _walk(store: ComplianceStore, **kwargs) -> list[QueuePage]:
    """Every page from the first, as an officer clicking Next would read them."""
    pages = [queue_page(store, now=NOW, **kwargs)]
    while pages[-1].page < pages[-1].pages:
        pages.append(queue_page(store, now=NOW, page=pages[-1].page + 1, **kwargs))
    return pages


def test_250_open_requests_come_in_pages_of_50_in_a_stable_order_without_overlap_or_gap(compliance_store):
    s = compliance_store
    kinds = _many(s, 250)
    whole = _ids(open_queue(s, now=NOW))
    assert sorted(whole) == sorted(kinds["all"])
    pages = _walk(s, per_page=50)
    assert [len(p.rows) for p in pages] == [50] * 5
    assert {(p.total, p.pages) for p in pages} == {(250, 5)}
    assert [(p.first, p.last) for p in pages] == [(1, 50), (51, 100), (101, 150), (151, 200), (201, 250)]
    assert [rid for p in pages for rid in _ids(p.rows)] == whole  # the same total order as the whole queue
    due = [row.due_at for p in pages for row in p.rows]
    assert due == sorted(due)
    # Ties on the due date (every three requests share one) are broken by the request id, so a page read twice is
    # the same page.
    assert _ids(queue_page(s, page=3, now=NOW).rows) == _ids(pages[2].rows)
    backwards = _walk(s, per_page=40, descending=True)
    assert [len(p.rows) for p in backwards] == [40] * 6 + [10]
    assert [rid for p in backwards for rid in _ids(p.rows)] == list(reversed(whole))


def test_paging_keeps_the_filter_and_the_search(compliance_store):
    s = compliance_store
    kinds = _many(s, 250)
    extended = _walk(s, show=QueueFilter.EXTENDED, per_page=20)
    assert [len(p.rows) for p in extended] == [20, 20, 2] and extended[0].total == 42
    assert sorted(rid for p in extended for rid in _ids(p.rows)) == sorted(kinds["extended"])
    assert all(row.extended_at is not None for p in extended for row in p.rows)
    overdue = _walk(s, show=QueueFilter.OVERDUE, per_page=10)
    assert sorted(rid for p in overdue for rid in _ids(p.rows)) == sorted(kinds["overdue"])
    assert all(row.urgency == Urgency.OVERDUE for p in overdue for row in p.rows)
    prefix = kinds["all"][0][:1]
    matching = sorted(rid for rid in kinds["all"] if rid.startswith(prefix))
    searched = _walk(s, search=prefix, per_page=10)
    assert searched[0].total == len(matching)
    assert sorted(rid for p in searched for rid in _ids(p.rows)) == matching


def test_a_page_past_the_last_shows_the_last_and_bad_paging_is_refused(compliance_store):
    s = compliance_store
    kinds = _many(s, 23)
    last = queue_page(s, page=99, per_page=10, now=NOW)
    assert (last.page, last.pages, last.first, last.last) == (3, 3, 21, 23)
    assert _ids(last.rows) == _ids(open_queue(s, now=NOW))[20:]
    assert len(kinds["all"]) == 23
    empty = queue_page(s, search="zz", now=NOW)  # ids are hex: nothing matches
    assert (empty.rows, empty.total, empty.page, empty.pages, empty.first, empty.last) == ([], 0, 1, 1, 0, 0)
    for bad in ({"page": 0}, {"per_page": 0}, {"per_page": MAX_PAGE_SIZE + 1}):
        with pytest.raises(ValueError, match="page"):
            queue_page(s, now=NOW, **bad)


@pytest.mark.parametrize(
    ("page", "pages", "expected"),
    [
        (1, 1, [1]),
        (1, 5, [1, 2, 3, None, 5]),
        (6, 20, [1, None, 4, 5, 6, 7, 8, None, 20]),
        (4, 20, [1, 2, 3, 4, 5, 6, None, 20]),
        (20, 20, [1, None, 18, 19, 20]),
    ],
)
def test_page_links_show_the_first_the_last_and_the_pages_around_this_one(page, pages, expected):
    assert QueuePage(rows=[], total=pages * 10, page=page, per_page=10).window() == expected


# -- the verification level (§7062 data points, §7061 account login) in plain words ------------------------------


def test_queue_shows_each_requests_verification_level_in_plain_words(compliance_store):
    s = compliance_store
    full = register_verified(s, "manual__full", verified_request("Full Match", "full@example.com"))
    two = register_verified(
        s, "manual__two", verified_request("Two Points", "two@example.com"), matched=("email", "name")
    )
    one = register_verified(s, "manual__one", verified_request("One Point", "one@example.com"), matched=("email",))
    categories = s.register_request(
        "manual__cats",
        AccessRequest.from_conf(
            {"name": "Cat Egory", "email": "cat@example.com", "photo_id_url": "", "request_type": "categories"}
        ),
        NOW,
    )
    s.set_identity_evidence(categories.request_id, "email found", points_json(("email", "name")))
    unchecked = s.register_request("manual__unchecked", AccessRequest("New One", "new@example.com", ""), NOW)
    rows = {row.request_id: row for row in open_queue(s, now=NOW)}
    assert (rows[full.request_id].verification, rows[full.request_id].scope) == (
        "enough for specific pieces",
        Scope.FULL,
    )
    assert rows[two.request_id].scope == Scope.CATEGORIES
    assert rows[two.request_id].verification == "enough for categories only (specific pieces need 3 points)"
    assert rows[one.request_id].scope == Scope.NONE
    assert rows[one.request_id].verification == "not enough to verify (categories need 2 points)"
    assert (rows[categories.request_id].verification, rows[categories.request_id].asked) == (
        "enough for categories",
        "categories",
    )
    assert (rows[unchecked.request_id].verification, rows[unchecked.request_id].scope) == (NOT_CHECKED, None)
    assert rows[full.request_id].asked == "specific pieces"


def test_the_queue_reads_the_thresholds_once_a_page_and_applies_a_raised_one(compliance_store, monkeypatch):
    """A Variable raising the points needed applies to the queue at once, as it does to the prompt and the callback;
    it is read once for the page, not once per row."""
    import include.web.queue as queue_module

    s = compliance_store
    for i in range(3):
        register_verified(s, f"manual__full{i}", verified_request(f"Full {i}", f"full{i}@example.com"))
    reads = []
    real = queue_module.thresholds
    monkeypatch.setattr(queue_module, "thresholds", lambda: reads.append(1) or real())
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_VERIFICATION_MIN_POINTS_SPECIFIC", "4")
    rows = queue_page(s, now=NOW).rows
    assert len(rows) == 3 and len(reads) == 1
    assert {row.scope for row in rows} == {Scope.CATEGORIES}
    assert {row.verification for row in rows} == {"enough for categories only (specific pieces need 4 points)"}
