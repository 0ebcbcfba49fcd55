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

from include.report.html import CATEGORY_LABELS, RowsFor, categories_held, holding, withheld_held

SCHEMA_ID = "https://ccpa-right-of-access.example/schemas/ccpa-access-report/v1.json"
SCHEMA_VERSION = "1.0"


def write_json(
    out: IO[str],
    *,
    request_id: str,
    name: str,
    email: str,
    received_at: datetime,
    since: datetime,
    datastores: list[dict[str, Any]],
    rows: RowsFor,
) -> None:
    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, default=str)

    head = {
        "$schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(),
        "request": {
            "id": request_id,
            "received_at": received_at.isoformat(),
            "period": {"from": since.isoformat(), "to": received_at.isoformat()},
        },
        "subject": {"name": name, "email": email},
        "categories": [
            {k: c[k] for k in ("category", "label", "datastores", "sources", "purposes", "third_parties")}
            for c in categories_held(datastores)
        ],
        "withheld": withheld_held(datastores),
    }
    out.write(dump(head)[:-1] + ', "datastores": [')
    for i, store in enumerate(holding(datastores)):
        out.write(("," if i else "") + "\n")
        meta = {k: store[k] for k in ("datastore", "description", "sources", "purposes", "third_parties")}
        out.write(dump(meta)[:-1] + ', "sections": [')
        for j, section in enumerate(s for s in store["sections"] if s["row_count"]):
            columns = [
                {
                    "name": column,
                    "category": section["categories"].get(column, "uncategorised"),
                    "withheld": column in section["withheld"],
                    **(
                        {"held": bool(section["withheld_present"].get(column))} if column in section["withheld"] else {}
                    ),
                }
                for column in section["columns"]
            ]
            section_head = {"name": section["query"], "row_count": section["row_count"], "columns": columns}
            out.write(("," if j else "") + dump(section_head)[:-1] + ', "rows": [')
            for k, row in enumerate(rows(store, section["query"])):
                out.write(("," if k else "") + "\n" + dump([row.get(c) for c in section["columns"]]))
            out.write("]}")
        out.write("]}")
    out.write("\n]}\n")


def write_csv(out: IO[str], store: dict[str, Any], rows: RowsFor) -> None:
    """One datastore as one table: a ``section`` column, then every column any section has."""
    columns: list[str] = []
    for section in store["sections"]:
        columns.extend(c for c in section["columns"] if c not in columns)
    writer = csv.writer(out)
    writer.writerow(["section", *columns])
    categories = {c: s["categories"].get(c) for s in store["sections"] for c in s["columns"]}
    writer.writerow(["(category)", *(CATEGORY_LABELS.get(categories[c] or "", categories[c]) for c in columns)])
    for section in store["sections"]:
        withheld = set(section["withheld"])
        for row in rows(store, section["query"]):
            writer.writerow(
                [
                    section["query"],
                    *(
                        "held, not disclosed" if c in withheld and section["withheld_present"].get(c) else _cell(row, c)
                        for c in columns
                    ),
                ]
            )


def _cell(row: dict[str, Any], column: str) -> Any:
    value = row.get(column)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # a spreadsheet must not run a value as a formula (CSV injection)
    return "" if value is None else value
