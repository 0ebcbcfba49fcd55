"""Extraction's fast path for SQL (MySQLdb's cursor, its DATETIME/DATE text, the encoder's ``default``) writes the
same lines as converting every value of SQLAlchemy's rows with ``_plain`` did, for every kind of value MariaDB has."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest
from MySQLdb.times import Date_or_None, DateTime_or_None
from sqlalchemy import create_engine, text

from include.datastores import extract as extract_module
from include.datastores.extract import _date_text, _datetime_text, _plain, extract
from include.datastores.registry import load_registry
from tests.conftest import MYSQL_URL
from tests.factories import write_registry

EMAIL = "edge@example.com"
SINCE = datetime(2000, 1, 1, tzinfo=UTC)

#: Every column type the extract may meet on MariaDB, with the edge values of each.
TABLE = """CREATE TABLE edge_values (
    id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(254) NOT NULL,
    dt DATETIME NULL, dt3 DATETIME(3) NULL, dt6 DATETIME(6) NULL, ts TIMESTAMP NULL DEFAULT NULL,
    d DATE NULL, t TIME(6) NULL, dec_small DECIMAL(10,2) NULL, dec_wide DECIMAL(30,12) NULL,
    f DOUBLE NULL, fl FLOAT NULL, big BIGINT NULL, y YEAR NULL, bits BIT(8) NULL,
    vb VARBINARY(16) NULL, bl BLOB NULL, js JSON NULL, e ENUM('a','b') NULL, s SET('x','y') NULL,
    txt TEXT NULL, secret VARCHAR(20) NULL, extra VARCHAR(20) NULL
)"""
COLUMNS = "dt, dt3, dt6, ts, d, t, dec_small, dec_wide, f, fl, big, y, bits, vb, bl, js, e, s, txt, secret, extra"
ROWS = [
    # dt, dt3, dt6, ts, d, t, dec_small, dec_wide, f, fl, big, y, bits, vb, bl, js, e, s, txt, secret, extra
    (
        "2026-01-15 12:00:00",
        "2026-01-15 12:00:00.120",
        "2026-01-15 12:00:00.000001",
        "2026-01-15 12:00:00",
        "2026-01-15",
        "12:00:00",
        "19.99",
        "0.000000000001",
        1.5,
        0.1,
        2**63 - 1,
        2026,
        5,
        b"\x00\xff",
        b"blob",
        '{"a": [1, 2]}',
        "a",
        "x,y",
        'é "quoted" \\ \n line',
        "999-99-9999",
        None,
    ),
    (
        "0000-00-00 00:00:00",
        "0000-00-00 00:00:00.000",
        "0000-00-00 00:00:00.000000",
        None,
        "0000-00-00",
        "-838:59:59",
        "-0.50",
        "0.000000000000",
        -0.0,
        3.4e38,
        -(2**63),
        1901,
        0,
        b"",
        b"",
        "[]",
        "b",
        "",
        "",
        None,
        "=1+1",
    ),
    (
        "2020-02-31 23:59:59",
        "2026-01-15 12:00:00.000",
        "2026-01-15 12:00:00.000000",
        "1970-01-01 00:00:01",
        "2020-02-30",
        "838:59:59.999999",
        "12345678.00",
        "123456789012345678.123456789012",
        1e300,
        -1.25,
        0,
        None,
        255,
        b"'",
        None,
        "null",
        None,
        "y",
        "ünïcødé ✓",
        "",
        None,
    ),
    (
        "2026-00-10 10:00:00",
        "1000-01-01 00:00:00.999",
        "9999-12-31 23:59:59.999999",
        "2038-01-19 03:14:07",
        "1000-01-01",
        "-00:00:00.5",
        "0.00",
        "-1.000000000001",
        123456789.125,
        None,
        None,
        2155,
        None,
        None,
        b"\x00" * 3,
        None,
        None,
        None,
        None,
        None,
        None,
    ),
    (None,) * 21,
]
# "again", named twice and not mapped to a category: withheld, and held only if its last value is ever not null.
QUERY = f"SELECT {COLUMNS}, dt AS again, NULL AS again FROM edge_values WHERE email = :email ORDER BY id"
CATEGORIES = {c: "commercial" for c in COLUMNS.split(", ") if c not in ("secret", "extra")}
REGISTRY = f"""sold_or_shared: none
datastores:
  - name: edge
    conn_id: ccpa_crm_db
    queries:
      - name: values
        sql: "{QUERY}"
        categories: {json.dumps(CATEGORIES)}
        withhold: [secret, not_selected]
