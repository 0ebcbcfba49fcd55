"""The legal clock (§7021) in the business's time zone: include/clock.py. Each test is named after the rule it keeps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from include import clock, config, law

LA = ZoneInfo("America/Los_Angeles")


def pacific(*args: int) -> datetime:
    return datetime(*args, tzinfo=LA)


def test_7021b_receipt_is_the_california_day_not_the_utc_day():
    """18:00 PST on 5 January 2026 is already 6 January in UTC; the request was received on January 5."""
    received = pacific(2026, 1, 5, 18, 0).astimezone(UTC)
    assert received.date() == date(2026, 1, 6)
    assert clock.local_day(received, LA) == date(2026, 1, 5)
    assert clock.format_date(received, LA) == "January 5, 2026 (Pacific Time)"


def test_7021b_due_date_counts_the_day_of_receipt():
    """Day 1 is the day of receipt; the answer is due at the end of the 45th calendar day."""
    due = clock.due_date(pacific(2026, 1, 5, 18, 0), LA)
    assert due.astimezone(LA) == pacific(2026, 2, 18, 23, 59, 59, 999999)
    assert (clock.local_day(due, LA) - date(2026, 1, 5)).days + 1 == law.RESPONSE_DAYS
    # Received one microsecond after midnight or one before: the same day, the same due date.
    assert clock.due_date(pacific(2026, 1, 5, 0, 0), LA) == clock.due_date(pacific(2026, 1, 5, 23, 59, 59), LA) == due


def test_7021b_due_date_is_the_end_of_the_45th_day_across_dst():
    """23:30 PST on 20 February 2026; the period crosses the DST change of 8 March: due at the end of 5 April PDT,
    California day 45 counting the day of receipt."""
    received = pacific(2026, 2, 20, 23, 30)
    due = clock.due_date(received, LA)
    assert due.astimezone(LA) == pacific(2026, 4, 5, 23, 59, 59, 999999)
    assert due.astimezone(LA).utcoffset() == timedelta(hours=-7)  # PDT
    assert (clock.local_day(due, LA) - clock.local_day(received, LA)).days + 1 == 45
    # The old arithmetic (received + 45 x 24 h, in UTC) landed on 7 April 00:30 PDT: past the legal deadline.
    assert (received.astimezone(UTC) + timedelta(days=45)).astimezone(LA) == pacific(2026, 4, 7, 0, 30)


def test_7021b_extension_adds_45_calendar_days_to_the_last_day():
    due = clock.due_date(pacific(2026, 2, 20, 23, 30), LA)  # end of 5 April (PDT)
    extended = clock.extended_due_date(due, LA)
    assert extended.astimezone(LA) == pacific(2026, 5, 20, 23, 59, 59, 999999)
    assert (clock.local_day(extended, LA) - date(2026, 2, 20)).days + 1 == law.EXTENDED_RESPONSE_DAYS
    # Across the November change back to PST: still the end of a local day.
    late = clock.extended_due_date(clock.due_date(pacific(2026, 10, 1, 9), LA), LA)
    assert late.astimezone(LA).time().isoformat() == "23:59:59.999999"
    assert late.astimezone(LA).utcoffset() == timedelta(hours=-8)


def test_7021b_extension_deadline_is_the_end_of_the_first_45_days():
    received = pacific(2026, 1, 5, 18)
    assert clock.extension_deadline(received, LA) == clock.due_date(received, LA)


def test_7021a_acknowledgement_within_10_business_days_less_california_holidays():
    # Monday 5 January 2026: days 5-9, 12-16 are ten business days (no holiday) -> end of Friday 16 January.
    assert clock.acknowledgement_due(pacific(2026, 1, 5, 18), LA).astimezone(LA).date() == date(2026, 1, 16)
    # Monday 12 January: 19 January is Martin Luther King Jr. Day -> the tenth business day is 26 January.
    assert clock.acknowledgement_due(pacific(2026, 1, 12, 9), LA).astimezone(LA).date() == date(2026, 1, 26)
    # Received on a Saturday: counting starts on Monday 12 January (and skips 19 January).
    assert clock.acknowledgement_due(pacific(2026, 1, 10, 9), LA).astimezone(LA).date() == date(2026, 1, 26)
    # California state holidays: Cesar Chavez Day (31 March) and the day after Thanksgiving are not business days.
    assert not clock.is_business_day(date(2026, 3, 31))
    assert not clock.is_business_day(date(2026, 11, 27))
    assert clock.is_business_day(date(2026, 3, 30))


def test_7021_dates_follow_the_ccpa_timezone_variable(monkeypatch):
    received = datetime(2026, 1, 6, 2, 0, tzinfo=UTC)  # 18:00 PST on 5 January, 21:00 EST on 5 January
    assert clock.local_day(received) == date(2026, 1, 5)  # the default zone: America/Los_Angeles
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "Asia/Tokyo")
    assert clock.local_day(received) == date(2026, 1, 6)
    assert clock.format_date(received) == "January 6, 2026 (Asia/Tokyo)"
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "Pacific/Nowhere")
    with pytest.raises(config.ConfigurationError, match="ccpa_timezone"):
        clock.business_timezone()


def test_7021_a_requests_dates_stay_in_the_zone_it_was_registered_under(monkeypatch):
    """Inside ``request_zone`` (a request's task), the zone its deadlines were computed in, whatever the Variable says
    now: the due date the requester was told and the later dates of the same request never disagree."""
    received = datetime(2026, 1, 6, 2, 0, tzinfo=UTC)  # 18:00 PST on 5 January, 11:00 JST on 6 January
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "Asia/Tokyo")  # edited after the request was registered
    with clock.request_zone("America/Los_Angeles"):
        assert clock.business_timezone() == LA
        assert clock.business_timezone(read=config.recent_variable) == LA  # its Slack prompt's dates too
        assert clock.local_day(received) == date(2026, 1, 5)
        assert clock.format_short(received) == "2026-01-05 (America/Los_Angeles)"
        assert clock.lookback_start(received) == pacific(2025, 1, 5, 0, 0)
    # only inside: the next request reads the Variable
    assert clock.business_timezone(read=config.recent_variable) == ZoneInfo("Asia/Tokyo")
    assert clock.local_day(received) == date(2026, 1, 6)
    with clock.request_zone(None):  # a run registered before the zone was passed on: the Variable, as before
        assert clock.business_timezone() == ZoneInfo("Asia/Tokyo")
    with pytest.raises(config.ConfigurationError, match="ccpa_timezone"), clock.request_zone("Pacific/Nowhere"):
        pass


def test_a_request_zone_reads_no_variable(monkeypatch):
    """Issue #22: the run's tasks after the first ask Airflow for no time-zone Variable (a round trip each)."""
    from airflow.sdk import Variable

    reads: list[str] = []
    monkeypatch.setattr(Variable, "get", lambda key, *a, **k: reads.append(key))
    monkeypatch.delenv("AIRFLOW_VAR_CCPA_TIMEZONE", raising=False)
    with clock.request_zone("Europe/Paris"):
        clock.format_date(datetime(2026, 1, 6, tzinfo=UTC))
        clock.due_date(datetime(2026, 1, 6, tzinfo=UTC))
    assert reads == []


def test_civ_1798_130_a_2_B_lookback_is_12_calendar_months_in_a_leap_year():
    """Received 1 March 2025 (after 29 February 2024... and on 29 February 2028): 12 calendar months, not 365 days."""
    # 365 days before 1 March 2025 is 1 March 2024; before 29 February 2028 it is 1 March 2027 (the calendar: 28 Feb).
    assert law.months_before(datetime(2028, 2, 29, 12, tzinfo=UTC), 12) == datetime(2027, 2, 28, 12, tzinfo=UTC)
    # Received 1 March 2024 (a leap year): 365 days back is 2 March 2023 and would miss 1 March 2023.
    received = pacific(2024, 3, 1, 10)
    assert (received - timedelta(days=365)).date() == date(2023, 3, 2)
    start = clock.lookback_start(received, tz=LA)
    assert start == pacific(2023, 3, 1, 0, 0)  # the whole first day, in California
    assert clock.lookback_start(received, everything=True, tz=LA) == pacific(2022, 1, 1, 0, 0)  # back to 2022


def test_dates_shown_to_people_name_the_zone():
    moment = datetime(2026, 2, 19, 7, 59, tzinfo=UTC)
    assert clock.format_date(moment, LA) == "February 18, 2026 (Pacific Time)"
    assert clock.format_short(moment, LA) == "2026-02-18 (America/Los_Angeles)"
    assert clock.format_datetime(moment, LA) == "February 18, 2026 at 23:59 PST"


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="aware"):
        clock.due_date(datetime(2026, 1, 5, 18), LA)
