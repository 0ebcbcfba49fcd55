"""§7101 records, §7102 metrics and 24-month redaction, on the real MariaDB with a year of requests built through
the compliance store as the DAG writes them (register, prompt, decide, claim/confirm the email, close)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from PIL import Image
from sqlalchemy import select, update

from include import law
from include.request import AccessRequest
from include.store import REDACTED_REASON, REJECTION, REPORT, ComplianceStore, records
from include.store import metrics as metrics_mod
from include.store.schema import requests_table
from tests.conftest import ROOT

NOW = datetime(2027, 1, 20, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Made:
    request_id: str
    request: AccessRequest


def _person(key: str) -> AccessRequest:
    return AccessRequest(f"Person {key.title()} Smith", f"{key}@example.com", f"https://ids.example/{key}.jpg")


def _set(store: ComplianceStore, request_id: str, **values) -> None:
    """Fields the store has no method for here (channel); link and extension as store.link_duplicate / extend
    write them."""
    with store.engine.begin() as conn:
        conn.execute(update(requests_table).where(requests_table.c.request_id == request_id).values(**values))


def make(
    store: ComplianceStore,
    key: str,
    received: datetime,
    *,
    channel: str = "web",
    decide: str | None = None,
    reason: str | None = None,
    sent_after: timedelta | None = None,
    rows: int = 12,
    extended: bool = False,
    linked_to: str | None = None,
    basis: str | None = None,
) -> Made:
    """One request through the workflow's steps, each at its own (frozen) time."""
    request = _person(key)
    with time_machine.travel(received, tick=False):
        request_id = store.register_request(f"manual__{key}", request, received).request_id
        _set(store, request_id, channel=channel)
    if linked_to:
        with time_machine.travel(received + timedelta(minutes=1), tick=False):
            _set(
                store,
                request_id,
                linked_to=linked_to,
                status="linked_duplicate",
                closed_at=received.replace(tzinfo=None),
            )
        return Made(request_id, request)
    with time_machine.travel(received + timedelta(minutes=5), tick=False):
        store.set_review_prompt(request_id, "C0REVIEW", f"{received.timestamp():.6f}")
    if extended:
        at = received + timedelta(days=30)
        record = store.get_request(request_id)
        _set(
            store,
            request_id,
            extended_at=at.replace(tzinfo=None),
            extended_by="U0OFFICER",
            extension_reason="many datastores",
            due_at=(record.due_at + timedelta(days=45)).replace(tzinfo=None),
        )
    if decide:
        store.record_decision(
            request_id, decide, "U0OFFICER", reason=reason, decided_at=received + timedelta(days=1), basis=basis
        )
    if sent_after is not None:
        kind = REPORT if decide == "approve" else REJECTION
        with time_machine.travel(received + sent_after, tick=False):
            if kind == REPORT:
                store.audit(request_id, "report_built", detail={"datastores": 3, "rows": rows})
            assert store.claim_delivery(request_id, kind, f"<{key}@mail>") is None
            store.confirm_delivery(request_id, kind, f"<{key}@mail>")
            store.set_status(request_id, "completed" if kind == REPORT else "rejected_notified")
    return Made(request_id, request)


