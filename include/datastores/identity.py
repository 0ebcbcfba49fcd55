"""Identity evidence for the officer (11 CCR §7060): match the requester against data we already hold."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from include.datastores.extract import Probe, probe
from include.datastores.registry import Datastore

log = logging.getLogger(__name__)


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


@dataclass(frozen=True)
class Evidence:
    checked: tuple[str, ...]
    found_in: tuple[str, ...]
    unreachable: tuple[str, ...]
    names_on_file: frozenset[str]
    requested_name: str

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


def gather(datastores: Iterable[Datastore], *, email: str, name: str, since) -> Evidence:
    """Probe every datastore; one that is down is reported as such, it does not hold up the review."""
    checked: list[str] = []
    found: list[str] = []
    unreachable: list[str] = []
    names: set[str] = set()
    for store in datastores:
        checked.append(store.name)
        try:
            result: Probe = probe(store, email=email, name=name, since=since)
        except Exception as exc:  # a datastore being down is news for the officer, not a reason to stop
            log.warning("Identity check: datastore %s unreachable (%s)", store.name, type(exc).__name__)
            unreachable.append(store.name)
            continue
        if result.found:
            found.append(store.name)
            names |= result.names
    return Evidence(tuple(checked), tuple(found), tuple(unreachable), frozenset(names), name)
