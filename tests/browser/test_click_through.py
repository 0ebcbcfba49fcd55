"""A person in a browser: the review prompt on the Slack emulator's channel page, the rejection modal, the mail page.

The real Slack callback runs in a thread against the real MariaDB compliance store and talks back to the emulator
(views.open, chat.update, response_url) through the Airflow Slack connection, as it does in production.
"""

from __future__ import annotations

import json
import re
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests
from slack_sdk import WebClient

from devtools.standins.mail_sink import MailSink
from devtools.standins.slack_emulator import SlackEmulator
from devtools.standins.wsgi_thread import ServedApp
from include.slack.blocks import review_prompt, thread_notice
from tests.factories import register_verified, verified_request

pytestmark = pytest.mark.browser

SECRET = "browser-test-signing-secret"
APPROVER = "U0APPROVER"
HOSTILE_NAME = "Robert <img src=x onerror=alert(1)> <script>alert(2)</script> Tables"


@dataclass
class World:
    slack: SlackEmulator
    sink: MailSink
    store: Any
    web: WebClient

    def prompt(self, name: str = "Jane Doe", email: str = "jane@example.com") -> tuple[str, str]:
        """Register a request and post its review prompt as the DAG does; returns (request_id, ts)."""
        # Verified for specific pieces (3 matching points and a declaration): the prompt offers Approve.
        record = register_verified(self.store, "manual__browser", verified_request(name, email))
        text, blocks = review_prompt(self.store.get_request(record.request_id))
        posted = self.web.chat_postMessage(channel="#privacy", text=text, blocks=blocks)
        self.store.set_review_prompt(record.request_id, posted["channel"], posted["ts"])
        return record.request_id, posted["ts"]


@pytest.fixture
def world(compliance_store, monkeypatch, tmp_path) -> Iterator[World]:
    from include.slack.callback import create_app

    with SlackEmulator(signing_secret=SECRET) as slack, MailSink(tmp_path / "mail", web_port=0) as sink:
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_SLACK_SIGNING_SECRET", SECRET)
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_APPROVERS", APPROVER)
        monkeypatch.setenv(
            "AIRFLOW_CONN_SLACK_API_DEFAULT",
            json.dumps({"conn_type": "slack", "password": "xoxb-browser-test", "extra": {"base_url": slack.api_url}}),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_SMTP_DEFAULT",
            json.dumps(
                {
                    "conn_type": "smtp",
                    "host": sink.host,
                    "port": sink.port,
                    "extra": {"disable_tls": True, "disable_ssl": True, "retry_limit": 0},
                }
            ),
        )
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_FROM_EMAIL", "privacy@example.com")
        monkeypatch.setenv("AIRFLOW_VAR_CCPA_EMAIL_BACKEND", "smtp")
        with ServedApp(create_app(store_factory=lambda: compliance_store)) as callback:
            slack.callback_url = f"{callback.url}/slack/actions"
            yield World(slack, sink, compliance_store, WebClient(token="xoxb-browser-test", base_url=slack.api_url))


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as _expect

    return _expect(locator)


def as_user(page: Any, user_id: str) -> None:
    """Pick the Slack user the page clicks as; an id not in the list is typed into the box next to it."""
    if page.locator(f'#user-select option[value="{user_id}"]').count():
        page.select_option("#user-select", user_id)
    else:
        page.select_option("#user-select", "other")
        page.fill("#user", user_id)
        page.press("#user", "Enter")


def prompt_on_page(page: Any, ts: str) -> Any:
    return page.locator(f'.msg[data-ts="{ts}"]')


def screenshot(page: Any, path: Path, **kwargs: Any) -> None:
    page.mouse.move(1, 700)  # no hover highlight in the picture
    page.screenshot(path=str(path), **kwargs)


def assert_page_healthy(page: Any) -> None:
    assert page.watch.dialogs == [], f"the page ran alert(): {page.watch.dialogs}"
    assert page.watch.errors == [], page.watch.errors


