"""Python sources: a datastore SQL cannot reach (an API, a log bucket), as a function the registry lists.

A module named under ``python_sources`` in the registry decorates its functions with :func:`personal_data_source`;
each is declared like a YAML entry (every column a category, withheld columns listed) and validated the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from include.datastores.registry import (
    NAME_PATTERN,
    Datastore,
    RegistryError,
    RowSource,
    checked_name,
    legacy_form,
    parse_disclosures,
    parse_kind,
    parse_query,
)

_python_registry: dict[str, dict[str, Datastore]] = {}


def personal_data_source(
    name: str,
    *,
    categories: Mapping[str, str],
    description: str = "",
    withhold: Iterable[str] = (),
    sources: Iterable[str] = (),
    purposes: Iterable[str] = (),
    third_parties: Iterable[str] | None = None,
    identifies: Mapping[str, str] | None = None,
    disclose: Mapping[str, str] | None = None,
    disclosures: Mapping[str, Mapping[str, Any]] | None = None,
    kind: str | None = None,
    held_by: str | None = None,
) -> Callable[[RowSource], RowSource]:
    """Register a function as a datastore: ``fn(*, email, name, since)`` yields the requester's rows as dicts.

    Declared like a YAML entry (every column a category, withheld columns listed, ``disclosures`` per category,
    ``kind``/``held_by`` for a service provider's store) and validated the same way. ``third_parties`` is the
    deprecated per-datastore form, applied to every category (a message says so when the registry loads).
    """

    def register(function: RowSource) -> RowSource:
        where = f"{function.__module__}.{function.__qualname__}"
        entry: dict[str, Any] = {
            "name": name,
            "sql": ":email",
            "categories": dict(categories),
            "withhold": list(withhold),
            "identifies": dict(identifies or {}),
            # column -> reason, as the YAML's ``disclose: {column: {disclose: true, reason: ...}}``
            "disclose": {c: {"disclose": True, "reason": r} for c, r in (disclose or {}).items()} or None,
        }
        query_name = function.__name__.lower() if NAME_PATTERN.match(function.__name__.lower()) else name
        query = parse_query(where, 0, {**entry, "name": query_name}, python=True)
        legacy = legacy_form(None if third_parties is None else tuple(third_parties), disclosures)
        store_kind, store_held_by = parse_kind(where, kind, held_by)
        store = Datastore(
            name=checked_name(where, name),
            conn_id="",
            description=description,
            queries=(query,),
            sources=tuple(sources),
            purposes=tuple(purposes),
            disclosures=parse_disclosures(
                where,
                None if disclosures is None else {c: dict(spec) for c, spec in disclosures.items()},
                (query,),
                legacy,
            ),
            kind=store_kind,
            held_by=store_held_by,
            legacy_third_parties=legacy,
            function=function,
        )
        _python_registry.setdefault(function.__module__, {})[name] = store
        return function

    return register


def load_python_sources(path: Path, modules: Any) -> list[Datastore]:
    """The datastores the modules listed under ``python_sources`` define (importing them registers them)."""
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
