import json
from datetime import UTC, datetime

from include.request import Declaration, Identifiers
from include.slack.blocks import ACTION_APPROVE, ACTION_REJECT, outcome_prompt, review_prompt
from include.store import RequestRecord
from tests.factories import points_json

RECORD = RequestRecord(
    request_id="0123456789abcdef0123456789abcdef",
    run_id="manual__2026-11-27T10:00:00+00:00",
    name="Jane <!channel> Doe",
    email="jane.doe@example.com",
    photo_id_url="https://ids.example.com/jane.png",
    status="received",
    received_at=datetime(2026, 11, 27, 10, tzinfo=UTC),
    due_at=datetime(2027, 1, 11, 10, tzinfo=UTC),
    slack_channel=None,
    slack_ts=None,
    closed_at=None,
    verification=points_json(("email", "name", "phone")),
    identifiers=Identifiers(declaration=Declaration(datetime(2026, 11, 27, 9, tzinfo=UTC), "Jane Doe", "2026-01")),
)


def _buttons(blocks):
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_prompt_shows_the_request_and_offers_approve_and_reject():
    text, blocks = review_prompt(RECORD)
    rendered = json.dumps(blocks)
    assert "jane.doe@example.com" in rendered
    assert "https://ids.example.com/jane.png" in rendered
    assert "2027-01-11" in rendered  # due date
    assert [b["action_id"] for b in _buttons(blocks)] == [ACTION_APPROVE, "ccpa_ask_more", ACTION_REJECT, "ccpa_extend"]
    assert _buttons(blocks)[0]["confirm"]["confirm"]["text"] == "Approve"  # Approve asks for confirmation
    assert text


def test_button_values_identify_the_request_and_carry_no_personal_data():
    _, blocks = review_prompt(RECORD)
    for button in _buttons(blocks):
        assert button["value"] == RECORD.request_id
        assert "jane" not in button["value"].lower()


def test_requester_text_cannot_ping_the_channel():
    _, blocks = review_prompt(RECORD)
    assert "<!channel>" not in json.dumps(blocks)
    assert "&lt;!channel&gt;" in json.dumps(blocks)


def test_outcome_has_no_buttons_and_names_who_decided():
    _, blocks = outcome_prompt(
        RECORD, action="approve", decided_by="U0OFFICER", outcome="report sent", run_url="http://af/run"
    )
    assert _buttons(blocks) == []
    rendered = json.dumps(blocks)
    assert "<@U0OFFICER>" in rendered and "report sent" in rendered and "http://af/run" in rendered


def test_third_request_in_12_months_is_flagged_for_a_statutory_decline():
    _, blocks = review_prompt(RECORD, earlier_requests=2)
    assert "Civ. 1798.130(b)" in json.dumps(blocks)
    _, blocks = review_prompt(RECORD, earlier_requests=1)
    assert "1798.130(b)" not in json.dumps(blocks)


def test_an_extended_request_shows_why_and_offers_no_second_extension():
    from dataclasses import replace

    extended = replace(RECORD, extended_at=RECORD.received_at, extended_by="U0OFFICER", extension_reason="big <data>")
    _, blocks = review_prompt(extended)
    rendered = json.dumps(blocks)
    assert "extended to 90 days" in rendered and "big &lt;data&gt;" in rendered and "<@U0OFFICER>" in rendered
    assert "ccpa_extend" not in [b["action_id"] for b in _buttons(blocks)]


def test_the_fallback_text_cannot_ping_and_the_photo_link_cannot_be_relabelled():
    from dataclasses import replace

    hostile = replace(RECORD, photo_id_url="https://evil.example/x|click here <!here>")
    text, blocks = review_prompt(hostile)
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    outcome_text, _ = outcome_prompt(hostile, action="reject", decided_by="U0OFFICER", outcome="sent")
    assert "<!channel>" not in outcome_text
    rendered = json.dumps(blocks)
    assert "<!here>" not in rendered
    assert "https://evil.example/x%7Cclick here &lt;!here&gt;|open the photo ID>" in rendered


def test_7062_the_prompt_shows_the_level_in_plain_words():
    _, blocks = review_prompt(RECORD)
    rendered = json.dumps(blocks, ensure_ascii=False)
    assert "3 of 3 points match: email, name, phone · declaration signed · enough for specific pieces" in rendered


def test_7062_two_points_turn_approve_into_approve_categories_only():
    from dataclasses import replace

    two = replace(RECORD, verification=points_json(("email", "name")))
    _, blocks = review_prompt(two)
    [approve, *_] = _buttons(blocks)
    assert approve["action_id"] == "ccpa_approve_categories"
    assert approve["text"]["text"] == "Approve categories only"
    assert ACTION_APPROVE not in [b["action_id"] for b in _buttons(blocks)]
    assert "enough for categories only" in json.dumps(blocks)


