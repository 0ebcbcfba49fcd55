"""validate_request on the real MariaDB store: receipt, channel, invalid confs, duplicates, the requester's
language and a request without a photo ID."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from airflow.sdk.exceptions import AirflowFailException

from include.tasks import access_request as workflow

ENTERED = datetime(2026, 1, 8, 17, 0, tzinfo=UTC)
CONF = {"name": "Jane Doe", "email": "jane@example.com", "photo_id_url": "https://x.example/id", "channel": "email"}


def test_7021_every_legal_date_derives_from_received_at(compliance_store):
    out = workflow.validate_request({**CONF, "received_at": "2026-01-05T18:00:00-08:00"}, "run-phone", ENTERED)
    record = compliance_store.get_request(out["request_id"])
    assert record.received_at == datetime(2026, 1, 6, 2, 0, tzinfo=UTC) and record.entered_at == ENTERED
    assert record.due_at == datetime(2026, 2, 19, 7, 59, 59, 999999, tzinfo=UTC)  # end of 18 Feb, Pacific
    assert record.channel == "email"


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