"""


@pytest.fixture(scope="module")
def edge_url(mysql_database):
    url = f"{MYSQL_URL}/{mysql_database('ccpa_edge')}"
    engine = create_engine(url)
    with engine.begin() as conn:
        # Zero dates and invalid dates as a lax server stores them (MariaDB's default sql_mode refuses them).
        conn.execute(text("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'"))
        conn.execute(text(TABLE))
        placeholders = ", ".join(f":v{i}" for i in range(21))
        for row in ROWS:
            conn.execute(
                text(f"INSERT INTO edge_values (email, {COLUMNS}) VALUES (:email, {placeholders})"),
                {"email": EMAIL, **{f"v{i}": v for i, v in enumerate(row)}},
            )
    engine.dispose()
    return url


def _expected_lines(url: str) -> list[str]:
    """What extraction wrote before its fast path: SQLAlchemy's rows (MySQLdb's default converters), each value
    through ``_plain``, withheld (and uncategorised) columns null, ``json`` encoding the line."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            result = conn.execute(text(QUERY), {"email": EMAIL})
            columns = list(result.keys())
            lines = []
            for row in result:
                record = dict(zip(columns, row, strict=True))
                values = {c: None if c in ("secret", "extra", "again") else _plain(v) for c, v in record.items()}
                lines.append(json.dumps({"q": "values", "v": values}, ensure_ascii=False) + "\n")
    finally:
        engine.dispose()
    return lines


