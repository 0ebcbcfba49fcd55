"""Account holders verify by logging in (11 CCR §7061).

The intake asserts (conf ``account``) that the consumer was logged in to an account when making the request. The
business may verify an account holder through its existing authentication practices, and must have them
re-authenticate before disclosing personal information: here the login must be recent (Variable
``ccpa_reauth_max_age_minutes``, default 30 minutes before the request's receipt) and the account must be the
requester's — a datastore whose registry marks a column ``identifies: account_id`` holds that account id on a row
found by the requester's email. Only then is the level "verified by account login (§7061)", enough for specific
pieces.

A login to an account held for another email, or to no account held at all, is a red flag: shown as such, never as
a match, and it holds the level at categories at most (the callback then refuses a full approval). A stale login is
not held against the requester: the request is verified as a non-account holder's (data points and declaration)
and the officer is told why.

Fraud signals (the account's email changed recently, a password reset minutes before the request) are shown to the
officer and never block.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from include import config, law
from include.datastores.registry import Datastore
from include.request import Account
from include.store.schema import (
    BASIS_ACCOUNT_LOGIN,
    BASIS_CATEGORIES_ONLY,
    BASIS_DATA_POINTS_DECLARATION,
    BASIS_POWER_OF_ATTORNEY,
    SCOPE_CATEGORIES,
)
from include.verification.levels import Basis, Level, Scope, best
from include.verification.matching import matches

if TYPE_CHECKING:
    from include.store import ComplianceStore, RequestRecord

log = logging.getLogger(__name__)

ACCOUNT_ID = "account_id"
#: What the capped level says when the account login does not match (a red flag).
MISMATCH_CAP = "the account login does not match the email on file: red flag"


class AccountStatus(StrEnum):
    MATCH = "match"  # a datastore holds this account id on a row found by the requester's email
    MISMATCH = "mismatch"  # accounts are held for this email, none with this id
    NOT_HELD = "not_held"  # no datastore that identifies accounts holds one for this email
    UNCHECKED = "unchecked"  # no datastore identifies accounts, or none could be reached


@dataclass(frozen=True)
class AccountCheck:
    """The result of checking an account login: status, freshness, datastore names. No values (no account id)."""

    status: AccountStatus
    method: str
    #: Seconds between the login and the request's receipt (0 when the login came with the request).
    age_seconds: int
    max_age_minutes: int
    checked: tuple[str, ...] = ()
    matched_in: tuple[str, ...] = ()
    unreachable: tuple[str, ...] = ()

    @property
    def fresh(self) -> bool:
        """§7061(b): re-authenticated recently enough before the request to disclose personal information."""
        return self.age_seconds <= self.max_age_minutes * 60

    @property
    def verified(self) -> bool:
        return self.fresh and self.status == AccountStatus.MATCH

    @property
    def red_flag(self) -> bool:
        return self.status in (AccountStatus.MISMATCH, AccountStatus.NOT_HELD)

    def login_words(self) -> str:
        return f"{self.method} login {_age(self.age_seconds)} before the request"

    def words(self) -> str:
        """The account check for the officer, in plain words."""
        if self.status == AccountStatus.MATCH:
            text = f"account held for this email ({', '.join(self.matched_in)}); {self.login_words()}"
        elif self.status == AccountStatus.MISMATCH:
            text = (
                ":warning: *red flag*: the account id given is not the one held for this email "
                f"(checked {', '.join(self.checked)}): not a match"
            )
        elif self.status == AccountStatus.NOT_HELD:
            text = (
                ":warning: *red flag*: no account is held for this email in the datastores that identify accounts "
                f"({', '.join(self.checked)}): not a match"
            )
        elif self.checked:
            text = f"could not check the account id ({', '.join(self.unreachable)} unreachable)"
        else:
            text = "could not check the account id (no datastore identifies accounts: `identifies: account_id`)"
        if not self.fresh:
            text += (
                f"; the login was {_age(self.age_seconds)} before the request, more than {self.max_age_minutes} min: "
                "treated as a request from a non-account holder (§7061 asks for a recent re-authentication)"
            )
        return text

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "status": self.status.value,
                "method": self.method,
                "age_seconds": self.age_seconds,
                "max_age_minutes": self.max_age_minutes,
                "checked": list(self.checked),
                "matched_in": list(self.matched_in),
                "unreachable": list(self.unreachable),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | None) -> AccountCheck | None:
        if not text:
            return None
        value: dict[str, Any] = json.loads(text)
        return cls(
            status=AccountStatus(value["status"]),
            method=value["method"],
            age_seconds=int(value["age_seconds"]),
            max_age_minutes=int(value["max_age_minutes"]),
            checked=tuple(value.get("checked") or ()),
            matched_in=tuple(value.get("matched_in") or ()),
            unreachable=tuple(value.get("unreachable") or ()),
        )


def _age(seconds: int) -> str:
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


def max_age_minutes() -> int:
    """Variable ``ccpa_reauth_max_age_minutes`` (default 30): a positive whole number of minutes."""
    raw = str(config.get_variable(config.VAR_REAUTH_MAX_AGE_MINUTES, "") or "").strip()
    if not raw:
        return config.DEFAULT_REAUTH_MAX_AGE_MINUTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        log.warning(
            "Variable %s must be a positive whole number of minutes: using %d",
            config.VAR_REAUTH_MAX_AGE_MINUTES,
            config.DEFAULT_REAUTH_MAX_AGE_MINUTES,
        )
        return config.DEFAULT_REAUTH_MAX_AGE_MINUTES
    return value


def identifies_accounts(store: Datastore) -> bool:
    return any(ACCOUNT_ID in query.identifying_columns().values() for query in store.queries)


def check(
    datastores: Iterable[Datastore],
    *,
    email: str,
    name: str,
    account: Account,
    received_at: datetime,
    max_age: int | None = None,
) -> AccountCheck:
    """§7061: is the account id held for this email, and was the login recent enough before the request?"""
    from include.datastores.extract import probe

    checked: list[str] = []
    matched_in: list[str] = []
    other: list[str] = []
    unreachable: list[str] = []
    for store in datastores:
        if not identifies_accounts(store):
            continue
        checked.append(store.name)
        try:
            result = probe(store, email=email, name=name, since=law.EARLIEST_LOOKBACK)
        except Exception as exc:  # a datastore down is news for the officer, not a reason to stop
            log.warning("Account check: datastore %s unreachable (%s)", store.name, type(exc).__name__)
            unreachable.append(store.name)
            continue
        held = result.values.get(ACCOUNT_ID) or frozenset()
        if any(matches(ACCOUNT_ID, account.account_id, on_file) for on_file in held):
            matched_in.append(store.name)
        elif held:
            other.append(store.name)
    if matched_in:
        status = AccountStatus.MATCH
    elif other:
        status = AccountStatus.MISMATCH
    elif len(checked) > len(unreachable):
        status = AccountStatus.NOT_HELD
    else:
        status = AccountStatus.UNCHECKED
    age = max(0, int((received_at - account.authenticated_at).total_seconds()))
    return AccountCheck(
        status=status,
        method=account.method,
        age_seconds=age,
        max_age_minutes=max_age if max_age is not None else max_age_minutes(),
        checked=tuple(checked),
        matched_in=tuple(matched_in),
        unreachable=tuple(unreachable),
    )


def compute(store: ComplianceStore, record: RequestRecord) -> AccountCheck | None:
    """Check the request's account login (if any) against every datastore and keep the result."""
    if record.account is None:
        return None
    from include.datastores.registry import load_registry

    result = check(
        load_registry().datastores,
        email=record.email,
        name=record.name,
        account=record.account,
        received_at=record.received_at,
    )
    store.set_account_check(record.request_id, result.to_json())
    store.audit(
        record.request_id,
        "account_checked",
        detail={"status": result.status.value, "fresh": result.fresh, "method": result.method},
    )
    return result


