"""The PDF's data tables: every value printed whole unless it cannot fit a page, and then said so."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from pypdf import PdfReader

from include.report.pdf import MAX_ROWS_PER_SECTION, write_pdf
from tests.factories import report_context

RECEIVED = datetime(2026, 11, 27, tzinfo=UTC)


def _pdf_text(rows: list[dict[str, str]]) -> str:
    columns = list(rows[0])
    store = {
        "datastore": "notes",
        "description": "Support notes",
        "sources": ["you"],
        "purposes": ["support"],
        "third_parties": [],
        "row_count": len(rows),
        "sections": [
            {
                "query": "notes",
                "columns": columns,
                "categories": {c: "identifiers" for c in columns},
                "uncategorised": [],
                "withheld": [],
                "withheld_present": {},
                "row_count": len(rows),
            }
        ],
    }
    out = io.BytesIO()
    write_pdf(
        out,
        report_context(
            name="Jane Doe",
            request_id="a" * 32,
            received_at=RECEIVED,
            since=datetime(2025, 11, 27, tzinfo=UTC),
            datastores=[store],
            rows=lambda _store, _query: iter(rows),
        ),
    )
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(out.getvalue())).pages)


def test_a_long_value_wraps_in_its_cell_and_is_printed_whole():
    words = " ".join(f"word{n:03d}" for n in range(20))  # ~7 lines in a column a sixth of the page wide
    text = _pdf_text([{"id": "1", "a": "x", "b": "y", "c": "z", "d": "w", "note": words}])
    assert all(f"word{n:03d}" in text for n in range(20))
    assert "too long to print whole" not in text


def test_a_value_longer_than_a_page_cell_is_cut_and_the_reader_is_told():
    huge = " ".join(f"tok{n:04d}" for n in range(3000))
    text = _pdf_text([{"id": "1", "note": huge}])
    assert "tok0000" in text and "tok2999" not in text  # cut after _MAX_LINES lines
    assert "Values too long to print whole end in …" in text
    assert "the JSON and CSV copies hold them in full" in text


def test_rows_beyond_the_section_limit_are_left_to_the_json_and_csv():
    rows = [{"id": f"row{n:05d}", "v": "x"} for n in range(MAX_ROWS_PER_SECTION + 50)]
    text = _pdf_text(rows)
    assert f"row{MAX_ROWS_PER_SECTION - 1:05d}" in text and f"row{MAX_ROWS_PER_SECTION:05d}" not in text
    assert f"The first {MAX_ROWS_PER_SECTION} of {MAX_ROWS_PER_SECTION + 50} records are printed here" in text
    assert " ".join(text.split()).count("id v row") >= 2  # the header is repeated on the next page
