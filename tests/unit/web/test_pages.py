"""The requests page as Airflow's API server serves it: the real app factory, the real auth manager (Airflow's
SimpleAuthManager here), the plugin's mount under /ccpa, the compliance store on MariaDB."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime, timedelta

import pytest

from include.request import AccessRequest

QUEUE = "/ccpa/requests/"


@pytest.fixture
def api(airflow_db, compliance_store, monkeypatch):
    from fastapi.testclient import TestClient

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "America/Los_Angeles")
    from airflow.api_fastapi.app import create_app

    return TestClient(create_app())


def token(role: str | None) -> str:
    """A JWT exactly as Airflow's login issues one, for a user of ``role`` (None: a user with no role)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=f"user-{role}", role=role))


@pytest.fixture
def jane(compliance_store) -> str:
    received = datetime.now(UTC) - timedelta(days=3)
    record = compliance_store.register_request(
        "manual__page", AccessRequest("Jane <b>Doe</b>", "jane@example.com", "https://x.example/id"), received
    )
    compliance_store.set_review_prompt(record.request_id, "C0REVIEW", "1764000000.000100")
    return record.request_id


def test_the_page_is_401_without_an_airflow_login_and_shows_no_personal_data(api, jane):
    for path in (QUEUE, f"{QUEUE}r/{jane}", f"{QUEUE}metrics", f"{QUEUE}metrics/ccpa-metrics-2026.csv"):
        response = api.get(path)
        assert response.status_code == 401, path
        assert "jane" not in response.text.lower()
    assert "Sign in to Airflow" in api.get(QUEUE).text


def test_a_forged_token_is_refused(api, jane):
    api.cookies.set("_token", "eyJhbGciOiJIUzUxMiJ9.e30.forged")
    response = api.get(QUEUE)
    assert response.status_code in (401, 403) and "jane" not in response.text.lower()


def test_a_user_who_may_not_read_the_dags_runs_gets_403(api, jane):
    response = api.get(QUEUE, headers={"Authorization": f"Bearer {token(None)}"})
    assert response.status_code == 403 and "jane" not in response.text.lower()


def test_a_viewer_signed_in_to_airflow_sees_the_queue_with_name_and_email_escaped(api, jane):
    api.cookies.set("_token", token("viewer"))  # what the Airflow UI's login leaves in the browser
    response = api.get(QUEUE)
    assert response.status_code == 200
    html = response.text
    assert "Jane &lt;b&gt;Doe&lt;/b&gt;" in html and "<b>Doe</b>" not in html  # autoescaped
    assert "jane@example.com" in html
    assert "/dags/ccpa_right_of_access/runs/manual__page" in html
    assert "https://slack.com/archives/C0REVIEW/p1764000000000100" in html
    assert response.headers["cache-control"] == "no-store"


def test_a_request_page_shows_its_timeline_in_the_business_time_zone(api, jane, compliance_store):
    api.cookies.set("_token", token("viewer"))
    html = api.get(f"{QUEUE}r/{jane}").text
    assert "Timeline" in html and "Received" in html and "Review prompt posted in Slack" in html
    assert "America/Los_Angeles" in html and ("PST" in html or "PDT" in html)
    assert api.get(f"{QUEUE}r/{'0' * 32}").status_code == 404


