"""The categories disclosure (Civ. 1798.110(a)(1)-(4), 1798.115): what the business collects, per category, with its
sources, purposes and recipients, from the datastore registry alone: no value, and nothing about whether this person is
in any datastore. What an unverified requester receives (§7062: a request that cannot be verified is treated as a
request for categories)."""

from __future__ import annotations

from dataclasses import dataclass, field

from include.datastores.registry import UNCATEGORISED, Datastore


@dataclass
class CategoryDisclosure:
    category: str
    label: str
    sources: list[str] = field(default_factory=list)
    purposes: list[str] = field(default_factory=list)
    third_parties: list[str] = field(default_factory=list)


def categories_disclosure(datastores: tuple[Datastore, ...] | list[Datastore]) -> list[CategoryDisclosure]:
    """Every category the registry maps a column to, in the statutory order, with the union of the sources, purposes
    and third parties of the datastores holding it."""
    from include.report.model import CATEGORY_LABELS

    found: dict[str, CategoryDisclosure] = {}
    for store in datastores:
        for query in store.queries:
            for category in sorted(set(query.categories.values())):
                if category == UNCATEGORISED:
                    continue
                entry = found.setdefault(
                    category, CategoryDisclosure(category, CATEGORY_LABELS.get(category, category))
                )
                for target, values in (
                    (entry.sources, store.sources),
                    (entry.purposes, store.purposes),
                    (entry.third_parties, store.third_parties),
                ):
                    target.extend(v for v in values if v not in target)
    order = list(CATEGORY_LABELS)
    return sorted(found.values(), key=lambda e: order.index(e.category) if e.category in order else len(order))
