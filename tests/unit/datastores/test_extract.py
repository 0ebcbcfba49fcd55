"""Extraction from MariaDB with hostile inputs; Python sources run like SQL datastores."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, insert

from devtools.demo_data import DEMO_PERSON, crm_users, seed
from include import storage
from include.datastores.extract import extract as extract_to
from include.datastores.extract import read_rows
from include.datastores.registry import load_registry
from tests.conftest import MYSQL_URL, ROOT, use_datastores
from tests.factories import ENTRY, write_registry


@pytest.fixture(scope="module")
def datastores_url(mysql_database):
    url = f"{MYSQL_URL}/{mysql_database('ccpa_extract')}"
    engine = create_engine(url)
    seed(engine)
    tricky = "o'brien+x\"--@example.com"
    with engine.begin() as conn:
        conn.execute(insert(crm_users).values(email=tricky, name="Pat O'Brien", ssn="999-99-9999"))
    engine.dispose()
    return url


@pytest.fixture
def registry(datastores_url, monkeypatch):
    use_datastores(monkeypatch, datastores_url)
    return load_registry(ROOT / "include" / "datastores" / "datastores.yaml")


SINCE = datetime.now(UTC) - timedelta(days=365)


@pytest.fixture
def extract(tmp_path):
    """Extract to a file, then read it back whole: what the report sees."""
    counter = iter(range(1000))

    def run(store, **kwargs):
        dest = tmp_path / f"{store.name}-{next(counter)}.jsonl"
        summary = extract_to(store, dest=dest, **kwargs).to_dict()
        for section in summary["sections"]:
            section["rows"] = list(read_rows(dest, section["query"]))
        summary["file"] = dest.read_text()
        return summary

    return run


def test_extracts_only_the_subjects_rows_and_withholds_the_ssn(registry, extract):
    crm = extract(registry.get("crm"), email=DEMO_PERSON["email"], name=DEMO_PERSON["name"], since=SINCE)
    [section] = crm["sections"]
    assert [r["email"] for r in section["rows"]] == [DEMO_PERSON["email"]]
    assert section["withheld"] == ["ssn"] and section["withheld_present"] == {"ssn": True}
    assert "123-45-6789" not in json.dumps(crm)  # nor in the file: crm["file"] is part of crm
    assert section["categories"]["favorite_food"] == "inferences"

    web = extract(registry.get("web"), email=DEMO_PERSON["email"], name=DEMO_PERSON["name"], since=SINCE)
    assert web["row_count"] == 40
    assert {r["ip_address"] for r in web["sections"][0]["rows"]} == {"203.0.113.10"}


def test_email_full_of_sql_metacharacters_is_just_a_value(registry, extract):
    tricky = "o'brien+x\"--@example.com"
    crm = extract(registry.get("crm"), email=tricky, name="Pat O'Brien", since=SINCE)
    assert [r["name"] for r in crm["sections"][0]["rows"]] == ["Pat O'Brien"]
    assert "999-99-9999" not in json.dumps(crm)
    injection = extract(registry.get("crm"), email="x' OR '1'='1", name="x", since=SINCE)
    assert injection["row_count"] == 0


def test_since_limits_the_lookback(registry, extract):
    recent = extract(
        registry.get("orders"), email=DEMO_PERSON["email"], name="", since=datetime.now(UTC) - timedelta(days=45)
    )
    everything = extract(registry.get("orders"), email=DEMO_PERSON["email"], name="", since=datetime(2022, 1, 1))
    assert recent["row_count"] == 2 and everything["row_count"] == 3


def test_only_paths_and_counts_leave_the_task(registry, tmp_path):
    dest = tmp_path / "crm.jsonl"
    # What leaves the task is the summary's XCom form.
    summary = extract_to(registry.get("crm"), email=DEMO_PERSON["email"], name="", since=SINCE, dest=dest).to_dict()
    assert summary["path"] == dest.as_uri() and summary["row_count"] == 1
    assert storage.resolve(summary["path"]) == dest  # a local file stays a plain pathlib.Path (no fsspec)
    assert DEMO_PERSON["email"] not in json.dumps(summary)
    assert "+1-415-555-1000" in dest.read_text() and "123-45-6789" not in dest.read_text()


def test_unmapped_columns_are_flagged_uncategorised(tmp_path, datastores_url, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CCPA_CRM_DB", datastores_url)
    path = write_registry(tmp_path, ENTRY.replace("SELECT name FROM", "SELECT name, phone FROM"))
    summary = extract_to(
        load_registry(path).get("crm"), email=DEMO_PERSON["email"], name="", since=SINCE, dest=tmp_path / "o.jsonl"
    ).to_dict()
    [section] = summary["sections"]
    assert section["categories"] == {"name": "identifiers", "phone": "uncategorised"}
    assert section["uncategorised"] == ["phone"]


def test_a_datastore_that_is_down_raises(registry, monkeypatch, extract):
    monkeypatch.setenv("AIRFLOW_CONN_CCPA_CRM_DB", "mysql://root@127.0.0.1:1/down")
    with pytest.raises(Exception, match=r"Can.t connect|Connection refused|2002|2003"):
        extract(registry.get("crm"), email=DEMO_PERSON["email"], name="", since=SINCE)


def test_python_source_runs_like_a_sql_datastore(tmp_path, monkeypatch, extract):
    log = tmp_path / "newsletter.jsonl"
    events = [
        {
            "email": DEMO_PERSON["email"],
            "event": "subscribed",
            "list": "weekly",
            "ip": "198.51.100.7",
            "at": "2026-03-01T10:00:00",
        },
        {
            "email": "john.roe@example.com",
            "event": "subscribed",
            "list": "weekly",
            "ip": "198.51.100.9",
            "at": "2026-03-02T10:00:00",
        },
        {
            "email": DEMO_PERSON["email"],
            "event": "opened",
            "list": "weekly",
            "ip": "198.51.100.7",
            "at": "2026-04-01T10:00:00",
        },
        {
            "email": DEMO_PERSON["email"],
            "event": "opened",
            "list": "weekly",
            "ip": "198.51.100.7",
            "at": "2020-04-01T10:00:00",
        },
    ]
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_NEWSLETTER_LOG", f"file://{log}")
    path = write_registry(tmp_path, ENTRY + "python_sources: [devtools.example_sources]\n")

    registry = load_registry(path)
    assert [d.name for d in registry.datastores] == ["crm", "newsletter"]
    newsletter = registry.get("newsletter")
    assert newsletter.task_id == "extract_newsletter"
    result = extract(newsletter, email=DEMO_PERSON["email"], name="", since=datetime(2022, 1, 1))
    [section] = result["sections"]
    assert [r["event"] for r in section["rows"]] == ["subscribed", "opened"]  # not John's, not before 2022
    assert section["categories"]["ip_address"] == "identifiers" and section["uncategorised"] == []
    assert "john.roe" not in result["file"]


def test_7024d_uncategorised_columns_are_withheld_until_mapped(tmp_path, datastores_url, monkeypatch):
    """Fails closed: a column the registry does not map to a category is held back (its value never written), and
    the report says it is held, until an engineer maps it."""
    monkeypatch.setenv("AIRFLOW_CONN_CCPA_CRM_DB", datastores_url)
    path = write_registry(tmp_path, ENTRY.replace("SELECT name FROM", "SELECT name, phone FROM"))
    dest = tmp_path / "o.jsonl"
    summary = extract_to(load_registry(path).get("crm"), email=DEMO_PERSON["email"], name="", since=SINCE, dest=dest)
    [section] = summary.to_dict()["sections"]
    assert section["withheld"] == ["phone"] and section["withheld_present"] == {"phone": True}
    assert [row["phone"] for row in read_rows(dest, "profile")] == [None]
    assert "+1-415-555-1000" not in dest.read_text()


def test_extract_lines_are_each_row_as_one_json_object_whatever_its_values_and_keys(tmp_path):
    """A Python source's rows may differ in their keys and hold any type: each line is exactly
    ``{"q": query, "v": values}`` as JSON (non-ASCII kept), withheld values null, other values JSON-safe."""
    from dataclasses import dataclass
    from datetime import date, time
    from decimal import Decimal

    from include.datastores.registry import Datastore, Query

    @dataclass
    class Custom:
        text: str

        def __str__(self) -> str:
            return f"custom {self.text}"

    class Label(str):
        pass

    rows = [
        {"email": "zoë@example.com", "n": 1, "ssn": None},
        {"email": "<b>&\"'", "at": datetime(2026, 1, 2, 3, 4, 5, 6), "ssn": "123-45-6789", "day": date(2026, 1, 2)},
        {"amount": Decimal("19.990"), "t": time(1, 2), "raw": b"\x00\xff", "x": Custom("a"), "label": Label("s")},
        {"f": 1.5, "ok": True, "none": None, "list": [1, "a"], "email": "q\x00\n\u2028"},
    ]
    mapped = ("email", "n", "at", "day", "amount", "t", "raw", "x", "label", "f", "ok", "list")
    store = Datastore(
        name="events",
        conn_id="",
        description="Events",
        # "none" is not mapped to a category: withheld (fails closed), never held a value.
        queries=(Query(name='events "q"', sql="", categories=dict.fromkeys(mapped, "commercial"), withhold=("ssn",)),),
        function=lambda **_: iter(rows),
    )
    dest = tmp_path / "events.jsonl"
    summary = extract_to(store, email="zoë@example.com", name="", since=SINCE, dest=dest)
    [section] = summary.sections
    withheld = set(section.withheld)
    plain = {
        datetime: datetime.isoformat, date: date.isoformat, time: time.isoformat, Decimal: str, bytes: bytes.hex,
        Custom: str, list: str,
    }  # fmt: skip
    expected = [
        json.dumps(
            {
                "q": 'events "q"',
                "v": {c: None if c in withheld else plain.get(type(v), lambda v: v)(v) for c, v in row.items()},
            },
            ensure_ascii=False,
        )
        + "\n"
        for row in rows
    ]
    assert dest.read_text(encoding="utf-8") == "".join(expected)
    assert section.columns == (
        "email",
        "n",
        "ssn",
        "at",
        "day",
        "amount",
        "t",
        "raw",
        "x",
        "label",
        "f",
        "ok",
        "none",
        "list",
    )
    assert section.withheld == ("ssn", "none") and section.withheld_present == {"ssn": True, "none": False}
