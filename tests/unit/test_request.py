from datetime import UTC, datetime

import pytest

from include.request import AccessRequest, Declaration, Identifiers, InvalidRequest, declaration_text, due_date

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


# -- request types, identifiers and the declaration (§7060-§7063) -------------------------------------------------

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DECLARATION = {"signed_at": "2026-12-01T11:00:00Z", "signer_name": "jane doe", "statement_version": "2026-01"}


def test_the_photo_id_is_optional_and_specific_pieces_is_the_default():
    request = AccessRequest.from_conf({"name": "Jane Doe", "email": "jane@example.com"})
    assert request.photo_id_url == "" and request.request_type == "specific_pieces"
    assert request.identifiers == Identifiers()


def test_identifiers_are_normalised_and_travel_as_json():
    request = AccessRequest.from_conf(
        {
            **GOOD,
            "request_type": "categories",
            "phone": " +1 (415)  555-1000 ",
            "postal_address": " 100  Market St ",
            "account_id": " A-1 ",
            "declaration": DECLARATION,
        },
        now=NOW,
    )
    ids = request.identifiers
    assert request.request_type == "categories"
    assert (ids.phone, ids.postal_address, ids.account_id) == ("+1 (415) 555-1000", "100 Market St", "A-1")
    assert ids.declaration == Declaration(datetime(2026, 12, 1, 11, 0, tzinfo=UTC), "jane doe", "2026-01")
    assert Identifiers.from_json(ids.to_json()) == ids
    assert request.to_dict()["identifiers"] == ids.to_json()


def test_7063_the_declaration_statement_text_is_versioned():
    assert "under penalty of perjury" in declaration_text("2026-01")
    with pytest.raises(InvalidRequest):
        declaration_text("1999-01")


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("request_type", "everything", "must be one of"),
        ("phone", "call me", "phone number"),
        ("phone", "12345", "phone number"),
        ("phone", "+1 234 567 890 123 456 7", "phone number"),
        ("phone", 4155551000, "must be a string"),
        ("postal_address", "x" * 301, "at most 300"),
        ("postal_address", "100 Market\x00St", "printable"),
        ("account_id", "has space", "letters, digits"),
        ("account_id", "x" * 129, "letters, digits"),
        ("declaration", "I am Jane", "must be an object"),
        ("declaration", {**DECLARATION, "extra": 1}, "unknown field"),
        ("declaration.signed_at", {**DECLARATION, "signed_at": "yesterday"}, "ISO 8601"),
        ("declaration.signed_at", {**DECLARATION, "signed_at": "2026-12-02T12:00:00Z"}, "in the future"),
        ("declaration.signer_name", {**DECLARATION, "signer_name": "Someone Else"}, "requester's name"),
        ("declaration.signer_name", {k: v for k, v in DECLARATION.items() if k != "signer_name"}, "is missing"),
        ("declaration.statement_version", {**DECLARATION, "statement_version": "0"}, "not a known statement"),
    ],
)
def test_bad_identifiers_are_refused_naming_the_field(field, value, problem):
    top = field.split(".")[0]
    with pytest.raises(InvalidRequest) as excinfo:
        AccessRequest.from_conf({**GOOD, top: value}, now=NOW)
    assert excinfo.value.field == field and problem in str(excinfo.value)
    if isinstance(value, str) and len(value) > 3:
        assert value not in str(excinfo.value), "personal data must not end up in logs"


def test_blank_optional_identifiers_are_not_given():
    request = AccessRequest.from_conf({**GOOD, "phone": " ", "postal_address": None, "account_id": ""})
    assert request.identifiers == Identifiers()


# -- §7061: the account login the intake asserts (issue 17) -------------------------------------------------------

ACCOUNT = {"account_id": " ACC-1001 ", "authenticated_at": "2026-12-01T11:55:00Z", "method": "MFA"}


def test_7061_the_account_login_is_validated_and_normalised():
    from include.request import Account

    conf = {
        **GOOD,
        "account": {
            **ACCOUNT,
            "delivery_url": "https://example.com/messages/123",
            "email_changed_at": "2026-11-20T10:00:00+00:00",
            "password_reset_at": "2026-12-01T11:50:00",
        },
    }
    request = AccessRequest.from_conf(conf, now=NOW)
    assert request.account == Account(
        "ACC-1001",
        datetime(2026, 12, 1, 11, 55, tzinfo=UTC),
        "mfa",
        "https://example.com/messages/123",
        datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 11, 50, tzinfo=UTC),
    )
    assert Account.from_json(request.to_dict()["account"]) == request.account
    assert AccessRequest.from_conf(GOOD, now=NOW).to_dict()["account"] is None


@pytest.mark.parametrize(
    ("account", "field", "problem"),
    [
        ("ACC-1001", "account", "must be an object"),
        ({**ACCOUNT, "password": "x"}, "account", "unknown field"),
        ({k: v for k, v in ACCOUNT.items() if k != "method"}, "account.method", "is missing"),
        ({**ACCOUNT, "method": "pass word"}, "account.method", "short word"),
        ({**ACCOUNT, "account_id": "has space"}, "account.account_id", "letters, digits"),
        ({**ACCOUNT, "authenticated_at": "yesterday"}, "account.authenticated_at", "ISO 8601"),
        ({**ACCOUNT, "authenticated_at": "2026-12-01T13:00:00Z"}, "account.authenticated_at", "not be in the future"),
        ({**ACCOUNT, "password_reset_at": "2026-12-02T00:00:00Z"}, "account.password_reset_at", "not be in the future"),
        ({**ACCOUNT, "delivery_url": "http://example.com/m"}, "account.delivery_url", "https URL"),
        ({**ACCOUNT, "delivery_url": "javascript:alert(1)"}, "account.delivery_url", "https URL"),
    ],
)
def test_7061_a_malformed_account_login_is_refused_naming_the_field(account, field, problem):
    with pytest.raises(InvalidRequest) as excinfo:
        AccessRequest.from_conf({**GOOD, "account": account}, now=NOW)
    assert excinfo.value.field == field and problem in str(excinfo.value)


