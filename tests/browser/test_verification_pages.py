"""In Chromium: the officer's prompt with its three actions and the level in plain words; the requester's
verification page, filled in and sent."""

from __future__ import annotations

from typing import Any

import pytest

from include.slack.blocks import review_prompt
from include.verification import links
from tests.browser.test_click_through import APPROVER, as_user, expect, prompt_on_page, world  # noqa: F401
from tests.factories import register_verified

pytestmark = pytest.mark.browser


def _two_point_prompt(w: Any) -> tuple[str, str]:
    from include.request import AccessRequest

    request = AccessRequest.from_conf({"name": "Jane Doe", "email": "jane@example.com"})
    record = register_verified(w.store, "manual__browser_levels", request, matched=("email", "name"))
    text, blocks = review_prompt(w.store.get_request(record.request_id))
    posted = w.web.chat_postMessage(channel="#privacy", text=text, blocks=blocks)
    w.store.set_review_prompt(record.request_id, posted["channel"], posted["ts"])
    return record.request_id, posted["ts"]


def test_7062_the_prompt_shows_the_level_and_offers_categories_ask_for_more_and_reject(world, page):  # noqa: F811
    _, ts = _two_point_prompt(world)
    page.goto(world.slack.url + "/")
    as_user(page, APPROVER)
    prompt = prompt_on_page(page, ts)
    expect(prompt).to_contain_text("2 of 2 points match: email, name")
    expect(prompt).to_contain_text("enough for categories only")
    expect(prompt.locator('button[data-action-id="ccpa_approve_categories"]')).to_have_text("Approve categories only")
    expect(prompt.locator('button[data-action-id="ccpa_ask_more"]')).to_have_text("Ask for more…")
    expect(prompt.locator('button[data-action-id="ccpa_reject"]')).to_be_visible()
    expect(prompt.locator('button[data-action-id="ccpa_approve"]')).to_have_count(0)


def test_7060_the_requester_fills_in_the_verification_page(world, page, monkeypatch):  # noqa: F811
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "browser-link-secret")
    request_id, _ = _two_point_prompt(world)
    record = world.store.get_request(request_id)
    token = links.make_link(request_id, ["phone", "declaration"], record.due_at)["token"]
    base = world.slack.callback_url.rsplit("/slack/actions", 1)[0]

    page.goto(f"{base}/verify/{token}")
    expect(page.locator("h1")).to_have_text("Verify your request")
    expect(page.locator(".statement")).to_contain_text("under penalty of perjury")
    page.fill("#phone", "call me")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("phone number")
    page.fill("#phone", "(415) 555-1000")
    page.fill("#signer_name", "Jane Doe")
    page.check("input[name=declare]")
    page.click("button[type=submit]")
    expect(page.locator("body")).to_contain_text("Thank you")
    ids = world.store.get_request(request_id).identifiers
    assert ids.phone == "(415) 555-1000" and ids.declaration is not None


def test_7060_the_requester_uploads_the_photo_id_asked_for(world, page, monkeypatch, tmp_path):  # noqa: F811
    """In Chromium, the file chooser: a GIF is refused with a clear message and nothing stored; a PNG is kept and
    becomes the prompt's photo ID. The page is axe-core clean."""
    from axe_playwright_python.sync_playwright import Axe

    from include import storage
    from include.requester import uploads

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "browser-link-secret")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path / 'reports'}")
    request_id, _ = _two_point_prompt(world)
    record = world.store.get_request(request_id)
    token = links.make_link(request_id, ["photo_id"], record.due_at)["token"]
    base = world.slack.callback_url.rsplit("/slack/actions", 1)[0]
    gif, png = tmp_path / "id.gif", tmp_path / "id.png"
    gif.write_bytes(b"GIF89a" + b"\x00" * 64)
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048)

    page.goto(f"{base}/verify/{token}")
    expect(page.locator("label[for=photo_id]")).to_have_text("A photo of an identity document")
    serious = [v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []
    page.set_input_files("#photo_id", str(gif))
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_have_text("The photo ID must be a JPEG, PNG or PDF file.")
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").rglob("*.*"))
    page.set_input_files("#photo_id", str(png))
    page.click("button[type=submit]")
    expect(page.locator("body")).to_contain_text("Thank you")
    stored = uploads.stored_url_of(world.store.get_request(request_id).photo_id_url)
    assert stored is not None and storage.resolve(stored).read_bytes() == png.read_bytes()
