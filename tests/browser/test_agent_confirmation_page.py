"""In Chromium: the consumer answers the authorised agent's request (§7063) on the page the signed link opens, in
their language; the answer is recorded once, the officer's prompt follows it, and the page is axe-core clean."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from include.slack.blocks import review_prompt
from include.verification import agents, links
from tests.browser.test_click_through import (  # noqa: F401 (fixtures)
    HOSTILE_NAME,
    assert_page_healthy,
    expect,
    prompt_on_page,
    world,
)
from tests.factories import declaration_for, points_json

pytestmark = pytest.mark.browser

MATCHED = ("email", "name", "phone")


def _agent_request(w: Any, language: str, agent_name: str = "Alex Agent") -> tuple[str, str, str]:
    """A verified request made by an agent, with its prompt posted; returns (request id, prompt ts, link path)."""
    from include.request import AccessRequest

    request = AccessRequest.from_conf(
        {
            "name": "Jane Doe",
            "email": "jane@example.com",
            "phone": "+1-415-555-1000",
            "declaration": declaration_for("Jane Doe"),
            "agent": {
                "name": agent_name,
                "email": "alex@agents.example",
                "permission": {"kind": "signed_permission", "document_url": "https://intake.example/p/1.pdf"},
            },
        }
    )
    record = w.store.register_request(f"manual__agent_{language}", request, datetime.now(UTC), language=language)
    # Verified for specific pieces (3 points and the declaration): only the agent's confirmation holds it back.
    w.store.set_identity_evidence(record.request_id, "email found in 1 of 1 datastores (crm)", points_json(MATCHED))
    record = w.store.get_request(record.request_id)
    text, blocks = review_prompt(record)
    posted = w.web.chat_postMessage(channel="#privacy", text=text, blocks=blocks)
    w.store.set_review_prompt(record.request_id, posted["channel"], posted["ts"])
    token = links.make_agent_link(record.request_id, record.due_at)["token"]
    return record.request_id, posted["ts"], f"/confirm-agent/{token}"


def _axe_serious(page: Any) -> list[str]:
    """axe-core on the page as the browser loaded it (not a copy of its HTML)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_7063_the_consumer_confirms_the_agent_on_the_signed_link(world, page, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "browser-agent-secret-0123456789")
    request_id, ts, path = _agent_request(world, "en", agent_name=HOSTILE_NAME)
    base = world.slack.callback_url.rsplit("/slack/actions", 1)[0]

    page.goto(base + path)
    expect(page.locator("h1")).to_have_text("Did you give permission?")
    expect(page.locator("main p").first).to_contain_text(HOSTILE_NAME)  # shown as text, never run
    assert page.locator("html").get_attribute("lang") == "en"
    assert _axe_serious(page) == []
    page.click("button[value=yes]")
    expect(page.locator("main")).to_contain_text("We will answer your request and send the answer to you.")
    assert _axe_serious(page) == []
    assert_page_healthy(page)

    record = world.store.get_request(request_id)
    assert agents.state(world.store, record) == "confirmed"
    assert world.store.once_ref(request_id, agents.CONFIRMED) == "consumer"
    # The officer's prompt follows: the consumer confirmed, and Approve is offered.
    page.goto(world.slack.url + "/")
    prompt = prompt_on_page(page, ts)
    expect(prompt).to_contain_text("confirmed by the consumer")
    expect(prompt.locator('button[data-action-id="ccpa_approve"]')).to_be_visible()
    # The link again: the answer is kept, the question is not asked twice.
    page.goto(base + path)
    expect(page.locator("main")).to_contain_text("We already have your answer.")
    expect(page.locator("button[value=no]")).to_have_count(0)


def test_7063_7003_the_consumer_says_no_in_spanish_and_nothing_can_be_approved(world, page, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "browser-agent-secret-0123456789")
    request_id, ts, path = _agent_request(world, "es")
    base = world.slack.callback_url.rsplit("/slack/actions", 1)[0]

    page.goto(base + path)
    assert page.locator("html").get_attribute("lang") == "es"
    expect(page.locator("h1")).to_have_text("¿Dio usted su permiso?")
    expect(page.locator("button[value=no]")).to_have_text("No, no lo di")
    assert _axe_serious(page) == []
    page.click("button[value=no]")
    expect(page.locator("main")).to_contain_text("No responderemos a esta solicitud; no se revela nada sobre usted.")
    assert _axe_serious(page) == []
    assert_page_healthy(page)

    record = world.store.get_request(request_id)
    assert agents.state(world.store, record) == "denied" and not agents.may_disclose(world.store, record)
    page.goto(world.slack.url + "/")
    prompt = prompt_on_page(page, ts)
    expect(prompt).to_contain_text("did not give this permission")
    expect(prompt.locator('button[data-action-id="ccpa_approve"]')).to_have_count(0)
    # A forged link shows nothing about anyone.
    page.goto(base + "/confirm-agent/forged")
    expect(page.locator("main")).to_have_text("This link is not valid.")
    assert "Jane" not in page.content() and "Alex" not in page.content()
