"""The report's files in storage (HTML, JSON, one CSV per datastore, PDF) and the email that carries them.

Everything is written row by row from the extract files, in one pass: each row is read and decoded once and written
to every format (include/report/rowpass.py). Only paths, names and counts go back to the DAG.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from dataclasses import replace
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
    Section,
    summaries,
)
from include.report.portable import CsvWriter, JsonWriter
from include.report.rowpass import FirstRows, RowPass
from include.store import RequestRecord

JSON_NAME = "report.json"
PDF_NAME = "report.pdf"
HTML_NAME = "report.html"
#: Jinja yields a chunk per piece of markup (a table's rows come a few hundred at a time, include/report/html.py):
#: chunks are joined up to this many characters before writing, so a report is a few hundred writes, not thousands.
_CHARS_PER_WRITE = 1 << 16
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
    if not context.holding:
        with storage.text_writer(folder / HTML_NAME) as out:
            for chunk in render_report_chunks(context):
                out.write(chunk)
    else:
        names = [JSON_NAME, *(f"{s.datastore}.csv" for s in context.holding), PDF_NAME]
        with ExitStack() as files_open:
            # One pass over the rows writes every format (include/report/rowpass.py): the HTML template pulls the
            # rows, and each row it reads is also handed to the JSON and CSV writers and kept for the PDF if it is
            # among the rows the PDF prints. Each row is decoded once.
            json_writer = JsonWriter(files_open.enter_context(storage.text_writer(folder / JSON_NAME)), context)
            csvs = _CsvFiles(folder, files_open)
            from include.report.pdf import MAX_ROWS_PER_SECTION, write_pdf  # the PDF library loads only here

            printed = FirstRows(MAX_ROWS_PER_SECTION)
            rowpass = RowPass(
                context.holding,
                lambda summary: storage.resolve(summary.path).open("r", encoding="utf-8"),
                _rows,
                [json_writer, csvs, printed],
            )
            html = files_open.enter_context(storage.text_writer(folder / HTML_NAME))
            chunks = render_report_chunks(replace(context, rows=rowpass.rows), attachments=names)
            _write_joined(html, chunks)
            rowpass.finish()
            json_writer.close()
        with (folder / PDF_NAME).open("wb") as out:
            write_pdf(out, replace(context, rows=printed.rows))
        files.append(ReportFile(storage.url_of(folder / JSON_NAME), JSON_NAME, "application/json"))
        files += [ReportFile(storage.url_of(folder / name), name, "text/csv") for name in names[1:-1]]
        files.append(ReportFile(storage.url_of(folder / PDF_NAME), PDF_NAME, "application/pdf"))
    return BuiltReport(
        html=storage.url_of(folder / HTML_NAME),
        files=tuple(files),
        subject=context.subject,
        since=since,
        datastores=context.datastores,
        row_count=sum(s.row_count for s in context.datastores),
    )


def _write_joined(out: Any, chunks: Iterable[str]) -> None:
    pending: list[str] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= _CHARS_PER_WRITE:
            out.write("".join(pending))
            pending.clear()
            size = 0
    out.write("".join(pending))


class _CsvFiles:
    """One CSV file per datastore, each opened when the pass reaches its datastore and closed when it leaves it."""

    def __init__(self, folder: Any, files_open: ExitStack) -> None:
        self.folder, self.files_open = folder, files_open
        self._open: ExitStack | None = None
        self._writer: CsvWriter | None = None

    def begin_store(self, store: ExtractSummary) -> None:
        self._open = self.files_open.enter_context(ExitStack())
        self._writer = CsvWriter(self._open.enter_context(storage.text_writer(self.folder / f"{store.datastore}.csv")))
        self._writer.begin_store(store)

    def begin_section(self, store: ExtractSummary, section: Section) -> None:
        assert self._writer is not None
        self._writer.begin_section(store, section)

    def row(self, section: Section, row: dict[str, Any]) -> None:
        assert self._writer is not None
        self._writer.row(section, row)

    def batch(self, section: Section, rows: list[dict[str, Any]]) -> None:
        assert self._writer is not None
        self._writer.batch(section, rows)

    def end_section(self, section: Section) -> None:
        pass

    def end_store(self, store: ExtractSummary) -> None:
        assert self._open is not None
        self._open.close()
        self._open = self._writer = None


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