def test_7061_the_account_id_and_the_login_must_name_the_same_account():
    with pytest.raises(InvalidRequest) as excinfo:
        AccessRequest.from_conf({**GOOD, "account_id": "ACC-9", "account": ACCOUNT}, now=NOW)
    assert excinfo.value.field == "account.account_id"
    assert AccessRequest.from_conf({**GOOD, "account_id": "ACC-1001", "account": ACCOUNT}, now=NOW).account


def test_7061_the_param_schema_refuses_a_non_https_delivery_url():
    import jsonschema

    from include.request import PARAM_SCHEMAS

    jsonschema.validate({**ACCOUNT, "delivery_url": "https://example.com/m"}, PARAM_SCHEMAS["account"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**ACCOUNT, "delivery_url": "http://example.com/m"}, PARAM_SCHEMAS["account"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"account_id": "A"}, PARAM_SCHEMAS["account"])


def test_the_photo_id_is_optional():
    """The request form makes the photo ID optional: absent or empty, the request is valid without one."""
    assert AccessRequest.from_conf({"name": "Jane", "email": "jane@example.com"}).photo_id_url == ""
    assert (
        AccessRequest.from_conf({"name": "Jane", "email": "jane@example.com", "photo_id_url": " "}).photo_id_url == ""
    )


AGENT = {
    "name": " Alex  Agent ",
    "email": "Alex@Agents.Example",
    "permission": {"kind": "power_of_attorney", "document_url": "https://x.example/poa.pdf"},
}


def test_7063_an_authorised_agent_is_validated_and_kept_apart_from_the_consumer():
    request = AccessRequest.from_conf({**GOOD, "agent": AGENT})
    agent = request.identifiers.agent
    assert (agent.name, agent.email, agent.permission_kind) == (
        "Alex Agent",
        "alex@agents.example",
        "power_of_attorney",
    )
    assert request.email == "jane.doe@example.com", "the consumer's email is the one searched and answered"
    assert Identifiers.from_json(request.identifiers.to_json()).agent == agent


@pytest.mark.parametrize(
    ("field", "agent"),
    [
        ("agent", "Alex"),
        ("agent.email", {**AGENT, "email": "not-an-email"}),
        ("agent.permission.kind", {**AGENT, "permission": {"kind": "verbal", "document_url": "https://x.example/p"}}),
        ("agent.permission.document_url", {**AGENT, "permission": {"kind": "signed_permission", "document_url": "x"}}),
        ("agent.permission", {**AGENT, "permission": None}),
    ],
)
def test_7063_a_malformed_agent_is_refused(field, agent):
    with pytest.raises(InvalidRequest) as excinfo:
        AccessRequest.from_conf({**GOOD, "agent": agent})
    assert excinfo.value.field == field


def test_param_schemas_give_the_same_verdicts_under_draft_07_as_under_the_default_draft() -> None:
    """The DAG's params name draft-07 (its metaschema check is ~4x cheaper, paid in every task process); the verdict
    on any conf must be what the default draft (2020-12) gives: a malformed trigger is still refused, a good one
    still accepted."""
    import jsonschema

    from include.request import PARAM_SCHEMA_DRAFT, PARAM_SCHEMAS

    samples: list[object] = [
        None, "", " ", "x", "Jane Doe", "jane@example.com", "not-an-email", "web_form", "fax", "categories",
        "2026-01-05T18:00:00-08:00", "2026-01-05 18:00", "https://example.com/id.png", "ftp://x", "+1 (555) 010-0000",
        "555-CALL", "en", "es", "fr", "12_months", "all", 7, 1.5, True, [], ["a"], {},
        {"account_id": "A1", "authenticated_at": "2026-01-05T18:00:00Z", "method": "password"},
        {"account_id": "A1", "authenticated_at": "2026-01-05T18:00:00Z", "method": "password", "extra": 1},
        {"account_id": "", "authenticated_at": "short", "method": "x"},
        {"name": "Ann Agent", "email": "ann@example.com",
         "permission": {"kind": "power_of_attorney", "document_url": "https://example.com/poa.pdf"}},
        {"name": "Ann Agent", "email": "ann@example.com", "permission": {"kind": "other", "document_url": "u"}},
        {"signed_at": "2026-01-05T18:00:00Z", "signer_name": "Jane Doe", "statement_version": "2026-12-web-form-1"},
        {"signed_at": "2026-01-05T18:00:00Z", "signer_name": "Jane Doe"},
    ]  # fmt: skip
    assert len(PARAM_SCHEMAS) >= 14
    for name, schema in PARAM_SCHEMAS.items():
        assert schema["$schema"] == PARAM_SCHEMA_DRAFT
        default_draft = {k: v for k, v in schema.items() if k != "$schema"}
        jsonschema.Draft7Validator.check_schema(schema)
        for value in samples:
            ours = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).is_valid(value)
            default = jsonschema.Draft202012Validator(
                default_draft, format_checker=jsonschema.FormatChecker()
            ).is_valid(value)
            assert ours == default, (name, value)