def test_every_mariadb_value_is_written_as_before(edge_url, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CCPA_CRM_DB", edge_url)
    store = load_registry(write_registry(tmp_path, REGISTRY)).get("edge")
    dest = tmp_path / "edge.jsonl"
    summary = extract(store, email=EMAIL, name="", since=SINCE, dest=dest)
    lines = dest.read_text(encoding="utf-8").splitlines(keepends=True)
    expected = _expected_lines(edge_url)
    assert len(expected) == len(ROWS)
    assert lines == expected
    [section] = summary.sections
    assert section.withheld == ("secret", "extra", "again", "again") and section.row_count == len(ROWS)
    # "again": the row's dict holds its last value (always null), as before.
    assert section.withheld_present == {"secret": True, "extra": True, "again": False}
    assert "999-99-9999" not in dest.read_text(encoding="utf-8")


def test_a_withheld_column_never_holding_a_value_is_reported_so(edge_url, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_CCPA_CRM_DB", edge_url)
    registry = REGISTRY.replace("ORDER BY id", "AND secret IS NULL ORDER BY id")
    [section] = extract(
        load_registry(write_registry(tmp_path, registry)).get("edge"),
        email=EMAIL,
        name="",
        since=SINCE,
        dest=tmp_path / "e.jsonl",
    ).sections
    assert section.withheld_present == {"secret": False, "extra": True, "again": False}


def _old(parse, value: str):
    parsed = parse(value)
    return None if parsed is None else _plain(parsed)


DATETIMES = [
    "2026-01-15 12:00:00",
    "2026-01-15 12:00:00.000000",
    "2026-01-15 12:00:00.000001",
    "2026-01-15 12:00:00.120",
    "2026-01-15 12:00:00.1",
    "2026-01-15 12:00:00.1234567",
    "0000-00-00 00:00:00",
    "0000-00-00 00:00:00.000000",
    "2026-00-15 12:00:00",
    "2020-02-30 12:00:00",
    "2020-02-29 12:00:00",
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59.999999",
    "2026-01-15 24:00:00",
    "2026-01-15 12:60:00",
    "2026-01-15 12:00+05",
    "2026-01-1  12:00:00",
    "2026-01-15T12:00:00",
    "٢026-01-15 12:00:00",
    "2026-01-15 12:00:00.+12345",
    "2026-01-15",
    "2026-01-15 12",
    "",
]


@pytest.mark.parametrize("value", DATETIMES)
def test_datetime_text_is_what_the_driver_and_plain_made(value):
    assert _datetime_text(value) == _old(DateTime_or_None, value)


@pytest.mark.parametrize("value", ["2026-01-15", "0000-00-00", "2020-02-30", "2026-1-15", "2026-01-15 ", "", "x"])
def test_date_text_is_what_the_driver_and_plain_made(value):
    assert _date_text(value) == _old(Date_or_None, value)


def test_datetime_and_date_text_on_random_texts_of_their_shape():
    rng = random.Random(7024)
    digits = "0123456789"
    for _ in range(20_000):
        fields = [
            "".join(rng.choice(digits) for _ in range(4)),
            *("".join(rng.choice("0123" if i < 2 else digits) for _ in range(2)) for i in range(5)),
        ]
        stamp = "{}-{}-{} {}:{}:{}".format(*fields)
        fraction = rng.choice(["", "." + "".join(rng.choice(digits) for _ in range(6)), ".000000", ".5"])
        assert _datetime_text(stamp + fraction) == _old(DateTime_or_None, stamp + fraction), stamp + fraction
        assert _date_text(stamp[:10]) == _old(Date_or_None, stamp[:10]), stamp[:10]


def test_a_batch_holding_a_list_or_dict_is_converted_value_by_value(tmp_path, monkeypatch):
    """Another driver's arrays and JSON (a list, a dict): ``_plain`` makes their ``str``, which the encoder's
    ``default`` would not (it encodes them as JSON): such a batch takes the value-by-value path."""
    batches = [[("a", 1, None), ("b", [1, 2], {"k": datetime(2026, 1, 1)})], [("c", (3,), 2.5)]]
    monkeypatch.setattr(extract_module, "_sql_batches", lambda conn, query, params: (["x", "y", "z"], batches))
    store = load_registry(
        write_registry(
            tmp_path,
            REGISTRY.replace(json.dumps(CATEGORIES), json.dumps({"x": "commercial", "y": "commercial"})),
        )
    ).get("edge")
    monkeypatch.setattr(extract_module, "_connection", lambda store: _nullcontext())
    dest = tmp_path / "x.jsonl"
    extract(store, email=EMAIL, name="", since=SINCE, dest=dest)
    expected = [
        json.dumps({"q": "values", "v": {"x": x, "y": _plain(y), "z": None}}, ensure_ascii=False) + "\n"
        for batch in batches
        for x, y, _ in batch
    ]
    assert dest.read_text(encoding="utf-8").splitlines(keepends=True) == expected


def _nullcontext():
    from contextlib import nullcontext

    return nullcontext(None)


def test_an_sql_error_is_raised_as_sqlalchemy_raises_it_without_the_values(edge_url, tmp_path, monkeypatch):
    from sqlalchemy.exc import OperationalError

    monkeypatch.setenv("AIRFLOW_CONN_CCPA_CRM_DB", edge_url)
    registry = REGISTRY.replace("SELECT dt,", "SELECT no_such_column, dt,")
    store = load_registry(write_registry(tmp_path, registry)).get("edge")
    with pytest.raises(OperationalError) as raised:
        extract(store, email=EMAIL, name="", since=SINCE, dest=tmp_path / "e.jsonl")
    assert "Unknown column 'no_such_column'" in str(raised.value)
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(raised.value)
    assert EMAIL not in str(raised.value)


def test_a_connection_lost_mid_query_is_invalidated_not_pooled_again(edge_url):
    from sqlalchemy.exc import OperationalError

    engine = create_engine(edge_url, hide_parameters=True)
    try:
        with engine.connect() as conn, engine.connect() as killer:
            raw = conn.connection.dbapi_connection
            killer.execute(text(f"KILL CONNECTION {raw.thread_id()}"))
            cursor = raw.cursor()
            with (
                pytest.raises(OperationalError) as raised,
                extract_module._sqlalchemy_errors(conn, cursor, "SELECT 1", ()),
            ):
                cursor.execute("SELECT 1")
            assert raised.value.connection_invalidated and conn.invalidated
    finally:
        engine.dispose()


def test_another_dialect_takes_sqlalchemy_rows_and_writes_the_same_lines(tmp_path, monkeypatch):
    """Not MySQLdb (here SQLite): rows come from ``conn.execute(...).partitions()``, values encoded the same way."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = create_engine(url)
    rows = [(EMAIL, "a", 1, 1.5, None, b"\x01"), (EMAIL, "=b", None, None, "2026-01-15 12:00:00", b"")]
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (email TEXT, s TEXT, i INTEGER, f REAL, d TEXT, b BLOB)"))
        for row in rows:
            conn.execute(text("INSERT INTO t VALUES (:e, :s, :i, :f, :d, :b)"), dict(zip("esifdb", row, strict=True)))
    engine.dispose()
    monkeypatch.setenv(
        "AIRFLOW_CONN_CCPA_CRM_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "store.db")})
    )
    registry = """sold_or_shared: none
datastores:
  - name: edge
    conn_id: ccpa_crm_db
    queries:
      - name: values
        sql: SELECT s, i, f, d, b FROM t WHERE email = :email
        categories: {s: commercial, i: commercial, f: commercial, d: commercial}
"""
    dest = tmp_path / "sqlite.jsonl"
    [section] = extract(
        load_registry(write_registry(tmp_path, registry)).get("edge"), email=EMAIL, name="", since=SINCE, dest=dest
    ).sections
    expected = [
        json.dumps({"q": "values", "v": {"s": s, "i": i, "f": f, "d": d, "b": None}}, ensure_ascii=False) + "\n"
        for _, s, i, f, d, _ in rows
    ]
    assert dest.read_text(encoding="utf-8").splitlines(keepends=True) == expected
    assert section.withheld == ("b",) and section.withheld_present == {"b": True}
