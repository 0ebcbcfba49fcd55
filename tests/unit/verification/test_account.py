"""§7061: account holders verify by logging in. The account check runs against the real demo datastores on MariaDB
with an accounts table whose registry column says ``identifies: account_id``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine

from devtools.demo_data import DEMO_PERSON, seed
from include.datastores.identity import PointsRecord, StoreMatch
from include.datastores.registry import load_registry
from include.request import Account
from include.store.schema import (
    BASIS_ACCOUNT_LOGIN,
    BASIS_CATEGORIES_ONLY,
    BASIS_DATA_POINTS_DECLARATION,
    BASIS_POWER_OF_ATTORNEY,
    SCOPE_CATEGORIES,
    SCOPE_FULL,
)
from include.verification.account import (
    AccountCheck,
    AccountStatus,
    check,
    fraud_signals,
    max_age_minutes,
    record_basis,
    with_account,
)
from include.verification.levels import Basis, Scope, approvable, assess
from tests.conftest import MYSQL_URL, use_datastores
from tests.factories import registry_with_accounts, seed_accounts

RECEIVED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _login(account_id: str = "ACC-1001", minutes_before: int = 5, **facts: datetime) -> Account:
    return Account(account_id, RECEIVED - timedelta(minutes=minutes_before), "password", **facts)


@pytest.fixture(scope="module")
def datastores_url(mysql_database):
    url = f"{MYSQL_URL}/{mysql_database('ccpa_account')}"
    engine = create_engine(url)
    seed(engine)
    seed_accounts(engine)
    engine.dispose()
    return url


@pytest.fixture
def stores(datastores_url, monkeypatch, tmp_path):
    use_datastores(monkeypatch, datastores_url)
    return load_registry(registry_with_accounts(tmp_path)).datastores


def _check(stores, account: Account, email: str = DEMO_PERSON["email"]) -> AccountCheck:
    return check(stores, email=email, name="Jane Doe", account=account, received_at=RECEIVED, max_age=30)


def _two_points(declaration: bool = False):
    record = PointsRecord(given=("email", "name"), stores=(StoreMatch("crm", True, True, ("email", "name")),))
    return assess(record, declaration=declaration)


def _full_points():
    record = PointsRecord(
        given=("email", "name", "phone"), stores=(StoreMatch("crm", True, True, ("email", "name", "phone")),)
    )
    return assess(record, declaration=True)


def test_7061_a_recent_login_to_the_account_held_for_the_email_verifies_for_specific_pieces(stores):
    result = _check(stores, _login())
    assert (result.status, result.fresh, result.verified) == (AccountStatus.MATCH, True, True)
    assert result.checked == ("accounts",) and result.matched_in == ("accounts",)
    level = with_account(_two_points(), result)
    assert (level.scope, level.basis) == (Scope.FULL, Basis.ACCOUNT_LOGIN)
    assert approvable(level, "specific_pieces") == Scope.FULL
    assert level.words() == (
        "verified by account login (§7061): password login 5 min before the request · enough for specific pieces"
    )
    assert record_basis(level, SCOPE_FULL) == BASIS_ACCOUNT_LOGIN


def test_7061_an_account_id_held_for_another_email_is_a_red_flag_never_a_match(stores):
    result = _check(stores, _login("ACC-2002"))  # John Roe's account, Jane's email
    assert result.status == AccountStatus.MISMATCH and result.red_flag and not result.verified
    assert "not the one held for this email" in result.words()
    assert "red flag" in result.words() and "ACC-2002" not in result.words()
    # Even data points and a declaration enough for specific pieces are held at categories by the red flag.
    level = with_account(_full_points(), result)
    assert level.scope == Scope.CATEGORIES and level.basis == Basis.DATA_POINTS
    assert approvable(level, "specific_pieces") == Scope.CATEGORIES
    assert "red flag" in level.words()


def test_7061_a_login_for_an_email_with_no_account_held_is_a_red_flag(stores):
    # Jane's account id, asserted for an email that holds no account at all.
    result = _check(stores, _login(), email="jane.doe@example.org")
    assert result.status == AccountStatus.NOT_HELD and result.red_flag and not result.verified
    assert "no account is held for this email" in result.words()


def test_7061_an_account_id_is_exact_not_case_folded(stores):
    assert _check(stores, _login("acc-1001")).status == AccountStatus.MISMATCH


def test_7061_a_stale_login_falls_back_to_the_data_points(stores):
    result = _check(stores, _login(minutes_before=31))
    assert result.status == AccountStatus.MATCH and not result.fresh and not result.verified
    assert "treated as a request from a non-account holder" in result.words()
    level = with_account(_two_points(), result)
    assert (level.scope, level.basis) == (Scope.CATEGORIES, Basis.DATA_POINTS)
    assert record_basis(level, SCOPE_CATEGORIES) == BASIS_CATEGORIES_ONLY
    assert _check(stores, _login(minutes_before=30)).fresh  # the edge: exactly the maximum age is recent enough


def test_7061_the_reauthentication_age_is_a_variable_default_30_minutes(monkeypatch):
    monkeypatch.delenv("AIRFLOW_VAR_CCPA_REAUTH_MAX_AGE_MINUTES", raising=False)
    assert max_age_minutes() == 30
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REAUTH_MAX_AGE_MINUTES", "10")
    assert max_age_minutes() == 10
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REAUTH_MAX_AGE_MINUTES", "-5")
    assert max_age_minutes() == 30


def test_7061_without_a_datastore_identifying_accounts_the_login_is_unchecked(datastores_url, monkeypatch):
    from tests.conftest import ROOT

    use_datastores(monkeypatch, datastores_url)
    demo = load_registry(ROOT / "include" / "datastores" / "datastores.yaml").datastores
    result = check(demo, email=DEMO_PERSON["email"], name="Jane Doe", account=_login(), received_at=RECEIVED)
    assert result.status == AccountStatus.UNCHECKED and not result.red_flag and not result.verified
    assert with_account(_two_points(), result).scope == Scope.CATEGORIES


def test_7061_an_unreachable_accounts_datastore_is_reported_not_fatal(stores, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CCPA_CRM_DB", "mysql://root@127.0.0.1:1/down")
    result = _check(stores, _login())
    assert result.status == AccountStatus.UNCHECKED and result.unreachable == ("accounts",)
    assert "could not check" in result.words()


def test_the_check_round_trips_through_the_store_json(stores):
    result = _check(stores, _login())
    assert AccountCheck.from_json(result.to_json()) == result
    assert "ACC-1001" not in result.to_json()


def test_data_points_and_declaration_are_recorded_as_their_basis():
    assert record_basis(with_account(_full_points(), None), SCOPE_FULL) == BASIS_DATA_POINTS_DECLARATION


def test_7063b_a_full_approval_on_a_power_of_attorney_is_recorded_as_that_basis(stores):
    # Whatever else verified the consumer (data points, an account login), the skipped confirmation rests on the POA.
    for level in (with_account(_full_points(), None), with_account(_two_points(), _check(stores, _login()))):
        assert record_basis(level, SCOPE_FULL, power_of_attorney=True) == BASIS_POWER_OF_ATTORNEY
    # A categories answer is recorded as one (the nature of the response, §7101), power of attorney or not.
    assert record_basis(_two_points(), SCOPE_CATEGORIES, power_of_attorney=True) == BASIS_CATEGORIES_ONLY
    # No power of attorney relied on: never recorded as one.
    assert record_basis(with_account(_full_points(), None), SCOPE_FULL) != BASIS_POWER_OF_ATTORNEY


def test_fraud_signals_email_changed_within_30_days_and_reset_minutes_before():
    quiet = _login(email_changed_at=RECEIVED - timedelta(days=31), password_reset_at=RECEIVED - timedelta(minutes=16))
    assert fraud_signals(quiet, RECEIVED) == []
    loud = _login(email_changed_at=RECEIVED - timedelta(days=3), password_reset_at=RECEIVED - timedelta(minutes=4))
    signals = fraud_signals(loud, RECEIVED)
    assert len(signals) == 2
    assert "email address on the account was changed 3 days before" in signals[0]
    assert "4 min after a password reset" in signals[1]
    assert fraud_signals(None, RECEIVED) == []
