"""An officer in a browser on the requests page inside Airflow: the real API server app (Airflow's app factory,
its SimpleAuthManager, the plugin's mount) served by uvicorn, the compliance store on MariaDB, headless Chromium.
Checked with axe-core (axe-playwright-python): no serious or critical violation."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.standins.child_server import free_port
from include.request import AccessRequest
from tests.factories import points_json, register_verified, verified_request

pytestmark = pytest.mark.browser

PEOPLE = [
    # (key, name, email, days since received, what happened, data points matched)
    ("maria", "María José Álvarez", "maria.alvarez@example.com", 41, "awaiting", ("email", "name")),
    ("tom", "Tom O'Connor", "tom.oconnor@example.net", 47, "awaiting", ("email",)),
    ("aiko", "Aiko Tanaka", "aiko.tanaka@example.org", 30, "extended", ("email", "name")),
    ("sam", "Sam Patel", "sam.patel@example.com", 6, "pending", ("email", "name")),
    ("lee", "Lee Chen", "lee.chen@example.com", 12, "failed", ("email", "name")),
    ("ana", "Ana Souza", "ana.souza@example.com", 2, "awaiting", ()),  # not checked yet
]


@pytest.fixture
def airflow_api(airflow_db, compliance_store, monkeypatch) -> Iterator[str]:
    """Airflow's API server app with our plugin, as `airflow api-server` builds it, on a local port."""
    import uvicorn

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "America/Los_Angeles")
    # The execution API's lifespan requires a JWT secret; `airflow api-server` generates one into the config file,
    # which an earlier test in the same session may have replaced: set it, as a deployment does.
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "requests-page-test-jwt-secret-" + "0" * 40)
    from airflow.api_fastapi.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "the API server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def queue(compliance_store) -> dict[str, str]:
    """Six open requests in different states, as the DAG and the officers leave them."""
    s = compliance_store
    now = datetime.now(UTC)
    ids: dict[str, str] = {}
    for key, name, email, days, state, matched in PEOPLE:
        received = now - timedelta(days=days, hours=3)
        record = s.register_request(
            f"manual__{key}",
            AccessRequest(name, email, f"https://ids.example/{key}.png"),
            received,
            required_approvals=2 if state == "pending" else 1,
        )
        if matched:
            s.set_identity_evidence(record.request_id, "email found in 1 of 1 datastores", points_json(matched))
        s.set_review_prompt(record.request_id, "C0REVIEW", f"{received.timestamp():.6f}")
        ids[key] = record.request_id
        if state == "extended":
            s.extend(record.request_id, "U0PRIVACYLEAD", "records in three systems")
        elif state == "pending":
            s.record_approval(record.request_id, "U0APPROVER")
        elif state == "failed":  # approved on a §7061 account login, then its run failed
            s.record_approval(record.request_id, "U0APPROVER", basis="account_login")
            s.audit(record.request_id, "run_failed", detail={"task_id": "send_report", "error": "SMTPException"})
    return ids


