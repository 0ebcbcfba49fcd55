"""The datastore registry (``datastores.yaml``): every datastore that holds personal information, validated.

Data engineers add a datastore by adding YAML, never by touching the DAG. Errors name the file, the entry
and the field, because the person reading them is editing that file. A store SQL cannot reach (an API, a log
bucket) is a Python function decorated with :func:`include.datastores.sources.personal_data_source`, in a module the
YAML lists under ``python_sources``; it runs exactly like a SQL datastore (same task, same withholding, same report).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from include.config import datastores_file
from include.i18n import N_  # the report shows these words to the requester, in their language

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
#: What a column can identify a person by (``identifies:`` in a query): matched against what the requester gives.
IDENTIFIES = ("email", "name", "phone", "postal_address", "account_id")
UNCATEGORISED = "uncategorised"

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
_BIND = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class RegistryError(ValueError):
    pass


#: §7024(d): what is never disclosed, recognised by category ...
NEVER_DISCLOSE_CATEGORIES = {
    "sensitive": N_("sensitive personal information (such as a government ID or account number)"),
    "biometric": N_("your unique biometric data"),
}
#: ... or by column name (matched against the lower-cased name, "_"/"-"/" " treated alike), each with the plain
#: words the report uses to say, with particularity, that the business holds it.
NEVER_DISCLOSE_NAMES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), words)
    for pattern, words in (
        (r"(^|_)(ssn|social_?security)", N_("your Social Security number")),
        (r"driver|(^|_)dl_?(num|no|number)($|_)|licen[cs]e", N_("your driver's licence number")),
        (r"passport", N_("your passport number")),
        (r"state_?id|government_?id|gov_?id|national_?id|tax_?id|(^|_)itin($|_)", N_("your government ID number")),
        (r"(account|acct)_?(number|num|no)($|_)", N_("your financial account number")),
        (r"card_?(number|num|no)($|_)|(^|_)pan($|_)", N_("your payment card number")),
        (r"(^|_)iban($|_)", N_("your bank account number (IBAN)")),
        (r"routing", N_("your bank routing and account number")),
        (
            r"(insurance|member|medical|health_?plan)_?(id|number|num|no)($|_)",
            N_("your health insurance or medical ID"),
        ),
        (r"password|passwd|pass_?hash|pwd", N_("your account password")),
        (r"security_?(question|answer)", N_("your security questions and answers")),
        (r"biometric|fingerprint|faceprint|voiceprint|face_?template|retina|iris_?scan", N_("your biometric data")),
    )
)


def never_disclose_type(column: str, category: str | None = None) -> str | None:
    """§7024(d): the plain words for a column that looks like a never-disclosed type, or None."""
    name = re.sub(r"[\s\-]+", "_", column.strip().lower())
    for pattern, words in NEVER_DISCLOSE_NAMES:
        if pattern.search(name):
            return words
    return NEVER_DISCLOSE_CATEGORIES.get(category or "")


@dataclass(frozen=True)
class Query:
    name: str
    sql: str
    categories: dict[str, str]
    withhold: tuple[str, ...] = ()
    #: column -> what it identifies (one of IDENTIFIES); used to verify the requester (§7060-§7062).
    identifies: dict[str, str] = field(default_factory=dict)

    def identifying_columns(self) -> dict[str, str]:
        """The columns that identify a person. Without ``identifies`` (registries written before it), as before:
        a column named ``email``, and identifiers-category columns whose name says "name"."""
        if self.identifies:
            return dict(self.identifies)
        guessed: dict[str, str] = {}
        for column, category in self.categories.items():
            if column.lower() == "email":
                guessed[column] = "email"
            elif "name" in column.lower() and category == "identifiers":
                guessed[column] = "name"
        return guessed

    #: Columns that look like a never-disclosed type but are disclosed on purpose: column -> the reason.
    disclose: dict[str, str] = field(default_factory=dict)


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
    from include.datastores.sources import load_python_sources  # imports the modules the YAML names

    stores += load_python_sources(path, raw.get("python_sources") or [])
    seen: set[str] = set()
    for store in stores:
        if store.name in seen:
            raise RegistryError(f"{path}: datastore '{store.name}': field 'name' is not unique")
        seen.add(store.name)
    if not stores:
        raise RegistryError(f"{path}: no datastores: list at least one under 'datastores' or 'python_sources'")
    return Registry(path=path, datastores=tuple(stores))


def checked_name(where: str, name: Any) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise RegistryError(f"{where}: field 'name' must match [a-z][a-z0-9_]* (got {name!r})")
    return name


def _datastore(path: Path, index: int, entry: Any) -> Datastore:
    where = f"{path}: datastores[{index}]"
    if not isinstance(entry, dict):
        raise RegistryError(f"{where}: expected a mapping")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
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
    parsed = [parse_query(where, i, q) for i, q in enumerate(queries)]
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


def parse_query(where: str, index: int, entry: Any, python: bool = False) -> Query:
    where = f"{where} queries[{index}]"
    if not isinstance(entry, dict):
        raise RegistryError(f"{where}: expected a mapping")
    unknown = set(entry) - {"name", "sql", "categories", "withhold", "identifies", "disclose"}
    if unknown:
        raise RegistryError(f"{where}: unknown field(s) {sorted(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
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
    identifies = entry.get("identifies") or {}
    if not isinstance(identifies, dict):
        raise RegistryError(f"{where}: field 'identifies' must map column -> one of {', '.join(IDENTIFIES)}")
    for column, kind in identifies.items():
        if kind not in IDENTIFIES:
            raise RegistryError(
                f"{where}: field 'identifies' maps '{column}' to {kind!r}; one of: {', '.join(IDENTIFIES)}"
            )
        if column in withhold:
            raise RegistryError(f"{where}: column '{column}' is withheld: it cannot also identify the requester")
    disclose = _disclose(where, entry.get("disclose"))
    _fail_closed(where, categories, withhold, disclose)
    return Query(
        name=name,
        sql=sql,
        categories={str(k): v for k, v in categories.items()},
        withhold=tuple(withhold),
        identifies={str(k): v for k, v in identifies.items()},
        disclose=disclose,
    )


def _disclose(where: str, value: Any) -> dict[str, str]:
    """``disclose: {column: {disclose: true, reason: "..."}}``: a column that looks like a never-disclosed type but
    is not one (a loyalty "member_id"), disclosed on purpose, with the reason on record."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RegistryError(f"{where}: field 'disclose' must map column -> {{disclose: true, reason: ...}}")
    reasons: dict[str, str] = {}
    for column, spec in value.items():
        if not isinstance(spec, dict) or spec.get("disclose") is not True:
            raise RegistryError(f"{where}: field 'disclose' for column '{column}' must say 'disclose: true'")
        reason = spec.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise RegistryError(f"{where}: field 'disclose' for column '{column}' must give a 'reason'")
        reasons[str(column)] = reason.strip()
    return reasons


def _fail_closed(where: str, categories: dict[str, str], withhold: list[str], disclose: dict[str, str]) -> None:
    """§7024(d) fails closed: a column that looks like a never-disclosed type must be withheld, or disclosed on
    purpose with a reason. The error names the file, the datastore, the query and the column."""
    for column in [*categories, *disclose]:
        if column in withhold or column in disclose:
            continue
        words = never_disclose_type(str(column), categories.get(column))
        if words is not None:
            raise RegistryError(
                f"{where}: column '{column}' looks like {words} (11 CCR §7024(d): never disclosed). List it under "
                f"'withhold' (the report says it is held, without the value), or, if it is not that, declare it "
                f"under 'disclose' with 'disclose: true' and a 'reason'"
            )


def _strings(where: str, entry: dict, key: str) -> tuple[str, ...]:
    value = entry.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistryError(f"{where}: field '{key}' must be a list of strings")
    return tuple(value)