def with_account(level: Level, account_check: AccountCheck | None) -> Level:
    """The level once the account login is taken into account: a verified login is a FULL level of its own
    (:func:`levels.best` keeps the strongest); a login that does not match holds the level at categories at most."""
    if account_check is None:
        return level
    if account_check.verified:
        login = replace(level, scope=Scope.FULL, basis=Basis.ACCOUNT_LOGIN, login=account_check.login_words())
        return best([login, level])
    if account_check.red_flag and level.scope > Scope.CATEGORIES:
        return replace(level, scope=Scope.CATEGORIES, capped=MISMATCH_CAP)
    return level


def level_for(record: RequestRecord, level: Level) -> Level:
    """:func:`with_account` for a stored request."""
    return with_account(level, AccountCheck.from_json(record.account_check))


def current_level(record: RequestRecord) -> Level:
    """The level a stored request reaches now: its matching data points (§7062) with the account login (§7061)."""
    from include.verification.service import level_of

    return level_of(record)


def fraud_signals(account: Account | None, received_at: datetime) -> list[str]:
    """Facts the intake supplied that should make the officer look twice; they never block."""
    if account is None:
        return []
    signals = []
    if account.email_changed_at is not None:
        since = received_at - account.email_changed_at
        if since <= timedelta(days=config.EMAIL_CHANGE_WARNING_DAYS):
            signals.append(
                f"the email address on the account was changed {_age(max(0, int(since.total_seconds())))} before "
                f"the request (within {config.EMAIL_CHANGE_WARNING_DAYS} days)"
            )
    if account.password_reset_at is not None:
        since = received_at - account.password_reset_at
        if since <= timedelta(minutes=config.PASSWORD_RESET_WARNING_MINUTES):
            signals.append(
                f"the request came {_age(max(0, int(since.total_seconds())))} after a password reset "
                f"(within {config.PASSWORD_RESET_WARNING_MINUTES} min)"
            )
    return signals


