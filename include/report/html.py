"""Render what the requester receives, from Jinja2 templates a company can rebrand (``include/templates``).

The report is built from the extraction summaries (no personal data) plus the rows, pulled lazily from the extract
files: memory stays bounded however much a person has. Every value is HTML-escaped by Jinja2's autoescape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from include.config import INCLUDE_DIR

_env = Environment(
    loader=FileSystemLoader(INCLUDE_DIR / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

#: The statutory categories (Cal. Civ. Code §1798.140(v)) as a requester reads them.
CATEGORY_LABELS = {
    "identifiers": "Identifiers (such as name, email address, phone number, IP address)",
    "customer_records": "Customer records (such as address, account and payment details)",
    "protected_classifications": "Characteristics of protected classifications (such as age or gender)",
    "commercial": "Commercial information (such as purchases and orders)",
    "biometric": "Biometric information",
    "internet_activity": "Internet or other electronic network activity (such as pages viewed)",
    "geolocation": "Geolocation data",
    "sensory": "Audio, electronic, visual or similar information",
    "professional": "Professional or employment-related information",
    "education": "Education information",
    "inferences": "Inferences drawn to create a profile (such as preferences)",
    "sensitive": "Sensitive personal information",
    "uncategorised": "Other information (not yet categorised)",
}

WITHHELD_NOTICE = "held, not disclosed for your security (§7024(d))"

RowsFor = Callable[[dict[str, Any], str], Iterable[dict[str, Any]]]


@dataclass(frozen=True)
class Email:
    subject: str
    html: str


def holding(datastores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in sorted(datastores, key=lambda d: d["datastore"]) if d["row_count"] > 0]


def categories_held(datastores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per CCPA category held: where it is, and the sources, purposes and third parties the registry declares
    (Civ. 1798.110(a)(1)-(4)). Built from the summaries only."""
    found: dict[str, dict[str, Any]] = {}
    for store in holding(datastores):
        for section in store["sections"]:
            if not section["row_count"]:
                continue
            for column in section["columns"]:
                category = section["categories"].get(column, "uncategorised")
                entry = found.setdefault(
                    category,
                    {
                        "category": category,
                        "label": CATEGORY_LABELS.get(category, category),
                        "datastores": [],
                        "sources": [],
                        "purposes": [],
                        "third_parties": [],
                    },
                )
                for key, values in (
                    ("datastores", [store["description"] or store["datastore"]]),
                    ("sources", store.get("sources", [])),
                    ("purposes", store.get("purposes", [])),
                    ("third_parties", store.get("third_parties", [])),
                ):
                    entry[key].extend(v for v in values if v not in entry[key])
    order = list(CATEGORY_LABELS)
    return sorted(found.values(), key=lambda e: order.index(e["category"]) if e["category"] in order else len(order))


def withheld_held(datastores: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The kinds of data we hold but do not disclose, named with particularity (§7024(d))."""
    return [
        {
            "datastore": store["description"] or store["datastore"],
            "column": column.replace("_", " "),
            "category": CATEGORY_LABELS.get(section["categories"].get(column, ""), "sensitive"),
        }
        for store in holding(datastores)
        for section in store["sections"]
        for column in section["withheld"]
        if section["withheld_present"].get(column)
    ]


def report_subject(datastores: list[dict[str, Any]]) -> str:
    if any(d["row_count"] for d in datastores):
        return "Your CCPA access request: the personal information we hold about you"
    return "Your CCPA access request: we hold no personal information about you"


def render_report_chunks(
    *,
    name: str,
    request_id: str,
    received_at: datetime,
    since: datetime,
    datastores: list[dict[str, Any]],
    rows: RowsFor,
    attachments: Iterable[str] = (),
    download: dict[str, Any] | None = None,
) -> Iterator[str]:
    """The report HTML in chunks: rows are pulled lazily (``rows(datastore, query)``), so memory stays bounded."""
    held = holding(datastores)
    return _env.get_template("report.html.j2").generate(
        name=name,
        request_id=request_id,
        received_at=received_at,
        since=since,
        datastores=held,
        categories=categories_held(datastores),
        withheld=withheld_held(datastores),
        withheld_notice=WITHHELD_NOTICE,
        rows=rows,
        total_rows=sum(d["row_count"] for d in held),
        attachments=list(attachments),
        download=download,
    )


def render_report(**kwargs: Any) -> Email:
    """The whole report in memory (small subjects, tests); the DAG streams ``render_report_chunks`` to a file."""
    return Email(subject=report_subject(kwargs["datastores"]), html="".join(render_report_chunks(**kwargs)))


def render_rejection(*, name: str, request_id: str, reason: str | None) -> Email:
    html = _env.get_template("rejection.html.j2").render(name=name, request_id=request_id, reason=reason)
    return Email(subject="Your CCPA access request could not be completed", html=html)


def render_acknowledgement(*, name: str, request_id: str, received_at: datetime, due_at: datetime) -> Email:
    """§7021(a): confirm receipt, say how the request will be verified and when to expect the answer."""
    html = _env.get_template("acknowledgement.html.j2").render(
        name=name, request_id=request_id, received_at=received_at, due_at=due_at
    )
    return Email(subject="We received your CCPA access request", html=html)


def render_duplicate_notice(*, name: str, request_id: str, original: Any) -> Email:
    html = _env.get_template("duplicate.html.j2").render(
        name=name, request_id=request_id, original_received_at=original.received_at, due_at=original.due_at
    )
    return Email(subject="Your CCPA access request: we are already working on it", html=html)


def render_extension(*, name: str, request_id: str, due_at: datetime, reason: str) -> Email:
    """§7021(b): notice of the extension with its reason, sent within the first 45 days."""
    html = _env.get_template("extension.html.j2").render(name=name, request_id=request_id, due_at=due_at, reason=reason)
    return Email(subject="Your CCPA access request: we need more time", html=html)
