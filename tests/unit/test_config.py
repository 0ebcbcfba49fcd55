"""Configuration read from Airflow Variables: clear errors naming the Variable, defaults that decide nothing."""

from __future__ import annotations

import pytest

from include import config


@pytest.mark.parametrize(
    ("count", "scope", "specific_pieces", "expected"),
    [
        (None, None, True, 1),
        ("2", None, True, 2),
        ("2", "all", False, 2),
        ("2", "specific_pieces", True, 2),
        ("2", "specific_pieces", False, 1),
    ],
)
def test_required_approvals(monkeypatch, count, scope, specific_pieces, expected):
    for name, value in (("CCPA_REQUIRED_APPROVALS", count), ("CCPA_REQUIRED_APPROVALS_FOR", scope)):
        if value is None:
            monkeypatch.delenv(f"AIRFLOW_VAR_{name}", raising=False)
        else:
            monkeypatch.setenv(f"AIRFLOW_VAR_{name}", value)
    assert config.required_approvals(specific_pieces=specific_pieces) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CCPA_REQUIRED_APPROVALS", "0"),
        ("CCPA_REQUIRED_APPROVALS", "two"),
        ("CCPA_REQUIRED_APPROVALS", "9"),
        ("CCPA_REQUIRED_APPROVALS_FOR", "some"),
    ],
)
def test_bad_required_approvals_name_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(f"AIRFLOW_VAR_{name}", value)
    with pytest.raises(config.ConfigurationError, match=name.lower()):
        config.required_approvals()


def test_business_timezone_defaults_to_california_and_refuses_nonsense(monkeypatch):
    monkeypatch.delenv("AIRFLOW_VAR_CCPA_TIMEZONE", raising=False)
    assert config.business_timezone().key == "America/Los_Angeles"
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "Mars/Olympus")
    with pytest.raises(config.ConfigurationError, match="ccpa_timezone"):
        config.business_timezone()