def prompt_lines(record: RequestRecord) -> list[str]:
    """What the review prompt says about the account login (mrkdwn lines; no account id, no values)."""
    if record.account is None:
        return []
    lines = []
    result = AccountCheck.from_json(record.account_check)
    if result is not None:
        lines.append(f"*Account login* (§7061): {result.words()}")
    lines += [f":warning: *Fraud signal*: {s}" for s in fraud_signals(record.account, record.received_at)]
    return lines


def record_basis(level: Level, approved_scope: str, *, power_of_attorney: bool = False) -> str:
    """§7101: the verification basis an approval rests on, for the record.

    ``power_of_attorney``: an authorised agent's request whose consumer confirmation was skipped on the strength of
    a power of attorney (§7063(b): the consumer's confirmation may then not be required). A full approval of it rests
    on the power of attorney, whatever else matched. A categories approval stays ``categories_only`` whatever the
    basis: that is the nature of the answer the §7101 record must show (the skip itself is in the audit trail).
    """
    if approved_scope == SCOPE_CATEGORIES:
        return BASIS_CATEGORIES_ONLY
    if power_of_attorney:
        return BASIS_POWER_OF_ATTORNEY
    if level.basis == Basis.ACCOUNT_LOGIN:
        return BASIS_ACCOUNT_LOGIN
    return BASIS_DATA_POINTS_DECLARATION


def delivery_url(record: RequestRecord, basis: str | None) -> str | None:
    """The account channel (the business's secure message centre) when the approval rests on the account login
    and the intake gave one (https only, validated at intake); None: deliver by email as usual."""
    if basis != BASIS_ACCOUNT_LOGIN or record.account is None:
        return None
    return record.account.delivery_url
