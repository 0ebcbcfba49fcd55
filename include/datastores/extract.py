"""Extraction: one person's rows from one datastore, streamed to storage; and the probe identity checks use.

Withheld values never leave this module: they are replaced by null, and only whether one was held is kept. A column
the registry has not mapped to a category is withheld too, until it is mapped (§7024(d) fails closed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import partial
from itertools import chain, islice
from typing import Any

from sqlalchemy import exc as sqlalchemy_exc
from sqlalchemy import text

from include.datastores.registry import UNCATEGORISED, Datastore, Query
from include.db import engine_for
from include.jsonlines import decode_line, line_encoder, many_encoder
from include.report.model import ExtractSummary, Section
from include.storage import text_writer, url_of

#: Rows fetched at a time from a streaming SQL result.
_BATCH = 500
#: Each query's name in its lines' head (once per query); each row's values by ``_encode_values``.
_ENCODER = json.JSONEncoder(ensure_ascii=False)
_encode_values = line_encoder()
#: ``_encode_values`` of the values ``_plain`` converts, converting them as it goes (see ``_extract_sql``).
_encode_plain = many_encoder(default=lambda value: _plain(value))


def _execute(conn: Any, query: Query, params: dict[str, Any]) -> Any:
    """Run one registry query with only the bind parameters it names, streaming rows (bounded memory)."""
    statement = text(query.sql)
    used = {k: v for k, v in params.items() if k in statement.compile().params}
    return conn.execution_options(stream_results=True).execute(statement, used)


def _params(email: str, name: str, since: datetime) -> dict[str, Any]:
    return {"email": email, "name": name, "since": since.replace(tzinfo=None)}


def _rows(conn: Any, store: Datastore, query: Query, params: dict[str, Any]) -> tuple[list[str], Iterator[dict]]:
    """(columns known so far, rows as dicts) from SQL or from a Python source."""
    if store.function is not None:
        produced = store.function(**params)
        return [], (dict(row) for row in produced)
    result = _execute(conn, query, params)
    columns = list(result.keys())
    # partitions(): rows a batch at a time from the streaming cursor (fewer calls per row than iterating).
    return columns, (dict(zip(columns, row, strict=True)) for rows in result.partitions(_BATCH) for row in rows)


def extract(
    store: Datastore, *, email: str, name: str, since: datetime, dest: Any, keep_values: bool = True
) -> ExtractSummary:
    """Stream one datastore's rows for one person to ``dest`` (a path) as JSON lines, in bounded memory.

    Withheld values never leave this function: they are replaced by null, and only whether one was held is kept.
    With ``keep_values=False`` (a categories-only answer, §7062(b)) no value is written anywhere: only the columns
    held and the counts are returned, and ``path`` is None.
    Returns the summary that travels by XCom: the datastore, where its data is, how many rows. No personal data.
    """
    params = _params(email, name, since)
    sections: list[Section] = []
    writer = text_writer(dest) if keep_values else _discard()
    with _connection(store) as conn, writer as out:
        for query in store.queries:
            if store.function is None:
                sections.append(_extract_sql(conn, query, params, out))
                continue
            columns, rows = _rows(conn, store, query, params)
            held = _withheld_columns(query, columns)
            count = 0
            # Per row only what can change: a Python source's rows may bring new columns, and a withheld column is
            # looked at until a row holds a value in it. The line is what encoding {"q": ..., "v": values} gives,
            # with the constant part encoded once.
            unseen = list(held)
            head = _head(query)
            for record in rows:
                for column in record:
                    if column not in columns:
                        columns.append(column)
                        if column not in query.categories:
                            held.setdefault(column, False)
                            unseen.append(column)
                if unseen:
                    for column in [c for c in unseen if record.get(c) is not None]:
                        held[column] = True
                        unseen.remove(column)
                values = {c: None if c in held else v if type(v) in _NATIVE else _plain(v) for c, v in record.items()}
                out.write(head + _encode_values(values) + "}\n")
                count += 1
            sections.append(_section(query, columns, held, count))
    return ExtractSummary(
        datastore=store.name,
        description=store.description,
        sources=store.sources,
        purposes=store.purposes,
        disclosures=dict(store.disclosures),
        kind=store.kind,
        held_by=store.held_by,
        sections=tuple(sections),
        row_count=sum(s.row_count for s in sections),
        path=url_of(dest) if keep_values else "",
    )


def _head(query: Query) -> str:
    """The start of each of the query's lines: ``{"q": <name>, "v": `` as encoding the whole line gives it."""
    return '{"q": ' + _ENCODER.encode(query.name) + ', "v": '


def _withheld_columns(query: Query, columns: Iterable[str]) -> dict[str, bool]:
    """The columns whose values are withheld (False: no row has shown a value yet)."""
    held = {c: False for c in query.withhold}
    # §7024(d) fails closed: a column the registry does not map to a category is withheld until mapped.
    held.update({c: False for c in columns if c not in query.categories and c not in held})
    return held


