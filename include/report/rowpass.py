"""One pass over a request's rows for every format: each row is read from its extract file and decoded once.

The report has four formats (HTML, JSON, one CSV per datastore, the PDF) and all of them list the same rows in the
same order: datastore by datastore (``ReportContext.holding``), section by section, row by row. Reading the extract
files once per format decoded every row three times, and each section's read decoded every other section's lines
too (a quarter of a 100,000-row report's time, docs/benchmarks.md). Here one reader walks the rows in that order
and hands each decoded row to every writer (a :class:`Sink`), ``BATCH`` rows at a time. The writers that are fed
(JSON, CSV, the PDF's first rows) and the one that pulls (the HTML template, through :meth:`RowPass.rows`) see the
same row objects; memory stays bounded (a file is read a batch of lines at a time; the PDF keeps at most its printed
rows per section).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from itertools import islice
from operator import itemgetter
from typing import Any, Protocol

from include.jsonlines import decode_line
from include.report.model import ExtractSummary, RowsFor, Section


class ExtractMismatch(ValueError):
    """An extract file that does not hold the rows its summary counts, in its sections' order."""


#: Rows decoded and handed on at a time: a sink with a ``batch`` method gets them in one call, and can do per batch
#: (in C: a join, a search, an ``itemgetter`` map) what it did per row in Python.
BATCH = 256


class Sink(Protocol):
    """A writer fed the rows in report order. Every section of every datastore is announced, empty ones too.

    A sink may also have ``batch(section, rows)``, the same as ``row`` for each of ``rows`` in turn, which the pass
    calls instead when it has it."""

    def begin_store(self, store: ExtractSummary) -> None: ...

    def begin_section(self, store: ExtractSummary, section: Section) -> None: ...

    def row(self, section: Section, row: dict[str, Any]) -> None: ...

    def end_section(self, section: Section) -> None: ...

    def end_store(self, store: ExtractSummary) -> None: ...


Feed = Callable[[Section, list[dict[str, Any]]], None]


def batch_feeder(sink: Sink) -> Feed:
    """``sink.batch``, or ``sink.row`` for each row of a batch."""
    batch = getattr(sink, "batch", None)
    if batch is not None:
        return batch
    row = sink.row

    def rows_one_by_one(section: Section, rows: list[dict[str, Any]]) -> None:
        for one in rows:
            row(section, one)

    return rows_one_by_one


