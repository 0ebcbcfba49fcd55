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
        (ENTRY + ENTRY.partition("datastores:\n")[2], "field 'name' is not unique"),
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


LICENCE = ENTRY.replace("SELECT name FROM", "SELECT name, drivers_license FROM").replace(
    "categories: {name: identifiers}", "categories: {name: identifiers, drivers_license: identifiers}"
)


def test_7024d_a_never_disclose_column_without_withhold_is_refused_naming_file_datastore_and_column(tmp_path):
    """§7024(d) fails closed: a drivers_license column that is not withheld stops the registry from loading."""
    path = write_registry(tmp_path, LICENCE)
    with pytest.raises(RegistryError) as excinfo:
        load_registry(path)
    message = str(excinfo.value)
    assert str(path) in message and "'crm'" in message and "'drivers_license'" in message
    assert "driver's licence number" in message and "withhold" in message


@pytest.mark.parametrize(
    ("column", "category"),
    [
        ("ssn", "identifiers"),
        ("social_security_no", "identifiers"),
        ("passport_number", "identifiers"),
        ("state_id", "identifiers"),
        ("bank_account_number", "customer_records"),
        ("card_number", "customer_records"),
        ("iban", "customer_records"),
        ("routing_number", "customer_records"),
        ("insurance_id", "customer_records"),
        ("member_id", "customer_records"),
        ("medical_id", "customer_records"),
        ("password", "identifiers"),
        ("pass_hash", "identifiers"),
        ("security_answer", "identifiers"),
        ("fingerprint", "biometric"),
        ("voiceprint", "biometric"),
        ("face_data", "biometric"),  # by category
        ("notes", "sensitive"),  # by category
    ],
)
def test_7024d_never_disclose_types_are_recognised_by_name_or_category(tmp_path, column, category):
    text = ENTRY.replace("SELECT name FROM", f"SELECT name, {column} FROM").replace(
        "categories: {name: identifiers}", f"categories: {{name: identifiers, {column}: {category}}}"
    )
    with pytest.raises(RegistryError, match=f"column '{column}' looks like"):
        load_registry(write_registry(tmp_path, text))
    withheld = text.replace(f"{column}: {category}}}", f"{column}: {category}}}\n        withhold: [{column}]")
    assert load_registry(write_registry(tmp_path, withheld)).get("crm").queries[0].withhold == (column,)


def test_7024d_disclose_true_with_a_reason_lets_a_lookalike_through(tmp_path):
    text = LICENCE.replace(
        "drivers_license: identifiers}",
        "drivers_license: identifiers}\n        disclose: {drivers_license: {disclose: true, reason: fishing permit}}",
    )
    assert load_registry(write_registry(tmp_path, text)).get("crm").queries[0].disclose == {
        "drivers_license": "fishing permit"
    }
    no_reason = text.replace(", reason: fishing permit", "")
    with pytest.raises(RegistryError, match="must give a 'reason'"):
        load_registry(write_registry(tmp_path, no_reason))
    not_true = text.replace("disclose: true", "disclose: yes please")
    with pytest.raises(RegistryError, match="'disclose: true'"):
        load_registry(write_registry(tmp_path, not_true))


def test_7024d_the_shipped_registry_withholds_the_ssn_and_keeps_card_last4():
    registry = load_registry(ROOT / "include" / "datastores" / "datastores.yaml")
    assert "ssn" in registry.get("crm").queries[0].withhold
    assert "card_last4" in registry.get("orders").queries[0].categories  # four digits are not a card number
