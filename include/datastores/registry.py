"""The datastore registry (``datastores.yaml``): every datastore that holds personal information, validated.

Data engineers add a datastore by adding YAML, never by touching the DAG. Errors name the file, the entry
and the field, because the person reading them is editing that file. A store SQL cannot reach (an API, a log
bucket) is a Python function decorated with :func:`include.datastores.sources.personal_data_source`, in a module the
YAML lists under ``python_sources``; it runs exactly like a SQL datastore (same task, same withholding, same report).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
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
#: Who holds a datastore: the business itself, or a service provider or contractor holding it for the business
#: (Civ. 1798.140(ag), (j)); a datastore a service provider holds is searched like any other.
KINDS = ("business", "service_provider", "contractor")
#: The registry's top-level ``sold_or_shared: none``: the business states it has sold or shared no personal
#: information at all (Civ. 1798.115(c)(1)), for every category of every datastore.
NOTHING_SOLD = "none"
#: The fields of one category's entry under ``disclosures``.
DISCLOSURE_FIELDS = ("third_parties", "service_providers", "sold_or_shared")

log = logging.getLogger(__name__)
#: (registry file, datastore) pairs whose per-datastore ``third_parties`` deprecation was already logged: the
#: registry is read at every parse and in every task, and the message is for the person editing the file, once.
_deprecation_logged: set[tuple[str, str]] = set()

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
class Recipients:
    """Who receives one category of personal information from one datastore (Civ. 1798.110(a)(4), 1798.115(a)).

    ``third_parties``: categories of third parties it is disclosed to for a business purpose (1798.115(a)(3)).
    ``service_providers``: service providers and contractors it is disclosed to (1798.140(ag), (j)); they are not
    third parties (1798.140(ai)), so the report lists them apart. ``sold_or_shared``: categories of third parties it
    was sold or shared to (1798.115(a)(2)); ``()`` is the business's explicit statement that it was not, which the
    report repeats in words (1798.115(c)(1)); ``None`` means not declared, which the registry refuses (fails closed).
    """

    third_parties: tuple[str, ...] = ()
    service_providers: tuple[str, ...] = ()
    sold_or_shared: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "third_parties": list(self.third_parties),
            "service_providers": list(self.service_providers),
            "sold_or_shared": None if self.sold_or_shared is None else list(self.sold_or_shared),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipients:
        sold = data.get("sold_or_shared")
        return cls(
            third_parties=tuple(data.get("third_parties") or ()),
            service_providers=tuple(data.get("service_providers") or ()),
            sold_or_shared=None if sold is None else tuple(sold),
        )


@dataclass(frozen=True)
class Datastore:
    name: str
    conn_id: str
    description: str
    queries: tuple[Query, ...]
    sources: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    #: Per category of personal information its columns map to: who receives it (``disclosures:`` in the YAML).
    disclosures: Mapping[str, Recipients] = field(default_factory=dict)
    #: ``business`` (default), or ``service_provider`` / ``contractor`` holding this data for the business.
    kind: str = "business"
    #: For a service provider's or contractor's datastore: the category of that provider ("email delivery provider").
    held_by: str = ""
    #: The deprecated per-datastore ``third_parties`` this entry was written with (mapped onto every category).
    legacy_third_parties: tuple[str, ...] | None = None
    #: For a Python source: called as ``function(email=..., name=..., since=...)``, yields one dict per row.
    function: RowSource | None = None

    @property
    def task_id(self) -> str:
        return f"extract_{self.name}"

    def categories(self) -> list[str]:
        """The categories its queries map columns to, in the statutory order."""
        used = {c for q in self.queries for c in q.categories.values()}
        return [c for c in CATEGORIES if c in used]

    def recipients(self, category: str) -> Recipients:
        """Who receives ``category`` from this datastore. A service provider's or contractor's own datastore adds that
        provider to the category's service providers: it holds the data for the business."""
        declared = self.disclosures.get(category, Recipients())
        if self.kind == "business" or not self.held_by or self.held_by in declared.service_providers:
            return declared
        return replace(declared, service_providers=(*declared.service_providers, self.held_by))


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


#: path -> (the file's bytes, the registry read from them): see :func:`load_registry`.
_LOADED: dict[Path, tuple[bytes, Registry]] = {}


def load_registry(path: Path | str | None = None) -> Registry:
    """Read and validate the registry. Reads a local file only: safe at DAG-parse time.

    Every task process reads the file twice (parsing the DAG file, then running the task) and the DAG processor at
    every parse. The file is always read, but a registry already built from the same bytes is returned again (its
    dataclasses are frozen and nothing modifies their mappings after they are built, so the same object can serve
    every caller) instead of parsing and validating the YAML anew; the preload builds it in the process that forks the
    task processes, so they inherit it (issue #22). Any edit of the file is read as before.
    """
    path = Path(path) if path is not None else datastores_file()
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise RegistryError(f"{path}: datastore registry not found (set CCPA_DATASTORES_FILE)") from None
    cached = _LOADED.get(path)
    if cached is not None and cached[0] == text:
        return cached[1]
    registry = _read_registry(path, text)
    _LOADED[path] = (text, registry)
    return registry