def _section(query: Query, columns: list[str], held: dict[str, bool], count: int) -> Section:
    withheld = [c for c in columns if c in held]
    return Section(
        query=query.name,
        columns=tuple(columns),
        categories={c: query.categories.get(c, UNCATEGORISED) for c in columns},
        uncategorised=tuple(c for c in columns if c not in query.categories),
        withheld=tuple(withheld),
        withheld_present={c: held[c] for c in withheld},
        row_count=count,
    )


def _extract_sql(conn: Any, query: Query, params: dict[str, Any], out: Any) -> Section:
    """One SQL query's rows to ``out``, a batch at a time: the same lines as the row-by-row loop of ``extract``
    (a Python source's), with the per-row work done by C code where it can be.

    An SQL result's rows all have its columns, so which values are withheld is known by position: they are set to
    null before a row is made a dict. The other values are encoded by ``_encode_plain``, whose ``default`` is
    ``_plain``: the same text as converting each value first, for every value except a list, tuple or dict (JSON
    would encode those as arrays and objects, ``_plain`` as their ``str``), so a batch holding one is converted
    value by value, as before.
    """
    columns, batches = _sql_batches(conn, query, params)
    held = _withheld_columns(query, columns)
    # A column named twice is one key of the row's dict, holding the last of its values: that one is looked at.
    unseen = list({c: i for i, c in enumerate(columns) if c in held}.values())
    nulls = {c: None for c in columns if c in held}
    head = _head(query)
    encode = _encode_plain
    as_pairs = partial(zip, columns, strict=True)
    count = 0
    for batch in batches:
        if unseen:
            for i in [i for i in unseen if any(row[i] is not None for row in batch)]:
                held[columns[i]] = True
                unseen.remove(i)
        records = list(map(dict, map(as_pairs, batch)))  # dict(zip(columns, row)) for each row, in C
        if nulls:
            for record in records:
                record.update(nulls)
        types = set(map(type, chain.from_iterable(batch))) - _NATIVE
        if not any(issubclass(t, (list, tuple, dict)) for t in types):
            out.write(head + ("}\n" + head).join(encode(records)) + "}\n")
        else:
            for record in records:
                values = {c: v if v is None or type(v) in _NATIVE else _plain(v) for c, v in record.items()}
                out.write(head + _encode_values(values) + "}\n")
        count += len(batch)
    return _section(query, columns, held, count)


def _sql_batches(conn: Any, query: Query, params: dict[str, Any]) -> tuple[list[str], Iterable[Any]]:
    """(columns, rows as value tuples a batch at a time) of one registry query, streamed."""
    if conn.dialect.driver == "mysqldb":
        return _mysqldb_batches(conn, query, params)
    result = _execute(conn, query, params)
    return list(result.keys()), result.partitions(_BATCH)


def _mysqldb_batches(conn: Any, query: Query, params: dict[str, Any]) -> tuple[list[str], Iterator[Any]]:
    """MySQLdb's rows straight from its unbuffered cursor (``fetchmany``), not as SQLAlchemy rows (a third of the
    fetch's time); DATETIME, TIMESTAMP and DATE values come as the text ``_plain`` makes of them (``_driver_text``).
    The statement is the registry's ``text()`` compiled by the engine's dialect (MySQLdb's ``%s`` paramstyle), so the
    same SQL and values reach the server as through ``conn.execute``; its errors are raised as ``conn.execute``
    raises them (``_sqlalchemy_errors``)."""
    from MySQLdb.cursors import SSCursor

    statement = text(query.sql)
    compiled = statement.compile(dialect=conn.dialect)
    values = compiled.construct_params({k: v for k, v in params.items() if k in compiled.params})
    args = tuple(values[k] for k in compiled.positiontup or ())
    dbapi = conn.connection.dbapi_connection
    cursor = dbapi.cursor(SSCursor)
    saved = dbapi.converter
    dbapi.converter = {**saved, **_driver_text()}  # taken by the result when the query runs, then put back
    try:
        with _sqlalchemy_errors(conn, cursor, compiled.string, args):
            cursor.execute(compiled.string, args)
    except BaseException:
        _close(cursor)
        raise
    finally:
        dbapi.converter = saved
    return [d[0] for d in cursor.description or ()], _fetch_batches(conn, cursor, compiled.string, args)


def _fetch_batches(conn: Any, cursor: Any, statement: str, args: tuple[Any, ...]) -> Iterator[Any]:
    try:
        while True:
            with _sqlalchemy_errors(conn, cursor, statement, args):
                batch = cursor.fetchmany(_BATCH)
            if not batch:
                return
            yield batch
    finally:
        _close(cursor)


def _close(cursor: Any) -> None:
    """Close a cursor as SQLAlchemy does when a result ends: an error closing it (a connection already lost) is not
    the error to report."""
    with suppress(Exception):
        cursor.close()


