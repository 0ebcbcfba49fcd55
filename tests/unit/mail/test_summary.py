"""The report email is a short summary with a text/plain alternative; every record is in the attachments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from include.mail.message import build_message
from include.mail.notices import render_acknowledgement
from include.mail.text import html_to_text
from include.report.html import render_summary
from tests.factories import report_context

RECEIVED = datetime(2026, 12, 5, tzinfo=UTC)
GMAIL_CLIPS_AT = 102 * 1024  # Gmail shows "[Message clipped]" past ~102 KB of HTML
BOUND = 100 * 1024


def big_subject(rows: int) -> object:
    row = {"order_id": "ORD-000000", "item": "Espresso machine, stainless steel", "total": "249.00", "ssn": None}
    summary = {
        "datastore": "orders",
        "description": "Orders",
        "sources": ["you"],
        "purposes": ["fulfilling orders"],
        "third_parties": ["carriers"],
        "row_count": rows,
        "sections": [
            {
                "query": "orders",
                "columns": list(row),
                "categories": {
                    "order_id": "commercial",
                    "item": "commercial",
                    "total": "commercial",
                    "ssn": "sensitive",
                },
                "withheld": ["ssn"],
                "withheld_present": {"ssn": False},
                "row_count": rows,
            }
        ],
    }

    def many(_summary, _query):
        return ({**row, "order_id": f"ORD-{i:06d}"} for i in range(rows))

    return report_context(
        name="Jane Doe", request_id="r1", received_at=RECEIVED, since=RECEIVED - timedelta(days=365),
        datastores=[summary], rows=many,
    )  # fmt: skip


@pytest.mark.parametrize("rows", [1_000, 100_000])
def test_the_email_body_stays_under_100_kb_at_any_subject_size(rows):
    email = render_summary(big_subject(rows), attachments=["report.html", "report.json", "orders.csv", "report.pdf"])
    size = len(email.html.encode())
    assert size < BOUND < GMAIL_CLIPS_AT, f"{size} bytes for {rows} rows"
    assert "ORD-000001" not in email.html  # no row in the body ...
    assert "Commercial information" in email.html and "carriers" in email.html and "fulfilling orders" in email.html
    assert f"{rows:,} records" in email.html or f"{rows} records" in email.html  # ... but how many there are
    assert "report.json is machine-readable" in email.html  # how to read the files


def test_every_email_has_a_text_alternative():
    email = render_acknowledgement(
        name="Jane & Co", request_id="r1", received_at=RECEIVED, due_at=RECEIVED + timedelta(days=45),
        status_url="https://a.example/ccpa/request/status/t",
    )  # fmt: skip
    msg = build_message(
        from_email="privacy@example.com", to="jane@example.com", subject=email.subject, html=email.html,
        message_id="<m@example.com>",
    )  # fmt: skip
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "Dear Jane & Co," in text and "<p>" not in text and "&amp;" not in text
    # 00:00 UTC on 19 January is 16:00 PST on the 18th: a California date, naming the zone (issue 15).
    assert "January 18, 2027 (Pacific Time)" in text and "https://a.example/ccpa/request/status/t" in text
    assert msg.get_body(preferencelist=("html",)).get_content().strip() == email.html.strip()


def test_the_text_of_a_table_keeps_its_cells_apart():
    text = html_to_text(
        "<html><head><title>t</title><style>p{}</style></head><body><h1>Hi</h1><table><caption>Cap</caption>"
        "<tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table><ul><li>x</li></ul>"
        '<p>See <a href="https://e.example/x">the page</a>.</p></body></html>'
    )
    assert text == "Hi\n\nCap\n\nA | B\n1 | 2\n\n- x\n\nSee the page <https://e.example/x>.\n"
