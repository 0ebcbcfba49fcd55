"""§7101 records of requests to know, and the 24-month retention job that removes personal data afterwards.

The record of a request is built from what the DAG already writes (the request row, its decision, the delivery of the
report or the rejection, the ``report_built`` audit event), so it needs no bookkeeping of its own and holds no
personal data: ids, dates, outcomes, the basis of a denial. Redaction therefore never changes a record or a metric.

CLI (connection ``ccpa_compliance_db``, e.g. from env ``AIRFLOW_CONN_CCPA_COMPLIANCE_DB``)::

    python -m include.records redact --months 24 [--dry-run]   # redacted request ids on stdout, one a line
                                                               # (closed 24+ months ago; months >= 24)
    python -m include.records export --year 2026 [--out FILE]  # CSV on stdout unless --out
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO, Any

from include import clock, law
from include.store import REJECT, ComplianceStore, Outcome, utcnow

#: §7101(a): the records are kept for at least 24 months; personal data goes once they are no longer needed.
RETENTION_MONTHS = law.RETENTION_MONTHS
REDACTION_CHUNK = 500

# Nature of the response, one per request.
COMPLIED = "complied"  # the report was sent
COMPLIED_NO_DATA = "complied_no_data"  # the report was sent and said we hold no personal information: compliance
DENIED = "denied"  # the rejection was sent
LINKED_DUPLICATE = "linked_duplicate"  # a second request while one was open: answered by that one
OPEN = "open"
OVERDUE = "overdue"  # open past its deadline
#: §7021(b), §7062: no decision by the due date; told identity could not be verified, with the categories disclosure.
EXPIRED_UNVERIFIED = "expired_unverified"
#: The conf failed validation: recorded with the fields at fault, nothing sent (no valid address to answer).
INVALID = "invalid"
EXPIRED_BASIS = "identity could not be verified before the due date (categories disclosed instead)"
ANSWERED = frozenset({COMPLIED, COMPLIED_NO_DATA, DENIED, EXPIRED_UNVERIFIED})


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
    #: Slack user ids of the officers who approved (both, when two approvals are required); empty unless approved.
    approvers: tuple[str, ...] = ()
    #: How the requester was verified for the answer sent (account_login, data_points_declaration,
    #: power_of_attorney, categories_only): the approval's basis. Empty for a denial, an open request, and an
    #: approval recorded before bases were (include.store.schema.BASES).
    verification_basis: str | None = None

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
    return [_line(outcome, now) for outcome in store.outcomes(start, end)]


def _line(row: Outcome, now: datetime) -> RequestRecordLine:
    received_at = row.received_at
    extended = row.extended_at is not None
    # An extension (store.extend) moves due_at itself; the legal limit with one is 90 days whatever due_at says.
    deadline = clock.extended_due_date(clock.due_date(received_at)) if extended else row.due_at
    denial_basis = None
    response_at: datetime | None
    if row.report_sent_at is not None:
        response_at = row.report_sent_at
        response = COMPLIED_NO_DATA if row.report_rows == 0 else COMPLIED
    elif row.rejection_sent_at is not None:
        response_at = row.rejection_sent_at
        response = DENIED
        denial_basis = row.reason if row.action == REJECT else None
    elif row.status == EXPIRED_UNVERIFIED:
        response_at, response, denial_basis = row.expiry_sent_at, EXPIRED_UNVERIFIED, EXPIRED_BASIS
    elif row.status == INVALID:
        response_at, response = None, INVALID
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
        approvers=row.approvers,
        verification_basis=row.basis if response in (COMPLIED, COMPLIED_NO_DATA) else None,
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
    if isinstance(value, tuple):
        return " ".join(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # a denial reason must not run as a formula in the auditor's spreadsheet
    return value


# -- retention ------------------------------------------------------------------------------------------------


def redact_older_than(
    store: ComplianceStore,
    months: int = RETENTION_MONTHS,
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    chunk_size: int = REDACTION_CHUNK,
) -> list[str]:
    """Remove the personal data of requests closed more than ``months`` months ago (abandoned ones: received that
    long ago and never closed); keep the rows for the log.

    §7101 keeps the record of a request 24 months, the basis of a denial included, so ``months`` is at least
    :data:`RETENTION_MONTHS`: the free text of a denial basis goes with the rest, and the officers' fixed reasons
    (include.slack.blocks.REJECTION_REASONS, no personal data) stay. Returns the ids redacted (with ``dry_run``:
    that would be), so the caller can delete the report files kept for them, redact the Slack prompts that show the
    requester and clean Airflow's runs (include.tasks.compliance_watch.apply_retention). Idempotent: redacted rows
    are skipped. One transaction per ``chunk_size`` requests keeps locks short on a large backlog.
    """
    if months < RETENTION_MONTHS:
        raise ValueError(
            f"months must be at least {RETENTION_MONTHS}: §7101 keeps the record of a request, the basis of a "
            "denial included, for 24 months"
        )
    from include.slack.blocks import OTHER_REASON, REJECTION_REASONS

    now = now or utcnow()
    return store.redact_closed_before(
        law.months_before(now, months),
        now=now,
        detail={"retention_months": months},
        dry_run=dry_run,
        chunk_size=chunk_size,
        standard_reasons=[text for key, text in REJECTION_REASONS.items() if key != OTHER_REASON],
    )


# -- CLI ------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, store: ComplianceStore | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.records", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    redact = commands.add_parser(
        "redact", help="remove personal data of requests closed longer ago than the retention period (>= 24 months)"
    )
    redact.add_argument("--months", type=int, default=RETENTION_MONTHS)
    redact.add_argument("--dry-run", action="store_true", help="list what would be redacted, change nothing")
    export = commands.add_parser("export", help="the §7101 records of one calendar year (UTC) as CSV")
    export.add_argument("--year", type=int, required=True)
    export.add_argument("--out", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args(argv)

    if args.command == "redact" and args.months < RETENTION_MONTHS:
        parser.error(f"--months must be at least {RETENTION_MONTHS} (§7101 keeps the record 24 months)")
    store = store or ComplianceStore.from_connection()
    if args.command == "redact":
        ids = redact_older_than(store, args.months, dry_run=args.dry_run)
        for request_id in ids:
            print(request_id)
        verb = "would redact" if args.dry_run else "redacted"
        print(f"{verb} {len(ids)} request(s) closed more than {args.months} months ago", file=sys.stderr)
        if ids and not args.dry_run:
            print(
                "the daily watch (apply_retention) removes their report files, Slack prompts and Airflow runs",
                file=sys.stderr,
            )
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
