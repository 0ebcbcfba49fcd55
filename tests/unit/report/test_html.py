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


def declared(summary, **disclosures):
    """``summary`` with its recipients declared per category, as an extraction from today's registry hands it on."""
    return {**{k: v for k, v in summary.items() if k != "third_parties"}, "disclosures": disclosures}


NOT_SOLD = {"third_parties": [], "service_providers": [], "sold_or_shared": []}


def test_1798_115c_nothing_sold_or_shared_is_stated_for_all_and_per_category():
    summary = declared(extract_result([{"name": "Jane", "ssn": None}]), identifiers=NOT_SOLD, sensitive=NOT_SOLD)
    html = render_report(name="Jane", request_id="r1", received_at=RECEIVED, since=SINCE, datastores=[summary]).html
    assert "We have not sold or shared any of your personal information." in html
    assert html.count("We have not sold or shared this category of personal information.") == 2


def test_1798_115_a_summary_from_before_v2_states_nothing_it_does_not_know():
    """An extraction handed on before per-category disclosures (a run in flight across the upgrade): its third
    parties are kept, but no "we have not sold or shared" is claimed from a silence."""
    from include.report.portable import write_json

    legacy = {**extract_result([{"name": "Jane", "ssn": None}]), "third_parties": ["carriers"]}
    context = report_context(name="Jane", request_id="r1", received_at=RECEIVED, since=SINCE, datastores=[legacy])
    [identifiers, _sensitive] = context.categories()
    assert identifiers.third_parties == ["carriers"] and identifiers.sold_or_shared is None
    html = render_report(name="Jane", request_id="r1", received_at=RECEIVED, since=SINCE, datastores=[legacy]).html
    assert "We have not sold or shared" not in html
    import io
    import json

    out = io.StringIO()
    write_json(out, context)
    assert json.loads(out.getvalue())["categories"][0]["sold_or_shared"] == {"status": "not_declared", "to": []}


def test_1798_140_a_service_providers_datastore_is_shown_apart():
    """Data a service provider keeps for us: searched, shown under its datastore as kept for us by that provider,
    and the provider listed among the category's service providers, never as a third party."""
    from include.report.html import render_summary

    summary = {
        **declared(extract_result([{"name": "Jane", "ssn": None}]), identifiers=NOT_SOLD, sensitive=NOT_SOLD),
        "kind": "service_provider",
        "held_by": "support desk",
    }
    context = report_context(name="Jane", request_id="r1", received_at=RECEIVED, since=SINCE, datastores=[summary])
    assert [c.service_providers for c in context.categories()] == [["support desk"], ["support desk"]]
    assert all(c.third_parties == [] for c in context.categories())
    full = render_report(name="Jane", request_id="r1", received_at=RECEIVED, since=SINCE, datastores=[summary]).html
    assert "kept for us by a service provider: support desk" in full
    assert "kept for us by a service provider: support desk" in render_summary(context).html
    assert context.service_provider_stores() == context.holding


def test_extract_summary_keeps_its_disclosures_through_xcom():
    from include.report.model import ExtractSummary

    summary = ExtractSummary.from_dict(
        {**declared(extract_result([]), identifiers=NOT_SOLD), "kind": "contractor", "held_by": "payroll"}
    )
    again = ExtractSummary.from_dict(summary.to_dict())
    assert again == summary and again.recipients("identifiers").sold_or_shared == ()
    assert again.recipients("identifiers").service_providers == ("payroll",)
