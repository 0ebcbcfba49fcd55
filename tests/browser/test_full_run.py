"""The whole workflow with a person in the loop: the real DAG runs (dag.test), a browser clicks Approve in the
emulated Slack channel page, and the report is read in the mail page — attachments included."""

from __future__ import annotations

import re
import threading
import time
from typing import Any
from urllib.parse import urljoin

import pytest

from devtools.standins.mail_sink import MailSink
from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS
from tests.integration.conftest import REQUEST, dag, datastores_db, run_dag, stack  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.integration]
REPORT_SUBJECT = "Your CCPA access request: the personal information we hold about you"


def _officer_in_a_browser(slack_url: str, mail_url: str, seen: dict[str, Any], shots, store) -> None:
    """Runs in its own thread (Playwright's sync API keeps its loop there) while dag.test() runs the DAG."""
    try:
        from playwright.sync_api import expect, sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1180, "height": 760})
            page.goto(slack_url + "/")
            approve = page.locator('button[data-action-id="ccpa_approve"]')
            approve.wait_for(timeout=90_000)  # the run posts the prompt, the page polls for it
            expect(page.locator(".msg").filter(has=approve)).to_contain_text("email found in 3 of 3 datastores")
            approve.click()
            page.locator('.confirm-dialog [data-role="confirm"]').click()
            expect(page.locator(".msg").filter(has_text="Approved by @U0APPROVER")).to_contain_text(
                "report sent", timeout=90_000
            )
            page.screenshot(path=str(shots / "full-run-slack.png"))
            page.goto(mail_url + "/")
            deadline = time.time() + 30
            while page.get_by_role("link", name=REPORT_SUBJECT).count() == 0 and time.time() < deadline:
                page.reload()
            page.get_by_role("link", name=REPORT_SUBJECT).click()
            body = page.frame_locator("iframe.html-body")
            # The body is the summary; the data is in the attachments (report.html reads like the body did).
            expect(body.locator("body")).to_contain_text("Summary by category")
            expect(body.locator("body")).not_to_contain_text("+1-415-555-1000")
            report_link = page.locator("a", has_text="report.html").first.get_attribute("href")
            seen["report_html"] = page.request.get(urljoin(page.url, report_link)).text()
            attachments = page.locator("a", has_text=re.compile(r"report\.(json|pdf|html)|crm\.csv"))
            seen["attachments"] = sorted(attachments.all_inner_texts())
            page.screenshot(path=str(shots / "full-run-mail.png"), full_page=True)
            browser.close()
        seen["ok"] = True
    except Exception as exc:  # reported by the main thread's assertions
        seen["error"] = repr(exc)
        # Without a click the run would wait for its legal deadline: decide in the store so dag.test() returns and
        # the test fails on the browser's error instead of hanging.
        deadline = time.time() + 120  # the browser may fail before the run has even registered the request
        while time.time() < deadline:
            waiting = [r for r in store.open_requests() if store.get_decision(r.request_id) is None]
            for record in waiting:
                store.record_decision(record.request_id, "reject", "U0BROWSERFAILED")
            if waiting:
                break
            time.sleep(0.5)


def test_a_person_approves_in_the_page_and_reads_the_report_in_the_mail_page(stack, run_dag, tmp_path):  # noqa: F811
    with MailSink(stack.sink.directory, web_port=0) as mail_page:  # the page reads the sink's folder
        seen: dict[str, Any] = {}
        officer = threading.Thread(
            target=_officer_in_a_browser,
            args=(stack.slack.url, mail_page.web_url, seen, tmp_path, stack.store),
            daemon=True,
        )
        officer.start()
        dag_run = run_dag(REQUEST)
        officer.join(120)

    assert seen.get("ok"), seen.get("error")
    assert dag_run.state == "success"
    assert any("report.json" in a for a in seen["attachments"]) and any("report.pdf" in a for a in seen["attachments"])
    assert "+1-415-555-1000" in seen["report_html"]
    [report] = stack.answers()
    assert report.message["Subject"] == REPORT_SUBJECT