def _read_registry(path: Path, text: bytes) -> Registry:
    try:
        # libyaml's loader when PyYAML has it
        raw = yaml.load(text.decode("utf-8"), Loader=_SafeLoader)  # noqa: S506 (a safe loader)
    except UnicodeDecodeError as exc:
        raise RegistryError(f"{path}: not UTF-8 text: {exc}") from None
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("datastores"), list):
        raise RegistryError(f"{path}: expected a mapping with a 'datastores' list")
    unknown = set(raw) - {"datastores", "python_sources", "sold_or_shared"}
    if unknown:
        raise RegistryError(f"{path}: unknown top-level field(s) {sorted(unknown)}")
    nothing_sold = _nothing_sold(path, raw)
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
    stores = [_sold_or_shared_declared(path, store, nothing_sold) for store in stores]
    for store in stores:
        _log_deprecation(path, store)
    return Registry(path=path, datastores=tuple(stores))


def _nothing_sold(path: Path, raw: dict) -> bool:
    """The top-level ``sold_or_shared: none``: the business sells or shares no personal information at all."""
    if "sold_or_shared" not in raw:
        return False
    if raw["sold_or_shared"] != NOTHING_SOLD:
        raise RegistryError(
            f"{path}: top-level field 'sold_or_shared' can only be '{NOTHING_SOLD}' (the business has not sold or "
            f"shared any personal information, Civ. 1798.115(c)(1)); declare what was sold or shared per category "
            f"under each datastore's 'disclosures' (got {raw['sold_or_shared']!r})"
        )
    return True


def _sold_or_shared_declared(path: Path, store: Datastore, nothing_sold: bool) -> Datastore:
    """Civ. 1798.115(a)(2), (c)(1) fail closed: every category a datastore holds says what it was sold or shared to,
    ``[]`` for "not sold or shared", stated in so many words in the report. Nothing is assumed: a category without a
    declaration is refused, naming the file, the datastore and the category, unless the registry states at the top
    that nothing at all is sold or shared (``sold_or_shared: none``), which then cannot be contradicted below."""
    where = f"{path}: datastore '{store.name}'"
    disclosures = dict(store.disclosures)
    for category in store.categories():
        recipients = disclosures.get(category, Recipients())
        if recipients.sold_or_shared is None:
            if not nothing_sold:
                raise RegistryError(
                    f"{where}: category '{category}' does not say whether it was sold or shared (Civ. "
                    f"1798.115(a)(2)). Under 'disclosures', give '{category}: {{sold_or_shared: [...]}}' listing "
                    f"the categories of third parties it was sold or shared to, or 'sold_or_shared: []' if it was "
                    f'not (the report then says "we have not sold or shared" it); or, if the business sells or '
                    f"shares no personal information at all, add the top-level line 'sold_or_shared: {NOTHING_SOLD}'"
                )
            disclosures[category] = replace(recipients, sold_or_shared=())
        elif recipients.sold_or_shared and nothing_sold:
            raise RegistryError(
                f"{where}: category '{category}' is declared sold or shared to "
                f"{list(recipients.sold_or_shared)}, but the top-level 'sold_or_shared: {NOTHING_SOLD}' says nothing "
                f"is: correct one of them"
            )
    return replace(store, disclosures=disclosures)


def _log_deprecation(path: Path, store: Datastore) -> None:
    """Once per file and datastore: the per-datastore ``third_parties`` form still works, mapped onto every category
    of the datastore, which can show a category as going to recipients that never receive it (Civ. 1798.110(a)(4),
    1798.115(a)(3) ask for them per category)."""
    if store.legacy_third_parties is None or (str(path), store.name) in _deprecation_logged:
        return
    _deprecation_logged.add((str(path), store.name))
    log.warning(
        "%s: datastore '%s' declares no per-category 'disclosures' (the per-datastore field 'third_parties' is "
        "deprecated): its third parties [%s] are applied to every category it holds (%s). Declare who receives each "
        "category under 'disclosures' instead (docs/adding-a-datastore.md).",
        path,
        store.name,
        ", ".join(store.legacy_third_parties),
        ", ".join(store.categories()) or "none",
    )


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
    unknown = set(entry) - {
        "name",
        "conn_id",
        "description",
        "queries",
        "sources",
        "purposes",
        "third_parties",
        "disclosures",
        "kind",
        "held_by",
    }
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
    kind, held_by = parse_kind(where, entry.get("kind"), entry.get("held_by"))
    legacy = legacy_form(
        _strings(where, entry, "third_parties") if "third_parties" in entry else None, entry.get("disclosures")
    )
    return Datastore(
        name=name,
        conn_id=conn_id,
        description=str(entry.get("description") or ""),
        queries=tuple(parsed),
        sources=_strings(where, entry, "sources"),
        purposes=_strings(where, entry, "purposes"),
        disclosures=parse_disclosures(where, entry.get("disclosures"), parsed, legacy),
        kind=kind,
        held_by=held_by,
        legacy_third_parties=legacy,
    )


