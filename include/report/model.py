"""The report's typed model: what extraction hands on (by XCom, no personal data) and what every renderer reads.

``ExtractSummary`` is what one extraction task returns: where the datastore's rows are and how many, per query, with
each column's category and what was withheld. It travels by XCom as a plain dict (``to_dict`` / ``from_dict``), with
the same keys as before this model existed, so runs in flight across an upgrade keep working. ``ReportContext`` is
one request's answer as the HTML, JSON, CSV and PDF renderers see it: the request, the period, the summaries, and
``rows`` — a function that pulls one section's rows lazily from storage, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from include.datastores.registry import Recipients
from include.i18n import N_

#: The statutory categories (Cal. Civ. Code §1798.140(v)) as a requester reads them.
CATEGORY_LABELS = {
    "identifiers": N_("Identifiers (such as name, email address, phone number, IP address)"),
    "customer_records": N_("Customer records (such as address, account and payment details)"),
    "protected_classifications": N_("Characteristics of protected classifications (such as age or gender)"),
    "commercial": N_("Commercial information (such as purchases and orders)"),
    "biometric": N_("Biometric information"),
    "internet_activity": N_("Internet or other electronic network activity (such as pages viewed)"),
    "geolocation": N_("Geolocation data"),
    "sensory": N_("Audio, electronic, visual or similar information"),
    "professional": N_("Professional or employment-related information"),
    "education": N_("Education information"),
    "inferences": N_("Inferences drawn to create a profile (such as preferences)"),
    "sensitive": N_("Sensitive personal information"),
    "uncategorised": N_("Other information (not yet categorised)"),
}
UNCATEGORISED = "uncategorised"

WITHHELD_NOTICE = N_("held, not disclosed for your security (§7024(d))")
#: A column the registry has not mapped to a category yet: withheld until it is (fails closed).
UNMAPPED_NOTICE = N_("held; category not yet mapped")
SUBJECT_HELD = N_("Your CCPA access request: the personal information we hold about you")
SUBJECT_NONE_HELD = N_("Your CCPA access request: we hold no personal information about you")


@dataclass(frozen=True)
class Section:
    """One registry query's result for the requester: its columns, their categories, what was withheld."""

    query: str
    columns: tuple[str, ...]
    categories: Mapping[str, str]
    uncategorised: tuple[str, ...]
    withheld: tuple[str, ...]
    #: For each withheld column: whether any row held a value (the report says "held", never the value).
    withheld_present: Mapping[str, bool]
    row_count: int

    def category(self, column: str) -> str:
        return self.categories.get(column, UNCATEGORISED)

    def held_but_withheld(self, column: str) -> bool:
        return column in self.withheld and bool(self.withheld_present.get(column))

    @property
    def title(self) -> str:
        return self.query.replace("_", " ").capitalize()

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "columns": list(self.columns),
            "categories": dict(self.categories),
            "uncategorised": list(self.uncategorised),
            "withheld": list(self.withheld),
            "withheld_present": dict(self.withheld_present),
            "row_count": self.row_count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Section:
        return cls(
            query=data["query"],
            columns=tuple(data["columns"]),
            categories=dict(data["categories"]),
            uncategorised=tuple(data.get("uncategorised", ())),
            withheld=tuple(data.get("withheld", ())),
            withheld_present=dict(data.get("withheld_present", {})),
            row_count=int(data["row_count"]),
        )


