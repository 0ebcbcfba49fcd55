"""The report's files in storage (HTML, JSON, one CSV per datastore, PDF) and the email that carries them.

Everything is written row by row from the extract files. Only paths, names and counts go back to the DAG.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from include import storage
from include.datastores.extract import read_rows
from include.law import MAX_EMAIL_BYTES
from include.mail.message import Attachment, Email
from include.report.downloads import make_link, write_zip
from include.report.html import render_report_chunks, render_summary
from include.report.model import (
    BuiltReport,
    DownloadLink,
    ExtractSummary,
    ReportContext,
    ReportFile,
    RowsFor,
    summaries,
)
from include.report.portable import write_csv, write_json
from include.store import RequestRecord

JSON_NAME = "report.json"
PDF_NAME = "report.pdf"
HTML_NAME = "report.html"
#: Room for headers, the HTML body and base64's 4/3 growth when deciding whether attachments still fit.
_BASE64 = 4 / 3


def _rows(summary: ExtractSummary, query: str) -> Iterable[dict[str, Any]]:
    return read_rows(storage.resolve(summary.path), query)


def context_for(
    record: RequestRecord,
    since: datetime,
    datastores: Iterable[ExtractSummary | Mapping[str, Any]],
    rows: RowsFor = _rows,
) -> ReportContext:
    """The report's context for a request: its rows are read from the extract files in storage (``rows=no_rows``:
    a context that can read no value)."""
    return ReportContext(
        request_id=record.request_id,
        name=record.name,
        email=record.email,
        received_at=record.received_at,
        since=since,
        datastores=summaries(datastores),
        rows=rows,
        language=record.language,
    )


def build(
    record: RequestRecord, since: datetime, datastores: Iterable[ExtractSummary | Mapping[str, Any]]
) -> BuiltReport:
    folder = storage.request_dir(record.request_id)
    context = context_for(record, since, datastores)
    for summary in context.datastores:  # paths from XCom: only this request's own files are read
        storage.resolve(summary.path, request_id=record.request_id)
    files: list[ReportFile] = []
    if context.holding:
        with storage.text_writer(folder / JSON_NAME) as out:
            write_json(out, context)
        files.append(ReportFile(storage.url_of(folder / JSON_NAME), JSON_NAME, "application/json"))
        for summary in context.holding:
            name = f"{summary.datastore}.csv"
            with storage.text_writer(folder / name) as out:
                write_csv(out, summary, context.rows)
            files.append(ReportFile(storage.url_of(folder / name), name, "text/csv"))
        from include.report.pdf import write_pdf  # the PDF library loads only in the task that builds reports

        with (folder / PDF_NAME).open("wb") as out:
            write_pdf(out, context)
        files.append(ReportFile(storage.url_of(folder / PDF_NAME), PDF_NAME, "application/pdf"))
    with storage.text_writer(folder / HTML_NAME) as out:
        for chunk in render_report_chunks(context, attachments=[f.filename for f in files]):
            out.write(chunk)
    return BuiltReport(
        html=storage.url_of(folder / HTML_NAME),
        files=tuple(files),
        subject=context.subject,
        since=since,
        datastores=context.datastores,
        row_count=sum(s.row_count for s in context.datastores),
    )


def email_for(
    record: RequestRecord, report: BuiltReport | Mapping[str, Any]
) -> tuple[Email, list[Attachment], DownloadLink | None]:
    """The report email: HTML body plus attachments, or, when that would pass 25 MB, a summary with a signed
    download link to a ZIP of everything."""
    report = report if isinstance(report, BuiltReport) else BuiltReport.from_dict(report)
    rid = record.request_id
    html_url = storage.resolve(report.html, request_id=rid)
    size = html_url.stat().st_size + sum(storage.resolve(f.path, request_id=rid).stat().st_size for f in report.files)
    context = context_for(record, report.since, report.datastores)
    if size * _BASE64 < MAX_EMAIL_BYTES * 0.95:
        # The body is the summary; every record is in the attachments, report.html first (it reads like the body).
        attachments = [Attachment(HTML_NAME, "text/html", html_url.read_bytes())] if report.files else []
        attachments += [
            Attachment(f.filename, f.type, storage.resolve(f.path, request_id=rid).read_bytes()) for f in report.files
        ]
        return render_summary(context, attachments=[a.filename for a in attachments]), attachments, None
    write_zip(record.request_id, [report.html, *(f.path for f in report.files)])
    link = make_link(record.request_id)
    return render_summary(context, download=link), [], link


__all__ = ["build", "context_for", "email_for"]
