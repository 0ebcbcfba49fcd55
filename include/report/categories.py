"""The categories-only answer (Civ. 1798.110(a)(1)-(4), 11 CCR §7062(b), §7024): categories of personal information
held, their sources, business purposes, the third parties they are disclosed to, and the types held but never
disclosed. Built from the extraction summaries alone (the report model's ``ReportContext`` with no rows): it contains
no value, and no file with values is written.

A specific-pieces request that could not be verified to that degree is answered this way, with the reason (§7024).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from include import storage
from include.report import files
from include.report.model import BuiltReport, ExtractSummary, ReportContext, no_rows
from include.store import RequestRecord
from include.templating import env

HTML_NAME = "report.html"
SUBJECT = "Your CCPA access request: the categories of personal information we hold about you"


def context_for(
    record: RequestRecord, since: datetime, datastores: Iterable[ExtractSummary | Mapping[str, Any]]
) -> ReportContext:
    """The report's context without rows: nothing here can read a value."""
    return files.context_for(record, since, datastores, rows=no_rows)


def render(context: ReportContext, unverified_reason: str = "") -> str:
    return env.get_template("report_categories.html.j2").render(
        name=context.name,
        request_id=context.request_id,
        received_at=context.received_at,
        since=context.since,
        categories=context.categories(),
        nothing_sold=context.nothing_sold_or_shared(),
        withheld=context.withheld(),
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
    context = context_for(record, since, datastores)
    folder = storage.request_dir(record.request_id)
    with storage.text_writer(folder / HTML_NAME) as out:
        out.write(render(context, unverified_reason))
    return BuiltReport(
        html=storage.url_of(folder / HTML_NAME),
        files=(),
        subject=SUBJECT,
        since=since,
        datastores=context.datastores,
        row_count=sum(s.row_count for s in context.datastores),
    )