@pytest.fixture
def year_2026(compliance_store):
    s = compliance_store
    day = timedelta(days=1)
    made = {
        "complied": make(
            s,
            "alice",
            datetime(2026, 2, 1, 10, tzinfo=UTC),
            decide="approve",
            sent_after=12.5 * day,
            basis="account_login",
        ),
        "no_data": make(
            s,
            "bob",
            datetime(2026, 3, 10, 8, tzinfo=UTC),
            channel="email",
            decide="approve",
            sent_after=3 * day,
            rows=0,
            basis="categories_only",
        ),
        "denied": make(
            s,
            "carol",
            datetime(2026, 4, 5, 12, tzinfo=UTC),
            decide="reject",
            reason="=Photo ID did not match the name on file",
            sent_after=20.25 * day,
        ),
        "extended": make(
            s,
            "dan",
            datetime(2026, 5, 1, tzinfo=UTC),
            decide="approve",
            sent_after=60 * day,
            extended=True,
            basis="data_points_declaration",
        ),
        "late": make(s, "erin", datetime(2026, 6, 1, tzinfo=UTC), decide="approve", sent_after=50 * day),
        "overdue": make(s, "frank", datetime(2026, 10, 1, tzinfo=UTC)),
        "open": make(s, "grace", datetime(2026, 12, 20, tzinfo=UTC), decide="approve", basis="account_login"),
        # Other years: the last microsecond of 2025 and the first of 2027.
        "before": make(
            s, "heidi", datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), decide="approve", sent_after=2 * day
        ),
        "after": make(s, "ivan", datetime(2027, 1, 1, tzinfo=UTC), decide="approve", sent_after=1 * day),
    }
    made["linked"] = make(s, "grace2", datetime(2026, 12, 22, tzinfo=UTC), linked_to=made["open"].request_id)
    return s, made


def _by_id(lines):
    return {line.request_id: line for line in lines}


def test_records_give_each_outcome_and_days_to_respond(year_2026):
    store, made = year_2026
    lines = records.request_records(store, *records.year_bounds(2026), now=NOW)
    by_id = _by_id(lines)
    assert len(lines) == 8
    assert made["before"].request_id not in by_id and made["after"].request_id not in by_id
    assert [line.received_at for line in lines] == sorted(line.received_at for line in lines)

    def outcome(name):
        line = by_id[made[name].request_id]
        return line.response, line.days_to_respond, line.late

    assert outcome("complied") == (records.COMPLIED, 12.5, False)
    assert outcome("no_data") == (records.COMPLIED_NO_DATA, 3.0, False)
    assert outcome("denied") == (records.DENIED, 20.3, False)  # 20.25 rounds half up
    assert outcome("extended") == (records.COMPLIED, 60.0, False)  # inside the 90 days of the extension
    assert outcome("late") == (records.COMPLIED, 50.0, True)
    assert outcome("overdue") == (records.OVERDUE, None, True)
    assert outcome("open") == (records.OPEN, None, False)  # decided, report not yet sent
    assert outcome("linked") == (records.LINKED_DUPLICATE, None, False)

    denied = by_id[made["denied"].request_id]
    assert denied.denial_basis == "=Photo ID did not match the name on file"
    assert denied.response_at == datetime(2026, 4, 25, 18, tzinfo=UTC)
    assert by_id[made["complied"].request_id].denial_basis is None
    assert by_id[made["no_data"].request_id].channel == "email"
    assert {line.nature for line in lines} == {"right_to_know"}
    extended = by_id[made["extended"].request_id]
    # §7021(b), in California days: received 17:00 PDT 30 April -> due at the end of 13 June, extended to the end of
    # 28 July (Pacific Time); received 17:00 PDT 31 May -> due at the end of 14 July.
    assert extended.extended and extended.deadline == datetime(2026, 7, 29, 6, 59, 59, 999999, tzinfo=UTC)
    assert by_id[made["late"].request_id].deadline == datetime(2026, 7, 15, 6, 59, 59, 999999, tzinfo=UTC)
    assert by_id[made["linked"].request_id].linked_to == made["open"].request_id


