"""§7101 records of requests to know, and the 24-month retention job that removes personal data afterwards.

The record of a request is built from what the DAG already writes (the request row, its decision, the delivery of the
report or the rejection, the ``report_built`` audit event), so it needs no bookkeeping of its own and holds no
personal data: ids, dates, outcomes, the basis of a denial. Redaction therefore never changes a record or a metric.

CLI (connection ``ccpa_compliance_db``, e.g. from env ``AIRFLOW_CONN_CCPA_COMPLIANCE_DB``)::

    python -m include.records redact --months 24 [--dry-run]   # redacted request ids on stdout, one a line
    python -m include.records export --year 2026 [--out FILE]  # CSV on stdout unless --out
"""

from __future__ import annotations

import argparse
import calendar
import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import and_, insert, literal, select, update

from include.store import (
    REJECT,
    REJECTION,
    REPORT,
    ComplianceStore,
    _aware,
    _naive,
    audit_table,
    decisions_table,
    deliveries_table,
    requests_table,
    utcnow,
)

#: §7021(b): 45 calendar days to answer; one extension makes it 90 in all.
EXTENDED_RESPONSE_DAYS = 90
#: §7101(a): the records are kept for at least 24 months; personal data goes once they are no longer needed.
RETENTION_MONTHS = 24
REDACTION_CHUNK = 500

# Nature of the response, one per request.
COMPLIED = "complied"  # the report was sent
COMPLIED_NO_DATA = "complied_no_data"  # the report was sent and said we hold no personal information: compliance
DENIED = "denied"  # the rejection was sent
LINKED_DUPLICATE = "linked_duplicate"  # a second request while one was open: answered by that one
OPEN = "open"
OVERDUE = "overdue"  # open past its deadline
ANSWERED = frozenset({COMPLIED, COMPLIED_NO_DATA, DENIED})

REDACTED_NAME = "[redacted]"


@dataclass(frozen=True)
class RequestRecordLine:
    """One line of the §7101 log. No name, email or ID photo: the log outlives them."""

    request_id: str
    received_at: datetime
    nature: str
    channel: str
    #: The legal deadline: received + 45 days, or + 90 with the one extension (§7021(b)).
    deadline: datetime
    extended: bool
    response_at: datetime | None
    response: str
    denial_basis: str | None
    days_to_respond: float | None
    #: Answered after the deadline, or still open past it.
    late: bool
    linked_to: str | None

    @property
    def answered(self) -> bool:
        return self.response in ANSWERED


CSV_FIELDS = [f.name for f in fields(RequestRecordLine)]


def round1(value: float) -> float:
    """Half up, as a reader expects (2.25 → 2.3), not Python's half-to-even on a binary float."""
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def days_between(start: datetime, end: datetime) -> float:
    """Calendar days, fractional: a report sent 36 hours after receipt took 1.5 days."""
    return (end - start).total_seconds() / 86400