def test_approve_in_the_channel_page_then_the_report_arrives_in_the_mail_page(world, page, shots):
    request_id, ts = world.prompt()
    record = world.store.get_request(request_id)
    world.web.chat_postMessage(
        channel="#privacy", thread_ts=ts, text=thread_notice("reminder", record, approvers=frozenset({APPROVER}))
    )

    page.goto(world.slack.url + "/")
    as_user(page, APPROVER)
    prompt = prompt_on_page(page, ts)
    expect(prompt).to_contain_text("CCPA right-of-access request")
    expect(prompt.locator(".fields")).to_contain_text("Jane Doe")
    expect(prompt.locator(".fields")).to_contain_text("jane@example.com")
    link = prompt.get_by_role("link", name="open the photo ID")
    expect(link).to_have_attribute("href", "https://x.example/id")
    expect(prompt.locator("b").first).to_have_text("Name")  # *Name* is bold
    expect(prompt.locator("code")).to_have_text(request_id)  # `request id`
    expect(prompt.locator(".thread")).to_contain_text("\u23f3 Still waiting for a decision. @U0APPROVER")
    approve = prompt.locator('button[data-action-id="ccpa_approve"]')
    expect(approve).to_have_class(re.compile(r"\bprimary\b"))
    expect(prompt.locator('button[data-action-id="ccpa_reject"]')).to_have_class(re.compile(r"\bdanger\b"))
    screenshot(page, shots / "slack-channel-prompt.png")

    # The confirm dialog comes first; Cancel sends nothing.
    approve.click()
    confirm = page.locator(".confirm-dialog")
    expect(confirm).to_contain_text("Approve this request?")
    expect(confirm).to_contain_text("The requester will be emailed all personal information we hold about them.")
    screenshot(page, shots / "slack-confirm.png")
    confirm.locator('[data-role="deny"]').click()
    expect(confirm).to_have_count(0)

    # Someone who is not an approver is told so, and only they see it.
    as_user(page, "U0VISITOR")  # typed: not in the list
    approve.click()
    page.locator('.confirm-dialog [data-role="confirm"]').click()
    ephemeral = page.locator(".msg.ephemeral")
    expect(ephemeral).to_contain_text("Only visible to you")
    expect(ephemeral).to_contain_text("You are not an approver for CCPA requests.")
    assert world.store.get_decision(request_id) is None
    as_user(page, APPROVER)
    expect(ephemeral).to_have_count(0)

    approve.click()
    page.locator('.confirm-dialog [data-role="confirm"]').click()
    expect(prompt).to_contain_text("Approved by @U0APPROVER")
    expect(prompt.locator("button")).to_have_count(0)
    expect(prompt).to_contain_text("(edited)")
    decision = world.store.get_decision(request_id)
    assert (decision.action, decision.decided_by) == ("approve", APPROVER)
    screenshot(page, shots / "slack-channel-approved.png")

    # What the DAG does next, in short: email the report; the person sees it in the mail page.
    from include.mail.message import Email
    from include.mail.send import send_once

    send_once(
        world.store,
        request_id,
        "report",
        "jane@example.com",
        Email(subject="Your CCPA access report", html="<h1>Your report</h1><p>Hello Jane Doe</p>"),
    )
    world.sink.wait_for(1)
    page.goto(world.sink.web_url + "/")
    expect(page.locator("table.mails tbody tr")).to_have_count(1)
    expect(page.locator("table.mails")).to_contain_text("Your CCPA access report")
    expect(page.locator("table.mails")).to_contain_text("jane@example.com")
    page.get_by_role("link", name="Your CCPA access report").click()
    expect(page.locator("h1.subject")).to_have_text("Your CCPA access report")
    expect(page.locator("iframe.html-body")).to_have_attribute("sandbox", "")
    expect(page.frame_locator("iframe.html-body").locator("h1")).to_have_text("Your report")
    assert_page_healthy(page)


