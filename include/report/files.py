"""The report's files in storage (HTML, JSON, one CSV per datastore, PDF) and the email that carries them.

Everything is written row by row from the extract files. Only paths, names and counts go back to the DAG.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from include import storage
from include.datastores.extract import read_rows
from include.mail.message import MAX_EMAIL_BYTES, Attachment
from include.report.downloads import make_link, write_zip
from include.report.html import Email, holding, render_report_chunks, report_subject
from include.report.portable import write_csv, write_json
from include.store import RequestRecord

JSON_NAME = "report.json"
PDF_NAME = "report.pdf"
HTML_NAME = "report.html"
#: Room for headers, the HTML body and base64's 4/3 growth when deciding whether attachments still fit.
_BASE64 = 4 / 3


def _rows(datastore: dict[str, Any], query: str):
    return read_rows(storage.resolve(datastore["path"]), query)


def _context(record: RequestRecord, since: datetime, datastores: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": record.name,
        "request_id": record.request_id,
        "received_at": record.received_at,
        "since": since,
        "datastores": datastores,
        "rows": _rows,
    }


def build(record: RequestRecord, since: datetime, datastores: list[dict[str, Any]]) -> dict[str, Any]:
    folder = storage.request_dir(record.request_id)
    for datastore in datastores:  # paths from XCom: only this request's own files are read
        storage.resolve(datastore["path"], request_id=record.request_id)
    context = _context(record, since, datastores)
    files: list[dict[str, str]] = []
    if holding(datastores):
        with storage.text_writer(folder / JSON_NAME) as out:
            write_json(out, email=record.email, **context)
        files.append({"path": storage.url_of(folder / JSON_NAME), "filename": JSON_NAME, "type": "application/json"})
        for store in holding(datastores):
            name = f"{store['datastore']}.csv"
            with storage.text_writer(folder / name) as out:
                write_csv(out, store, _rows)
            files.append({"path": storage.url_of(folder / name), "filename": name, "type": "text/csv"})
        from include.report.pdf import write_pdf  # the PDF library loads only in the task that builds reports

        with (folder / PDF_NAME).open("wb") as out:
            write_pdf(out, **context)
        files.append({"path": storage.url_of(folder / PDF_NAME), "filename": PDF_NAME, "type": "application/pdf"})
    with storage.text_writer(folder / HTML_NAME) as out:
        for chunk in render_report_chunks(**context, attachments=[f["filename"] for f in files]):
            out.write(chunk)
    return {
        "html": storage.url_of(folder / HTML_NAME),
        "files": files,
        "subject": report_subject(datastores),
        "since": since.isoformat(),
        "datastores": datastores,
        "row_count": sum(d["row_count"] for d in datastores),
    }


def email_for(record: RequestRecord, report: dict[str, Any]) -> tuple[Email, list[Attachment], dict | None]:
    """The report email: HTML body plus attachments, or, when that would pass 25 MB, a summary with a signed
    download link to a ZIP of everything."""
    rid = record.request_id
    html_url = storage.resolve(report["html"], request_id=rid)
    size = html_url.stat().st_size + sum(
        storage.resolve(f["path"], request_id=rid).stat().st_size for f in report["files"]
    )
    if size * _BASE64 < MAX_EMAIL_BYTES * 0.95:
        attachments = [
            Attachment(f["filename"], f["type"], storage.resolve(f["path"], request_id=rid).read_bytes())
            for f in report["files"]
        ]
        return Email(subject=report["subject"], html=html_url.read_text(encoding="utf-8")), attachments, None
    write_zip(record.request_id, [report["html"], *(f["path"] for f in report["files"])])
    link = make_link(record.request_id)
    context = _context(record, datetime.fromisoformat(report["since"]), report["datastores"])
    context["rows"] = lambda datastore, query: iter(())  # the summary only: the data is behind the link
    summary = "".join(render_report_chunks(**context, download=link))
    return Email(subject=report["subject"], html=summary), [], link


__all__ = ["build", "email_for"]
