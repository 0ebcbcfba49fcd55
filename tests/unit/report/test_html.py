"""The report as the requester reads it: escaped values, withheld data declared, "we hold nothing" said."""

from __future__ import annotations

from datetime import UTC, datetime

from include.report.html import render_report as _render_report
from tests.factories import report_context

RECEIVED = datetime(2026, 11, 27, tzinfo=UTC)


def render_report(**kwargs):
    return _render_report(report_context(**kwargs))


SINCE = datetime(2025, 11, 27, tzinfo=UTC)


def extract_result(rows, withheld_present=None):
    """An extract summary as the extraction task returns it, with its rows kept beside it for ``_rows``."""
    return {
        "_rows": rows,
        "datastore": "crm",
        "description": "Customer profiles",
        "sources": [],
        "purposes": [],
        "third_parties": [],
        "row_count": len(rows),
        "sections": [
            {
                "query": "profile",
                "columns": ["name", "ssn"],
                "categories": {"name": "identifiers", "ssn": "sensitive"},
                "withheld": ["ssn"],
                "withheld_present": withheld_present or {"ssn": True},
                "row_count": len(rows),
            }
        ],
    }


def test_values_are_escaped_so_a_script_arrives_inert():
    email = render_report(
        name="<script>alert(1)</script>",
        request_id="r1",
        received_at=RECEIVED,
        since=SINCE,
        datastores=[extract_result([{"name": "<script>alert(1)</script>", "ssn": None}])],
    )
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html


def test_withheld_data_is_declared_not_disclosed():
    email = render_report(
        name="Jane", request_id="r1", received_at=RECEIVED, since=SINCE,
        datastores=[extract_result([{"name": "Jane", "ssn": None}])],
    )  # fmt: skip
    assert "held, not disclosed for your security" in email.html
    assert "sensitive" in email.html and "identifiers" in email.html
    # The period covered, in California days naming the zone (00:00 UTC is 16:00 PST the day before).
    assert "from November 26, 2025 (Pacific Time) to November 26, 2026 (Pacific Time)" in email.html


def test_no_data_says_so():
    email = render_report(
        name="Jane", request_id="r1", received_at=RECEIVED, since=SINCE, datastores=[extract_result([])]
    )
    assert "we hold no personal information about you" in email.subject
    assert "We hold no personal information about you." in email.html


def test_7024d_withheld_types_are_named_in_plain_words_with_the_datastore():
    summary = extract_result([{"name": "Jane", "ssn": None, "shoe_size": None}])
    section = summary["sections"][0]
    section["columns"] = ["name", "ssn", "shoe_size"]
    section["categories"] = {"name": "identifiers", "ssn": "sensitive", "shoe_size": "uncategorised"}
    section["uncategorised"] = ["shoe_size"]
    section["withheld"] = ["ssn", "shoe_size"]
    section["withheld_present"] = {"ssn": True, "shoe_size": True}
    html = render_report(name="Jane", request_id="r1", received_at=RECEIVED, since=SINCE, datastores=[summary]).html
    assert "your Social Security number (Customer profiles): held, not disclosed for your security" in html
    assert "shoe size (Customer profiles): held; category not yet mapped" in html