def _sign_in(page: Any, base: str, role: str = "viewer") -> None:
    """What Airflow's login leaves in the browser: its JWT in the `_token` cookie."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="officer", role=role))
    page.context.add_cookies([{"name": "_token", "value": token, "url": base}])


def _axe_serious(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_without_an_airflow_login_the_browser_gets_401_and_no_personal_data(page, airflow_api, queue):
    page.context.clear_cookies()
    response = page.goto(f"{airflow_api}/ccpa/requests/")
    assert response.status == 401
    assert page.get_by_role("heading", name="Sign in to Airflow first").is_visible()
    assert "Álvarez" not in page.content() and "example.com" not in page.content()
    assert page.get_by_role("link", name="Sign in to Airflow").get_attribute("href").startswith("/auth/")
    assert _axe_serious(page) == []


def test_queue_filters_search_and_timeline(page, airflow_api, queue, shots: Path):
    _sign_in(page, airflow_api)
    response = page.goto(f"{airflow_api}/ccpa/requests/")
    assert response.status == 200
    rows = page.locator("tbody tr")
    assert rows.count() == 6
    first = rows.nth(0)  # the earliest due: Tom, overdue
    assert "Tom O'Connor" in first.inner_text() and "overdue" in first.inner_text()
    assert first.locator(".badge.due-overdue").is_visible()
    maria = page.locator(f"tr[data-request='{queue['maria']}']")
    assert maria.locator(".badge.due-soon").is_visible()  # amber: under 10 days
    assert "1 of 2 approvals" in page.locator(f"tr[data-request='{queue['sam']}']").inner_text()
    assert page.locator(f"tr[data-request='{queue['lee']}'] .badge.failed").is_visible()
    lee_basis = page.locator(f"tr[data-request='{queue['lee']}'] .basis")  # §7101: the approval's basis, in words
    assert lee_basis.is_visible() and lee_basis.inner_text() == "verified by account login (§7061)"
    verification = {key: page.locator(f"tr[data-request='{queue[key]}'] td.verification").inner_text() for key in queue}
    assert verification["maria"].startswith("enough for categories only (specific pieces need 3 points")
    assert verification["tom"].startswith("not enough to verify (categories need 2 points)")
    assert verification["ana"].startswith("not checked yet")
    assert page.watch.errors == []
    assert _axe_serious(page) == []

    page.get_by_role("link", name="Overdue").click()
    assert page.locator("tbody tr").count() == 1 and "Tom O'Connor" in page.locator("tbody").inner_text()
    assert page.get_by_role("link", name="Overdue").get_attribute("aria-current") == "page"
    page.get_by_role("link", name="Extended").click()
    assert "Aiko Tanaka" in page.locator("tbody").inner_text() and page.locator("tbody tr").count() == 1
    page.get_by_role("link", name="Failed").click()
    assert "Lee Chen" in page.locator("tbody").inner_text() and page.locator("tbody tr").count() == 1
    page.get_by_role("link", name="Awaiting decision").click()
    assert page.locator("tbody tr").count() == 5  # all but Lee (approved); Sam waits for a second approval

    page.get_by_role("link", name="All open").click()
    page.get_by_label("Reference").fill(queue["ana"][:8])
    page.get_by_role("button", name="Search").click()
    assert page.locator("tbody tr").count() == 1 and "Ana Souza" in page.locator("tbody").inner_text()

    page.get_by_role("link", name=queue["ana"][:12]).click()
    assert page.get_by_role("heading", name=f"Request {queue['ana']}").is_visible()
    timeline = page.locator("ol.timeline")
    assert "Received" in timeline.inner_text() and "Review prompt posted in Slack" in timeline.inner_text()
    assert any(zone in timeline.inner_text() for zone in ("PST", "PDT"))
    assert _axe_serious(page) == []
    page.screenshot(path=str(shots / "requests-timeline.png"), full_page=True)


def test_metrics_page_draws_the_chart_and_offers_the_downloads(page, airflow_api, queue):
    _sign_in(page, airflow_api)
    page.goto(f"{airflow_api}/ccpa/requests/metrics")
    assert page.get_by_role("heading", name=f"Requests to know, {datetime.now(UTC).year} (§7102)").is_visible()
    image = page.get_by_role("img")
    assert image.evaluate("img => img.complete && img.naturalWidth") == 800
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == f"ccpa-metrics-{datetime.now(UTC).year}.csv"
    assert _axe_serious(page) == []


def test_a_viewer_sees_it_but_the_page_never_answers_an_anonymous_script(airflow_api, queue):
    assert requests.get(f"{airflow_api}/ccpa/requests/metrics/ccpa-metrics-2026.csv", timeout=10).status_code == 401


def test_airflows_own_ui_lists_the_page_in_browse_and_embeds_it(page, airflow_api, queue, shots: Path):
    """The React UI Airflow serves reads the plugin's external view: Browse → CCPA requests opens the page inside it."""
    _sign_in(page, airflow_api, role="admin")
    page.goto(f"{airflow_api}/")
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="CCPA requests").click()
    page.wait_for_url("**/plugin/ccpa-requests")
    frame = page.frame_locator("iframe")
    frame.get_by_role("heading", name="Open requests").wait_for(timeout=20_000)  # is_visible() would not wait
    assert frame.locator("tbody tr").count() == len(queue)
    page.screenshot(path=str(shots / "requests-queue.png"))  # the README's picture: the queue inside Airflow's UI


