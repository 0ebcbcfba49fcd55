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


# -- matching data points (§7060-§7062) ---------------------------------------------------------------------------


def test_7062_points_match_against_the_columns_the_registry_says_identify(stores):
    evidence = gather(
        stores,
        email=DEMO_PERSON["email"],
        name="JANE doe",
        since=SINCE,
        phone="(415) 555-1000",
        postal_address="100 Market Street",
    )
    assert evidence.given == ("email", "name", "phone", "postal_address")
    assert evidence.matched == ("email", "name", "phone", "postal_address") and evidence.points == 4
    per_store = {s.datastore: s.matched for s in evidence.stores}
    assert per_store == {"crm": ("email", "name", "phone"), "orders": ("email", "postal_address"), "web": ("email",)}


def test_7062_a_phone_held_with_another_value_differs_and_does_not_count(stores):
    evidence = gather(stores, email=DEMO_PERSON["email"], name="Jane Doe", since=SINCE, phone="415-555-1001")
    assert evidence.matched == ("email", "name") and evidence.differs == ("phone",)


def test_the_stored_evidence_holds_kinds_never_values(stores):
    from include.datastores.identity import PointsRecord

    evidence = gather(
        stores,
        email=DEMO_PERSON["email"],
        name="Jane Doe",
        since=SINCE,
        phone="4155551000",
        postal_address="100 Market St",
    )
    stored = evidence.to_json()
    for value in ("415", "Market", "Jane", DEMO_PERSON["email"]):
        assert value not in stored
    record = PointsRecord.from_json(stored)
    assert (record.given, record.matched, record.points) == (evidence.given, evidence.matched, 4)


def test_an_unknown_email_matches_no_point_whatever_else_is_given(stores):
    evidence = gather(stores, email="nobody@example.com", name="Jane Doe", since=SINCE, phone="+1-415-555-1000")
    assert evidence.points == 0
