"""One pass over the extract files for every format: each row decoded once, in report order, whatever the puller
(the HTML template) does; a file that does not match its summary is a clear error."""

from __future__ import annotations

import csv
import io
import json

import pytest

from include import jsonlines
from include.report import rowpass
from include.report.model import ExtractSummary, ReportContext, Section
from include.report.portable import CsvWriter, JsonWriter, write_csv, write_json
from include.report.rowpass import ExtractMismatch, FirstRows, RowPass


def _section(query: str, columns: tuple[str, ...], count: int, withheld: tuple[str, ...] = ()) -> Section:
    return Section(
        query=query,
        columns=columns,
        categories={c: "identifiers" for c in columns},
        uncategorised=(),
        withheld=withheld,
        withheld_present={c: True for c in withheld},
        row_count=count,
    )


#: Two datastores; "shop" has three sections, one of them empty (listed in the summary, no rows in the file).
SHOP = ExtractSummary(
    datastore="shop",
    description="Shop",
    sections=(
        _section("orders", ("ref", "amount"), 3),
        _section("returns", ("ref",), 0),
        _section("reviews", ("ref", "text", "ssn"), 2, withheld=("ssn",)),
    ),
    row_count=5,
)
CRM = ExtractSummary(datastore="crm", description="CRM", sections=(_section("profile", ("name",), 1),), row_count=1)
LINES = {
    "crm": [{"q": "profile", "v": {"name": "=Jane"}}],
    "shop": [
        {"q": "orders", "v": {"ref": "o1", "amount": 1}},
        {"q": "orders", "v": {"ref": "o2", "amount": 2}},
        {"q": "orders", "v": {"ref": "o3", "amount": None}},
        {"q": "reviews", "v": {"ref": "o1", "text": 'good, "very"', "ssn": None}},
        {"q": "reviews", "v": {"ref": "o2", "text": "ünïcode", "ssn": None}},
    ],
}


def _context(rows=None) -> ReportContext:
    from datetime import UTC, datetime

    when = datetime(2026, 1, 15, tzinfo=UTC)
    return ReportContext(
        request_id="r" * 32,
        name="Jane Doe",
        email="jane@example.com",
        received_at=when,
        since=when.replace(year=2025),
        datastores=(SHOP, CRM),
        rows=rows or _filtered,
    )


def _filtered(store: ExtractSummary, query: str):
    """The rows of one section as the old reader gave them (the file filtered by section)."""
    return [line["v"] for line in LINES[store.datastore] if line["q"] == query]


def _open_lines(lines=LINES):
    def open_lines(store: ExtractSummary):
        return io.StringIO("".join(json.dumps(line) + "\n" for line in lines[store.datastore]))

    return open_lines


