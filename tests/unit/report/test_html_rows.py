"""A table's rows in report.html: the row markup the template renders once per section, repeated in Python for
every row (include/report/html.py), gives the same bytes as Jinja rendering every row and cell."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from jinja2 import ChoiceLoader, DictLoader
from markupsafe import Markup

from include.report import html
from include.report.html import ROWS_PER_CHUNK, render_report
from include.templating import env_for
from tests.factories import report_context

RECEIVED = datetime(2026, 11, 27, tzinfo=UTC)
SINCE = datetime(2025, 11, 27, tzinfo=UTC)

#: The template's rows as Jinja rendered them before: every row through the template, cell by cell.
_ROW_LOOP = re.compile(
    r"\{% set row_markup %\}(?P<row>.*?)\{% endset %\}\n"
    r"\{% for chunk in table_rows\(store, section, row_markup\) %\}\{\{ chunk \}\}\{% endfor %\}\n",
    re.S,
)


def reference_template(language: str) -> str:
    """report.html.j2 with its rows rendered by the plain Jinja row loop (the same row markup, per row)."""
    environment = env_for(language)
    assert environment.loader is not None
    source, _, _ = environment.loader.get_source(environment, "report.html.j2")
    [match] = list(_ROW_LOOP.finditer(source))
    row = match["row"].replace("{{ cell(column) }}", '{{ row[column] if row[column] is not none else "" }}')
    return (
        source[: match.start()]
        + "{% for row in rows(store, section.query) %}\n"
        + row
        + "{% endfor %}\n"
        + (source[match.end() :])
    )


def render_by_row_loop(context, monkeypatch) -> str:
    language = context.language
    reference = env_for(language).overlay(
        loader=ChoiceLoader([DictLoader({"report.html.j2": reference_template(language)}), env_for(language).loader])
    )
    with monkeypatch.context() as patched:
        patched.setattr(html, "env_for", lambda _: reference)
        return render_report(context).html


ODD_VALUES = [
    "<script>alert('x') & \"y\"</script>",
    "Zoë Łódź 東京 🙂 — ½",
    None,
    "",
    0,
    -1.5,
    12345678901234567890,
    True,
    False,
    "2026-01-15T12:00:00",
    datetime(2026, 1, 15, 12, 0, tzinfo=UTC),
    date(2026, 1, 15),
    Decimal("19.99"),
    ["a", "<b>"],
    {"k": "<v>"},
    "100%",
    "%s %d %% %(x)s",
    "a\x00b",  # the character that marks a cell's place: such a value is escaped on its own
    Markup("<b>already markup</b>"),
    "   spaced\nlines\t",
]


def odd_rows(columns: list[str], count: int, shift: int = 0) -> list[dict]:
    return [
        {column: ODD_VALUES[(n + i + shift) % len(ODD_VALUES)] for i, column in enumerate(columns)}
        for n in range(count)
    ]


def summary(datastore: str, sections: list[dict]) -> dict:
    return {
        "_rows": {section["query"]: section.pop("_rows") for section in sections},
        "datastore": datastore,
        "description": f"The {datastore} system",
        "sources": [],
        "purposes": [],
        "third_parties": [],
        "row_count": sum(section["row_count"] for section in sections),
        "sections": sections,
    }


def section(query: str, columns: list[str], rows: list[dict], withheld: dict[str, bool] | None = None) -> dict:
    withheld = withheld or {}
    return {
        "_rows": rows,
        "query": query,
        "columns": columns,
        "categories": {c: "sensitive" if c in withheld else "identifiers" for c in columns},
        "withheld": list(withheld),
        "withheld_present": withheld,
        "row_count": len(rows),
    }


def context_of(datastores: list[dict], language: str = "en"):
    """A report of ``datastores`` (``summary``), each section's rows its own."""
    rows = {d["datastore"]: d["_rows"] for d in datastores}
    return report_context(
        name="Zoë <Jane> & co", request_id="r1", received_at=RECEIVED, since=SINCE, datastores=datastores,
        rows=lambda store, query: iter(rows[store.datastore][query]), language=language,
    )  # fmt: skip


