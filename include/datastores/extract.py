"""Extraction: one person's rows from one datastore, streamed to storage; and the probe identity checks use.

Withheld values never leave this module: they are replaced by null, and only whether one was held is kept. A column
the registry has not mapped to a category is withheld too, until it is mapped (§7024(d) fails closed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from itertools import islice
from typing import Any

from sqlalchemy import text

from include.datastores.registry import UNCATEGORISED, Datastore, Query
from include.db import engine_for
from include.jsonlines import decode_line, line_encoder
from include.report.model import ExtractSummary, Section
from include.storage import text_writer, url_of

#: Rows fetched at a time from a streaming SQL result.
_BATCH = 1000
#: Each query's name in its lines' head (once per query); each row's values by ``_encode_values``.
_ENCODER = json.JSONEncoder(ensure_ascii=False)
_encode_values = line_encoder()


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
            columns, rows = _rows(conn, store, query, params)
            held = {c: False for c in query.withhold}
            # §7024(d) fails closed: a column the registry does not map to a category is withheld until mapped.
            held.update({c: False for c in columns if c not in query.categories and c not in held})
            count = 0
            # Per row only what can change: a Python source's rows may bring new columns (an SQL result's rows all
            # have its columns), and a withheld column is looked at until a row holds a value in it. The line is
            # what encoding {"q": ..., "v": values} gives, with the constant part encoded once.
            new_columns = store.function is not None
            unseen = list(held)
            head = '{"q": ' + _ENCODER.encode(query.name) + ', "v": '
            for record in rows:
                if new_columns:
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
            withheld = [c for c in columns if c in held]
            sections.append(
                Section(
                    query=query.name,
                    columns=tuple(columns),
                    categories={c: query.categories.get(c, UNCATEGORISED) for c in columns},
                    uncategorised=tuple(c for c in columns if c not in query.categories),
                    withheld=tuple(withheld),
                    withheld_present={c: held[c] for c in withheld},
                    row_count=count,
                )
            )
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