class Recorder:
    """A sink that notes every event, to check order and completeness."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def begin_store(self, store):
        self.events.append(("store", store.datastore))

    def begin_section(self, store, section):
        self.events.append(("section", section.query))

    def row(self, section, row):
        self.events.append(("row", section.query, row["ref"] if "ref" in row else row["name"]))

    def end_section(self, section):
        self.events.append(("/section", section.query))

    def end_store(self, store):
        self.events.append(("/store", store.datastore))


EXPECTED = [
    ("store", "crm"),
    ("section", "profile"),
    ("row", "profile", "=Jane"),
    ("/section", "profile"),
    ("/store", "crm"),
    ("store", "shop"),
    ("section", "orders"),
    ("row", "orders", "o1"),
    ("row", "orders", "o2"),
    ("row", "orders", "o3"),
    ("/section", "orders"),
    ("section", "returns"),
    ("/section", "returns"),
    ("section", "reviews"),
    ("row", "reviews", "o1"),
    ("row", "reviews", "o2"),
    ("/section", "reviews"),
    ("/store", "shop"),
]


@pytest.fixture
def decodes(monkeypatch):
    """Counts decode_line calls of the pass (every decode of a row goes through it)."""
    calls = []

    def decode_line(text):
        calls.append(text)
        return jsonlines.decode_line(text)

    monkeypatch.setattr(rowpass, "decode_line", decode_line)
    return calls


def _pull_all(rp: RowPass, context: ReportContext, order=None) -> list[tuple[str, str]]:
    pulled = []
    for store, section in order or [(s, sec) for s in context.holding for sec in s.sections]:
        pulled += [(section.query, row.get("ref", row.get("name"))) for row in rp.rows(store, section.query)]
    rp.finish()
    return pulled


def test_pulled_rows_reach_every_sink_in_report_order_decoded_once(decodes):
    context = _context()
    first, second = Recorder(), Recorder()
    rp = RowPass(context.holding, _open_lines(), _filtered, [first, second])
    pulled = _pull_all(rp, context)
    assert first.events == EXPECTED
    assert second.events == EXPECTED
    assert [p for p in pulled] == [(e[1], e[2]) for e in EXPECTED if e[0] == "row"]
    assert len(decodes) == 6  # six rows in the files, each decoded once


def test_sections_the_puller_skips_are_still_fed_in_order(decodes):
    context = _context()
    sink = Recorder()
    rp = RowPass(context.holding, _open_lines(), _filtered, [sink])
    # The puller reads only shop's reviews: crm and shop's orders are fed first, in order; nothing after is lost.
    assert [r["ref"] for r in rp.rows(SHOP, "reviews")] == ["o1", "o2"]
    rp.finish()
    assert sink.events == EXPECTED
    assert len(decodes) == 6


def test_a_section_read_again_or_out_of_order_is_correct_for_the_puller(decodes):
    context = _context()
    sink = Recorder()
    rp = RowPass(context.holding, _open_lines(), _filtered, [sink])
    order = [(SHOP, SHOP.sections[2]), (CRM, CRM.sections[0]), (SHOP, SHOP.sections[2])]
    pulled = _pull_all(rp, context, order)
    assert pulled == [("reviews", "o1"), ("reviews", "o2"), ("profile", "=Jane"), ("reviews", "o1"), ("reviews", "o2")]
    assert sink.events == EXPECTED  # the sinks still saw every row once, in report order


def test_a_puller_that_stops_early_still_feeds_the_whole_section():
    context = _context()
    sink = Recorder()
    rp = RowPass(context.holding, _open_lines(), _filtered, [sink])
    rp.rows(CRM, "profile")  # asked for, never read
    rows = rp.rows(SHOP, "orders")
    assert next(rows)["ref"] == "o1"
    rows.close()
    rp.finish()
    assert sink.events == EXPECTED


def test_an_extract_that_does_not_match_its_summary_is_refused():
    short = {**LINES, "shop": LINES["shop"][:2]}
    rp = RowPass(_context().holding, _open_lines(short), _filtered, [Recorder()])
    with pytest.raises(ExtractMismatch, match="ends after 2 of 3 rows of 'orders'"):
        rp.finish()
    mixed = {**LINES, "shop": [LINES["shop"][0], LINES["shop"][3], *LINES["shop"][1:3], LINES["shop"][4]]}
    rp = RowPass(_context().holding, _open_lines(mixed), _filtered, [Recorder()])
    with pytest.raises(ExtractMismatch, match="row of 'reviews' among 'orders'"):
        rp.finish()


def test_one_pass_writes_the_same_json_and_csv_as_each_writer_alone():
    context = _context()
    alone_json = io.StringIO()
    write_json(alone_json, context)
    alone_csv = {s.datastore: io.StringIO() for s in context.holding}
    for store in context.holding:
        write_csv(alone_csv[store.datastore], store, context.rows)

    one_json = io.StringIO()
    json_writer = JsonWriter(one_json, context)
    csv_out = {s.datastore: io.StringIO() for s in context.holding}

    class Csvs:  # one CsvWriter per datastore, as include.report.files does with files
        writer: CsvWriter

        def begin_store(self, store):
            self.writer = CsvWriter(csv_out[store.datastore])
            self.writer.begin_store(store)

        def __getattr__(self, name):
            return getattr(self.writer, name)

    printed = FirstRows(2)
    rp = RowPass(context.holding, _open_lines(), _filtered, [json_writer, Csvs(), printed])
    _pull_all(rp, context)
    json_writer.close()

    def without_time(text: str) -> dict:
        doc = json.loads(text)
        doc.pop("generated_at")
        return doc

    assert without_time(one_json.getvalue()) == without_time(alone_json.getvalue())
    assert one_json.getvalue().split('"request"')[1] == alone_json.getvalue().split('"request"')[1]  # byte for byte
    assert {k: v.getvalue() for k, v in csv_out.items()} == {k: v.getvalue() for k, v in alone_csv.items()}
    assert "'=Jane" in csv_out["crm"].getvalue()  # the CSV-injection guard still applies
    assert [r["ref"] for r in printed.rows(SHOP, "orders")] == ["o1", "o2"]  # the PDF keeps only what it prints
    assert printed.rows(SHOP, "returns") == []


class _IterableOnly:
    """A file as an object store hands it out (ObjectStoragePath's wrapper): iterable, a context manager, but not an
    iterator itself — ``next(file)`` raises TypeError."""

    def __init__(self, text: str) -> None:
        self._file = io.StringIO(text)

    def __iter__(self):
        return iter(self._file)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


def test_files_that_are_iterable_but_not_iterators_are_read_like_local_ones(decodes):
    """On S3/GCS the extract files are ObjectStoragePath wrappers: the pass must iterate them, not call next() on
    them (every report on object storage failed with "'_TrackingFileWrapper' object is not an iterator")."""

    def open_remote(store: ExtractSummary):
        return _IterableOnly("".join(json.dumps(line) + "\n" for line in LINES[store.datastore]))

    context = _context()
    sink = Recorder()
    rp = RowPass(context.holding, open_remote, _filtered, [sink])
    _pull_all(rp, context)
    assert sink.events == EXPECTED


def test_csv_cells_guard_every_formula_start_and_write_other_values_as_they_are():
    class Label(str):
        pass

    values = ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", Label("=sub"), "", "a=b", None, 0, -3, 1.5, True, "ünï"]
    columns = tuple(f"c{i}" for i in range(len(values)))
    store = ExtractSummary(
        datastore="crm", description="CRM", sections=(_section("p", columns, 1, withheld=("c1",)),), row_count=1
    )
    out = io.StringIO()
    write_csv(out, store, lambda s, q: iter([dict(zip(columns, values, strict=True))]))
    expected = ["p", "'=1+1", "held, not disclosed", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "'=sub", "", "a=b", "", "0"]
    assert next(csv.reader(io.StringIO(out.getvalue().split("\r\n", 2)[2]))) == [
        *expected, "-3", "1.5", "True", "ünï"
    ]  # fmt: skip


class _RowByRow:
    """A writer's ``row`` alone (no ``batch``): what the pass fed before it fed batches."""

    def __init__(self, writer) -> None:
        self._writer = writer

    def __getattr__(self, name):
        if name == "batch":
            raise AttributeError(name)
        return getattr(self._writer, name)


def _many_rows(count: int) -> list[dict]:
    """Rows across batch boundaries: plain text columns, a formula start deep in one batch, a NUL before a formula
    character inside a value, none, numbers, a column missing from a row."""
    rows = []
    for n in range(count):
        row = {"ref": f"o{n}", "text": f'plain, "quoted" {n}', "ssn": None, "note": "a\x00=b" if n == 300 else "ok"}
        row["maybe"] = None if n % 5 == 0 else "=x" if n % 7 == 0 else "y"  # text or none
        if n == 400:
            row["text"] = "=HYPERLINK(1)"
        if n % 97 == 0:
            row["note"] = 7 if n == 0 else None  # a number in the first batch only
        if n == 513:
            del row["text"]
        rows.append(row)
    return rows


def test_batches_write_the_same_csv_and_json_as_row_by_row():
    rows = _many_rows(3 * rowpass.BATCH + 5)
    section = _section("orders", ("ref", "text", "ssn", "note", "maybe"), len(rows), withheld=("ssn",))
    store = ExtractSummary(datastore="shop", description="Shop", sections=(section,), row_count=len(rows))
    context = _context(lambda s, q: iter(rows))
    context = ReportContext(**{**context.__dict__, "datastores": (store,)})
    outputs = {}
    for how in ("batch", "row"):
        json_out, csv_out = io.StringIO(), io.StringIO()
        json_writer, csv_writer = JsonWriter(json_out, context), CsvWriter(csv_out)
        sinks = [json_writer, csv_writer] if how == "batch" else [_RowByRow(json_writer), _RowByRow(csv_writer)]
        rowpass.feed([store], context.rows, sinks)
        json_writer.close()
        outputs[how] = (json_out.getvalue().split('"request"')[1], csv_out.getvalue())
    assert outputs["batch"] == outputs["row"]
    assert "'=HYPERLINK(1)" in outputs["batch"][1] and "held, not disclosed" in outputs["batch"][1]


def test_a_bad_line_after_a_row_of_another_section_fails_on_that_row_first():
    lines = {**LINES, "shop": [LINES["shop"][0], LINES["shop"][3]]}

    def open_lines(store):
        text = "".join(json.dumps(line) + "\n" for line in lines[store.datastore])
        return io.StringIO(text + "not json\n" if store.datastore == "shop" else text)

    rp = RowPass(_context().holding, open_lines, _filtered, [Recorder()])
    with pytest.raises(ExtractMismatch, match="row of 'reviews' among 'orders'"):
        rp.finish()


def test_text_cells_are_written_as_the_csv_module_writes_them():
    """Quoting done by joining (``_csv_text``) against ``csv.writer``: every character up to U+3000 alone and inside
    text, and random texts of delimiters, quotes, line breaks, NUL, formula starts."""
    import random

    rng = random.Random(1798)
    alphabet = ["a", " ", ",", '"', "\r", "\n", "\x00", "'", "\\", "\t", ";", "é", "\u2028", "=", "-"]
    values = [chr(i) for i in range(0x3000)] + [f"a{chr(i)}b" for i in range(0x300)]
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(5000)]
    columns = ("v", "w")
    section = _section("s", columns, len(values), withheld=("w",))
    store = ExtractSummary(datastore="x", description="X", sections=(section,), row_count=len(values))
    rows = [{"v": v, "w": "secret"} for v in values]
    batched, one_by_one = io.StringIO(), io.StringIO()
    rowpass.feed([store], lambda s, q: iter(rows), [CsvWriter(batched)])
    rowpass.feed([store], lambda s, q: iter(rows), [_RowByRow(CsvWriter(one_by_one))])
    assert batched.getvalue() == one_by_one.getvalue()