@pytest.fixture
def long_queue(compliance_store) -> dict[str, list[str]]:
    """120 open requests (every other one overdue) and one verified for specific pieces: more than two pages."""
    s = compliance_store
    now = datetime.now(UTC)
    ids: dict[str, list[str]] = {"all": [], "overdue": []}
    for i in range(120):
        received = now - timedelta(days=50 if i % 2 else 5, minutes=i)
        record = s.register_request(f"manual__q{i}", AccessRequest(f"Person {i}", f"p{i}@example.com", ""), received)
        ids["all"].append(record.request_id)
        if i % 2:
            ids["overdue"].append(record.request_id)
    verified = register_verified(s, "manual__verified", verified_request("Vera Fied", "vera@example.com"))
    ids["verified"] = [verified.request_id]
    return ids


def test_a_long_queue_pages_without_javascript_keeping_the_filter_and_shows_verification(
    page, airflow_api, long_queue, shots: Path
):
    _sign_in(page, airflow_api)
    page.goto(f"{airflow_api}/ccpa/requests/")
    assert page.locator("script").count() == 0  # plain links and forms: nothing needs JavaScript
    assert page.locator("#count").inner_text().startswith("121 requests, 1–50 shown (page 1 of 3)")
    assert page.locator("tbody tr").count() == 50
    assert page.get_by_role("columnheader", name="Verification").is_visible()
    pager = page.get_by_role("navigation", name="Pages of the queue")
    assert pager.get_by_role("link", name="Page 1").get_attribute("aria-current") == "page"
    assert _axe_serious(page) == []

    pager.get_by_role("link", name="Page 3").click()
    assert "page=3" in page.url
    assert page.locator("#count").inner_text().startswith("121 requests, 101–121 shown (page 3 of 3)")
    assert page.locator("tbody tr").count() == 21
    vera = page.locator(f"tr[data-request='{long_queue['verified'][0]}']")  # received today: due last
    assert vera.locator("td.verification").inner_text().splitlines() == [
        "enough for specific pieces",
        "asked for specific pieces",
    ]
    unchecked = page.locator("tbody tr td.verification").first.inner_text()
    assert unchecked.startswith("not checked yet")

    page.get_by_role("link", name="Overdue").click()  # a filter starts again at page 1
    assert page.locator("#count").inner_text().startswith("60 requests, 1–50 shown (page 1 of 2)")
    page.get_by_role("navigation", name="Pages of the queue").get_by_role("link", name="Next").click()
    assert page.locator("#count").inner_text().startswith("60 requests, 51–60 shown (page 2 of 2)")
    assert page.get_by_role("link", name="Overdue").get_attribute("aria-current") == "page"  # the filter is kept
    assert page.locator("tbody tr").count() == 10 and page.locator("tbody .badge.due-overdue").count() == 10
    shown = page.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.request)")
    assert set(shown) <= set(long_queue["overdue"])
    assert page.get_by_role("navigation", name="Pages of the queue").get_by_role("link", name="Previous").is_visible()
    assert _axe_serious(page) == []
    page.screenshot(path=str(shots / "requests-queue-paged.png"), full_page=True)

    page.get_by_role("link", name="Due ▲ (change the order)").click()  # latest first, back to page 1, still overdue
    assert "sort=-due" in page.url and "show=overdue" in page.url and "page=" not in page.url
    latest_first = page.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.request)")
    assert latest_first[:10] == list(reversed(shown))