@contextmanager
def _sqlalchemy_errors(conn: Any, cursor: Any, statement: str, args: tuple[Any, ...]) -> Iterator[None]:
    """A DBAPI error as ``conn.execute`` raises it: wrapped in SQLAlchemy's class for it, the statement without its
    parameters (the engine hides them: they are the requester's email and name), and a lost connection invalidated
    so the pool does not hand it out again."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except dbapi_error as error:
        lost = bool(conn.dialect.is_disconnect(error, conn.connection.dbapi_connection, cursor))
        if lost:
            conn.invalidate()
        raise sqlalchemy_exc.DBAPIError.instance(
            statement,
            args,
            error,
            dbapi_error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=conn.dialect,
            ismulti=False,
        ) from error


_from_iso_datetime = datetime.fromisoformat
_from_iso_date = date.fromisoformat


def _datetime_text(text: str) -> str | None:
    """``_plain(MySQLdb.times.DateTime_or_None(text))``, cheaper for the text MariaDB sends: ``2026-01-15 12:00:00``,
    or with 6 fractional digits. ``fromisoformat`` (C) only checks it: it takes such a text exactly when it is a real
    date and time (ASCII digits, months 1-12, no zero date...), and ``isoformat`` would then give the same text with a
    "T" (and no fraction of zeros). Anything else goes through MySQLdb's own parser."""
    if text[4:17:3] == "-- ::":  # the separators at 4, 7, 10, 13, 16
        size = len(text)
        if size == 19 or (size == 26 and text[19] == "."):
            try:
                _from_iso_datetime(text)
            except ValueError:
                pass
            else:
                if size == 19 or text[20:] == "000000":
                    return text[:10] + "T" + text[11:19]
                return text[:10] + "T" + text[11:]
    from MySQLdb.times import DateTime_or_None

    parsed = DateTime_or_None(text)
    return None if parsed is None else _plain(parsed)


def _date_text(text: str) -> str | None:
    """``_plain(MySQLdb.times.Date_or_None(text))``: the usual ``2026-01-15`` as it is, once ``fromisoformat``
    takes it as a real date."""
    if len(text) == 10 and text[4:8:3] == "--":
        try:
            _from_iso_date(text)
        except ValueError:
            pass
        else:
            return text
    from MySQLdb.times import Date_or_None

    parsed = Date_or_None(text)
    return None if parsed is None else _plain(parsed)


def _driver_text() -> dict[int, Any]:
    """MySQLdb converters (by field type) for extraction: the text a JSON line holds, made in one step."""
    from MySQLdb.constants import FIELD_TYPE

    return {FIELD_TYPE.DATETIME: _datetime_text, FIELD_TYPE.TIMESTAMP: _datetime_text, FIELD_TYPE.DATE: _date_text}


@contextmanager
def _discard() -> Iterator[Any]:
    """A writer that keeps nothing (a categories-only extraction)."""

    class _Null:
        def write(self, _: str) -> int:
            return 0

    yield _Null()


@contextmanager
def _connection(store: Datastore) -> Iterator[Any]:
    if store.function is not None:
        yield None
        return
    with engine_for(store.conn_id).connect() as conn:
        yield conn


def read_rows(path: Any, query: str) -> Iterator[dict[str, Any]]:
    """The rows of one section, read lazily from an extract file (bounded memory for big subjects)."""
    with path.open("r", encoding="utf-8") as lines:
        for line in lines:
            item = decode_line(line)
            if item["q"] == query:
                yield item["v"]


@dataclass(frozen=True)
class Probe:
    """What one datastore knows of a requester, for identity verification: whether the email is there and, per
    kind the registry says a column identifies (``identifies:``), the values on file. They stay in the process that
    compares them; only which kinds match leaves it."""

    datastore: str
    found: bool
    names: frozenset[str]
    values: dict[str, frozenset[str]] = field(default_factory=dict)


def probe(store: Datastore, *, email: str, name: str, since: datetime, sample: int = 20) -> Probe:
    """Read at most ``sample`` rows per query: verification needs presence and identifiers, not the history."""
    params = _params(email, name, since)
    found = False
    values: dict[str, set[str]] = {}
    with _connection(store) as conn:
        for query in store.queries:
            _, produced = _rows(conn, store, query, params)
            rows = list(islice(produced, sample))
            close = getattr(produced, "close", None)
            if close is not None:  # stop the query (a generator's close), not only our reading of it
                close()
            found = found or bool(rows)
            identifying = query.identifying_columns()
            for row in rows:
                for column, kind in identifying.items():
                    value = row.get(column)
                    if value is not None and str(value).strip():
                        values.setdefault(kind, set()).add(str(value))
    return Probe(
        datastore=store.name,
        found=found,
        names=frozenset(values.get("name", ())),
        values={kind: frozenset(v) for kind, v in values.items()},
    )


#: Values JSON takes as they are (``_plain`` returns them unchanged; checked first, without a call).
_NATIVE = frozenset({str, int, float, bool, type(None)})


#: The usual non-JSON types by exact type: one lookup instead of the isinstance checks below.
_CONVERT: dict[type, Any] = {datetime: datetime.isoformat, date: date.isoformat, time: time.isoformat, Decimal: str}


def _plain(value: Any) -> Any:
    """JSON-safe values: the result travels by XCom and into the report."""
    convert = _CONVERT.get(type(value))
    if convert is not None:
        return convert(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)
