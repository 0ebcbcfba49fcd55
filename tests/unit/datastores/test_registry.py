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


# -- Civ. 1798.110(a)(4), 1798.115(a): recipients per category; sold or shared declared, never assumed ---------------

#: A datastore holding two categories, declared per category (no top-level statement).
PER_CATEGORY = """datastores:
  - name: orders
    conn_id: ccpa_orders_db
    description: Orders
    disclosures:
      commercial: {third_parties: [carriers], service_providers: [payment processors], sold_or_shared: []}
      identifiers: {third_parties: [], sold_or_shared: [advertising networks]}
    queries:
      - name: orders
        sql: SELECT product, email FROM orders WHERE email = :email
        categories: {product: commercial, email: identifiers}
"""


def test_1798_110c_third_parties_per_category(tmp_path):
    """Each category lists only the recipients declared for it: carriers receive orders, not email addresses."""
    store = load_registry(write_registry(tmp_path, PER_CATEGORY)).get("orders")
    assert store.recipients("commercial").third_parties == ("carriers",)
    assert store.recipients("commercial").service_providers == ("payment processors",)
    assert store.recipients("identifiers").third_parties == ()
    assert store.recipients("identifiers").sold_or_shared == ("advertising networks",)
    assert store.recipients("commercial").sold_or_shared == ()  # declared: not sold or shared


def test_1798_110c_the_shipped_registry_declares_recipients_per_category():
    registry = load_registry(ROOT / "include" / "datastores" / "datastores.yaml")
    orders = registry.get("orders")
    assert "carriers" in orders.recipients("customer_records").third_parties
    assert "carriers" not in orders.recipients("commercial").third_parties  # per category, not per datastore
    assert all(
        store.recipients(category).sold_or_shared is not None
        for store in registry.datastores
        for category in store.categories()
    )
    assert all(store.legacy_third_parties is None for store in registry.datastores)  # no deprecated form shipped


def test_1798_115_a_category_without_a_sold_or_shared_declaration_is_refused_naming_file_datastore_and_category(
    tmp_path,
):
    """Fails closed: the tool never tells a consumer "we have not sold or shared" on the strength of a silence."""
    text = PER_CATEGORY.replace("{third_parties: [], sold_or_shared: [advertising networks]}", "{}")
    path = write_registry(tmp_path, text)
    with pytest.raises(RegistryError) as excinfo:
        load_registry(path)
    message = str(excinfo.value)
    assert str(path) in message and "'orders'" in message and "category 'identifiers'" in message
    assert "sold_or_shared: []" in message and "sold_or_shared: none" in message  # says how to fix it


def test_1798_115_old_registry_without_any_sold_or_shared_statement_is_refused(tmp_path):
    old = ENTRY.replace("sold_or_shared: none\n", "")
    path = write_registry(tmp_path, old)
    with pytest.raises(
        RegistryError, match=r"datastore 'crm': category 'identifiers' does not say whether it was sold"
    ):
        load_registry(path)


def test_1798_115c_top_level_none_states_nothing_is_sold_and_cannot_be_contradicted(tmp_path):
    store = load_registry(write_registry(tmp_path, ENTRY)).get("crm")
    assert store.recipients("identifiers").sold_or_shared == ()  # stated, so the report says it in words
    contradicted = "sold_or_shared: none\n" + PER_CATEGORY
    with pytest.raises(RegistryError, match=r"'identifiers' is declared sold or shared to \['advertising networks'\]"):
        load_registry(write_registry(tmp_path, contradicted))
    with pytest.raises(RegistryError, match="top-level field 'sold_or_shared' can only be 'none'"):
        load_registry(write_registry(tmp_path, "sold_or_shared: [data brokers]\n" + PER_CATEGORY))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("      identifiers: {", "      biometrics: {", "disclosures: category 'biometrics': not a category"),
        ("      identifiers: {", "      geolocation: {", "category 'geolocation': no column of this datastore maps"),
        (
            "      identifiers: {third_parties: [], sold_or_shared: [advertising networks]}\n",
            "",
            "disclosures: category 'identifiers' is held (a column maps to it) but has no entry",
        ),
        ("third_parties: [carriers]", "third_parties: carriers", "category 'commercial': field 'third_parties' must"),
        ("sold_or_shared: []}", "sold_or_shared: [], sold_to: []}", "category 'commercial': unknown field(s)"),
        (
            "service_providers: [payment processors]",
            "service_providers: [carriers]",
            "category 'commercial': ['carriers'] listed as both a third party and a service provider",
        ),
        ("    disclosures:\n", "    third_parties: [carriers]\n    disclosures:\n", "not both"),
        (
            PER_CATEGORY[PER_CATEGORY.index("      commercial") : PER_CATEGORY.index("    queries:")],
            "      - commercial\n",
            "field 'disclosures' must map each category",
        ),
    ],
)
def test_1798_110_bad_disclosures_are_refused_naming_file_datastore_and_category(tmp_path, old, new, message):
    assert old in PER_CATEGORY
    path = write_registry(tmp_path, PER_CATEGORY.replace(old, new))
    with pytest.raises(RegistryError) as excinfo:
        load_registry(path)
    assert str(path) in str(excinfo.value) and "'orders'" in str(excinfo.value)
    assert message in str(excinfo.value)


