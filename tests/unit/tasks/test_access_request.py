"""validate_request: the requester's language and a request without a photo ID, registered in the store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from include.tasks import access_request as workflow

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
CONF = {"name": "Ana Núñez", "email": "ana@example.com"}


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
    conf = {**CONF, **({"language": conf_language} if conf_language is not None else {})}
    result = workflow.validate_request(conf, f"manual__lang_{conf_language}_{variable}", NOW)
    assert compliance_store.get_request(result["request_id"]).language == expected


def test_a_request_without_a_photo_id_is_registered(compliance_store):
    result = workflow.validate_request({**CONF, "photo_id_url": ""}, "manual__no_photo", NOW)
    record = compliance_store.get_request(result["request_id"])
    assert record.photo_id_url == ""
    from include.slack.blocks import review_prompt

    _text, blocks = review_prompt(record)
    assert "none provided" in str(blocks) and "open the photo ID" not in str(blocks)