def values_of_rows(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> list[Sequence[Any]]:
    """Each row's values of ``columns``, in order; a column a row lacks is None (``row.get``)."""
    if len(columns) > 1:
        rows = rows if isinstance(rows, list) else list(rows)
        try:
            return list(map(itemgetter(*columns), rows))  # C, a row at a time
        except KeyError:
            pass
    return [[row.get(c) for c in columns] for row in rows]


def feed(stores: Iterable[ExtractSummary], rows: RowsFor, sinks: Sequence[Sink]) -> None:
    """Feed ``sinks`` every row ``rows`` gives, in report order (the writers' own entry points use this)."""
    for store in stores:
        for sink in sinks:
            sink.begin_store(store)
        for section in store.sections:
            for sink in sinks:
                sink.begin_section(store, section)
            feeders = [batch_feeder(sink) for sink in sinks]
            section_rows = iter(rows(store, section.query))
            while batch := list(islice(section_rows, BATCH)):
                for feed_batch in feeders:
                    feed_batch(section, batch)
            for sink in sinks:
                sink.end_section(section)
        for sink in sinks:
            sink.end_store(store)


class FirstRows:
    """Keeps the first ``limit`` rows of each section (what the PDF prints), and gives them back as ``rows``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._kept: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._current: list[dict[str, Any]] = []

    def begin_store(self, store: ExtractSummary) -> None:
        pass

    def begin_section(self, store: ExtractSummary, section: Section) -> None:
        self._current = self._kept.setdefault((store.datastore, section.query), [])

    def row(self, section: Section, row: dict[str, Any]) -> None:
        if len(self._current) < self.limit:
            self._current.append(row)

    def batch(self, section: Section, rows: list[dict[str, Any]]) -> None:
        if len(self._current) < self.limit:
            self._current.extend(rows[: self.limit - len(self._current)])

    def end_section(self, section: Section) -> None:
        pass

    def end_store(self, store: ExtractSummary) -> None:
        pass

    def rows(self, store: ExtractSummary, query: str) -> Iterable[dict[str, Any]]:
        return self._kept.get((store.datastore, query), [])


class RowPass:
    """Reads each datastore's extract file once, in report order, feeding ``sinks``; :meth:`rows` lets a writer
    that pulls (the HTML template) take part in the same pass.

    ``open_lines(store)`` returns a context manager over the lines of the store's extract file (as
    ``include.datastores.extract.extract`` wrote them: one JSON object per row, sections in order). A section asked
    for out of order, or a second time, is read again on its own by ``reread`` (correct, only slower); every section
    the puller did not ask for is fed to the sinks by :meth:`finish`.
    """

    def __init__(self, stores: Sequence[ExtractSummary], open_lines: Any, reread: RowsFor, sinks: Sequence[Sink]):
        self._order = [(store, section) for store in stores for section in store.sections]
        self._open_lines = open_lines
        self._reread = reread
        self._sinks = sinks
        self._next = 0  # the first section not yet fed
        self._store: ExtractSummary | None = None
        self._files = ExitStack()
        self._lines: Iterator[str] = iter(())
        self._reading = False

    def rows(self, store: ExtractSummary, query: str) -> Iterator[dict[str, Any]]:
        """The rows of one section, fed to the sinks as they are read (``ReportContext.rows`` for the puller).

        Which section comes next is decided when the puller starts reading, not when it asks: a section already fed,
        or asked for while another is being read, is read again on its own (decoded a second time)."""
        index = None
        if not self._reading:
            index = next(
                (
                    i
                    for i in range(self._next, len(self._order))
                    if self._order[i][0].datastore == store.datastore and self._order[i][1].query == query
                ),
                None,
            )
        if index is None:
            yield from self._reread(store, query)
            return
        self._reading = True
        try:
            yield from self._section(index, pulled=True)
        finally:
            self._reading = False

    def finish(self) -> None:
        """Feed what the puller did not ask for, then close the last file and datastore."""
        try:
            while self._next < len(self._order):
                for _ in self._section(self._next, pulled=False):
                    pass
            self._end_store()
        finally:
            self._files.close()

    def _section(self, index: int, *, pulled: bool) -> Iterator[dict[str, Any]]:
        while self._next < index:  # sections the puller skipped: fed to the sinks all the same, in order
            for _ in self._section(self._next, pulled=False):
                pass
        store, section = self._order[index]
        self._next = index + 1
        if self._store is not store:
            self._end_store()
            self._store = store
            # iter(): an object store's file (ObjectStoragePath's wrapper) is iterable but not itself an iterator.
            self._lines = iter(self._files.enter_context(self._open_lines(store))) if store.row_count else iter(())
            for sink in self._sinks:
                sink.begin_store(store)
        for sink in self._sinks:
            sink.begin_section(store, section)
        # Looked up once the section has begun: a sink may be a proxy for a writer it makes in begin_store.
        feeders = [batch_feeder(sink) for sink in self._sinks]
        batches = self._decode(store, section)
        try:
            for batch in batches:
                for feed_batch in feeders:
                    feed_batch(section, batch)
                if pulled:
                    yield from batch
        finally:  # a puller that stops early: the sinks still get the whole section
            for batch in batches:
                for feed_batch in feeders:
                    feed_batch(section, batch)
            for sink in self._sinks:
                sink.end_section(section)

    def _decode(self, store: ExtractSummary, section: Section) -> Iterator[list[dict[str, Any]]]:
        """The section's rows, ``BATCH`` at a time; an extract that does not match fails as reading row by row
        would, at the first row that does not (a line that is not JSON, a row of another section, the end)."""
        query, lines = section.query, self._lines
        done = 0
        while done < section.row_count:
            lines_read = list(islice(lines, min(BATCH, section.row_count - done)))
            rows: list[dict[str, Any]] | None = None
            try:
                items = [decode_line(line) for line in lines_read]
                if all(item["q"] == query for item in items):
                    rows = [item["v"] for item in items]
            except Exception:  # raised again below, row by row, in the order reading meets it
                rows = None
            if rows is None:
                rows = []
                for line in lines_read:
                    item = decode_line(line)
                    if item["q"] != query:
                        raise ExtractMismatch(
                            f"the extract of {store.datastore} has a row of {item['q']!r} among {query!r}"
                        )
                    rows.append(item["v"])
            if len(rows) < min(BATCH, section.row_count - done):
                raise ExtractMismatch(
                    f"the extract of {store.datastore} ends after {done + len(rows)} of {section.row_count} rows of "
                    f"{query!r}"
                )
            done += len(rows)
            yield rows

    def _end_store(self) -> None:
        if self._store is None:
            return
        store, self._store = self._store, None
        self._files.close()
        self._files = ExitStack()
        self._lines = iter(())
        for sink in self._sinks:
            sink.end_store(store)


__all__ = ["BATCH", "ExtractMismatch", "FirstRows", "RowPass", "Sink", "batch_feeder", "feed", "values_of_rows"]
