"""The categories disclosure an unverified requester receives (§7062, Civ. 1798.110(a), 1798.115(a)), per category."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from include.datastores.registry import load_registry
from include.disclosure import categories_disclosure
from include.mail.notices import render_expiry
from include.mail.text import html_to_text
from tests.conftest import ROOT

RECEIVED = datetime(2026, 12, 5, 18, 0, tzinfo=UTC)


def test_1798_110c_the_expiry_disclosure_gives_recipients_per_category_and_states_not_sold_or_shared():
    registry = load_registry(ROOT / "include" / "datastores" / "datastores.yaml")
    found = {c.category: c for c in categories_disclosure(registry.datastores)}
    assert found["customer_records"].third_parties == ["carriers"]
    assert found["commercial"].third_parties == []  # the orders' carriers do not receive the orders themselves
    assert found["commercial"].service_providers == ["payment processors"]
    assert found["identifiers"].sold_or_shared == ["advertising networks"]  # from the web datastore only
    assert found["commercial"].not_sold_or_shared and not found["identifiers"].not_sold_or_shared
    email = render_expiry(
        name="Ana",
        request_id="r1",
        received_at=RECEIVED,
        due_at=RECEIVED + timedelta(days=45),
        categories=list(found.values()),
    )
    lines = html_to_text(email.html).splitlines()
    [commercial] = [line for line in lines if line.startswith("Commercial information")]
    assert "We have not sold or shared this category of personal information." in commercial
    [identifiers] = [line for line in lines if line.startswith("Identifiers")]
    assert "Sold or shared to: advertising networks" in identifiers
