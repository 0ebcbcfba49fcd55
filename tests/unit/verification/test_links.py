"""Signed, expiring verification links: only what was asked, only until it expires, only with our signature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from include.verification import links

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
DUE = NOW + timedelta(days=40)


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "unit-link-secret")


def test_a_link_names_the_request_and_what_was_asked():
    link = links.make_link("r1", ["phone", "declaration"], DUE, now=NOW)
    assert "/ccpa/verify/" in link["url"] and link["expires_at"] == NOW + links.MAX_TTL
    assert links.read_token(link["token"], now=NOW) == ("r1", ["declaration", "phone"])


def test_7021_a_link_never_outlives_the_request_due_date():
    due_soon = NOW + timedelta(days=2)
    link = links.make_link("r1", ["phone"], due_soon, now=NOW)
    assert link["expires_at"] == due_soon
    with pytest.raises(TimeoutError):
        links.read_token(link["token"], now=due_soon + timedelta(seconds=1))


def test_a_tampered_or_foreign_link_is_refused(monkeypatch):
    token = links.make_link("r1", ["phone"], DUE, now=NOW)["token"]
    with pytest.raises(LookupError):
        links.read_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"), now=NOW)
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "another-secret")
    with pytest.raises(LookupError):
        links.read_token(token, now=NOW)


def test_7060_only_verification_information_can_be_asked_for():
    with pytest.raises(ValueError):
        links.make_link("r1", ["ssn"], DUE, now=NOW)
    with pytest.raises(ValueError):
        links.make_link("r1", [], DUE, now=NOW)
