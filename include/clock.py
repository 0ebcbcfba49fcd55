"""The legal clock (§7021) in the business's time zone: every legal date of a request is computed here.

The law counts calendar days (and, for the acknowledgement, business days) where the business is, not in UTC: a
request made at 18:00 PST on 5 January was received on 5 January, although it is already the 6th in UTC. The zone is
the Airflow Variable ``ccpa_timezone`` (default ``America/Los_Angeles``); the numbers come from :mod:`include.law`.

Conventions, each the one that never makes the business late:

* The 45-day period begins **on the day of receipt** (that day is day 1), and the answer is due at the **end of the
  45th calendar day** (23:59:59.999999 local time). The extension adds 45 calendar days to that last day, the same
  way. Days are counted on the calendar, not as 24-hour blocks, so a period that crosses a DST change still ends at
  local midnight (zoneinfo resolves the UTC offset of each end).
* The acknowledgement is due at the end of the **10th business day**, counting the day of receipt when it is a
  business day. Business days are weekdays that are not California state holidays (the ``holidays`` package).

Stored times stay UTC (aware ``datetime``); only the day arithmetic and what a person reads are local.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from include import config, law

DEFAULT_TIMEZONE = "America/Los_Angeles"
#: How a few zones read in an email; any other zone is named by its IANA key.
ZONE_NAMES = {
    "America/Los_Angeles": "Pacific Time",
    "America/New_York": "Eastern Time",
    "America/Chicago": "Central Time",
    "America/Denver": "Mountain Time",
    "UTC": "UTC",
}
#: The holidays calendar whose days are not business days (California state holidays).
HOLIDAY_COUNTRY = "US"
HOLIDAY_SUBDIVISION = "CA"


#: The zone a request was registered under, while one of its tasks runs (:func:`request_zone`).
_REQUEST_ZONE: ContextVar[ZoneInfo | None] = ContextVar("ccpa_request_zone", default=None)


def business_timezone(read: Callable[[str, str], str] | None = None) -> ZoneInfo:
    """The zone of the Variable ``ccpa_timezone`` (default America/Los_Angeles); an unknown name is refused.

    Inside :func:`request_zone`, the zone the request was registered under instead. ``read``: how the Variable is
    read — the Slack prompts pass :func:`config.recent_variable` (the API server renders one after every click: not a
    metadata-DB query per date shown); by default :func:`config.get_variable`."""
    pinned = _REQUEST_ZONE.get()
    if pinned is not None:
        return pinned
    read = read or config.get_variable
    return zone(read(config.VAR_TIMEZONE, DEFAULT_TIMEZONE) or DEFAULT_TIMEZONE)


@contextmanager
def request_zone(name: str | None) -> Iterator[None]:
    """Within: every legal date of the request is in ``name``, the zone its deadlines were computed in when it was
    registered (``validate_request`` returns it to the run's later tasks).

    One zone per request from receipt to answer: the due date the requester was told, the lookback window and the
    report's dates all read in the same zone even if the Variable is edited while the request is open. And no task
    after the first asks Airflow for the Variable again (issue #22: a round trip through the task's supervisor to
    the API server and its database, in every task of every request). ``None`` (a run registered before the zone
    was passed on) reads the Variable as before."""
    if not name:
        yield
        return
    token = _REQUEST_ZONE.set(zone(name))
    try:
        yield
    finally:
        _REQUEST_ZONE.reset(token)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise config.ConfigurationError(
            f"Airflow Variable '{config.VAR_TIMEZONE}' must be an IANA time zone such as "
            f"'{DEFAULT_TIMEZONE}', got {name!r}"
        ) from None


def _tz(tz: ZoneInfo | None) -> ZoneInfo:
    return tz if tz is not None else business_timezone()


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a legal date needs an aware datetime (with its UTC offset)")
    return moment


def local_day(moment: datetime, tz: ZoneInfo | None = None) -> date:
    """The calendar day ``moment`` falls on in the business's zone."""
    return _aware(moment).astimezone(_tz(tz)).date()


def end_of_day(day: date, tz: ZoneInfo | None = None) -> datetime:
    """The last instant (23:59:59.999999 local) of ``day`` in the business's zone, as UTC."""
    return datetime.combine(day, time.max, tzinfo=_tz(tz)).astimezone(UTC)


def due_date(received_at: datetime, tz: ZoneInfo | None = None) -> datetime:
    """§7021(b): the end of the 45th calendar day, counting the day of receipt as the first."""
    tz = _tz(tz)
    return end_of_day(local_day(received_at, tz) + timedelta(days=law.RESPONSE_DAYS - 1), tz)


def extension_deadline(received_at: datetime, tz: ZoneInfo | None = None) -> datetime:
    """§7021(b): the extension, and its notice, must come within the first 45 days: by the original due date."""
    return due_date(received_at, tz)


def extended_due_date(due_at: datetime, tz: ZoneInfo | None = None) -> datetime:
    """§7021(b): the one extension adds 45 calendar days to the last day of the first period."""
    tz = _tz(tz)
    return end_of_day(local_day(due_at, tz) + timedelta(days=law.EXTENSION_DAYS), tz)


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays(HOLIDAY_COUNTRY, subdiv=HOLIDAY_SUBDIVISION, years=year))


def is_business_day(day: date) -> bool:
    """A weekday that is not a California state holiday."""
    return day.weekday() < 5 and day not in _holidays(day.year)


def acknowledgement_due(received_at: datetime, tz: ZoneInfo | None = None) -> datetime:
    """§7021(a): the end of the 10th business day, counting the day of receipt when it is one."""
    tz = _tz(tz)
    day = local_day(received_at, tz)
    counted = 1 if is_business_day(day) else 0
    while counted < law.ACKNOWLEDGEMENT_BUSINESS_DAYS:
        day += timedelta(days=1)
        counted += is_business_day(day)
    return end_of_day(day, tz)


def lookback_start(received_at: datetime, everything: bool = False, tz: ZoneInfo | None = None) -> datetime:
    """Civ. 1798.130(a)(2)(B): the start of the 12 calendar months before receipt (midnight of that local day),
    or 1 January 2022 when the requester asks for everything."""
    tz = _tz(tz)
    if everything:  # 1 January 2022, as the business's calendar has it
        return datetime.combine(law.EARLIEST_LOOKBACK.date(), time.min, tzinfo=tz).astimezone(UTC)
    start = law.months_before(_aware(received_at).astimezone(tz), law.LOOKBACK_MONTHS)
    return datetime.combine(start.date(), time.min, tzinfo=tz).astimezone(UTC)


def zone_name(tz: ZoneInfo | None = None) -> str:
    tz = _tz(tz)
    return ZONE_NAMES.get(tz.key, tz.key)


def format_date(moment: datetime, tz: ZoneInfo | None = None) -> str:
    """A date as a person reads it, naming the zone: "January 5, 2026 (Pacific Time)"."""
    tz = _tz(tz)
    return f"{local_day(moment, tz):%B %-d, %Y} ({zone_name(tz)})"


def format_short(moment: datetime, tz: ZoneInfo | None = None) -> str:
    """For officers (Slack): "2026-01-05 (America/Los_Angeles)"."""
    tz = _tz(tz)
    return f"{local_day(moment, tz):%Y-%m-%d} ({tz.key})"


def format_datetime(moment: datetime, tz: ZoneInfo | None = None) -> str:
    """A date and time, naming the zone: "January 5, 2026 at 18:00 PST"."""
    local = _aware(moment).astimezone(_tz(tz))
    return f"{local:%B %-d, %Y at %H:%M} {local.tzname()}"
