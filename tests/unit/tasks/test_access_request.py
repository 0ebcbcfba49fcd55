"""validate_request on the real MariaDB store: receipt, channel, invalid confs, duplicates, the requester's
language and a request without a photo ID; send_report's delivery through the account channel (§7061)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import AirflowFailException

from devtools.standins.mail_sink import MailSink
from include.request import AccessRequest, Account, Declaration, Identifiers
from include.store.schema import BASIS_ACCOUNT_LOGIN, BASIS_DATA_POINTS_DECLARATION
from include.tasks import access_request as workflow
from include.verification.account import delivery_url
from tests.conftest import use_smtp

ENTERED = datetime(2026, 1, 8, 17, 0, tzinfo=UTC)
CONF = {"name": "Jane Doe", "email": "jane@example.com", "photo_id_url": "https://x.example/id", "channel": "email"}


def test_7021_every_legal_date_derives_from_received_at(compliance_store):
    out = workflow.validate_request({**CONF, "received_at": "2026-01-05T18:00:00-08:00"}, "run-phone", ENTERED)
    record = compliance_store.get_request(out["request_id"])
    assert record.received_at == datetime(2026, 1, 6, 2, 0, tzinfo=UTC) and record.entered_at == ENTERED
    assert record.due_at == datetime(2026, 2, 19, 7, 59, 59, 999999, tzinfo=UTC)  # end of 18 Feb, Pacific
    assert record.channel == "email"


def test_7021_the_zone_of_the_due_date_is_passed_to_the_runs_later_tasks(compliance_store, monkeypatch):
    """validate_request computes the due date in the business's zone and returns that zone: the run's later tasks
    date the request in it (clock.request_zone), even if the Variable is edited while the request is open."""
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "America/New_York")
    out = workflow.validate_request({**CONF, "received_at": "2026-01-05T22:00:00-05:00"}, "run-zone", ENTERED)
    assert out["timezone"] == "America/New_York"
    record = compliance_store.get_request(out["request_id"])
    assert record.due_at == datetime(2026, 2, 19, 4, 59, 59, 999999, tzinfo=UTC)  # end of 18 Feb, Eastern


def test_7101_an_invalid_conf_is_recorded_fields_named_values_not_kept(compliance_store):
    """A conf that passes the REST schema but not validate_request: the §7101 log shows it, as ``invalid``, with the
    fields at fault and none of their values; the run fails without retries."""
    from sqlalchemy import select

    from include.store import records
    from include.store.schema import audit_table, requests_table

    bad = {**CONF, "email": "jane@example", "received_at": "2027-01-01T00:00:00+00:00"}
    with pytest.raises(AirflowFailException) as excinfo:
        workflow.validate_request(bad, "run-bad", ENTERED)
    assert "'email'" in str(excinfo.value) and "'received_at'" in str(excinfo.value)
    assert "jane@example" not in str(excinfo.value)
    record = compliance_store.find_by_run_id("run-bad")
    assert record is not None and record.status == "invalid" and record.closed_at is not None
    assert record.channel == "email"
    with compliance_store.engine.connect() as conn:
        stored = " ".join(str(v) for v in conn.execute(select(requests_table)).one())
        stored += " ".join(str(r.detail) for r in conn.execute(select(audit_table)))
    assert "Jane" not in stored and "jane@example" not in stored and "x.example" not in stored
    assert compliance_store.audit_trail(record.request_id)[0]["detail"]["fields"] == ["email", "received_at"]
    year = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    [line] = records.request_records(compliance_store, *year)
    assert line.response == records.INVALID
    # Retried (the same run), it is recorded once.
    with pytest.raises(AirflowFailException):
        workflow.validate_request(bad, "run-bad", ENTERED)
    assert len(records.request_records(compliance_store, *year)) == 1


def test_civ_1798_130_a_2_B_a_duplicate_asking_for_all_widens_the_open_request(compliance_store):
    import time_machine

    with time_machine.travel(ENTERED, tick=False):
        first = workflow.validate_request(CONF, "run-1", ENTERED)
        assert first["lookback"] == "12_months"
        second = workflow.validate_request({**CONF, "lookback": "all"}, "run-2", ENTERED)
    assert second["linked_to"] == first["request_id"]
    assert compliance_store.get_request(first["request_id"]).lookback == "all"
    assert workflow._since(ENTERED, "12_months", "all") == datetime(2022, 1, 1, 8, tzinfo=UTC)  # 00:00 PST


NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
ANA = {"name": "Ana Núñez", "email": "ana@example.com", "channel": "web_form"}


@pytest.mark.parametrize(
    ("conf_language", "variable", "expected"),
    [("es", None, "es"), ("en", "es", "en"), ("", "es", "es"), (None, None, "en"), (None, "fr", "en")],
)
def test_7003_the_request_is_answered_in_the_requesters_language(
    compliance_store, monkeypatch, conf_language, variable, expected
):
    if variable is None:
        monkeypatch.delenv("AIRFLOW_VAR_CCPA_DEFAULT_LANGUAGE", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_DEFAULT_LANGUAGE", variable)
    conf = {**ANA, **({"language": conf_language} if conf_language is not None else {})}
    result = workflow.validate_request(conf, f"manual__lang_{conf_language}_{variable}", NOW)
    assert compliance_store.get_request(result["request_id"]).language == expected


def test_a_request_without_a_photo_id_is_registered(compliance_store):
    result = workflow.validate_request({**ANA, "photo_id_url": ""}, "manual__no_photo", NOW)
    record = compliance_store.get_request(result["request_id"])
    assert record.photo_id_url == ""
    from include.slack.blocks import review_prompt

    _text, blocks = review_prompt(record)
    assert "none provided" in str(blocks) and "open the photo ID" not in str(blocks)


# -- §7061: delivery through the account channel (issue 17) --

RECEIVED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CENTRE = "https://shop.example.com/account/messages/privacy-123"


@pytest.fixture
def sink(tmp_path, monkeypatch):
    with MailSink(tmp_path / "mail") as sink:
        use_smtp(monkeypatch, sink.port)
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_FROM_EMAIL", "privacy@example.com")
        yield sink


def _logged_in(store, delivery: str | None = CENTRE):
    account = Account("ACC-1001", RECEIVED - timedelta(minutes=3), "mfa", delivery)
    request = AccessRequest("Jane Doe", "jane.doe@example.com", account=account)
    return store.register_request("manual__account", request, RECEIVED)


def test_7061_a_report_verified_by_login_goes_through_the_account_channel_not_email(sink, compliance_store):
    from include.tasks import access_request as workflow

    record = _logged_in(compliance_store)
    compliance_store.record_decision(record.request_id, "approve", "U0OFFICER", scope="full", basis="account_login")
    # The report itself is never read: nothing of it may go into the email.
    workflow.send_report(record.request_id, {"html": "file:///nonexistent/report.html", "files": []})
    [mail] = sink.wait_for(1)
    assert mail.message["Subject"] == "Your CCPA access request: your answer is in your account"
    assert not [part for part in mail.message.walk() if part.get_filename()], "attachments are withheld"
    body = mail.message.get_body(("html",)).get_content()
    assert CENTRE in body and "none of your personal information" in body
    events = [e["event"] for e in compliance_store.audit_trail(record.request_id)]
    assert "report_via_account_channel" in events and "email_sent" in events


def test_7061_the_account_channel_only_when_the_approval_rests_on_the_login(compliance_store):
    record = _logged_in(compliance_store)
    assert delivery_url(record, BASIS_ACCOUNT_LOGIN) == CENTRE
    assert delivery_url(record, BASIS_DATA_POINTS_DECLARATION) is None  # a stale login verified by data points
    assert delivery_url(_logged_in_without_channel(compliance_store), BASIS_ACCOUNT_LOGIN) is None


def _logged_in_without_channel(store):
    account = Account("ACC-1001", RECEIVED - timedelta(minutes=3), "mfa")
    return store.register_request(
        "manual__nochannel", AccessRequest("Jane Doe", "j@example.com", account=account), RECEIVED
    )


def test_7061_7024_a_categories_answer_held_down_by_a_mismatched_login_says_so(compliance_store):
    from dataclasses import replace

    from include.datastores.identity import StoreMatch
    from include.tasks.access_request import _unverified_reason
    from include.verification.account import AccountCheck, AccountStatus

    three = StoreMatch("crm", True, True, ("email", "name", "phone"))
    record = replace(
        _logged_in(compliance_store),
        identifiers=Identifiers(declaration=Declaration(RECEIVED, "Jane Doe", "2026-01")),
        verification=json.dumps({"given": ["email", "name", "phone"], "stores": [three.to_dict()]}),
    )
    assert _unverified_reason(record).text("en") == (
        "the law requires 3 matching pieces of information and a signed declaration; "
        "3 of the pieces of information you gave matched our records"
    )
    assert _unverified_reason(record).text("es").startswith("la ley exige 3 datos coincidentes")
    mismatch = AccountCheck(AccountStatus.MISMATCH, "mfa", 180, 30, ("accounts",))
    assert _unverified_reason(replace(record, account_check=mismatch.to_json())).text("en") == (
        "the account you were signed in to when making the request is not the one we hold for your email"
    )


def test_7021a_the_acknowledgement_task_says_a_categories_request_asks_for_the_categories(sink, compliance_store):
    """The run's acknowledgement follows the request's type, in the request's language."""
    categories = compliance_store.register_request(
        "manual__ack_categories",
        AccessRequest("Ana Núñez", "ana@example.com", request_type="categories"),
        RECEIVED,
        language="es",
    )
    copy = compliance_store.register_request(
        "manual__ack_copy", AccessRequest("Jane Doe", "jane.doe@example.com"), RECEIVED
    )
    workflow.send_acknowledgement(categories.request_id)
    workflow.send_acknowledgement(copy.request_id)
    sent = {m.message["To"]: m.message.get_body(("html",)).get_content() for m in sink.wait_for(2)}
    assert "las categorías (no una copia)" in sent["ana@example.com"]
    assert "What you asked for: a copy." in sent["jane.doe@example.com"]
    assert "categories (not a copy)" not in sent["jane.doe@example.com"]


