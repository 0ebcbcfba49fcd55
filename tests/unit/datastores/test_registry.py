"""The registry's validation: errors name the file, the entry and the field."""

from __future__ import annotations

import pytest

from include.datastores.registry import RegistryError, load_registry
from tests.conftest import ROOT
from tests.factories import ENTRY, write_registry


def test_the_shipped_registry_is_valid():
    registry = load_registry(ROOT / "include" / "datastores" / "datastores.yaml")
    assert [d.name for d in registry.datastores] == ["crm", "orders", "web"]
    assert registry.get("crm").queries[0].withhold == ("ssn",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not: [a, list", "not valid YAML"),
        ("stores: []", "'datastores' list"),
        (ENTRY.replace("name: crm", "name: CRM"), "datastores[0]: field 'name' must match"),
        (ENTRY.replace("conn_id: ccpa_crm_db", "conn_id: ''"), "datastores[0] 'crm': field 'conn_id'"),
        (ENTRY.replace("WHERE email = :email", "WHERE email = '%s'"), "field 'sql' must select by"),
        (ENTRY.replace(":email", ":email OR id = :id"), "unknown parameter(s) [':id']"),
        (ENTRY.replace("identifiers}", "secret_stuff}"), "unknown category 'secret_stuff'"),
        (ENTRY + "    colour: blue\n", "unknown field(s) ['colour']"),
        (ENTRY + ENTRY.replace("datastores:\n", ""), "field 'name' is not unique"),
        (ENTRY.replace("categories: {name: identifiers}", "withhold: ssn"), "field 'withhold' must be a list"),
    ],
)
def test_validation_errors_name_the_file_the_entry_and_the_field(tmp_path, text, message):
    path = write_registry(tmp_path, text)
    with pytest.raises(RegistryError) as excinfo:
        load_registry(path)
    assert str(path) in str(excinfo.value)
    assert message in str(excinfo.value)


def test_missing_registry_says_which_variable_to_set(tmp_path):
    with pytest.raises(RegistryError, match="CCPA_DATASTORES_FILE"):
        load_registry(tmp_path / "nope.yaml")


def test_python_sources_are_validated_like_yaml(tmp_path):
    from include.datastores import personal_data_source

    with pytest.raises(RegistryError, match="unknown category 'private'"):
        personal_data_source("bad", categories={"x": "private"})(lambda **_: [])
    with pytest.raises(RegistryError, match="field 'name' must match"):
        personal_data_source("Bad Name", categories={"x": "commercial"})(lambda **_: [])
    with pytest.raises(RegistryError, match=r"cannot import .no\.such\.module."):
        load_registry(write_registry(tmp_path, ENTRY + "python_sources: [no.such.module]\n"))
    with pytest.raises(RegistryError, match="defines no @personal_data_source"):
        load_registry(write_registry(tmp_path, ENTRY + "python_sources: [include.request]\n"))


def test_identifies_marks_columns_and_is_validated(tmp_path):
    from include.datastores.registry import RegistryError, load_registry
    from tests.factories import write_registry

    base = ENTRY.replace(
        "categories: {name: identifiers}", "categories: {name: identifiers}\n        identifies: {name: name}"
    )
    query = load_registry(write_registry(tmp_path, base)).datastores[0].queries[0]
    assert query.identifies == {"name": "name"} and query.identifying_columns() == {"name": "name"}
    bad = ENTRY.replace(
        "categories: {name: identifiers}", "categories: {name: identifiers}\n        identifies: {name: ssn}"
    )
    with pytest.raises(RegistryError, match="field 'identifies' maps 'name' to 'ssn'"):
        load_registry(write_registry(tmp_path, bad))


def test_a_registry_without_identifies_still_identifies_by_email_and_name(tmp_path):
    from include.datastores.registry import load_registry
    from tests.factories import write_registry

    old = ENTRY.replace("SELECT name FROM", "SELECT name, email FROM").replace(
        "categories: {name: identifiers}", "categories: {name: identifiers, email: identifiers}"
    )
    query = load_registry(write_registry(tmp_path, old)).datastores[0].queries[0]
    assert query.identifying_columns() == {"name": "name", "email": "email"}