def test_metrics_page_and_downloads(api, jane):
    api.cookies.set("_token", token("viewer"))
    year = datetime.now(UTC).year
    html = api.get(f"{QUEUE}metrics?year={year}").text
    assert "Requests to know received" in html and f"ccpa-metrics-{year}.csv" in html
    csv = api.get(f"{QUEUE}metrics/ccpa-metrics-{year}.csv")
    assert csv.status_code == 200 and csv.text.startswith("metric,label,value")
    assert "attachment" in csv.headers["content-disposition"]
    png = api.get(f"{QUEUE}metrics/ccpa-metrics-{year}.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert api.get(f"{QUEUE}metrics/ccpa-metrics-{year}.exe").status_code == 404


def test_the_slack_callback_is_still_served_beside_the_page(api):
    assert api.get("/ccpa/health").json() == {"status": "ok"}  # the Flask app, mounted behind the page's routes


def test_the_page_is_linked_from_airflows_navigation(api):
    api.cookies.set("_token", token("viewer"))
    plugins = api.get("/api/v2/plugins").json()["plugins"]
    [ours] = [p for p in plugins if p["name"] == "ccpa_slack_callback"]
    [view] = ours["external_views"]
    assert (view["href"], view["destination"], view["url_route"]) == (QUEUE, "nav", "ccpa-requests")


def _links(html: str) -> dict[str, str]:
    """The pager's and the filters' links by their text (or aria-label), unescaped as a browser reads them."""
    found = {}
    for attrs, text in re.findall(r"<a ([^>]*)>([^<]*)</a>", html):
        href = re.search(r'href="([^"]*)"', attrs)
        label = re.search(r'aria-label="([^"]*)"', attrs)
        if href:
            found[label.group(1) if label else text.strip()] = html_lib.unescape(href.group(1))
    return found


def test_the_queue_comes_in_pages_whose_links_keep_the_filter_search_order_and_size(api, compliance_store):
    received = datetime.now(UTC) - timedelta(days=3)
    ids = [
        compliance_store.register_request(
            f"manual__p{i}", AccessRequest(f"Person {i}", f"p{i}@example.com", "https://x.example/id"), received
        ).request_id
        for i in range(25)
    ]
    api.cookies.set("_token", token("viewer"))
    first = api.get(QUEUE, params={"show": "awaiting", "sort": "-due", "per": 10})
    assert first.status_code == 200
    assert "25 requests, 1–10 shown (page 1 of 3)" in first.text
    assert first.text.count("<tr data-request=") == 10
    links = _links(first.text)
    assert links["Next"] == "?show=awaiting&sort=-due&per=10&page=2" and "Previous" not in links
    assert links["Page 3"] == "?show=awaiting&sort=-due&per=10&page=3"
    assert links["Overdue"] == "?show=overdue&sort=-due&per=10"  # another filter starts again at page 1
    last = api.get(QUEUE + links["Page 3"])
    assert "25 requests, 21–25 shown (page 3 of 3)" in last.text and last.text.count("<tr data-request=") == 5
    assert _links(last.text)["Previous"] == "?show=awaiting&sort=-due&per=10&page=2"
    shown = [rid for page in (first, api.get(QUEUE + links["Next"]), last) for rid in ids if rid in page.text]
    assert sorted(shown) == sorted(ids) and len(shown) == 25  # every request once, on one page only

    prefix = ids[0][:1]
    searched = api.get(QUEUE, params={"q": prefix, "per": 10})
    queue_links = [href for href in _links(searched.text).values() if href.startswith("?")]
    order = re.search(r'<th scope="col"><a href="([^"]*)">Due', searched.text)
    assert order and len(queue_links) == 5  # the five filters, and the link turning the order
    assert all(f"&q={prefix}&" in href and "&per=10" in href for href in queue_links)
    assert html_lib.unescape(order.group(1)) == f"?show=all&q={prefix}&sort=-due&per=10"
    assert f'name="q" value="{prefix}"' in searched.text and 'name="per" value="10"' in searched.text


def test_bad_paging_is_refused_with_a_clear_error_after_the_login_check(api, jane):
    for bad in ("page=0", "page=x", "per=5", "per=1000"):
        assert api.get(f"{QUEUE}?{bad}").status_code == 401, bad  # no login: nothing else is looked at
    api.cookies.set("_token", token("viewer"))
    for bad in ("page=0", "page=x", "per=5", "per=1000"):
        response = api.get(f"{QUEUE}?{bad}")
        assert response.status_code == 422 and "jane" not in response.text.lower(), bad
        assert bad.split("=")[0] in response.text  # names the parameter
    assert "1 request." in api.get(f"{QUEUE}?page=7").text  # past the last page: the last page


def test_the_queue_and_a_request_page_show_the_verification_level_in_plain_words(api, compliance_store):
    from tests.factories import register_verified, verified_request

    full = register_verified(compliance_store, "manual__full", verified_request("Full Match", "full@example.com"))
    api.cookies.set("_token", token("viewer"))
    html = api.get(QUEUE).text
    assert '<th scope="col">Verification</th>' in html
    assert 'enough for specific pieces<br><span class="muted">asked for specific pieces</span>' in html
    page = api.get(f"{QUEUE}r/{full.request_id}").text
    assert "3 of 3 points match: email, name, phone · declaration signed · enough for specific pieces" in page
