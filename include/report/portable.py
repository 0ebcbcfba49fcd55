"""The portable copy (Civ. 1798.130(a)(3)(B)(iii)): structured, commonly used, machine-readable.

``report.json`` follows the versioned schema in ``include/report/schema.json`` (documented in
docs/report-format.md); one CSV per datastore opens in any spreadsheet. Both are written row by row from the extract
files, so a person with 100,000 rows costs no more memory than one with ten. Withheld values were never extracted:
they appear as null with ``"withheld": true`` on their column.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from typing import IO, Any

from include.report.model import CATEGORY_LABELS, ExtractSummary, ReportContext, RowsFor

SCHEMA_ID = "https://ccpa-right-of-access.example/schemas/ccpa-access-report/v1.json"
SCHEMA_VERSION = "1.0"


def write_json(out: IO[str], context: ReportContext) -> None:
    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, default=str)

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
    out.write(dump(head)[:-1] + ', "datastores": [')
    for i, store in enumerate(context.holding):
        out.write(("," if i else "") + "\n")
        meta = {
            "datastore": store.datastore,
            "description": store.description,
            "sources": list(store.sources),
            "purposes": list(store.purposes),
            "third_parties": list(store.third_parties),
        }
        out.write(dump(meta)[:-1] + ', "sections": [')
        for j, section in enumerate(s for s in store.sections if s.row_count):
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
            out.write(("," if j else "") + dump(section_head)[:-1] + ', "rows": [')
            for k, row in enumerate(context.rows(store, section.query)):
                out.write(("," if k else "") + "\n" + dump([row.get(c) for c in section.columns]))
            out.write("]}")
        out.write("]}")
    out.write("\n]}\n")


def write_csv(out: IO[str], store: ExtractSummary, rows: RowsFor) -> None:
    """One datastore as one table: a ``section`` column, then every column any section has."""
    columns: list[str] = []
    for section in store.sections:
        columns.extend(c for c in section.columns if c not in columns)
    writer = csv.writer(out)
    writer.writerow(["section", *columns])
    categories = {c: s.categories.get(c) for s in store.sections for c in s.columns}
    writer.writerow(["(category)", *(CATEGORY_LABELS.get(categories[c] or "", categories[c]) for c in columns)])
    for section in store.sections:
        for row in rows(store, section.query):
            writer.writerow(
                [
                    section.query,
                    *("held, not disclosed" if section.held_but_withheld(c) else _cell(row, c) for c in columns),
                ]
            )


def _cell(row: dict[str, Any], column: str) -> Any:
    value = row.get(column)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # a spreadsheet must not run a value as a formula (CSV injection)
    return "" if value is None else value
