"""The categories-only answer (Civ. 1798.110(a)(1)-(4), 11 CCR §7062(b), §7024): categories of personal information
held, their sources, business purposes, the third parties they are disclosed to, and the types held but never
disclosed. Built from the extraction summaries alone: it contains no value, and no file with values is written.

A specific-pieces request that could not be verified to that degree is answered this way, with the reason (§7024).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from include import storage
from include.report.model import BuiltReport, ExtractSummary, ReportContext, no_rows, summaries
from include.store import RequestRecord
from include.templating import env

HTML_NAME = "report.html"
SUBJECT = "Your CCPA access request: the categories of personal information we hold about you"


def render(
    record: RequestRecord,
    since: datetime,
    datastores: Iterable[ExtractSummary | Mapping[str, Any]],
    unverified_reason: str,
) -> str:
    context = ReportContext(
        request_id=record.request_id,
        name=record.name,
        email=record.email,
        received_at=record.received_at,
        since=since,
        datastores=summaries(datastores),
        rows=no_rows,
    )
    return env.get_template("report_categories.html.j2").render(
        name=record.name,
        request_id=record.request_id,
        received_at=record.received_at,
        since=since,
        categories=[c.to_dict() for c in context.categories()],
        withheld=[w.to_dict() for w in context.withheld()],
        unverified_reason=unverified_reason,
    )


def build(
    record: RequestRecord,
    since: datetime,
    datastores: Iterable[ExtractSummary | Mapping[str, Any]],
    *,
    unverified_reason: str = "",
) -> BuiltReport:
    """The categories-only report in storage: one HTML page, no attachments (they would carry values)."""
    typed = summaries(datastores)
    folder = storage.request_dir(record.request_id)
    with storage.text_writer(folder / HTML_NAME) as out:
        out.write(render(record, since, typed, unverified_reason))
    return BuiltReport(
        html=storage.url_of(folder / HTML_NAME),
        files=(),
        subject=SUBJECT,
        since=since,
        datastores=typed,
        row_count=sum(d.row_count for d in typed),
    )