def test_non_ascii_address_without_smtputf8_is_refused_at_intake_not_at_the_first_email(
    compliance_store, monkeypatch, tmp_path
):
    """Issue 18: josé@… can only be answered over SMTPUTF8 (RFC 6531). A server that does not offer it makes the
    request unanswerable by email: it is refused at intake, recorded as invalid (field named, value not kept), and
    nothing is sent: never an acknowledgement attempt that fails later or a delivery stuck "in doubt"."""
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_EMAIL_BACKEND", "smtp")
    permission = {"kind": "signed_permission", "document_url": "https://x.example/p"}
    agent = {"name": "Alex Agent", "email": "álex@agents.example", "permission": permission}
    with MailSink(tmp_path / "old", smtputf8=False) as old_server:
        use_smtp(monkeypatch, old_server.port)
        with pytest.raises(AirflowFailException, match="SMTPUTF8") as excinfo:
            workflow.validate_request({**CONF, "email": "josé@example.com"}, "run-utf8", ENTERED)
        assert "'email'" in str(excinfo.value) and "josé" not in str(excinfo.value)
        record = compliance_store.find_by_run_id("run-utf8")
        assert record is not None and record.status == "invalid"
        assert compliance_store.audit_trail(record.request_id)[0]["detail"]["fields"] == ["email"]
        # An agent's address is answered too (§7063: the agent gets the notice): refused the same way.
        with pytest.raises(AirflowFailException, match=r"'agent\.email'"):
            workflow.validate_request({**CONF, "agent": agent}, "run-utf8-agent", ENTERED)
        # ASCII addresses need no SMTPUTF8: accepted by the same server.
        assert workflow.validate_request(CONF, "run-ascii", ENTERED)["request_id"]
        assert old_server.messages() == []


def test_non_ascii_address_is_accepted_when_the_server_offers_smtputf8(compliance_store, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_EMAIL_BACKEND", "smtp")
    with MailSink(tmp_path / "new") as server:
        use_smtp(monkeypatch, server.port)
        out = workflow.validate_request({**CONF, "email": "josé@example.com"}, "run-utf8-ok", ENTERED)
    assert compliance_store.get_request(out["request_id"]).status != "invalid"


def test_an_unreachable_mail_server_at_intake_records_nothing_so_the_retry_decides(compliance_store, monkeypatch):
    """Whether josé@… can be answered is unknown while the SMTP server is down: nothing is recorded (not even
    ``invalid``) and the task's retry asks again."""
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_EMAIL_BACKEND", "smtp")
    use_smtp(monkeypatch, 1)  # nothing listens on port 1
    with pytest.raises(OSError):
        workflow.validate_request({**CONF, "email": "josé@example.com"}, "run-utf8-down", ENTERED)
    assert compliance_store.find_by_run_id("run-utf8-down") is None
    # An ASCII address needs no SMTPUTF8, so intake does not depend on the mail server for it.
    assert workflow.validate_request(CONF, "run-ascii-down", ENTERED)["request_id"]
