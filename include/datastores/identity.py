"""Identity evidence for the officer (11 CCR §7060-§7062): match the requester against data we already hold.

Every identifier the requester gives (email, name, and optionally phone, postal address, account id) is a data point;
it matches when a datastore holding the requester's email holds the same value in a column the registry says
identifies that kind (``identifies:``), after normalisation (include.verification.matching). The evidence records,
per datastore, which kinds matched and which differ: never the values (the name on file excepted, shown when it
differs, as before).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from include.datastores.extract import Probe, probe
from include.datastores.registry import IDENTIFIES, Datastore
from include.verification.matching import matches, normalise_name

log = logging.getLogger(__name__)


def _same_name(a: str, b: str) -> bool:
    return normalise_name(a) == normalise_name(b)


@dataclass(frozen=True)
class StoreMatch:
    """One datastore's part of the evidence: kinds only, no values."""

    datastore: str
    reachable: bool
    found: bool
    matched: tuple[str, ...] = ()
    differs: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "datastore": self.datastore,
            "reachable": self.reachable,
            "found": self.found,
            "matched": list(self.matched),
            "differs": list(self.differs),
        }


class _PointsOfStores:
    """Matching data points summed over the datastores' matches (``stores``): the gathered evidence and the stored
    record read back count them the same way."""

    stores: tuple[StoreMatch, ...]

    @property
    def matched(self) -> tuple[str, ...]:
        """The data points that match data held (each counted once, whichever datastores hold it)."""
        kinds = {k for s in self.stores for k in s.matched}
        return tuple(k for k in IDENTIFIES if k in kinds)

    @property
    def differs(self) -> tuple[str, ...]:
        """Given data points held only with another value: a red flag for the officer, never a match."""
        kinds = {k for s in self.stores for k in s.differs} - set(self.matched)
        return tuple(k for k in IDENTIFIES if k in kinds)

    @property
    def points(self) -> int:
        return len(self.matched)

    @property
    def nothing_held(self) -> bool:
        return _nothing_held(self.stores)


@dataclass(frozen=True)
class Evidence(_PointsOfStores):
    checked: tuple[str, ...]
    found_in: tuple[str, ...]
    unreachable: tuple[str, ...]
    names_on_file: frozenset[str]
    requested_name: str
    #: The kinds of data point the requester gave (email and name always), in IDENTIFIES order.
    given: tuple[str, ...] = ("email", "name")
    stores: tuple[StoreMatch, ...] = field(default=())

    @property
    def name_status(self) -> str:
        if not self.names_on_file:
            return "no name on file"
        if all(_same_name(n, self.requested_name) for n in self.names_on_file):
            return "name on file matches"
        if any(_same_name(n, self.requested_name) for n in self.names_on_file):
            return (
                "name on file matches in part (other names: "
                + ", ".join(sorted(n for n in self.names_on_file if not _same_name(n, self.requested_name)))
                + ")"
            )
        return "name on file differs: " + ", ".join(sorted(self.names_on_file))

    def summary(self) -> str:
        reachable = len(self.checked) - len(self.unreachable)
        text = f"email found in {len(self.found_in)} of {reachable} datastores"
        if self.found_in:
            text += f" ({', '.join(self.found_in)}); {self.name_status}"
        if self.unreachable:
            text += f"; could not check {', '.join(self.unreachable)}"
        return text

    def to_json(self) -> str:
        """What the compliance store keeps (``ccpa_requests.verification``): kinds and datastore names only."""
        return json.dumps(
            {"version": 1, "given": list(self.given), "stores": [s.to_dict() for s in self.stores]}, sort_keys=True
        )


@dataclass(frozen=True)
class PointsRecord(_PointsOfStores):
    """The stored evidence read back (for the callback and the page): enough to recompute the level."""

    given: tuple[str, ...]
    stores: tuple[StoreMatch, ...]

    @classmethod
    def from_json(cls, text: str | None) -> PointsRecord:
        value = json.loads(text) if text else {}
        stores = tuple(
            StoreMatch(
                datastore=s["datastore"],
                reachable=bool(s["reachable"]),
                found=bool(s["found"]),
                matched=tuple(s.get("matched") or ()),
                differs=tuple(s.get("differs") or ()),
            )
            for s in value.get("stores") or ()
        )
        return cls(given=tuple(value.get("given") or ()), stores=stores)


def _nothing_held(stores: tuple[StoreMatch, ...]) -> bool:
    """Every datastore was checked and none holds the email: an answer can disclose nothing."""
    return bool(stores) and all(s.reachable and not s.found for s in stores)


def _store_match(result: Probe, given: Mapping[str, str]) -> StoreMatch:
    if not result.found:
        return StoreMatch(result.datastore, reachable=True, found=False)
    matched, differs = ["email"], []
    for kind, value in given.items():
        if kind == "email":
            continue
        held = result.values.get(kind) or frozenset()
        if any(matches(kind, value, on_file) for on_file in held):
            matched.append(kind)
        elif held:
            differs.append(kind)
    return StoreMatch(result.datastore, True, True, tuple(matched), tuple(differs))


def gather(
    datastores: Iterable[Datastore],
    *,
    email: str,
    name: str,
    since: datetime,
    phone: str | None = None,
    postal_address: str | None = None,
    account_id: str | None = None,
) -> Evidence:
    """Probe every datastore; one that is down is reported as such, it does not hold up the review."""
    offered = {"email": email, "name": name, "phone": phone, "postal_address": postal_address, "account_id": account_id}
    given = {k: v for k, v in offered.items() if v}
    checked: list[str] = []
    found: list[str] = []
    unreachable: list[str] = []
    names: set[str] = set()
    stores: list[StoreMatch] = []
    for store in datastores:
        checked.append(store.name)
        try:
            result: Probe = probe(store, email=email, name=name, since=since)
        except Exception as exc:  # a datastore being down is news for the officer, not a reason to stop
            log.warning("Identity check: datastore %s unreachable (%s)", store.name, type(exc).__name__)
            unreachable.append(store.name)
            stores.append(StoreMatch(store.name, reachable=False, found=False))
            continue
        stores.append(_store_match(result, given))
        if result.found:
            found.append(store.name)
            names |= result.names
    return Evidence(
        tuple(checked),
        tuple(found),
        tuple(unreachable),
        frozenset(names),
        name,
        given=tuple(k for k in IDENTIFIES if k in given),
        stores=tuple(stores),
    )
