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


def test_due_date_is_45_calendar_days_after_receipt():
    assert due_date(datetime(2026, 11, 27, 9, 0, tzinfo=UTC)) == datetime(2027, 1, 11, 9, 0, tzinfo=UTC)


def test_the_photo_id_is_optional():
    """The request form makes the photo ID optional: absent or empty, the request is valid without one."""
    assert AccessRequest.from_conf({"name": "Jane", "email": "jane@example.com"}).photo_id_url == ""
    assert (
        AccessRequest.from_conf({"name": "Jane", "email": "jane@example.com", "photo_id_url": " "}).photo_id_url == ""
    )
