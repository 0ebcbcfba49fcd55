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
        "acknowledgement_categories": notices.render_acknowledgement(
            received_at=RECEIVED, due_at=DUE, request_type="categories", **common
        ),
        "duplicate": notices.render_duplicate_notice(original=original, **common),
        "extension": notices.render_extension(due_at=DUE, reason="archivos en papel", **common),
        "account_delivery": notices.render_account_delivery(url="https://shop.example/account/messages", **common),
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
    # §7062(b), §7024: the categories-only answer, with the reason a specific-pieces request got it, and its subject.
    from include.report import categories

    unverified = categories.Unverified(points_needed=3, declaration_needed=True, points_matched=2, declared=False)
    emails["categories_report"] = categories.render(context, unverified)
    emails["categories_report_mismatch"] = categories.render(context, categories.Unverified(account_mismatch=True))
    emails["categories_report_none_held"] = categories.render(empty)
    emails["categories_subject"] = i18n.gettext(language, categories.SUBJECT)
    # The requester's pages: the verification page (every field, an error, then done), the agent confirmation page.
    from include.templating import env_for

    pages = env_for(language)
    page = pages.get_template("verification_page.html.j2")
    asked = ["phone", "postal_address", "account_id", "photo_id", "declaration"]
    emails["verification_page"] = page.render(
        done=False, error="x", fields=asked, statement="s", due_at=DUE, max_photo_mb=5
    )
    emails["verification_page_done"] = page.render(done=True, error=None, fields=[], statement="", due_at=DUE)
    emails["verification_message_page"] = pages.get_template("verification_message.html.j2").render(message="x")
    agent_page = pages.get_template("agent_page.html.j2")
    emails["agent_page"] = agent_page.render(agent_name="Alex Agent", done="")
    emails["agent_page_done"] = agent_page.render(agent_name="Alex Agent", done="x")
    # §7060(c): "Ask for more", everything an officer can ask for, with the officer's note as written.
    from include.verification.links import ASKABLE

    emails["verification_request"] = notices.render_verification_request(
        asked=list(ASKABLE), note="gracias", link=link, due_at=DUE, **common
    )
    # §7063: an authorised agent's request: the consumer's confirmation, the agent's notice, both denials.
    agent = {"agent_name": "Alex Agent", **common}
    emails["agent_confirmation"] = notices.render_agent_confirmation(link=link, **agent)
    emails["agent_notice"] = notices.render_agent_notice(**agent)
    for to_agent in (True, False):
        for said_no in (True, False):
            emails[f"agent_denial_{to_agent}_{said_no}"] = notices.render_agent_denial(
                due_at=DUE, consumer_said_no=said_no, to_agent=to_agent, **agent
            )
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


def test_7003_the_account_channel_notice_is_translated_and_keeps_its_link():
    """§7061 delivery through the account channel, in the requester's language: the notice and the link, no data."""
    url = "https://shop.example/account/messages"
    spanish = notices.render_account_delivery(name="Ana", request_id="r1", url=url, language="es")
    assert spanish.subject == "Su solicitud de acceso según la CCPA: su respuesta está en su cuenta"
    assert f'href="{url}"' in spanish.html and "Lea la respuesta en su cuenta" in spanish.html
    english = notices.render_account_delivery(name="Ana", request_id="r1", url=url)
    assert f'href="{url}"' in english.html and "Read the answer in your account" in english.html


def test_7021a_the_acknowledgement_of_a_categories_request_says_it_asks_for_the_categories():
    """§7021(a): the acknowledgement says what the request is; a categories request is told, in plain words and in
    the requester's language, that the answer lists categories and is not a copy of the information."""
    english = everything_in("en")
    categories, copy = english["acknowledgement_categories"], english["acknowledgement"]
    assert "What you asked for: the categories (not a copy)." in categories
    assert "it does not contain a copy of the information itself" in categories
    assert "the categories (not a copy)" not in copy and "What you asked for: a copy." in copy
    spanish = everything_in("es")["acknowledgement_categories"]
    assert "Lo que nos pidió: las categorías (no una copia)." in spanish
    assert "What you asked for" not in spanish
