"""The report as HTML (``include/templates/report.html.j2``): what the requester reads in the email and in
``report.html``.

Rows are pulled lazily from the extract files through the context: memory stays bounded however much a person has.

A table's rows are not rendered by Jinja row by row and cell by cell: a 100,000-row report has 400,000 cells, and
rendering each through the template (an attribute and an item lookup, a test, an escape, 14 chunks a row handed up
through three generators) took 0.42 CPU-s per 100,000 rows, now 0.18 (docs/benchmarks.md). The template renders a
section's row markup once, with ``cell(column)`` where a row's value goes, and hands it to ``table_rows``, which
repeats it for every row in Python, a few hundred rows per chunk. The markup stays in the template; the output is
the same bytes (tests/unit/report/test_html_rows.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from html import unescape
from itertools import chain, islice
from operator import itemgetter
from typing import Any

from markupsafe import Markup, escape

from include.mail.message import Email
from include.report.model import WITHHELD_NOTICE, DownloadLink, ExtractSummary, ReportContext, RowsFor, Section
from include.report.rowpass import values_of_rows
from include.templating import env_for

#: Marks where ``cell(column)`` stands in a row's markup, and separates values escaped together. Markup has none
#: (a template is text a person writes); a value holding one is escaped on its own (``_row_values``).
_MARK = "\x00"
_MARKER = Markup("\x00")  # _MARK as markup: what cell() puts around a column's name
#: Rows joined into one chunk: few enough chunks that Jinja's generators cost nothing, small enough (~64 KiB here)
#: that the chunks written at once stay small.
ROWS_PER_CHUNK = 256
#: Types whose ``str()`` is what ``markupsafe.escape`` makes of them before escaping (no ``__html__``).
_PLAIN = frozenset({int, float, bool})
_STR = frozenset({str})
_TEXT_OR_PLAIN = _PLAIN | {str, type(None)}


class _NotPlain(Exception):
    """A value that must go through ``markupsafe.escape`` on its own (it may have ``__html__``)."""


def cell(column: str) -> Markup:
    """Where a row's value of ``column`` goes in a section's row markup (see ``table_rows``). The name is escaped
    like any text (Markup's ``+``), so the marker is safe wherever a template puts it."""
    return _MARKER + column + _MARKER


def _text(value: Any) -> str:
    if value is None:
        return ""
    if type(value) in _PLAIN:
        return str(value)
    raise _NotPlain


def _row_values(values: Iterable[Any], count: int) -> list[str]:
    """``values`` HTML-escaped as Jinja's ``{{ value if value is not none else "" }}`` does, in one ``escape`` call
    for the row when they are text or numbers (joined by ``_MARK``, which escaping keeps)."""
    try:
        texts = [v if type(v) is str else _text(v) for v in values]
        escaped = str.split(escape(_MARK.join(texts)), _MARK)
        if len(escaped) == count:
            return escaped
    except _NotPlain:
        pass
    return ["" if v is None else escape(v) for v in values]  # a value holding _MARK, or not plain


def _values_of(columns: list[str]) -> Any:
    """A row's values of ``columns`` as a tuple; a column the row lacks is None (as in report.json and the CSV)."""
    if not columns:
        return lambda row: ()
    if len(columns) == 1:
        [column] = columns
        return lambda row: (row.get(column),)
    getter = itemgetter(*columns)

    def values(row: dict[str, Any]) -> tuple[Any, ...]:
        try:
            return getter(row)
        except KeyError:
            return tuple(row.get(c) for c in columns)

    return values


def table_rows(rows: RowsFor, store: ExtractSummary, section: Section, row_markup: str) -> Iterator[Markup]:
    """Every row of one section as ``row_markup`` with each ``cell(column)`` replaced by the row's escaped value
    (empty for none), in chunks of ``ROWS_PER_CHUNK`` rows."""
    pieces = str(row_markup).split(_MARK)
    if len(pieces) % 2 == 0:
        raise ValueError("the row markup has a cell marker without its end (a filter applied to cell()?)")
    columns, count = [unescape(c) for c in pieces[1::2]], len(pieces) // 2
    fmt = "%s".join(p.replace("%", "%%") for p in pieces[0::2])
    values_of = _values_of(columns)
    section_rows = iter(rows(store, section.query))
    # Markup(): the chunks are the template's markup and values escaped by _row_values / _chunk_values.
    while chunk := list(islice(section_rows, ROWS_PER_CHUNK)):
        if not count:
            yield Markup(fmt * len(chunk))  # noqa: S704
            continue
        escaped = _chunk_values(values_of_rows(columns, chunk), count)
        if escaped is not None:
            yield Markup((fmt * len(chunk)) % tuple(escaped))  # noqa: S704
        else:
            yield Markup("".join([fmt % tuple(_row_values(values_of(row), count)) for row in chunk]))  # noqa: S704


def _chunk_values(rows: list[Any], count: int) -> list[str] | None:
    """Every value of a chunk of rows, escaped as ``_row_values`` escapes them, in one ``escape`` call when all are
    text, a number or none; None when a value needs ``_row_values``'s care (not plain, or holding ``_MARK``)."""
    values = list(chain.from_iterable(rows))
    types = set(map(type, values))
    if not types <= _TEXT_OR_PLAIN:
        return None
    texts = values if types == _STR else [v if type(v) is str else _text(v) for v in values]
    escaped = str.split(escape(_MARK.join(texts)), _MARK)
    return escaped if len(escaped) == len(rows) * count else None


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
            cell=cell,
            table_rows=lambda store, section, row_markup: table_rows(context.rows, store, section, row_markup),
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
