"""The portable copy (Civ. 1798.130(a)(3)(B)(iii)): structured, commonly used, machine-readable.

``report.json`` follows the versioned schema in ``include/report/schema.json`` (documented in
docs/report-format.md); one CSV per datastore opens in any spreadsheet. Both are written row by row from the extract
files, so a person with 100,000 rows costs no more memory than one with ten. Withheld values were never extracted:
they appear as null with ``"withheld": true`` on their column.

Version 2 (this one) carries, per category, the third parties it is disclosed to for a business purpose, the service
providers and contractors that receive it, and whether it was sold or shared, with the explicit status
``not_sold_or_shared`` (Civ. 1798.110(a)(4), 1798.115(a), (c)(1)); per datastore, who holds it (``kind``,
``held_by``) and the same facts per category (``disclosures``) in place of v1's per-datastore ``third_parties``.
What changed for a v1 reader: docs/report-format.md ("Migrating from version 1").
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import repeat
from typing import IO, Any

from include.datastores.registry import Recipients
from include.jsonlines import line_encoder, many_encoder
from include.report.model import (
    CATEGORY_LABELS,
    NOT_DECLARED,
    NOT_SOLD_OR_SHARED,
    SOLD_OR_SHARED,
    UNCATEGORISED,
    ExtractSummary,
    ReportContext,
    RowsFor,
    Section,
)
from include.report.rowpass import feed, values_of_rows

SCHEMA_ID = "https://ccpa-right-of-access.example/schemas/ccpa-access-report/v2.json"
SCHEMA_VERSION = "2.0"


def recipients_json(recipients: Recipients) -> dict[str, Any]:
    """One category's recipients from one datastore, as schema v2's ``recipients``."""
    sold = recipients.sold_or_shared
    status = NOT_DECLARED if sold is None else SOLD_OR_SHARED if sold else NOT_SOLD_OR_SHARED
    return {
        "third_parties": list(recipients.third_parties),
        "service_providers": list(recipients.service_providers),
        "sold_or_shared": {"status": status, "to": list(sold or ())},
    }


def disclosures_json(store: ExtractSummary) -> dict[str, Any]:
    """Per category the datastore's sections map columns to: who receives it."""
    held = {c for section in store.sections for c in section.categories.values()} - {UNCATEGORISED}
    return {c: recipients_json(store.recipients(c)) for c in CATEGORY_LABELS if c in held}


#: One encoder for every value: ``json.dumps`` with options builds a new one per call (per row).
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)


def _dump(value: Any) -> str:
    return _ENCODER.encode(value)


#: ``_dump`` for a row's values, made once (include/jsonlines.py).
_dump_row = line_encoder(default=str)
_dump_rows = many_encoder(default=str)


class JsonWriter:
    """``report.json`` written as the rows arrive (a :class:`include.report.rowpass.Sink`): the head at once, each
    datastore's and section's head before its first row, so the rows are never held."""

    def __init__(self, out: IO[str], context: ReportContext) -> None:
        self.out = out
        self._stores = self._sections = self._rows = 0
        head = {
            "$schema": SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "generated_at": datetime.now(UTC).isoformat(),
            "request": {
                "id": context.request_id,
                "received_at": context.received_at.isoformat(),
                "period": {"from": context.since.isoformat(), "to": context.received_at.isoformat()},
            },
            "subject": {"name": context.name, "email": context.email},
            "categories": [c.to_dict() for c in context.categories()],
            "withheld": [w.to_dict() for w in context.withheld()],
        }
        out.write(_dump(head)[:-1] + ', "datastores": [')

    def begin_store(self, store: ExtractSummary) -> None:
        self.out.write(("," if self._stores else "") + "\n")
        self._stores += 1
        self._sections = 0
        meta = {
            "datastore": store.datastore,
            "description": store.description,
            "kind": store.kind,
            "held_by": store.held_by,
            "sources": list(store.sources),
            "purposes": list(store.purposes),
            "disclosures": disclosures_json(store),
        }
        self.out.write(_dump(meta)[:-1] + ', "sections": [')

    def begin_section(self, store: ExtractSummary, section: Section) -> None:
        self._rows = 0
        if not section.row_count:  # a section without rows is not listed
            return
        columns = [
            {
                "name": column,
                "category": section.category(column),
                "withheld": column in section.withheld,
                **({"held": bool(section.withheld_present.get(column))} if column in section.withheld else {}),
            }
            for column in section.columns
        ]
        section_head = {"name": section.query, "row_count": section.row_count, "columns": columns}
        self.out.write(("," if self._sections else "") + _dump(section_head)[:-1] + ', "rows": [')
        self._sections += 1

    def row(self, section: Section, row: dict[str, Any]) -> None:
        if not section.row_count:  # not listed (see begin_section)
            return
        self.out.write(("," if self._rows else "") + "\n" + _dump_row([row.get(c) for c in section.columns]))
        self._rows += 1

    def batch(self, section: Section, rows: list[dict[str, Any]]) -> None:
        """``row`` for each of ``rows``, in one write (a tuple of values is encoded as the list is)."""
        if not section.row_count or not rows:
            return
        lines = _dump_rows(values_of_rows(section.columns, rows))
        self.out.write(("," if self._rows else "") + "\n" + ",\n".join(lines))
        self._rows += len(rows)

    def end_section(self, section: Section) -> None:
        if section.row_count:
            self.out.write("]}")

    def end_store(self, store: ExtractSummary) -> None:
        self.out.write("]}")

    def close(self) -> None:
        self.out.write("\n]}\n")