def odd_report(language: str):
    """Two datastores; sections across chunk boundaries, with one value column, with only withheld columns, with
    none; values with HTML's special characters, non-ASCII, none, empty, numbers, dates, lists, "%"."""
    wide = ["name", "r&d <x>", "100% sure", "ssn", "note", "card"]
    crm = summary(
        "crm",
        [
            section("profile", wide, odd_rows(wide, 2 * ROWS_PER_CHUNK + 7), {"ssn": True, "card": False}),
            section("one_column", ["email"], odd_rows(["email"], ROWS_PER_CHUNK, shift=3)),
            section("only_withheld", ["ssn"], odd_rows(["ssn"], 3), {"ssn": True}),
            section("nothing", ["name"], []),
        ],
    )
    web = summary("web", [section("page_views", ["page", "when"], odd_rows(["page", "when"], 41, shift=5))])
    return context_of([crm, web], language)


@pytest.mark.parametrize("language", ["en", "es"])
def test_report_html_rows_are_byte_identical_to_rendering_every_row_in_jinja(language, monkeypatch):
    context = odd_report(language)
    ours = render_report(context).html
    assert ours == render_by_row_loop(context, monkeypatch)
    assert ours.count("<tr><td") == 2 * ROWS_PER_CHUNK + 7 + ROWS_PER_CHUNK + 3 + 41
    assert "&lt;script&gt;alert(&#39;x&#39;) &amp; &#34;y&#34;&lt;/script&gt;" in ours and "<script>" not in ours


def test_a_row_without_a_column_shows_an_empty_cell_as_report_json_and_the_csv_do():
    """Rows from a Python datastore may differ in their keys (extraction lists every column any row had)."""
    rows = [{"name": "Ann"}, {"name": "Bob", "email": "b@example.com"}, {"email": "c@example.com"}]
    context = context_of([summary("crm", [section("profile", ["name", "email"], rows)])])
    td = '<td style="border-bottom:1px solid #e5e5ea;">'
    assert (
        f"<tr>{td}Ann</td>{td}</td></tr>\n<tr>{td}Bob</td>{td}b@example.com</td></tr>\n" in render_report(context).html
    )
    assert f"<tr>{td}</td>{td}c@example.com</td></tr>\n" in render_report(context).html


def test_a_filter_on_a_cell_marker_is_an_error_not_a_garbled_table():
    def rows(store, query):
        return iter([{"name": "Ann"}])

    with pytest.raises(ValueError, match="cell marker"):
        list(html.table_rows(rows, None, type("S", (), {"query": "q"})(), "<tr><td>" + html.cell("name")[:-1]))


#: What JSON decoding gives (text, numbers, none): a chunk of only these is escaped in one call (``_chunk_values``).
PLAIN_VALUES = [v for v in ODD_VALUES if type(v) in (str, int, float, bool, type(None)) and "\x00" not in str(v)]


@pytest.mark.parametrize("language", ["en", "es"])
def test_chunks_of_plain_values_are_byte_identical_to_rendering_every_row_in_jinja(language, monkeypatch):
    """Chunks of text only, of text, numbers and none, and one chunk where a value holds the cell marker (that chunk
    goes row by row) all give the Jinja loop's bytes."""
    columns = ["name", "r&d <x>", "100% sure", "note"]
    text_only = [{c: f"<{c}> & {n} 'x'" for c in columns} for n in range(ROWS_PER_CHUNK + 3)]
    mixed = [
        {c: PLAIN_VALUES[(n + i) % len(PLAIN_VALUES)] for i, c in enumerate(columns)}
        for n in range(2 * ROWS_PER_CHUNK + 7)
    ]
    mixed[ROWS_PER_CHUNK + 1]["name"] = "a\x00b"  # the second chunk goes row by row
    crm = summary(
        "crm",
        [section("text", columns, text_only), section("mixed", columns, mixed, {"note": True})],
    )
    context = context_of([crm], language)
    ours = render_report(context).html
    assert ours == render_by_row_loop(context, monkeypatch)
    assert "a\x00b" in ours and "&lt;name&gt; &amp; 0 &#39;x&#39;" in ours
