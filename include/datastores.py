"""The datastore registry (``datastores.yaml``) and the extraction of one person's data from one datastore.

Data engineers add a datastore by adding YAML, never by touching the DAG. Errors name the file, the entry
and the field, because the person reading them is editing that file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import text

from include.config import datastores_file
from include.db import engine_for

CATEGORIES = (
    "identifiers",
    "customer_records",
    "protected_classifications",
    "commercial",
    "biometric",
    "internet_activity",
    "geolocation",
    "sensory",
    "professional",
    "education",
    "inferences",
    "sensitive",
)
BIND_PARAMETERS = ("email", "name", "since")
UNCATEGORISED = "uncategorised"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_BIND = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class RegistryError(ValueError):
    pass


@dataclass(frozen=True)
class Query:
    name: str
    sql: str
    categories: dict[str, str]
    withhold: tuple[str, ...] = ()


@dataclass(frozen=True)
class Datastore:
    name: str
    conn_id: str
    description: str
    queries: tuple[Query, ...]
    sources: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    third_parties: tuple[str, ...] = ()

    @property
    def task_id(self) -> str:
        return f"extract_{self.name}"


@dataclass(frozen=True)
class Registry:
    path: Path
    datastores: tuple[Datastore, ...] = field(default=())

    def get(self, name: str) -> Datastore:
        for store in self.datastores:
            if store.name == name:
                return store
        raise RegistryError(f"{self.path}: no datastore named '{name}'")


def load_registry(path: Path | str | None = None) -> Registry:
    """Read and validate the registry. Reads a local file only: safe at DAG-parse time."""
    path = Path(path) if path is not None else datastores_file()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"{path}: datastore registry not found (set CCPA_DATASTORES_FILE)") from None
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("datastores"), list):
        raise RegistryError(f"{path}: expected a mapping with a 'datastores' list")
    seen: set[str] = set()
    stores = []
    for index, entry in enumerate(raw["datastores"]):
        store = _datastore(path, index, entry)
        if store.name in seen:
            raise RegistryError(f"{path}: datastores[{index}] '{store.name}': field 'name' is not unique")
        seen.add(store.name)
        stores.append(store)
    return Registry(path=path, datastores=tuple(stores))


def _datastore(path: Path, index: int, entry: Any) -> Datastore:
    where = f"{path}: datastores[{index}]"
    if not isinstance(entry, dict):
        raise RegistryError(f"{where}: expected a mapping")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise RegistryError(f"{where}: field 'name' must match [a-z][a-z0-9_]* (got {name!r})")
    where = f"{where} '{name}'"
    unknown = set(entry) - {"name", "conn_id", "description", "queries", "sources", "purposes", "third_parties"}
    if unknown:
        raise RegistryError(f"{where}: unknown field(s) {sorted(unknown)}")
    conn_id = entry.get("conn_id")
    if not isinstance(conn_id, str) or not conn_id.strip():
        raise RegistryError(f"{where}: field 'conn_id' must name an Airflow connection")
    queries = entry.get("queries")
    if not isinstance(queries, list) or not queries:
        raise RegistryError(f"{where}: field 'queries' must be a non-empty list")
    parsed = [_query(where, i, q) for i, q in enumerate(queries)]
    if len({q.name for q in parsed}) != len(parsed):
        raise RegistryError(f"{where}: query names must be unique")
    return Datastore(
        name=name,
        conn_id=conn_id,
        description=str(entry.get("description") or ""),
        queries=tuple(parsed),
        sources=_strings(where, entry, "sources"),
        purposes=_strings(where, entry, "purposes"),
        third_parties=_strings(where, entry, "third_parties"),
    )


def _query(where: str, index: int, entry: Any) -> Query:
    where = f"{where} queries[{index}]"
    if not isinstance(entry, dict):
        raise RegistryError(f"{where}: expected a mapping")
    unknown = set(entry) - {"name", "sql", "categories", "withhold"}
    if unknown:
        raise RegistryError(f"{where}: unknown field(s) {sorted(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise RegistryError(f"{where}: field 'name' must match [a-z][a-z0-9_]* (got {name!r})")
    where = f"{where} '{name}'"
    sql = entry.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise RegistryError(f"{where}: field 'sql' must be a SQL query")
    binds = set(_BIND.findall(sql))
    if not binds:
        raise RegistryError(f"{where}: field 'sql' must select by the bound parameter :email (or :name)")
    bad = binds - set(BIND_PARAMETERS)
    if bad:
        raise RegistryError(
            f"{where}: field 'sql' uses unknown parameter(s) {sorted(':' + b for b in bad)}; "
            f"allowed: {', '.join(':' + b for b in BIND_PARAMETERS)}"
        )
    if "%s" in sql or "%(" in sql or "{" in sql:
        raise RegistryError(f"{where}: field 'sql' must use named bind parameters (:email), not formatting")
    categories = entry.get("categories") or {}
    if not isinstance(categories, dict):
        raise RegistryError(f"{where}: field 'categories' must map column -> category")
    for column, category in categories.items():
        if category not in CATEGORIES:
            raise RegistryError(
                f"{where}: field 'categories' maps '{column}' to unknown category {category!r}; "
                f"one of: {', '.join(CATEGORIES)}"
            )
    withhold = entry.get("withhold") or []
    if not isinstance(withhold, list) or not all(isinstance(c, str) for c in withhold):
        raise RegistryError(f"{where}: field 'withhold' must be a list of column names")
    return Query(name=name, sql=sql, categories={str(k): v for k, v in categories.items()}, withhold=tuple(withhold))


def _strings(where: str, entry: dict, key: str) -> tuple[str, ...]:
    value = entry.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistryError(f"{where}: field '{key}' must be a list of strings")
    return tuple(value)


# -- extraction -------------------------------------------------------------------------------------


def _execute(conn: Any, query: Query, params: dict[str, Any]) -> Any:
    """Run one registry query with only the bind parameters it names, streaming rows (bounded memory)."""
    statement = text(query.sql)
    used = {k: v for k, v in params.items() if k in statement.compile().params}
    return conn.execution_options(stream_results=True).execute(statement, used)


def _params(email: str, name: str, since: datetime) -> dict[str, Any]:
    return {"email": email, "name": name, "since": since.replace(tzinfo=None)}


def extract(store: Datastore, *, email: str, name: str, since: datetime, dest: Any) -> dict[str, Any]:
    """Stream one datastore's rows for one person to ``dest`` (a path) as JSON lines, in bounded memory.

    Withheld values never leave this function: they are replaced by null, and only whether one was held is kept.
    Returns the summary that travels by XCom: the datastore, where its data is, how many rows. No personal data.
    """
    engine = engine_for(store.conn_id)
    params = _params(email, name, since)
    sections = []
    with engine.connect() as conn, dest.open("w") as out:
        for query in store.queries:
            result = _execute(conn, query, params)
            columns = list(result.keys())
            withheld = [c for c in columns if c in query.withhold]
            held = dict.fromkeys(withheld, False)
            count = 0
            for row in result:
                record = dict(zip(columns, row, strict=True))
                for column in withheld:
                    held[column] = held[column] or record[column] is not None
                values = {c: (None if c in held else _plain(v)) for c, v in record.items()}
                out.write(json.dumps({"q": query.name, "v": values}, ensure_ascii=False) + "\n")
                count += 1
            sections.append(
                {
                    "query": query.name,
                    "columns": columns,
                    "categories": {c: query.categories.get(c, UNCATEGORISED) for c in columns},
                    "uncategorised": [c for c in columns if c not in query.categories],
                    "withheld": withheld,
                    "withheld_present": held,
                    "row_count": count,
                }
            )
    return {
        "datastore": store.name,
        "description": store.description,
        "sources": list(store.sources),
        "purposes": list(store.purposes),
        "third_parties": list(store.third_parties),
        "sections": sections,
        "row_count": sum(s["row_count"] for s in sections),
        "path": str(dest),
    }


def read_rows(path: Any, query: str) -> Iterator[dict[str, Any]]:
    """The rows of one section, read lazily from an extract file (bounded memory for big subjects)."""
    with path.open("r") as lines:
        for line in lines:
            item = json.loads(line)
            if item["q"] == query:
                yield item["v"]


@dataclass(frozen=True)
class Probe:
    """What one datastore knows of a requester, for identity verification: whether the email is there and the
    names on file (categorised identifiers whose column says 'name'). No other value is read."""

    datastore: str
    found: bool
    names: frozenset[str]


def probe(store: Datastore, *, email: str, name: str, since: datetime, sample: int = 20) -> Probe:
    """Read at most ``sample`` rows per query: verification needs presence and a name, not the whole history."""
    params = _params(email, name, since)
    found = False
    names: set[str] = set()
    with engine_for(store.conn_id).connect() as conn:
        for query in store.queries:
            result = _execute(conn, query, params)
            columns = list(result.keys())
            name_columns = [c for c in columns if "name" in c.lower() and query.categories.get(c) == "identifiers"]
            rows = result.fetchmany(sample)
            result.close()
            found = found or bool(rows)
            for row in rows:
                names.update(str(row._mapping[c]) for c in name_columns if row._mapping[c])
    return Probe(datastore=store.name, found=found, names=frozenset(names))


def _plain(value: Any) -> Any:
    """JSON-safe values: the result travels by XCom and into the report."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)