class CsvWriter:
    """One datastore as one CSV table, written as the rows arrive (a :class:`include.report.rowpass.Sink`): a
    ``section`` column, then every column any section has."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.writer = csv.writer(out)
        self._columns: list[str] = []
        self._cells: list[tuple[str, bool]] = []

    def begin_store(self, store: ExtractSummary) -> None:
        columns: list[str] = []
        for section in store.sections:
            columns.extend(c for c in section.columns if c not in columns)
        self._columns = columns
        self.writer.writerow(["section", *columns])
        categories = {c: s.categories.get(c) for s in store.sections for c in s.columns}
        self.writer.writerow(
            ["(category)", *(CATEGORY_LABELS.get(categories[c] or "", categories[c]) for c in columns)]
        )

    def begin_section(self, store: ExtractSummary, section: Section) -> None:
        self._cells = [(c, section.held_but_withheld(c)) for c in self._columns]

    def row(self, section: Section, row: dict[str, Any]) -> None:
        # A spreadsheet must not run a value as a formula (CSV injection): _FORMULA. Inline: a call per cell was a
        # third of the CSV's time. "held, not disclosed" passes the rules unchanged.
        get = row.get
        values = [_HELD if withheld else get(c) for c, withheld in self._cells]
        self.writer.writerow(
            [
                section.query,
                *[
                    ("'" + v if v.startswith(_FORMULA) else v) if isinstance(v, str) else "" if v is None else v
                    for v in values
                ],
            ]
        )

    def batch(self, section: Section, rows: list[dict[str, Any]]) -> None:
        """``row`` for each of ``rows``, a column at a time. A column of text is guarded with one search over the
        column joined (cell by cell only when a value starts a formula) and, when every cell is text, the rows are
        written as ``csv.writer`` writes them (``_csv_text``) by joining; a batch holding another kind of value
        (a number from a Python source) goes through ``csv.writer``."""
        if not rows:
            return
        shown = [c for c, withheld in self._cells if not withheld]
        by_column = iter(zip(*values_of_rows(shown, rows), strict=True) if shown else ())
        cells: list[Any] = []
        text = True  # every cell of the batch is text
        for _, withheld in self._cells:
            if withheld:
                cells.append(repeat(_HELD))
                continue
            column = next(by_column)
            types = set(map(type, column))
            if types <= _STR:
                if _FORMULA_AFTER_NUL.search("\x00" + "\x00".join(column)):
                    column = tuple("'" + v if v.startswith(_FORMULA) else v for v in column)
            elif types <= _STR_OR_NONE:  # none is written as "" (csv.writer writes both as nothing)
                column = tuple("" if v is None else "'" + v if v.startswith(_FORMULA) else v for v in column)
            else:
                text = False
                column = tuple(
                    ("'" + v if v.startswith(_FORMULA) else v) if isinstance(v, str) else "" if v is None else v
                    for v in column
                )
            cells.append(column)
        if not text:
            self.writer.writerows(zip(repeat(section.query, len(rows)), *cells, strict=False))  # repeat(): endless
            return
        encoded: list[Any] = [repeat(_csv_text((section.query,))[0], len(rows))]
        for (_, withheld), column in zip(self._cells, cells, strict=True):
            encoded.append(repeat(_HELD_CSV, len(rows)) if withheld else _csv_text(column))
        self.out.write("\r\n".join(map(",".join, zip(*encoded, strict=True))) + "\r\n")

    def end_section(self, section: Section) -> None:
        pass

    def end_store(self, store: ExtractSummary) -> None:
        pass


def write_json(out: IO[str], context: ReportContext) -> None:
    """``report.json`` from ``context.rows`` (``include.report.files.build`` writes it in its one pass instead)."""
    writer = JsonWriter(out, context)
    feed(context.holding, context.rows, [writer])
    writer.close()


def write_csv(out: IO[str], store: ExtractSummary, rows: RowsFor) -> None:
    """One datastore as one table: a ``section`` column, then every column any section has."""
    feed([store], rows, [CsvWriter(out)])


#: A value starting with one of these is a formula to a spreadsheet (CSV injection): it is written after a "'".
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
#: A value of a column joined with NUL that starts with one of ``_FORMULA`` (or holds a NUL before one of them,
#: then the column is checked cell by cell: never fewer cells guarded than one by one).
_FORMULA_AFTER_NUL = re.compile("\x00[=+\\-@\t\r]")
_STR = frozenset({str})
_STR_OR_NONE = frozenset({str, type(None)})
#: What makes ``csv.writer`` (the excel dialect: QUOTE_MINIMAL, doubled quotes, "\r\n") quote a text field.
_CSV_SPECIAL = re.compile('[,"\r\n]')


def _csv_text(column: Sequence[str]) -> Sequence[str]:
    """Text cells as ``csv.writer`` writes them: as they are, or quoted with their quotes doubled when they hold a
    delimiter, a quote or a line break. A column without any is returned as it is (one search over it)."""
    if not _CSV_SPECIAL.search("".join(column)):
        return column
    return ['"' + v.replace('"', '""') + '"' if _CSV_SPECIAL.search(v) else v for v in column]


_HELD = "held, not disclosed"
_HELD_CSV = _csv_text((_HELD,))[0]  # as csv.writer writes it
