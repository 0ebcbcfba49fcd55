"""axe-core (axe-playwright-python's bundled engine) in headless Chromium: no serious or critical violation in what
the requester reads — the form and its pages, every email, the report — in English and in Spanish."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

pytestmark = pytest.mark.browser

RECEIVED = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
DUE = RECEIVED + timedelta(days=45)
LANGS = ("en", "es")


def _report(language: str, full: bool) -> str:
    from include.report.html import render_report_chunks
    from include.report.model import DownloadLink
    from tests.factories import report_context
    from tests.unit.test_i18n import _datastores

    context = report_context(
        name="Ana Núñez", request_id="r1", received_at=RECEIVED, since=RECEIVED - timedelta(days=365),
        datastores=_datastores(), language=language,
    )  # fmt: skip
    if full:
        return "".join(render_report_chunks(context, attachments=["report.json", "report.pdf"]))
    link = DownloadLink(url="https://a.example/ccpa/download/t", expires_at=DUE)
    return "".join(render_report_chunks(context.summary_only(), attachments=["report.html"], download=link, full=False))


def _emails(language: str) -> dict[str, str]:
    from include.mail import notices

    common = {"name": "Ana Núñez", "request_id": "r1", "language": language}
    original = SimpleNamespace(received_at=RECEIVED - timedelta(days=3), due_at=DUE)
    return {
        "acknowledgement": notices.render_acknowledgement(
            received_at=RECEIVED, due_at=DUE, status_url="https://a.example/ccpa/request/status/t", **common
        ).html,
        "duplicate": notices.render_duplicate_notice(original=original, **common).html,
        "extension": notices.render_extension(due_at=DUE, reason="two archives", **common).html,
        "rejection": notices.render_rejection(reason=None, **common).html,
        "report_email": _report(language, full=False),
        "report_html": _report(language, full=True),
    }


def _pages(language: str, monkeypatch, tmp_path) -> dict[str, str]:
    from include.requester import signing
    from include.slack.callback import create_app

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "axe-test-secret-0123456789")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path}")
    client = create_app(request_trigger=lambda *args: None).test_client()
    form = client.get(f"/request?lang={language}").get_data(as_text=True)
    token = re.search(r'name="form_token" value="([^"]+)"', form).group(1)
    fields = {"form_token": token, "language": language, "name": "", "email": "x", "request_type": "x"}
    errors = client.post("/request", data=fields).get_data(as_text=True)
    token = re.search(r'name="form_token" value="([^"]+)"', errors).group(1)
    good = {**fields, "form_token": token, "name": "Ana", "email": "ana@example.com", "request_type": "categories"}
    receipt = client.post("/request", data=good).get_data(as_text=True)
    status = client.get(f"/request/status/{signing.status_token('manual__nothing', language)}")
    problem = client.get("/request/status/forged").get_data(as_text=True)
    return {
        "form": form,
        "form_with_errors": errors,
        "receipt": receipt,
        "status": status.get_data(as_text=True),
        "problem": problem,
    }


def _serious(page, html: str) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    page.set_content(html)
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['html'][:80] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("language", LANGS)
def test_emails_and_report_have_no_serious_accessibility_violation(page, language):
    found = {name: _serious(page, html) for name, html in _emails(language).items()}
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("language", LANGS)
def test_form_pages_have_no_serious_accessibility_violation(page, language, monkeypatch, tmp_path, compliance_store):
    found = {name: _serious(page, html) for name, html in _pages(language, monkeypatch, tmp_path).items()}
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("language", LANGS)
def test_body_text_is_at_least_14px_and_tables_are_labelled(page, language):
    for name, html in _emails(language).items():
        page.set_content(html)
        sizes = page.evaluate(
            """() => [...document.querySelectorAll('p, li, td, th, caption')]
                   .map(e => parseFloat(getComputedStyle(e).fontSize))"""
        )
        assert sizes and min(sizes) >= 14, (name, min(sizes))
        assert page.locator("html").get_attribute("lang") == language
        tables = page.locator("table")
        for i in range(tables.count()):
            assert tables.nth(i).locator("caption").count() == 1, name
        assert page.locator("th:not([scope])").count() == 0, name


def test_the_check_has_teeth(page):
    broken = (
        '<html><body><img src="x.png"><form><input type="text"></form><p style="color:#bbb">faint</p></body></html>'
    )
    found = " ".join(_serious(page, broken))
    assert "image-alt" in found and "label" in found and "color-contrast" in found
