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
    #: Disclosed for a business purpose to (Civ. 1798.115(a)(3)), per category as the registry declares it.
    third_parties: list[str] = field(default_factory=list)
    #: Service providers and contractors (not third parties, Civ. 1798.140(ai)).
    service_providers: list[str] = field(default_factory=list)
    #: Sold or shared to (1798.115(a)(2)); empty: not sold or shared, which the notice states (1798.115(c)(1)).
    sold_or_shared: list[str] = field(default_factory=list)

    @property
    def not_sold_or_shared(self) -> bool:
        return not self.sold_or_shared


def categories_disclosure(datastores: tuple[Datastore, ...] | list[Datastore]) -> list[CategoryDisclosure]:
    """Every category the registry maps a column to, in the statutory order, with the union of the sources and
    purposes of the datastores holding it and of the recipients each declares for that category (the registry
    refuses a category whose sold-or-shared status is not declared, so every one here is stated)."""
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
                recipients = store.recipients(category)
                for target, values in (
                    (entry.sources, store.sources),
                    (entry.purposes, store.purposes),
                    (entry.third_parties, recipients.third_parties),
                    (entry.service_providers, recipients.service_providers),
                    (entry.sold_or_shared, recipients.sold_or_shared or ()),
                ):
                    target.extend(v for v in values if v not in target)
    order = list(CATEGORY_LABELS)
    return sorted(found.values(), key=lambda e: order.index(e.category) if e.category in order else len(order))