def test_7101_the_record_keeps_the_verification_basis_of_every_answer(year_2026):
    store, made = year_2026
    out = io.StringIO()
    records.export_records_csv(store, *records.year_bounds(2026), out, now=NOW)
    rows = {r["request_id"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert records.CSV_FIELDS[-1] == "verification_basis"  # a new column at the end: readers of the old CSV go on

    def basis(name):
        return rows[made[name].request_id]["verification_basis"]

    assert basis("complied") == "account_login"
    assert basis("no_data") == "categories_only"
    assert basis("extended") == "data_points_declaration"
    assert basis("late") == ""  # approved before bases were recorded
    assert basis("denied") == "" and basis("overdue") == ""
    assert basis("open") == ""  # approved by account login, but nothing sent yet: not an answer


def test_7101_an_unknown_verification_basis_is_refused(compliance_store):
    request_id = compliance_store.register_request("manual__x", _person("x"), NOW).request_id
    with pytest.raises(ValueError, match="verification basis"):
        compliance_store.record_decision(request_id, "approve", "U0OFFICER", basis="a hunch")
    assert compliance_store.get_decision(request_id) is None


def test_7102_metrics_count_answers_by_verification_basis(year_2026):
    store, _ = year_2026
    m = metrics_mod.yearly_metrics(store, 2026, now=NOW)
    assert dict(m.by_basis) == {
        "account_login": 1,
        "data_points_declaration": 1,
        "power_of_attorney": 0,
        "categories_only": 1,
        "unrecorded": 1,
    }
    assert sum(count for _, count in m.by_basis) == m.complied


def test_open_request_becomes_overdue_after_its_deadline(year_2026):
    store, made = year_2026
    open_id = made["open"].request_id
    deadline = datetime(2027, 2, 2, 7, 59, 59, 999999, tzinfo=UTC)  # 16:00 PST 19 Dec: the end of 1 Feb, Pacific
    start, end = records.year_bounds(2026)
    assert _by_id(records.request_records(store, start, end, now=deadline))[open_id].response == records.OPEN
    later = deadline + timedelta(seconds=1)
    assert _by_id(records.request_records(store, start, end, now=later))[open_id].response == records.OVERDUE


def test_records_and_csv_hold_no_personal_data(year_2026):
    store, made = year_2026
    out = io.StringIO()
    assert records.export_records_csv(store, *records.year_bounds(2026), out, now=NOW) == 8
    text = out.getvalue()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == records.CSV_FIELDS
    lines_text = repr(records.request_records(store, *records.year_bounds(2026), now=NOW))
    for m in made.values():
        for value in (m.request.name, m.request.email, m.request.photo_id_url, m.request.email.split("@")[0]):
            assert value not in text
            assert value not in lines_text
    denied = next(r for r in rows if r["request_id"] == made["denied"].request_id)
    assert denied["denial_basis"] == "'=Photo ID did not match the name on file"  # no formula in a spreadsheet
    assert denied["response_at"] == "2026-04-25T18:00:00+00:00"
    assert denied["days_to_respond"] == "20.3" and denied["late"] == "no"
    overdue = next(r for r in rows if r["request_id"] == made["overdue"].request_id)
    assert (overdue["response"], overdue["response_at"], overdue["days_to_respond"]) == ("overdue", "", "")


def test_yearly_metrics(year_2026):
    store, _ = year_2026
    m = metrics_mod.yearly_metrics(store, 2026, now=NOW)
    assert (m.received, m.complied, m.denied, m.open, m.overdue, m.linked_duplicates) == (7, 4, 1, 2, 1, 1)
    assert m.received == m.complied + m.denied + m.open
    # Answered: 3, 12.5, 20.25, 50, 60 days.
    assert m.median_days == 20.3
    assert m.mean_days == 29.2  # 29.15 half up
    assert metrics_mod.yearly_metrics(store, 2025, now=NOW).received == 1
    assert metrics_mod.yearly_metrics(store, 2027, now=NOW).received == 1


def test_metrics_without_answered_requests(compliance_store):
    make(compliance_store, "judy", datetime(2026, 12, 30, tzinfo=UTC))
    m = metrics_mod.yearly_metrics(compliance_store, 2026, now=NOW)
    assert (m.received, m.complied, m.denied, m.open, m.median_days, m.mean_days) == (1, 0, 0, 1, None, None)


def test_round1_is_half_up():
    assert [records.round1(v) for v in (2.25, 29.15, 0.05, 1.04, 3.0)] == [2.3, 29.2, 0.1, 1.0, 3.0]


def test_months_before_clamps_to_month_end():
    assert law.months_before(datetime(2026, 3, 31, 8, tzinfo=UTC), 1) == datetime(2026, 2, 28, 8, tzinfo=UTC)
    assert law.months_before(datetime(2026, 11, 27, tzinfo=UTC), 24) == datetime(2024, 11, 27, tzinfo=UTC)
    assert law.months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(2024, 12, 15, tzinfo=UTC)


REDACT_NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _row(store, request_id):
    with store.engine.connect() as conn:
        return conn.execute(select(requests_table).where(requests_table.c.request_id == request_id)).one()


def test_redaction_after_24_months_keeps_records_and_metrics(compliance_store):
    s = compliance_store
    day = timedelta(days=1)
    old = make(s, "kim", datetime(2024, 10, 15, tzinfo=UTC), decide="approve", sent_after=5 * day)  # 25 months
    old_denied = make(
        s, "leo", datetime(2024, 10, 20, tzinfo=UTC), decide="reject", reason="not verified", sent_after=day
    )
    old_dup = make(s, "leo2", datetime(2024, 10, 20, 1, tzinfo=UTC), linked_to=old_denied.request_id)
    recent = make(s, "mia", datetime(2024, 12, 20, tzinfo=UTC), decide="approve", sent_after=7 * day)  # 23 months
    if "identity_evidence" in requests_table.c:
        _set(s, old.request_id, identity_evidence="crm_users: Person Kim Smith")
    start, end = records.year_bounds(2024)
    before_lines = records.request_records(s, start, end, now=REDACT_NOW)
    before_metrics = metrics_mod.yearly_metrics(s, 2024, now=REDACT_NOW)

    assert records.redact_older_than(s, 24, now=REDACT_NOW, dry_run=True) == [
        old.request_id,
        old_denied.request_id,
        old_dup.request_id,
    ]
    assert _row(s, old.request_id).redacted_at is None  # a dry run changes nothing

    with time_machine.travel(REDACT_NOW, tick=False):
        redacted = records.redact_older_than(s, 24, now=REDACT_NOW, chunk_size=2)  # two transactions
    assert redacted == [old.request_id, old_denied.request_id, old_dup.request_id]

    for m in (old, old_denied, old_dup):
        row = _row(s, m.request_id)
        assert row.name == "[redacted]"
        assert row.email == f"redacted+{m.request_id}@invalid"
        assert row.photo_id_url == ""
        assert row.redacted_at == REDACT_NOW.replace(tzinfo=None)
        assert m.request.name not in repr(tuple(row)) and m.request.email not in repr(tuple(row))
        events = [e for e in s.audit_trail(m.request_id) if e["event"] == "personal_data_redacted"]
        assert len(events) == 1 and events[0]["detail"] == {"retention_months": 24}
    old_row = _row(s, old.request_id)
    assert (old_row.status, old_row.slack_channel) == ("completed", "C0REVIEW")  # outcome and prompt reference kept
    if "identity_evidence" in requests_table.c:
        assert old_row.identity_evidence is None

    kept = _row(s, recent.request_id)
    assert (kept.name, kept.email, kept.redacted_at) == (recent.request.name, recent.request.email, None)

    # Every line is kept, but for the officer's free text ("not verified"): past the 24 months it goes too (a fixed
    # reason would stay: test_7101_retention_removes_free_text_and_response_urls_and_keeps_the_denial_basis).
    expected = [
        replace(line, denial_basis=REDACTED_REASON) if line.request_id == old_denied.request_id else line
        for line in before_lines
    ]
    assert records.request_records(s, start, end, now=REDACT_NOW) == expected
    assert metrics_mod.yearly_metrics(s, 2024, now=REDACT_NOW) == before_metrics
    assert (before_metrics.received, before_metrics.complied, before_metrics.denied) == (3, 2, 1)

    assert records.redact_older_than(s, 24, now=REDACT_NOW) == []  # idempotent
    assert records.redact_older_than(s, 24, now=REDACT_NOW + timedelta(days=60)) == [recent.request_id]


def test_redaction_refuses_a_zero_retention(compliance_store):
    with pytest.raises(ValueError, match="months"):
        records.redact_older_than(compliance_store, 0)


def test_7101_redaction_before_24_months_is_refused_the_record_needs_its_denial_basis(compliance_store, capsys):
    """§7101 keeps the record, the basis of a denial included, 24 months: a shorter retention is refused (function
    and CLI), and nothing is redacted."""
    made = make(
        compliance_store,
        "ann",
        datetime(2024, 10, 15, tzinfo=UTC),
        decide="reject",
        reason="x",
        sent_after=timedelta(days=1),
    )
    with pytest.raises(ValueError, match="24"):
        records.redact_older_than(compliance_store, 12, now=REDACT_NOW)
    with pytest.raises(SystemExit):
        records.main(["redact", "--months", "12"], store=compliance_store)
    assert "--months must be at least 24" in capsys.readouterr().err
    assert _row(compliance_store, made.request_id).redacted_at is None


def test_records_cli_export_and_redact(year_2026, tmp_path, capsys):
    _, made = year_2026
    out = tmp_path / "records" / "ccpa-records-2026.csv"
    assert records.main(["export", "--year", "2026", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 8
    assert str(out.resolve()) in capsys.readouterr().err

    with time_machine.travel(datetime(2028, 3, 1, tzinfo=UTC), tick=False):
        assert records.main(["redact", "--months", "24", "--dry-run"]) == 0
        captured = capsys.readouterr()
        assert captured.out.split() == [made["before"].request_id, made["complied"].request_id]
        assert "would redact 2 request(s)" in captured.err
        assert records.main(["redact", "--months", "24"]) == 0
        assert len(capsys.readouterr().out.split()) == 2
        assert records.main(["redact"]) == 0
        assert capsys.readouterr().out == ""


def test_metrics_cli_writes_csv_and_png(year_2026, tmp_path, capsys):
    with time_machine.travel(NOW, tick=False):
        assert metrics_mod.main(["metrics", "--year", "2026", "--out-dir", str(tmp_path / "out")]) == 0
    csv_path = tmp_path / "out" / "ccpa-metrics-2026.csv"
    png_path = tmp_path / "out" / "ccpa-metrics-2026.png"
    assert capsys.readouterr().out.split() == [str(csv_path.resolve()), str(png_path.resolve())]

    values = {row["metric"]: row["value"] for row in csv.DictReader(csv_path.open(encoding="utf-8"))}
    assert values == {
        "year": "2026",
        "received": "7",
        "complied": "4",
        "denied": "1",
        "open": "2",
        "median_days": "20.3",
        "mean_days": "29.2",
        "linked_duplicates": "1",
        "complied_account_login": "1",
        "complied_data_points_declaration": "1",
        "complied_power_of_attorney": "0",
        "complied_categories_only": "1",
        "complied_unrecorded": "1",
        "as_of": "2027-01-20",
    }
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png_path) as image:
        assert image.size == (800, 450)
        assert image.format == "PNG"
        assert not any(key.lower().startswith("software") for key in image.info)


def test_the_7101_record_names_both_approvers_of_a_two_person_approval(compliance_store):
    """§7101 records who decided: with two approvals required, both officers (CSV: space-separated)."""
    received = datetime(2026, 6, 1, 9, tzinfo=UTC)
    request_id = compliance_store.register_request(
        "manual__pair", _person("pair"), received, required_approvals=2
    ).request_id
    compliance_store.record_approval(request_id, "U0FIRST", approved_at=received + timedelta(hours=1))
    compliance_store.record_approval(request_id, "U0SECOND", approved_at=received + timedelta(hours=2))
    [line] = records.request_records(compliance_store, *records.year_bounds(2026), now=NOW)
    assert line.approvers == ("U0FIRST", "U0SECOND")
    out = io.StringIO()
    records.export_records_csv(compliance_store, *records.year_bounds(2026), out, now=NOW)
    [row] = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert row["approvers"] == "U0FIRST U0SECOND"


@pytest.mark.parametrize("module", ["include.records", "include.metrics"])
def test_the_documented_cli_paths_still_run(module):
    """`python -m include.records …` and `python -m include.metrics …` are documented commands: they survive the
    move of both modules into include/store/."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"usage: python -m {module}" in done.stdout
