"""The datastore registry (``datastores.yaml``) and the extraction of one person's data from one datastore.

Data engineers add a datastore by adding YAML, never by touching the DAG. Errors name the file, the entry
and the field, because the person reading them is editing that file. A store SQL cannot reach (an API, a log
bucket) is a Python function decorated with :func:`personal_data_source`, in a module the YAML lists under
``python_sources``; it runs exactly like a SQL datastore (same task, same withholding, same report).
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import text

from include.config import datastores_file
from include.db import engine_for
from include.storage import text_writer, url_of

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


RowSource = Callable[..., Iterable[Mapping[str, Any]]]


@dataclass(frozen=True)
class Datastore:
    name: str
    conn_id: str
    description: str
    queries: tuple[Query, ...]
    sources: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    third_parties: tuple[str, ...] = ()
    #: For a Python source: called as ``function(email=..., name=..., since=...)``, yields one dict per row.
    function: RowSource | None = None

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


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_registry(path: Path | str | None = None) -> Registry:
    """Read and validate the registry. Reads a local file only: safe at DAG-parse time."""
    path = Path(path) if path is not None else datastores_file()
    try:
        # libyaml's loader when PyYAML has it: every task process reads this file, twice (parse and run).
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)  # noqa: S506 (a safe loader)
    except FileNotFoundError:
        raise RegistryError(f"{path}: datastore registry not found (set CCPA_DATASTORES_FILE)") from None
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("datastores"), list):
        raise RegistryError(f"{path}: expected a mapping with a 'datastores' list")
    unknown = set(raw) - {"datastores", "python_sources"}
    if unknown:
        raise RegistryError(f"{path}: unknown top-level field(s) {sorted(unknown)}")
    stores = [_datastore(path, index, entry) for index, entry in enumerate(raw["datastores"])]
    stores += _python_sources(path, raw.get("python_sources") or [])
    seen: set[str] = set()
    for store in stores:
        if store.name in seen:
            raise RegistryError(f"{path}: datastore '{store.name}': field 'name' is not unique")
        seen.add(store.name)
    if not stores:
        raise RegistryError(f"{path}: no datastores: list at least one under 'datastores' or 'python_sources'")
    return Registry(path=path, datastores=tuple(stores))


# -- Python sources (the escape hatch) ----------------------------------------------------------------

_python_registry: dict[str, dict[str, Datastore]] = {}


def personal_data_source(
    name: str,
    *,
    categories: Mapping[str, str],
    description: str = "",
    withhold: Iterable[str] = (),
    sources: Iterable[str] = (),
    purposes: Iterable[str] = (),
    third_parties: Iterable[str] = (),
) -> Callable[[RowSource], RowSource]:
    """Register a function as a datastore: ``fn(*, email, name, since)`` yields the requester's rows as dicts.

    Declared like a YAML entry (every column a category, withheld columns listed) and validated the same way.
    """

    def register(function: RowSource) -> RowSource:
        where = f"{function.__module__}.{function.__qualname__}"
        entry = {"name": name, "sql": ":email", "categories": dict(categories), "withhold": list(withhold)}
        query_name = function.__name__.lower() if _NAME.match(function.__name__.lower()) else name
        query = _query(where, 0, {**entry, "name": query_name}, python=True)
        store = Datastore(
            name=_checked_name(where, name),
            conn_id="",
            description=description,
            queries=(query,),
            sources=tuple(sources),
            purposes=tuple(purposes),
            third_parties=tuple(third_parties),
            function=function,
        )
        _python_registry.setdefault(function.__module__, {})[name] = store
        return function

    return register


def _python_sources(path: Path, modules: Any) -> list[Datastore]:
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise RegistryError(f"{path}: field 'python_sources' must be a list of module names")
    found = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise RegistryError(f"{path}: python_sources: cannot import '{module}': {exc}") from None
        except RegistryError as exc:
            raise RegistryError(f"{path}: python_sources: '{module}': {exc}") from None
        stores = list(_python_registry.get(module, {}).values())
        if not stores:
            raise RegistryError(f"{path}: python_sources: '{module}' defines no @personal_data_source function")
        found += stores
    return found


def _checked_name(where: str, name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise RegistryError(f"{where}: field 'name' must match [a-z][a-z0-9_]* (got {name!r})")
    return name


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


def _query(where: str, index: int, entry: Any, python: bool = False) -> Query:
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
    if python:
        sql = ""
    elif not isinstance(sql, str) or not sql.strip():
        raise RegistryError(f"{where}: field 'sql' must be a SQL query")
    binds = set(_BIND.findall(sql)) if not python else {"email"}
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


def _rows(conn: Any, store: Datastore, query: Query, params: dict[str, Any]) -> tuple[list[str], Iterator[dict]]:
    """(columns known so far, rows as dicts) from SQL or from a Python source."""
    if store.function is not None:
        produced = store.function(**params)
        return [], (dict(row) for row in produced)
    result = _execute(conn, query, params)
    columns = list(result.keys())
    return columns, (dict(zip(columns, row, strict=True)) for row in result)


def extract(store: Datastore, *, email: str, name: str, since: datetime, dest: Any) -> dict[str, Any]:
    """Stream one datastore's rows for one person to ``dest`` (a path) as JSON lines, in bounded memory.

    Withheld values never leave this function: they are replaced by null, and only whether one was held is kept.
    Returns the summary that travels by XCom: the datastore, where its data is, how many rows. No personal data.
    """
    params = _params(email, name, since)
    sections = []
    with _connection(store) as conn, text_writer(dest) as out:
        for query in store.queries:
            columns, rows = _rows(conn, store, query, params)
            held = {c: False for c in query.withhold}
            count = 0
            for record in rows:
                columns.extend(c for c in record if c not in columns)
                for column in held:
                    held[column] = held[column] or record.get(column) is not None
                values = {c: (None if c in held else _plain(v)) for c, v in record.items()}
                out.write(json.dumps({"q": query.name, "v": values}, ensure_ascii=False) + "\n")
                count += 1
            withheld = [c for c in columns if c in held]
            sections.append(
                {
                    "query": query.name,
                    "columns": columns,
                    "categories": {c: query.categories.get(c, UNCATEGORISED) for c in columns},
                    "uncategorised": [c for c in columns if c not in query.categories],
                    "withheld": withheld,
                    "withheld_present": {c: held[c] for c in withheld},
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
        "path": url_of(dest),
    }


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
    with _connection(store) as conn:
        for query in store.queries:
            _, produced = _rows(conn, store, query, params)
            rows = list(islice(produced, sample))
            produced.close()
            found = found or bool(rows)
            for row in rows:
                names.update(
                    str(value)
                    for column, value in row.items()
                    if value and "name" in column.lower() and query.categories.get(column) == "identifiers"
                )
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
