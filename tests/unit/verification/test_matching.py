"""Normalisation: the same identifier typed differently matches; a different one never does."""

from __future__ import annotations

import pytest

from include.verification.matching import matches, normalise_phone


@pytest.mark.parametrize(
    ("kind", "given", "on_file"),
    [
        ("email", " Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("name", "jane   DOE", "Jane Doe"),
        ("name", "J. R. Smith", "j r smith"),
        ("phone", "(415) 555-1000", "+1-415-555-1000"),
        ("phone", "+1 415 555 1000", "4155551000"),
        ("phone", "415.555.1000", "1 (415) 555-1000"),
        ("postal_address", "100 Market Street", "100 Market St, San Francisco, CA"),
        ("postal_address", "100 market st., san francisco", "100 Market St, San Francisco, CA 94105"),
        ("postal_address", "12 Ocean Avenue Apartment 4", "12 Ocean Ave Apt 4"),
        ("postal_address", "12 Ocean Ave #4", "12 ocean ave apt. 4"),
        ("postal_address", "1 North Main Street, California", "1 N Main St, CA"),
        ("account_id", " A-1001 ", "A-1001"),
    ],
)
def test_7060_the_same_identifier_typed_differently_matches(kind, given, on_file):
    assert matches(kind, given, on_file)


@pytest.mark.parametrize(
    ("kind", "given", "on_file"),
    [
        ("email", "jane.doe@example.org", "jane.doe@example.com"),
        ("name", "Janet Doe", "Jane Doe"),
        ("name", "Doe Jane", "Jane Doe"),
        ("phone", "415-555-1001", "+1-415-555-1000"),
        ("phone", "555-1000", "+1-415-555-1000"),  # too few digits to be the same number
        ("phone", "", ""),
        ("postal_address", "101 Market St", "100 Market St, San Francisco, CA"),
        ("postal_address", "12 Ocean Ave Apt 5", "12 Ocean Ave Apt 4"),
        ("postal_address", "100 Market St, Oakland", "100 Market St, San Francisco, CA"),
        ("postal_address", "", "100 Market St"),
        ("account_id", "a-1001", "A-1001"),  # an account id is a key: case matters
        ("account_id", "", ""),
    ],
)
def test_7060_a_different_identifier_never_matches(kind, given, on_file):
    assert not matches(kind, given, on_file)


def test_a_north_american_country_code_is_the_same_number():
    assert normalise_phone("+1 (415) 555-1000") == normalise_phone("415 555 1000") == "4155551000"