def test_1798_110_the_old_per_datastore_third_parties_still_works_with_one_deprecation_message(tmp_path, caplog):
    """Kept working (the registry's YAML is a public interface), mapped onto every category of the datastore, with a
    message naming the file and the datastore, logged once however often the registry is read."""
    old = PER_CATEGORY.replace(
        PER_CATEGORY[PER_CATEGORY.index("    disclosures:") : PER_CATEGORY.index("    queries:")],
        "    third_parties: [carriers]\n",
    )
    path = write_registry(tmp_path, "sold_or_shared: none\n" + old)
    with caplog.at_level("WARNING", logger="include.datastores.registry"):
        first = load_registry(path).get("orders")
        load_registry(path)
    assert first.recipients("commercial").third_parties == ("carriers",)
    assert first.recipients("identifiers").third_parties == ("carriers",)  # the old meaning: every category
    assert first.recipients("identifiers").sold_or_shared == ()  # from the top-level statement
    [record] = [r for r in caplog.records if "deprecated" in r.getMessage()]
    assert str(path) in record.getMessage() and "'orders'" in record.getMessage()
    assert "'disclosures'" in record.getMessage()
    # An entry written before either field (no third parties listed) is the old form too: told once as well.
    (tmp_path / "bare").mkdir()
    bare = write_registry(tmp_path / "bare", ENTRY)
    caplog.clear()
    with caplog.at_level("WARNING", logger="include.datastores.registry"):
        assert load_registry(bare).get("crm").recipients("identifiers").third_parties == ()
        load_registry(bare)
    [record] = [r for r in caplog.records if "deprecated" in r.getMessage()]
    assert str(bare) in record.getMessage() and "'crm'" in record.getMessage()


def test_1798_140_service_provider_datastore_kind(tmp_path):
    """A datastore a service provider or contractor holds for the business: searched like the others, its provider
    a recipient that is not a third party (Civ. 1798.140(ag), (j), (ai))."""
    text = PER_CATEGORY.replace(
        "    description: Orders\n", "    description: Orders\n    kind: service_provider\n    held_by: order desk\n"
    )
    store = load_registry(write_registry(tmp_path, text)).get("orders")
    assert (store.kind, store.held_by, store.task_id) == ("service_provider", "order desk", "extract_orders")
    assert store.recipients("identifiers").service_providers == ("order desk",)
    assert store.recipients("commercial").service_providers == ("payment processors", "order desk")
    assert "order desk" not in store.recipients("commercial").third_parties
    for bad, message in (
        (text.replace("    held_by: order desk\n", ""), "kind 'service_provider' needs 'held_by'"),
        (text.replace("kind: service_provider", "kind: vendor"), "field 'kind' must be one of"),
        (text.replace("kind: service_provider", "kind: business"), "'held_by' is for kind service_provider"),
    ):
        with pytest.raises(RegistryError) as excinfo:
            load_registry(write_registry(tmp_path, bad))
        assert "'orders'" in str(excinfo.value) and message in str(excinfo.value)


def test_1798_110_python_sources_declare_recipients_per_category_too():
    from include.datastores import personal_data_source
    from include.datastores.sources import _python_registry

    personal_data_source(
        "helpdesk",
        categories={"ticket": "commercial", "email": "identifiers"},
        disclosures={"commercial": {"sold_or_shared": []}, "identifiers": {"service_providers": ["mailer"]}},
        kind="contractor",
        held_by="support contractor",
    )(lambda **_: [])
    store = _python_registry[__name__]["helpdesk"]
    assert store.recipients("identifiers").service_providers == ("mailer", "support contractor")
    assert store.recipients("identifiers").sold_or_shared is None  # refused when the registry loads, as in YAML
    with pytest.raises(RegistryError, match="category 'identifiers' is held"):
        personal_data_source("bad", categories={"x": "identifiers"}, disclosures={})(lambda **_: [])


def test_an_unchanged_registry_file_is_not_parsed_again(tmp_path, monkeypatch):
    """Issue #22: every task process reads the file twice; the same bytes give the same (immutable) registry."""
    import include.datastores.registry as registry_module

    path = write_registry(tmp_path, ENTRY)
    first = load_registry(path)
    parsed = []
    monkeypatch.setattr(registry_module.yaml, "load", lambda *a, **k: parsed.append(1))
    assert load_registry(str(path)) is first
    assert parsed == []


def test_an_edited_registry_file_is_read_again_even_within_the_same_clock_tick(tmp_path):
    path = write_registry(tmp_path, ENTRY)
    before = load_registry(path)
    stat = path.stat()
    # Same size, same timestamps: only the bytes tell the edit apart (file times are coarser than two quick writes).
    path.write_text(ENTRY.replace("ccpa_crm_db", "ccpa_crx_db"))
    import os

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = load_registry(path)
    assert after is not before
    assert after.get("crm").conn_id == "ccpa_crx_db"
    path.write_text("not: [a, list")
    with pytest.raises(RegistryError, match="not valid YAML"):
        load_registry(path)  # a broken edit is refused, never answered from the earlier file


def test_a_registry_that_is_not_utf8_is_refused_with_the_file_named(tmp_path):
    path = tmp_path / "datastores.yaml"
    path.write_bytes(b"datastores: [\xff]\n")
    with pytest.raises(RegistryError, match="not UTF-8") as excinfo:
        load_registry(path)
    assert str(path) in str(excinfo.value)