def test_7062_one_point_offers_no_approval():
    from dataclasses import replace

    _, blocks = review_prompt(replace(RECORD, verification=points_json(("email",))))
    actions = [b["action_id"] for b in _buttons(blocks)]
    assert "ccpa_approve" not in actions and "ccpa_approve_categories" not in actions
    assert "not enough to verify" in json.dumps(blocks)


def test_the_photo_id_is_shown_only_when_given():
    from dataclasses import replace

    _, blocks = review_prompt(replace(RECORD, photo_id_url=""))
    # No link without a photo ID; main (issue 20) says "none provided" instead of hiding the line.
    assert "open the photo ID" not in json.dumps(blocks) and "none provided" in json.dumps(blocks)


# -- §7061: the account login on the prompt (issue 17) -----------------------------------------------------------


def _logged_in(status: str, age_seconds: int = 240, **facts):
    from dataclasses import replace
    from datetime import timedelta

    from include.request import Account
    from include.verification.account import AccountCheck, AccountStatus

    received = RECORD.received_at
    account = Account("ACC-1001", received - timedelta(seconds=age_seconds), "mfa", **facts)
    check = AccountCheck(
        AccountStatus(status), "mfa", age_seconds, 30, ("accounts",), ("accounts",) * (status == "match")
    )
    return replace(RECORD, account=account, account_check=check.to_json())


def _prompt_text(record) -> str:
    return json.dumps(review_prompt(record)[1], ensure_ascii=False)


def test_7061_the_prompt_shows_a_verified_account_login_without_the_account_id():
    rendered = _prompt_text(_logged_in("match"))
    assert "*Account login* (§7061): account held for this email (accounts); mfa login 4 min before the request" in (
        rendered
    )
    assert "ACC-1001" not in rendered


def test_7061_a_mismatched_account_is_a_red_flag_on_the_prompt_never_a_match():
    rendered = _prompt_text(_logged_in("mismatch"))
    assert ":warning: *red flag*: the account id given is not the one held for this email" in rendered
    assert "account held for this email" not in rendered


def test_7061_a_stale_login_is_explained_to_the_officer():
    rendered = _prompt_text(_logged_in("match", age_seconds=3 * 3600))
    assert "the login was 3 h before the request, more than 30 min" in rendered
    assert "treated as a request from a non-account holder" in rendered


def test_fraud_signals_warn_the_officer_without_blocking():
    from datetime import timedelta

    received = RECORD.received_at
    record = _logged_in(
        "match",
        email_changed_at=received - timedelta(days=2),
        password_reset_at=received - timedelta(minutes=6),
    )
    _, blocks = review_prompt(record)
    rendered = json.dumps(blocks)
    assert (
        ":warning: *Fraud signal*: the email address on the account was changed 2 days before the request" in rendered
    )
    assert ":warning: *Fraud signal*: the request came 6 min after a password reset" in rendered
    assert ACTION_APPROVE in [b["action_id"] for b in _buttons(blocks)]  # a warning, not a block
    quiet = _prompt_text(
        _logged_in(
            "match", email_changed_at=received - timedelta(days=40), password_reset_at=received - timedelta(hours=2)
        )
    )
    assert "Fraud signal" not in quiet


def test_the_prompt_dates_follow_a_changed_ccpa_timezone_at_once(monkeypatch):
    """The prompt reads the zone through config.recent_variable: a Variable set in the environment is never stale."""
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "America/Los_Angeles")
    assert "2027-01-11 (America/Los_Angeles)" in json.dumps(review_prompt(RECORD)[1])
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "Asia/Tokyo")
    assert "2027-01-11 (Asia/Tokyo)" in json.dumps(review_prompt(RECORD)[1])
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "Pacific/Kiritimati")  # UTC+14: 10:00 UTC is the next day there
    assert "2027-01-12 (Pacific/Kiritimati)" in json.dumps(review_prompt(RECORD)[1])


def test_7021_a_prompt_posted_by_a_requests_task_shows_its_dates_in_the_requests_zone(monkeypatch):
    """In a task of the request (clock.request_zone), the prompt's dates are in the zone the due date was computed in,
    whatever the Variable says now; outside (the API server after a click), the Variable's zone."""
    from include import clock

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "Pacific/Kiritimati")
    with clock.request_zone("America/Los_Angeles"):
        assert "2027-01-11 (America/Los_Angeles)" in json.dumps(review_prompt(RECORD)[1])
    assert "2027-01-12 (Pacific/Kiritimati)" in json.dumps(review_prompt(RECORD)[1])