@dataclass(frozen=True)
class ExtractSummary:
    """What one extraction task hands on: the datastore's declarations, its sections and where the rows are."""

    datastore: str
    description: str
    sections: tuple[Section, ...]
    row_count: int
    #: URL of the JSON-lines file holding the rows (``include.storage``); empty when nothing was written.
    path: str = ""
    sources: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    #: Per category: who receives it (the registry's ``disclosures``, Civ. 1798.110(a)(4), 1798.115(a)).
    disclosures: Mapping[str, Recipients] = field(default_factory=dict)
    #: Who holds the datastore: ``business``, or a ``service_provider`` / ``contractor`` (``held_by``) for it.
    kind: str = "business"
    held_by: str = ""
    #: Only from an XCom written before per-category disclosures (a run in flight across the upgrade): the datastore's
    #: third parties, applied to each of its categories, with sold or shared not declared.
    third_parties: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How the requester reads the datastore's name."""
        return self.description or self.datastore

    def uncategorised_columns(self) -> list[str]:
        """``datastore.query.column`` of every column the registry does not map to a category."""
        return [f"{self.datastore}.{s.query}.{c}" for s in self.sections for c in s.uncategorised]

    def recipients(self, category: str) -> Recipients:
        """Who receives ``category`` from this datastore; a service provider's own datastore adds that provider."""
        if category in self.disclosures:
            declared = self.disclosures[category]
        elif category == UNCATEGORISED:  # not mapped yet, so withheld: no recipient is declared for it
            declared = Recipients()
        else:  # a summary from before per-category disclosures: sold or shared stays "not declared"
            declared = Recipients(third_parties=self.third_parties)
        if self.kind == "business" or not self.held_by or self.held_by in declared.service_providers:
            return declared
        return Recipients(declared.third_parties, (*declared.service_providers, self.held_by), declared.sold_or_shared)

    def to_dict(self) -> dict[str, Any]:
        return {
            "datastore": self.datastore,
            "description": self.description,
            "sources": list(self.sources),
            "purposes": list(self.purposes),
            "disclosures": {c: r.to_dict() for c, r in self.disclosures.items()},
            "kind": self.kind,
            "held_by": self.held_by,
            "third_parties": list(self.third_parties),
            "sections": [s.to_dict() for s in self.sections],
            "row_count": self.row_count,
            "path": self.path,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExtractSummary:
        return cls(
            datastore=data["datastore"],
            description=data.get("description") or "",
            sections=tuple(Section.from_dict(s) for s in data["sections"]),
            row_count=int(data["row_count"]),
            path=data.get("path") or "",
            sources=tuple(data.get("sources", ())),
            purposes=tuple(data.get("purposes", ())),
            disclosures={c: Recipients.from_dict(r) for c, r in (data.get("disclosures") or {}).items()},
            kind=data.get("kind") or "business",
            held_by=data.get("held_by") or "",
            third_parties=tuple(data.get("third_parties", ())),
        )


def summaries(items: Iterable[ExtractSummary | Mapping[str, Any]]) -> tuple[ExtractSummary, ...]:
    """Summaries from XCom (dicts) or already typed, sorted by datastore name."""
    typed = [item if isinstance(item, ExtractSummary) else ExtractSummary.from_dict(item) for item in items]
    return tuple(sorted(typed, key=lambda s: s.datastore))


#: Pulls one section's rows: ``rows(summary, query)``.
RowsFor = Callable[[ExtractSummary, str], Iterable[dict[str, Any]]]


def no_rows(summary: ExtractSummary, query: str) -> Iterable[dict[str, Any]]:
    """For a summary-only rendering (the data is in the attachments or behind a link)."""
    return iter(())


#: What ``sold_or_shared.status`` says in the portable copy (schema v2).
NOT_SOLD_OR_SHARED = "not_sold_or_shared"
SOLD_OR_SHARED = "sold_or_shared"
NOT_DECLARED = "not_declared"


@dataclass
class CategoryHeld:
    """One CCPA category held about the requester, with where it is and what the registry declares of it, per
    category (Civ. 1798.110(a)(1)-(4), 1798.115(a)(2)-(3)): its sources, purposes, the third parties it is disclosed
    to for a business purpose, the service providers and contractors that receive it (not third parties,
    1798.140(ai)), and the third parties it was sold or shared to. ``sold_or_shared`` is ``[]`` when it was not
    (the report states it: 1798.115(c)(1)), ``None`` when a datastore holding it declared nothing (only a summary
    written before per-category disclosures)."""

    category: str
    label: str
    datastores: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    purposes: list[str] = field(default_factory=list)
    third_parties: list[str] = field(default_factory=list)
    service_providers: list[str] = field(default_factory=list)
    sold_or_shared: list[str] | None = field(default_factory=list)

    def add(self, summary: ExtractSummary) -> None:
        recipients = summary.recipients(self.category)
        for mine, theirs in (
            (self.datastores, [summary.label]),
            (self.sources, summary.sources),
            (self.purposes, summary.purposes),
            (self.third_parties, recipients.third_parties),
            (self.service_providers, recipients.service_providers),
        ):
            mine.extend(v for v in theirs if v not in mine)
        if self.category == UNCATEGORISED or recipients.sold_or_shared is None:
            self.sold_or_shared = None  # nothing may be stated for it: not "we have not sold or shared"
        elif self.sold_or_shared is not None:
            self.sold_or_shared.extend(v for v in recipients.sold_or_shared if v not in self.sold_or_shared)

    @property
    def sold_or_shared_status(self) -> str:
        if self.sold_or_shared is None:
            return NOT_DECLARED
        return SOLD_OR_SHARED if self.sold_or_shared else NOT_SOLD_OR_SHARED

    @property
    def not_sold_or_shared(self) -> bool:
        """The business's explicit statement that this category was not sold or shared (Civ. 1798.115(c)(1))."""
        return self.sold_or_shared_status == NOT_SOLD_OR_SHARED

    def to_dict(self) -> dict[str, Any]:
        """Schema v2's ``categories[]`` item."""
        return {
            "category": self.category,
            "label": self.label,
            "datastores": self.datastores,
            "sources": self.sources,
            "purposes": self.purposes,
            "third_parties": self.third_parties,
            "service_providers": self.service_providers,
            "sold_or_shared": {"status": self.sold_or_shared_status, "to": list(self.sold_or_shared or [])},
        }


@dataclass(frozen=True)
class WithheldItem:
    """A kind of data held but not disclosed, named with particularity (§7024(d))."""

    datastore: str
    column: str
    category: str
    #: What a person reads for it: "your Social Security number" for a §7024(d) type, else the column in words.
    label: str = ""
    notice: str = WITHHELD_NOTICE

    def to_dict(self) -> dict[str, str]:
        return {"datastore": self.datastore, "column": self.column, "category": self.category}


@dataclass(frozen=True)
class DownloadLink:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class ReportContext:
    """One request's answer as every renderer sees it."""

    request_id: str
    name: str
    email: str
    received_at: datetime
    since: datetime
    datastores: tuple[ExtractSummary, ...]
    rows: RowsFor = no_rows
    #: The requester's language (include/i18n.py): the HTML, the PDF and the subject are written in it.
    language: str = "en"

    @property
    def holding(self) -> tuple[ExtractSummary, ...]:
        """The datastores that hold something about the requester, by name."""
        return tuple(s for s in sorted(self.datastores, key=lambda s: s.datastore) if s.row_count > 0)

    @property
    def total_rows(self) -> int:
        return sum(s.row_count for s in self.holding)

    @property
    def subject(self) -> str:
        from include.i18n import gettext

        return gettext(self.language, SUBJECT_HELD if self.total_rows else SUBJECT_NONE_HELD)

    def categories(self) -> list[CategoryHeld]:
        """Per CCPA category held: where it is, and the sources, purposes and third parties the registry declares.
        Built from the summaries only."""
        found: dict[str, CategoryHeld] = {}
        for summary in self.holding:
            for section in summary.sections:
                if not section.row_count:
                    continue
                for column in section.columns:
                    category = section.category(column)
                    entry = found.setdefault(category, CategoryHeld(category, CATEGORY_LABELS.get(category, category)))
                    entry.add(summary)
        order = list(CATEGORY_LABELS)
        return sorted(found.values(), key=lambda e: order.index(e.category) if e.category in order else len(order))

    def nothing_sold_or_shared(self) -> bool:
        """Every category held was declared not sold or shared: the report says so once, in one sentence, too."""
        held = [c for c in self.categories() if c.category != UNCATEGORISED]
        return bool(held) and all(c.not_sold_or_shared for c in held)

    def service_provider_stores(self) -> tuple[ExtractSummary, ...]:
        """The datastores holding data about the requester that a service provider or contractor keeps for us."""
        return tuple(s for s in self.holding if s.kind != "business")

    def withheld(self) -> list[WithheldItem]:
        """The kinds of data we hold but do not disclose, named with particularity (§7024(d))."""
        from include.datastores.registry import never_disclose_type

        return [
            WithheldItem(
                datastore=summary.label,
                column=column.replace("_", " "),
                category=CATEGORY_LABELS.get(section.categories.get(column, ""), "sensitive"),
                label=never_disclose_type(column, section.categories.get(column)) or column.replace("_", " "),
                notice=UNMAPPED_NOTICE if column in section.uncategorised else WITHHELD_NOTICE,
            )
            for summary in self.holding
            for section in summary.sections
            for column in section.withheld
            if section.withheld_present.get(column)
        ]

    def summary_only(self) -> ReportContext:
        """The same context without rows: the summary the email carries when the data is behind a link."""
        return ReportContext(
            self.request_id,
            self.name,
            self.email,
            self.received_at,
            self.since,
            self.datastores,
            no_rows,
            language=self.language,
        )


@dataclass(frozen=True)
class ReportFile:
    """One file of the report in storage (a URL), as attached to the email."""

    path: str
    filename: str
    type: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "filename": self.filename, "type": self.type}


@dataclass(frozen=True)
class BuiltReport:
    """What build_report hands on to send_report (by XCom, no personal data): the report's files and counts."""

    html: str
    files: tuple[ReportFile, ...]
    subject: str
    since: datetime
    datastores: tuple[ExtractSummary, ...]
    row_count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "html": self.html,
            "files": [f.to_dict() for f in self.files],
            "subject": self.subject,
            "since": self.since.isoformat(),
            "datastores": [s.to_dict() for s in self.datastores],
            "row_count": self.row_count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BuiltReport:
        return cls(
            html=data["html"],
            files=tuple(ReportFile(f["path"], f["filename"], f["type"]) for f in data["files"]),
            subject=data["subject"],
            since=datetime.fromisoformat(data["since"]),
            datastores=summaries(data["datastores"]),
            row_count=int(data["row_count"]),
        )
