"""Identity evidence from the real demo datastores on MariaDB."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import create_engine

from devtools.demo_data import DEMO_PERSON, seed
from include.datastores.identity import gather
from include.datastores.registry import load_registry
from tests.conftest import MYSQL_URL, ROOT, use_datastores

SINCE = datetime(2022, 1, 1)


@pytest.fixture(scope="module")
def datastores_url(mysql_database):
    url = f"{MYSQL_URL}/{mysql_database('ccpa_identity')}"
    engine = create_engine(url)
    seed(engine)
    engine.dispose()
    return url


@pytest.fixture
def stores(datastores_url, monkeypatch):
    use_datastores(monkeypatch, datastores_url)
    return load_registry(ROOT / "include" / "datastores" / "datastores.yaml").datastores


def test_known_person_with_matching_name(stores):
    evidence = gather(stores, email=DEMO_PERSON["email"], name="jane  DOE", since=SINCE)
    assert evidence.found_in == ("crm", "orders", "web")
    assert evidence.summary() == "email found in 3 of 3 datastores (crm, orders, web); name on file matches"


def test_name_that_differs_is_flagged(stores):
    evidence = gather(stores, email=DEMO_PERSON["email"], name="Janet Smith", since=SINCE)
    assert "name on file differs: Jane Doe" in evidence.summary()


def test_unknown_email(stores):
    assert gather(stores, email="nobody@example.com", name="X", since=SINCE).summary() == (
        "email found in 0 of 3 datastores"
    )


def test_a_datastore_that_is_down_is_reported_not_fatal(stores, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CCPA_WEB_DB", "mysql://root@127.0.0.1:1/down")
    summary = gather(stores, email=DEMO_PERSON["email"], name="Jane Doe", since=SINCE).summary()
    assert summary == "email found in 2 of 2 datastores (crm, orders); name on file matches; could not check web"


def test_evidence_shows_no_values_beyond_the_name(stores):
    summary = gather(stores, email=DEMO_PERSON["email"], name="Jane Doe", since=SINCE).summary()
    for value in ("123-45-6789", "+1-415-555-1000", "203.0.113.10", "pizza", DEMO_PERSON["email"]):
        assert value not in summary
