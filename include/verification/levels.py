"""Verification levels (11 CCR §7062): what the evidence is enough for, in plain words, and what may be approved.

A level has a *scope* (what may be disclosed: nothing, categories, specific pieces) and a *basis* (why). Today the
basis is matching data points with or without a signed declaration (§7062, non-account holders). Other bases plug in
beside it without changing the scopes or the callback: an account login (§7061) produces a Level of its own, and
:func:`best` keeps the strongest. A power of attorney (§7063(b)) changes no level: it lets the officer skip the
consumer's confirmation of the agent, and the approval's §7101 basis then records it
(include.verification.account.record_basis).

The thresholds are the law's (include.law) and can be raised by Variable, never lowered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from include import config, law
from include.request import CATEGORIES, SPECIFIC_PIECES

log = logging.getLogger(__name__)


class Scope(StrEnum):
    """What an approval may disclose, weakest first."""

    NONE = "none"
    CATEGORIES = "categories"  # §7062(b): categories, sources, purposes, recipients; no values
    FULL = "full"  # §7062(c): specific pieces of personal information

    @property
    def rank(self) -> int:
        return list(Scope).index(self)

    def __ge__(self, other: object) -> bool:
        return isinstance(other, Scope) and self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        return isinstance(other, Scope) and self.rank > other.rank

    def __le__(self, other: object) -> bool:
        return isinstance(other, Scope) and self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        return isinstance(other, Scope) and self.rank < other.rank


class Basis(StrEnum):
    """Why a level was reached (recorded with the decision; issue 17 adds account_login)."""

    DATA_POINTS = "data_points"
    #: §7061: a recent login to an account that the datastores hold for the requester's email.
    ACCOUNT_LOGIN = "account_login"


class Points(Protocol):
    """Matching data points (include.datastores.identity.Evidence or its stored PointsRecord)."""

    @property
    def given(self) -> tuple[str, ...]: ...

    @property
    def matched(self) -> tuple[str, ...]: ...

    @property
    def differs(self) -> tuple[str, ...]: ...

    @property
    def points(self) -> int: ...

    @property
    def nothing_held(self) -> bool: ...


@dataclass(frozen=True)
class Thresholds:
    categories_points: int = law.CATEGORIES_MIN_POINTS
    specific_points: int = law.SPECIFIC_PIECES_MIN_POINTS
    specific_needs_declaration: bool = law.SPECIFIC_PIECES_NEED_DECLARATION


def _raised(variable: str, floor: int, read: Callable[[str, str], str]) -> int:
    raw = read(variable, "")
    if not str(raw).strip():
        return floor
    try:
        value = int(str(raw).strip())
    except ValueError:
        log.warning("Variable %s is not a whole number: using the law's %d", variable, floor)
        return floor
    if value < floor:
        log.warning(
            "Variable %s (%d) is below the law's %d: a threshold can be raised, not lowered", variable, value, floor
        )
        return floor
    return value


def thresholds(read: Callable[[str, str], str] | None = None) -> Thresholds:
    """The law's thresholds, raised by ``ccpa_verification_min_points_categories`` / ``_specific`` if set higher.

    ``read``: how the Variables are read (the Slack callback passes :func:`config.recent_variable`: not a metadata-DB
    query per click); by default :func:`config.get_variable`."""
    read = read or config.get_variable
    categories = _raised(config.VAR_MIN_POINTS_CATEGORIES, law.CATEGORIES_MIN_POINTS, read)
    specific = max(_raised(config.VAR_MIN_POINTS_SPECIFIC, law.SPECIFIC_PIECES_MIN_POINTS, read), categories)
    return Thresholds(categories_points=categories, specific_points=specific)


@dataclass(frozen=True)
class Level:
    scope: Scope
    basis: Basis
    matched: tuple[str, ...]
    given: tuple[str, ...]
    declaration: bool
    differs: tuple[str, ...] = ()
    thresholds: Thresholds = Thresholds()
    #: Every datastore was checked and none holds the email: the only answer ("we hold nothing") discloses nothing.
    nothing_held: bool = False
    #: For an account login: how and when the consumer logged in ("password, 4 min before the request").
    login: str = ""
    #: Why the scope was held below what the evidence reached (a red flag), in plain words; empty when not.
    capped: str = ""

    @property
    def points(self) -> int:
        return len(self.matched)

    def words(self, request_type: str = SPECIFIC_PIECES) -> str:
        """The level in plain words: '3 of 4 points match: email, name, phone · declaration signed · enough for
        specific pieces'; for an account login: 'verified by account login (§7061): password, 4 min before the
        request · enough for specific pieces'."""
        if self.basis == Basis.ACCOUNT_LOGIN:
            login = f": {self.login}" if self.login else ""
            return f"verified by account login (§7061){login} · {self.verdict(request_type)}"
        matched = ", ".join(_label(k) for k in self.matched) or "none"
        parts = [f"{self.points} of {len(self.given)} points match: {matched}"]
        if self.differs:
            parts.append("differs on file: " + ", ".join(_label(k) for k in self.differs))
        parts.append("declaration signed" if self.declaration else "no declaration")
        parts.append(self.verdict(request_type))
        return " · ".join(parts)

    def verdict(self, request_type: str = SPECIFIC_PIECES) -> str:
        t = self.thresholds
        if self.capped and self.scope < Scope.FULL:
            if self.scope == Scope.CATEGORIES:
                return f"enough for categories only ({self.capped})"
            return f"not enough to verify ({self.capped})"
        if self.scope == Scope.FULL:
            return "enough for specific pieces"
        if self.scope == Scope.CATEGORIES:
            if request_type == CATEGORIES:
                return "enough for categories"
            missing = []
            if self.points < t.specific_points:
                missing.append(f"{t.specific_points} points")
            if t.specific_needs_declaration and not self.declaration:
                missing.append("a signed declaration")
            return "enough for categories only (specific pieces need " + " and ".join(missing) + ")"
        if self.nothing_held:
            return "nothing held in any datastore: the answer (categories) discloses nothing"
        return f"not enough to verify (categories need {t.categories_points} points)"


def _label(kind: str) -> str:
    return kind.replace("_", " ")


def assess(points: Points, *, declaration: bool, limits: Thresholds | None = None) -> Level:
    """§7062: the level matching data points (and a declaration) reach."""
    t = limits or Thresholds()
    if points.points >= t.specific_points and (declaration or not t.specific_needs_declaration):
        scope = Scope.FULL
    elif points.points >= t.categories_points:
        scope = Scope.CATEGORIES
    else:
        scope = Scope.NONE
    return Level(
        scope=scope,
        basis=Basis.DATA_POINTS,
        matched=tuple(points.matched),
        given=tuple(points.given),
        declaration=declaration,
        differs=tuple(points.differs),
        thresholds=t,
        nothing_held=points.nothing_held,
    )


def best(levels: Iterable[Level]) -> Level:
    """The strongest of several bases (data points, an account login, ...)."""
    return max(levels, key=lambda level: level.scope.rank)


def approvable(level: Level, request_type: str) -> Scope:
    """What an approval of this request may disclose: never more than the level, never more than was asked."""
    asked = Scope.FULL if request_type == SPECIFIC_PIECES else Scope.CATEGORIES
    if level.scope == Scope.NONE and level.nothing_held:
        # Nothing to disclose: "we hold no personal information about you", as a categories answer (never values:
        # should data appear before the report is built, it still goes out as categories only).
        return Scope.CATEGORIES
    return asked if level.scope >= asked else level.scope
