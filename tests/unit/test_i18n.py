"""English and Spanish for everything the requester reads (11 CCR §7003: the languages the business ordinarily uses
with consumers), from gettext catalogs; dates localised by Babel."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from devtools import i18n as catalogs
from include import i18n
from include.disclosure import CategoryDisclosure
from include.mail import notices
from include.report.html import render_report
from include.report.model import CATEGORY_LABELS, DownloadLink
from include.slack.blocks import REJECTION_REASONS
from tests.factories import report_context

RECEIVED = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
DUE = RECEIVED + timedelta(days=45)


def _datastores():
    rows = [{"name": "Ana Núñez", "ssn": "123-45-6789"}, {"name": "Ana N.", "ssn": None}]
    return [
        {
            "_rows": rows,
            "datastore": "crm",
            "description": "",
            "sources": ["you"],
            "purposes": [],
            "disclosures": {
                "identifiers": {"third_parties": [], "service_providers": ["email"], "sold_or_shared": []},
                "sensitive": {"third_parties": [], "service_providers": [], "sold_or_shared": ["data brokers"]},
            },
            "kind": "service_provider",
            "held_by": "support desk",
            "row_count": len(rows),
            "sections": [
                {
                    "query": "profile",
                    "columns": ["name", "ssn"],
                    "categories": {"name": "identifiers", "ssn": "sensitive"},
                    "withheld": ["ssn"],
                    "withheld_present": {"ssn": True},
                    "row_count": len(rows),
                }
            ],
        }
    ]


def everything_in(language: str) -> dict[str, str]:
    """Every email the requester can receive, with every optional part present, in ``language``."""
    from include.report.html import render_report_chunks

    context = report_context(
        name="Ana Núñez",
        request_id="r1",
        received_at=RECEIVED,
        since=RECEIVED - timedelta(days=365),
        datastores=_datastores(),
        language=language,
    )
    link = DownloadLink(url="https://airflow.example/ccpa/download/t", expires_at=RECEIVED + timedelta(days=3))
    empty = report_context(
        name="Ana", request_id="r1", received_at=RECEIVED, since=RECEIVED, datastores=[], language=language
    )
    common = {"name": "Ana Núñez", "request_id": "r1", "language": language}
    original = SimpleNamespace(received_at=RECEIVED - timedelta(days=3), due_at=DUE)
    emails = {
        "report": "".join(render_report_chunks(context, attachments=["report.pdf", "report.json"], download=link)),
        "report_subject": context.subject,
        "empty_report": render_report(empty).html + empty.subject,
        "acknowledgement": notices.render_acknowledgement(
            received_at=RECEIVED, due_at=DUE, status_url="https://airflow.example/ccpa/request/status/t", **common
        ),
        "duplicate": notices.render_duplicate_notice(original=original, **common),
        "extension": notices.render_extension(due_at=DUE, reason="archivos en papel", **common),
        "rejection_default": notices.render_rejection(reason=None, **common),
        "new_download_link": notices.render_new_download_link(link=link, **common),
        "expiry": notices.render_expiry(
            received_at=RECEIVED,
            due_at=DUE,
            categories=[
                CategoryDisclosure(
                    "identifiers", CATEGORY_LABELS["identifiers"], ["you"], ["support"], [], ["email"], []
                ),
                CategoryDisclosure("commercial", CATEGORY_LABELS["commercial"], sold_or_shared=["data brokers"]),
            ],
            **common,
        ),
    }
    for key, reason in REJECTION_REASONS.items():
        if key != "other":
            emails[f"rejection_{key}"] = notices.render_rejection(reason=reason, **common)
    return {k: v if isinstance(v, str) else f"{v.subject}\n{v.html}" for k, v in emails.items()}


def english_fragments() -> set[str]:
    """Every marked message, cut at its placeholders, in pieces of three words or more: what an English template
    string would leave in a page."""
    pieces: set[str] = set()
    for message, _where in catalogs.messages():
        for text in message if isinstance(message, tuple) else (message,):
            for piece in re.split(r"%\(\w+\)s", text):
                piece = piece.strip(" .,:;()")
                if len(piece.split()) >= 3:
                    pieces.add(piece)
    return pieces


def test_7003_every_requester_message_has_a_spanish_translation():
    assert catalogs.missing("es") == []


def test_7003_a_spanish_report_and_spanish_emails_contain_no_english_template_string():
    rendered = everything_in("es")
    fragments = english_fragments()
    assert len(fragments) > 60  # the check sees the templates' messages, not an empty list
    leaks = sorted(
        f"{name}: {fragment!r}" for name, text in rendered.items() for fragment in fragments if fragment in text
    )
    assert leaks == []
    assert all('lang="es"' in text for name, text in rendered.items() if "subject" not in name)


def test_the_english_emails_are_english():
    rendered = everything_in("en")
    assert "We received your request to know" in rendered["acknowledgement"]
    assert "The personal information we hold about you" in rendered["report"]
    assert all('lang="en"' in text for name, text in rendered.items() if "subject" not in name)
    # The same check on the English emails finds the template strings: it has teeth.
    found = {fragment for text in rendered.values() for fragment in english_fragments() if fragment in text}
    assert len(found) > 40


def test_dates_and_counts_are_localised():
    spanish = everything_in("es")
    acknowledgement = spanish["acknowledgement"]
    assert "5 de diciembre de 2026" in acknowledgement and "19 de enero de 2027" in acknowledgement
    assert "2 registros en 1 sistema" in spanish["report"]
    english = everything_in("en")
    assert "December 5, 2026" in english["acknowledgement"] and "2 records in 1 system" in english["report"]
    assert i18n.number(1234567, "es") == "1.234.567" and i18n.number(1234567, "en") == "1,234,567"


def test_the_acknowledgement_links_the_status_page():
    email = notices.render_acknowledgement(
        name="Ana", request_id="r1", received_at=RECEIVED, due_at=DUE, status_url="https://a.example/s/t"
    )
    assert 'href="https://a.example/s/t"' in email.html


def test_an_officers_own_words_are_kept_as_written():
    email = notices.render_rejection(name="Ana", request_id="r1", reason="Foto borrosa", language="es")
    assert "Foto borrosa" in email.html and "Lo sentimos" in email.html


@pytest.mark.parametrize(("value", "expected"), [("es", "es"), ("en", "en"), ("fr", "es"), (None, "es"), ("", "es")])
def test_the_default_language_comes_from_the_variable(monkeypatch, value, expected):
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DEFAULT_LANGUAGE", "es")
    assert i18n.language_or_default(value or None) == expected
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DEFAULT_LANGUAGE", "klingon")
    assert i18n.language_or_default(None) == "en"


def test_1798_115_not_sold_or_shared_is_stated_in_the_requesters_language():
    spanish = everything_in("es")
    for key in ("report", "expiry"):
        assert "No hemos vendido ni compartido esta categoría de información personal." in spanish[key], key
        assert "Vendida o compartida a: data brokers" in spanish[key], key
    assert "la guarda para nosotros un proveedor de servicios: support desk" in spanish["report"]
