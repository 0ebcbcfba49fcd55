"""The report as HTML (``include/templates/report.html.j2``): what the requester reads in the email and in
``report.html``.

Rows are pulled lazily from the extract files through the context: memory stays bounded however much a person has.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from include.mail.message import Email
from include.report.model import WITHHELD_NOTICE, DownloadLink, ReportContext
from include.templating import env_for


def render_report_chunks(
    context: ReportContext,
    *,
    attachments: Iterable[str] = (),
    download: DownloadLink | None = None,
    full: bool = True,
) -> Iterator[str]:
    """The report HTML in chunks, for streaming to a file. ``full=False``: the email's summary (categories, sources,
    purposes, recipients per category with what was sold or shared, what is withheld, counts per system, how to read
    the files), no rows: its size does not grow with the data."""
    return (
        env_for(context.language)
        .get_template("report.html.j2")
        .generate(
            name=context.name,
            request_id=context.request_id,
            received_at=context.received_at,
            since=context.since,
            datastores=context.holding,
            categories=context.categories(),
            nothing_sold=context.nothing_sold_or_shared(),
            withheld=context.withheld(),
            withheld_notice=WITHHELD_NOTICE,
            rows=context.rows,
            total_rows=context.total_rows,
            attachments=list(attachments),
            full=full,
            download=download,
        )
    )


def render_report(context: ReportContext) -> Email:
    """The whole report in memory (small subjects, tests); the DAG streams ``render_report_chunks`` to a file."""
    return Email(subject=context.subject, html="".join(render_report_chunks(context)))


def render_summary(
    context: ReportContext, *, attachments: Iterable[str] = (), download: DownloadLink | None = None
) -> Email:
    """The email's body: the summary, whatever the subject's size (the data is attached or behind the link)."""
    chunks = render_report_chunks(context.summary_only(), attachments=attachments, download=download, full=False)
    return Email(subject=context.subject, html="".join(chunks))