def request_records(
    store: ComplianceStore, start: datetime, end: datetime, *, now: datetime | None = None
) -> list[RequestRecordLine]:
    """The §7101 record of every request received in [start, end), oldest first; ``now`` decides what is overdue."""
    now = now or utcnow()
    r = requests_table.c
    report = deliveries_table.alias("report_delivery")
    rejection = deliveries_table.alias("rejection_delivery")

    def sent(delivery, kind: str):
        return and_(delivery.c.request_id == r.request_id, delivery.c.kind == kind, delivery.c.status == "sent")

    in_range = and_(r.received_at >= _naive(start), r.received_at < _naive(end))
    query = (
        select(
            r.request_id,
            r.received_at,
            r.due_at,
            r.nature,
            r.channel,
            r.extended_at,
            r.linked_to,
            decisions_table.c.action,
            decisions_table.c.reason,
            report.c.sent_at.label("report_sent_at"),
            rejection.c.sent_at.label("rejection_sent_at"),
        )
        .select_from(
            requests_table.outerjoin(decisions_table, decisions_table.c.request_id == r.request_id)
            .outerjoin(report, sent(report, REPORT))
            .outerjoin(rejection, sent(rejection, REJECTION))
        )
        .where(in_range)
        .order_by(r.received_at, r.request_id)
    )
    # The last report built for each request: its row count tells "we hold nothing about you" from a full report.
    built = (
        select(audit_table.c.request_id, audit_table.c.detail)
        .select_from(audit_table.join(requests_table, audit_table.c.request_id == r.request_id))
        .where(in_range, audit_table.c.event == "report_built")
        .order_by(audit_table.c.id)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
        report_rows = {row.request_id: _rows_in(row.detail) for row in conn.execute(built)}
    return [_line(row, report_rows.get(row.request_id), now) for row in rows]


def _rows_in(detail: str | None) -> int | None:
    try:
        value = json.loads(detail or "null")
    except ValueError:
        return None
    rows = value.get("rows") if isinstance(value, dict) else None
    return rows if isinstance(rows, int) else None


def _line(row: Any, report_rows: int | None, now: datetime) -> RequestRecordLine:
    received_at = _aware(row.received_at)
    extended = row.extended_at is not None
    # An extension (store.extend) moves due_at itself; the legal limit with one is 90 days whatever due_at says.
    deadline = received_at + timedelta(days=EXTENDED_RESPONSE_DAYS) if extended else _aware(row.due_at)
    denial_basis = None
    if row.report_sent_at is not None:
        response_at = _aware(row.report_sent_at)
        response = COMPLIED_NO_DATA if report_rows == 0 else COMPLIED
    elif row.rejection_sent_at is not None:
        response_at = _aware(row.rejection_sent_at)
        response = DENIED
        denial_basis = row.reason if row.action == REJECT else None
    elif row.linked_to is not None:
        response_at, response = None, LINKED_DUPLICATE
    else:
        response_at, response = None, OVERDUE if now > deadline else OPEN
    days = None if response_at is None else round1(days_between(received_at, response_at))
    return RequestRecordLine(
        request_id=row.request_id,
        received_at=received_at,
        nature=row.nature,
        channel=row.channel,
        deadline=deadline,
        extended=extended,
        response_at=response_at,
        response=response,
        denial_basis=denial_basis,
        days_to_respond=days,
        late=response == OVERDUE or (response_at is not None and response_at > deadline),
        linked_to=row.linked_to,
    )


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """A calendar year in UTC, the zone everything is stored in."""
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def export_records_csv(
    store: ComplianceStore, start: datetime, end: datetime, out: IO[str] | str | Path, *, now: datetime | None = None
) -> int:
    """The records as CSV for auditors (UTC ISO-8601 times); returns the number of requests written."""
    lines = request_records(store, start, end, now=now)
    if isinstance(out, str | Path):
        with open(out, "w", newline="", encoding="utf-8") as fh:
            _write_csv(lines, fh)
    else:
        _write_csv(lines, out)
    return len(lines)


def _write_csv(lines: Sequence[RequestRecordLine], fh: IO[str]) -> None:
    writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for line in lines:
        writer.writerow({key: _cell(value) for key, value in asdict(line).items()})


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # a denial reason must not run as a formula in the auditor's spreadsheet
    return value


# -- retention ------------------------------------------------------------------------------------------------


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (31 March - 1 month = 28/29 February)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def redact_older_than(
    store: ComplianceStore,
    months: int = RETENTION_MONTHS,
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    chunk_size: int = REDACTION_CHUNK,
) -> list[str]:
    """Remove the personal data of requests received more than ``months`` months ago; keep the rows for the log.

    Returns the ids redacted (with ``dry_run``: that would be), so the caller can delete the report files kept
    for them and the Slack prompts that show the requester. Idempotent: redacted rows are skipped. One
    transaction per ``chunk_size`` requests keeps locks short on a large backlog.
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    now = now or utcnow()
    r = requests_table.c
    due = and_(r.received_at < _naive(months_before(now, months)), r.redacted_at.is_(None))
    order = (r.received_at, r.request_id)
    if dry_run:
        with store.engine.connect() as conn:
            return list(conn.execute(select(r.request_id).where(due).order_by(*order)).scalars())

    values: dict[str, Any] = {
        "name": REDACTED_NAME,
        "email": literal("redacted+") + r.request_id + literal("@invalid"),
        "photo_id_url": "",
        "redacted_at": _naive(now),
    }
    if "identity_evidence" in r:  # what the officer was shown to verify identity: the name on file
        values["identity_evidence"] = None
    redacted: list[str] = []
    while True:
        with store.engine.begin() as conn:
            chunk = list(
                conn.execute(select(r.request_id).where(due).order_by(*order).limit(chunk_size).with_for_update())
                .scalars()
                .all()
            )
            if not chunk:
                return redacted
            conn.execute(update(requests_table).where(r.request_id.in_(chunk), r.redacted_at.is_(None)).values(values))
            stamp = _naive(utcnow())
            detail = json.dumps({"retention_months": months}, sort_keys=True)
            conn.execute(
                insert(audit_table),
                [
                    {
                        "request_id": request_id,
                        "event": "personal_data_redacted",
                        "actor": "retention",
                        "detail": detail,
                        "created_at": stamp,
                    }
                    for request_id in chunk
                ],
            )
        redacted.extend(chunk)


# -- CLI ------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, store: ComplianceStore | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.records", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    redact = commands.add_parser("redact", help="remove personal data of requests older than the retention period")
    redact.add_argument("--months", type=int, default=RETENTION_MONTHS)
    redact.add_argument("--dry-run", action="store_true", help="list what would be redacted, change nothing")
    export = commands.add_parser("export", help="the §7101 records of one calendar year (UTC) as CSV")
    export.add_argument("--year", type=int, required=True)
    export.add_argument("--out", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args(argv)

    store = store or ComplianceStore.from_connection()
    if args.command == "redact":
        ids = redact_older_than(store, args.months, dry_run=args.dry_run)
        for request_id in ids:
            print(request_id)
        verb = "would redact" if args.dry_run else "redacted"
        print(f"{verb} {len(ids)} request(s) received more than {args.months} months ago", file=sys.stderr)
        if ids and not args.dry_run:
            print("delete their stored report files and Slack prompts too (ids on stdout)", file=sys.stderr)
        return 0

    start, end = year_bounds(args.year)
    if args.out is None:
        count = export_records_csv(store, start, end, sys.stdout)
        print(f"{count} request(s) received in {args.year}", file=sys.stderr)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        count = export_records_csv(store, start, end, args.out)
        print(f"{count} request(s) received in {args.year} written to {args.out.resolve()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