def legacy_form(third_parties: tuple[str, ...] | None, disclosures: Any) -> tuple[str, ...] | None:
    """The per-datastore third parties of an entry written before ``disclosures`` (``()`` when it lists none), or None
    for an entry declaring its recipients per category."""
    if third_parties is not None:
        return third_parties
    return () if disclosures is None else None


def parse_kind(where: str, kind: Any, held_by: Any) -> tuple[str, str]:
    """``kind: service_provider`` / ``contractor`` with ``held_by``: a datastore a recipient that is not a third party
    holds for the business (Civ. 1798.140(ag), (j), (ai)); searched like the business's own."""
    kind = "business" if kind is None else kind
    if kind not in KINDS:
        raise RegistryError(f"{where}: field 'kind' must be one of {', '.join(KINDS)} (got {kind!r})")
    if kind == "business":
        if held_by is not None:
            raise RegistryError(f"{where}: field 'held_by' is for kind service_provider or contractor only")
        return kind, ""
    if not isinstance(held_by, str) or not held_by.strip():
        raise RegistryError(
            f"{where}: kind '{kind}' needs 'held_by': the category of {kind.replace('_', ' ')} holding this data for "
            f'the business (e.g. "customer-support platform")'
        )
    return kind, held_by.strip()


def parse_disclosures(
    where: str, value: Any, queries: Iterable[Query], legacy_third_parties: tuple[str, ...] | None = None
) -> dict[str, Recipients]:
    """``disclosures: {category: {third_parties: [...], service_providers: [...], sold_or_shared: [...]}}``, one
    entry per category the datastore's columns map to (Civ. 1798.110(a)(4), 1798.115(a)(2)-(3): per category).

    The deprecated per-datastore ``third_parties`` (``legacy_third_parties``) is mapped onto every category; the two
    forms cannot be mixed in one entry. Errors name the category.
    """
    used = [c for c in CATEGORIES if any(c in q.categories.values() for q in queries)]
    if value is None:
        return {category: Recipients(third_parties=legacy_third_parties or ()) for category in used}
    if legacy_third_parties is not None:
        raise RegistryError(
            f"{where}: give third parties either per category under 'disclosures' or in the deprecated "
            f"per-datastore field 'third_parties', not both"
        )
    if not isinstance(value, dict):
        raise RegistryError(
            f"{where}: field 'disclosures' must map each category to "
            f"{{third_parties: [...], service_providers: [...], sold_or_shared: [...]}}"
        )
    parsed: dict[str, Recipients] = {}
    for category, spec in value.items():
        at = f"{where}: disclosures: category '{category}'"
        if category not in CATEGORIES:
            raise RegistryError(f"{at}: not a category; one of: {', '.join(CATEGORIES)}")
        if category not in used:
            raise RegistryError(f"{at}: no column of this datastore maps to it (a typo, or a column to categorise?)")
        spec = {} if spec is None else spec
        if not isinstance(spec, dict):
            raise RegistryError(f"{at}: expected a mapping with {', '.join(DISCLOSURE_FIELDS)}")
        unknown = set(spec) - set(DISCLOSURE_FIELDS)
        if unknown:
            raise RegistryError(f"{at}: unknown field(s) {sorted(unknown)}; allowed: {', '.join(DISCLOSURE_FIELDS)}")
        third = _strings(at, spec, "third_parties")
        providers = _strings(at, spec, "service_providers")
        both = sorted(set(third) & set(providers))
        if both:
            raise RegistryError(
                f"{at}: {both} listed as both a third party and a service provider; a service provider or contractor "
                f"is not a third party (Civ. 1798.140(ai)): keep it in one list"
            )
        parsed[category] = Recipients(
            third_parties=third,
            service_providers=providers,
            sold_or_shared=_strings(at, spec, "sold_or_shared") if "sold_or_shared" in spec else None,
        )
    missing = [c for c in used if c not in parsed]
    if missing:
        raise RegistryError(
            f"{where}: disclosures: category '{missing[0]}' is held (a column maps to it) but has no entry: declare "
            f"who receives it, per category (Civ. 1798.110(a)(4)); an empty entry '{missing[0]}: {{}}' means no one"
        )
    return parsed


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


def _strings(where: str, entry: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = entry.get(key) or []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RegistryError(f"{where}: field '{key}' must be a list of strings")
    return tuple(v.strip() for v in value)
