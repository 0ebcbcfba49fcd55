from datetime import UTC, datetime

import pytest

from include.request import AccessRequest, InvalidRequest, due_date

GOOD = {"name": "  Jane   Doe ", "email": " Jane.Doe@Example.COM ", "photo_id_url": "https://ids.example.com/j.png"}


def test_normalises_name_email_and_url():
    request = AccessRequest.from_conf(GOOD)
    assert request == AccessRequest("Jane Doe", "jane.doe@example.com", "https://ids.example.com/j.png")


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("name", "   ", "must not be empty"),
        ("name", None, "is missing"),
        ("name", 42, "must be a string"),
        ("name", "x" * 201, "at most 200"),
        ("email", "jane", "not a valid email"),
        ("email", "jane@example", "not a valid email"),
        ("email", "jane@@example.com", "not a valid email"),
        ("email", "jane doe@example.com", "not a valid email"),
        ("email", "jane@example..com", "not a valid email"),
        ("email", "", "not a valid email"),
        ("photo_id_url", "ftp://ids.example.com/j.png", "http(s) URL"),
        ("photo_id_url", "javascript:alert(1)", "http(s) URL"),
        ("photo_id_url", "https://", "http(s) URL"),
        ("photo_id_url", "ids.example.com/j.png", "http(s) URL"),
    ],
)
def test_rejects_bad_fields_naming_the_field_not_the_value(field, value, problem):
    conf = {**GOOD, field: value}
    if value is None:
        del conf[field]
    with pytest.raises(InvalidRequest) as excinfo:
        AccessRequest.from_conf(conf)
    assert excinfo.value.field == field
    assert f"'{field}'" in str(excinfo.value) and problem in str(excinfo.value)
    if isinstance(value, str) and value.strip():
        assert value.strip() not in str(excinfo.value), "personal data must not end up in logs"


def test_sql_metacharacters_are_a_valid_email():
    assert AccessRequest.from_conf({**GOOD, "email": "o'brien+x\"--@example.com"}).email == "o'brien+x\"--@example.com"


def test_7021b_due_date_is_the_end_of_the_45th_california_day():
    """09:00 UTC on 27 November 2026 is 01:00 PST that day: due at the end of 10 January 2027, Pacific Time."""
    assert due_date(datetime(2026, 11, 27, 9, 0, tzinfo=UTC)) == datetime(2027, 1, 11, 7, 59, 59, 999999, tzinfo=UTC)


ENTERED = datetime(2026, 1, 8, 17, 0, tzinfo=UTC)


def test_7021_received_at_is_when_the_consumer_made_the_request():
    """Requests made by email or phone are entered later: the legal clock starts at ``received_at``."""
    from include.request import received_at_of

    received = received_at_of({"received_at": "2026-01-05T18:00:00-08:00"}, ENTERED)
    assert received == datetime(2026, 1, 6, 2, 0, tzinfo=UTC)
    assert received_at_of({}, ENTERED) == ENTERED  # default: the trigger time
    assert received_at_of({"received_at": None}, ENTERED) == ENTERED
    assert received_at_of({"received_at": "2026-01-06T02:00:00Z"}, ENTERED) == received


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2026-01-09T10:00:00+00:00", "must not be in the future"),
        ("2026-01-05T18:00:00", "UTC offset"),  # which California day would it be?
        ("2026-01-05", "UTC offset"),
        ("yesterday", "UTC offset"),
        (1736128800, "UTC offset"),
        ("2026-02-30T10:00:00+00:00", "UTC offset"),
    ],
)
def test_7021_received_at_in_the_future_or_without_offset_is_refused(value, problem):
    from include.request import received_at_of

    with pytest.raises(InvalidRequest) as excinfo:
        received_at_of({"received_at": value}, ENTERED)
    assert excinfo.value.field == "received_at" and problem in str(excinfo.value)


def test_7101_channel_is_required_and_one_of_the_ways_a_request_is_made():
    from include.request import CHANNELS, channel_of

    assert {"web_form", "email", "phone", "mail", "in_person", "app", "agent"} <= set(CHANNELS)
    assert channel_of({"channel": "phone"}) == "phone"
    for conf in ({}, {"channel": None}, {"channel": "fax machine"}):
        with pytest.raises(InvalidRequest) as excinfo:
            channel_of(conf)
        assert excinfo.value.field == "channel"


def test_the_photo_id_is_optional():
    """The request form makes the photo ID optional: absent or empty, the request is valid without one."""
    assert AccessRequest.from_conf({"name": "Jane", "email": "jane@example.com"}).photo_id_url == ""
    assert (
        AccessRequest.from_conf({"name": "Jane", "email": "jane@example.com", "photo_id_url": " "}).photo_id_url == ""
    )