def test_reject_opens_the_modal_errors_show_then_the_rejection_is_recorded(world, page, shots):
    request_id, ts = world.prompt(name=HOSTILE_NAME, email="robert@example.com")
    page.goto(world.slack.url + "/")
    as_user(page, APPROVER)
    prompt = prompt_on_page(page, ts)
    # The requester's name is text, not markup.
    expect(prompt.locator(".fields")).to_contain_text(HOSTILE_NAME)
    assert page.locator("img[src='x'], .messages script").count() == 0

    prompt.locator('button[data-action-id="ccpa_reject"]').click()
    modal = page.locator('.dialog.modal[data-callback-id="ccpa_reject_reason"]')
    expect(modal.locator("h2")).to_have_text("Reject request")
    expect(modal).to_contain_text(f"Rejecting the request from {HOSTILE_NAME}.")
    reason = modal.locator('.input-block[data-block-id="reason"]')
    details = modal.locator('.input-block[data-block-id="details"]')
    expect(details.locator(".input-label")).to_contain_text("(optional)")
    expect(details.locator("textarea")).to_be_visible()
    expect(reason.locator("select option")).to_have_count(6)  # the placeholder and five reasons

    # Nothing picked: Slack's own client refuses the empty required input.
    modal.locator('[data-role="submit"]').click()
    expect(reason.locator(".input-error")).to_have_text("Please complete this required field.")
    # "another reason" without details: the app answers response_action errors, shown under its block.
    reason.locator("select").select_option("other")
    modal.locator('[data-role="submit"]').click()
    expect(details.locator(".input-error")).to_have_text("Explain the reason: the requester will read it.")
    expect(reason.locator(".input-error")).to_have_text("")
    assert world.store.get_decision(request_id) is None
    screenshot(page, shots / "slack-reject-modal-error.png")

    reason.locator("select").select_option("photo_id_mismatch")
    modal.locator('[data-role="submit"]').click()
    expect(modal).to_have_count(0)
    expect(prompt).to_contain_text("Rejected by @U0APPROVER")
    expect(prompt.locator("button")).to_have_count(0)
    decision = world.store.get_decision(request_id)
    assert (decision.action, decision.decided_by) == ("reject", APPROVER)
    assert decision.reason == "the photo ID does not match the name in your request"
    assert page.locator("img[src='x']").count() == 0
    assert_page_healthy(page)


def _mail(subject: str, html: str, attachment: bytes | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Privacy team <privacy@example.com>"
    msg["To"] = "jane@example.com"
    msg["Subject"] = subject
    msg.set_content("The text part.\nSecond line.")
    msg.add_alternative(html, subtype="html")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="zip", filename="ccpa-report.zip")
    return msg


def test_the_mail_page_lists_opens_and_downloads(world, page, shots, tmp_path):
    payload = b"PK\x03\x04" + bytes(range(256)) * 4
    hostile_html = (
        "<h1>Your data</h1><p>Name: Jane</p><script>alert('mail')</script>"
        "<img src='http://198.51.100.1/track.png' alt='tracker'>"
    )
    with smtplib.SMTP(world.sink.host, world.sink.port, timeout=5) as smtp:
        smtp.send_message(_mail("First: acknowledgement", "<p>We received your request.</p>"))
        smtp.send_message(_mail("Second: <b>your report</b>", hostile_html, attachment=payload))
    world.sink.wait_for(2)

    page.goto(world.sink.web_url + "/")
    rows = page.locator("table.mails tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Second: <b>your report</b>")  # newest first, and the subject is text
    expect(rows.nth(1)).to_contain_text("First: acknowledgement")
    expect(rows.nth(0)).to_contain_text("privacy@example.com")
    screenshot(page, shots / "mail-list.png")

    rows.nth(0).locator("a").click()
    expect(page.locator("h1.subject")).to_have_text("Second: <b>your report</b>")
    frame = page.locator("iframe.html-body")
    expect(frame).to_have_attribute("sandbox", "")
    expect(page.frame_locator("iframe.html-body").locator("h1")).to_have_text("Your data")
    expect(page.locator("pre.text-body")).to_contain_text("The text part.")
    with page.expect_download() as download:
        page.get_by_role("link", name="ccpa-report.zip").click()
    assert download.value.suggested_filename == "ccpa-report.zip"
    saved = tmp_path / "downloaded.zip"
    download.value.save_as(saved)
    assert saved.read_bytes() == payload
    screenshot(page, shots / "mail-message.png", full_page=True)
    assert page.watch.dialogs == []

    # The same over plain HTTP: the headers a browser relies on.
    mail_id = page.url.rstrip("/").rsplit("/", 1)[1]
    resp = requests.get(f"{world.sink.web_url}/messages/{mail_id}/attachments/0", timeout=5)
    assert resp.content == payload
    assert resp.headers["Content-Type"] == "application/zip"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="ccpa-report.zip"')
    body = requests.get(f"{world.sink.web_url}/messages/{mail_id}/html", timeout=5)
    assert body.headers["Content-Security-Policy"].startswith("sandbox")
    assert requests.get(f"{world.sink.web_url}/messages/..%2F..%2Fetc%2Fpasswd", timeout=5).status_code == 404
    assert requests.get(f"{world.sink.web_url}/messages/{mail_id}/attachments/9", timeout=5).status_code == 404
    assert Path(world.sink.directory).is_dir()
