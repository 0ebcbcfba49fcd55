"""A consumer asks through the form, in a browser without JavaScript: the receipt, the run the form created in
Airflow, the acknowledgement in the mail page in their language, and the status page its link opens."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest

from devtools.standins.mail_sink import MailSink
from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS
from tests.integration.conftest import dag, datastores_db, run_dag, stack  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 256
ACK_SUBJECTS = {"en": "We received your CCPA access request", "es": "Recibimos su solicitud de acceso según la CCPA"}
RECEIPT = {"en": "We received your request", "es": "Recibimos su solicitud"}
VERIFYING = {"en": "Verifying", "es": "Verificando"}
BAD_EMAIL = {"en": "Enter a valid email address", "es": "Escriba un correo electrónico válido"}


@pytest.fixture
def synced_dag(airflow_db):
    """The DAG in Airflow's metadata DB, as the dag processor leaves it: what the form's trigger_dag looks up."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    manager = DagBundlesManager()
    with create_session() as session:
        manager.sync_bundles_to_db(session=session)
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)


def _in_a_browser(work, seen: dict[str, Any]) -> None:
    """Playwright's sync API keeps an event loop in its thread: the browser runs apart from dag.test()."""

    def target() -> None:
        try:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
                context = browser.new_context(java_script_enabled=False, viewport={"width": 900, "height": 900})
                work(context.new_page())
                browser.close()
        except Exception as exc:
            seen["error"] = repr(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(120)
    assert "error" not in seen, seen.get("error")


def _runs() -> list[Any]:
    from types import SimpleNamespace

    from airflow.models import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        runs = session.query(DagRun).filter(DagRun.dag_id == "ccpa_right_of_access").all()
        return [
            SimpleNamespace(run_id=r.run_id, conf=dict(r.conf or {}), logical_date=r.logical_date, note=r.note)
            for r in runs
        ]


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_consumer_asks_through_the_form_and_follows_the_request(
    stack,  # noqa: F811
    run_dag,  # noqa: F811
    synced_dag,
    monkeypatch,
    tmp_path: Path,
    lang: str,
):
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "browser-form-secret-0123456789")
    base = stack.callback_url.removesuffix("/slack/actions")  # the callback app, where the plugin mounts /ccpa
    before = {r.run_id for r in _runs()}
    photo = tmp_path / "id.png"
    photo.write_bytes(PNG)
    seen: dict[str, Any] = {}

    def fill(page, email: str) -> None:
        page.goto(f"{base}/request?lang={lang}")
        page.fill("#name", "Jane Doe")
        page.fill("#email", email)
        page.check("input[name=request_type][value=specific_pieces]")
        page.fill("#phone", "+1 415 555 1000")
        page.set_input_files("#photo_id", str(photo))
        page.check("#declaration")
        page.click("button[type=submit]")

    def ask(page) -> None:
        fill(page, "jane.doe@example")  # a typo: refused, nothing created
        seen["refused"] = page.locator(".summary").inner_text()
        seen["refused_lang"] = page.locator("html").get_attribute("lang")
        fill(page, "jane.doe@example.com")
        seen["receipt"] = page.locator("main").inner_text()
        seen["receipt_lang"] = page.locator("html").get_attribute("lang")
        page.screenshot(path=str(tmp_path / f"form-receipt-{lang}.png"), full_page=True)

    _in_a_browser(ask, seen)
    assert BAD_EMAIL[lang] in seen["refused"] and seen["refused_lang"] == lang
    assert RECEIPT[lang] in seen["receipt"] and seen["receipt_lang"] == lang
    reference = re.search(r"R-[A-Z2-7]{5}-[A-Z2-7]{5}", seen["receipt"]).group(0)

    [created] = [r for r in _runs() if r.run_id not in before]  # one run: the refused form created none
    assert created.conf["channel"] == "web_form" and created.conf["language"] == lang
    assert created.conf["email"] == "jane.doe@example.com" and created.conf["declaration"]["signer_name"] == "Jane Doe"
    assert reference in (created.note or "")
    photo_link = created.conf["photo_id_url"]
    assert "/ccpa/request/photo/" in photo_link

    # Run the run the form created (dag.test replaces a run of the same logical date, keeping its run id).
    officer = stack.click_when_posted("ccpa_reject")
    dag_run = run_dag_at(created)
    officer.join(60)
    assert dag_run.run_id == created.run_id

    record = stack.store.find_by_run_id(created.run_id)
    assert record.channel == "web_form" and record.language == lang
    from include.requester import uploads

    assert uploads.stored_url_of(record.photo_id_url) is not None
    assert not any(p.name.startswith("photo-id") for p in stack.storage.rglob("*")), "deleted at close"

    acks = [m for m in stack.sink.messages() if m.message["Subject"] == ACK_SUBJECTS[lang]]
    assert len(acks) == 1
    status_path = re.search(
        r"/ccpa(/request/status/[A-Za-z0-9._-]+)", acks[0].message.get_body(("html",)).get_content()
    )
    assert status_path, "the acknowledgement links the status page"

    def read(page) -> None:
        with MailSink(stack.sink.directory, web_port=0) as mail_page:
            page.goto(mail_page.web_url + "/")
            page.get_by_role("link", name=ACK_SUBJECTS[lang]).click()
            seen["ack_lang"] = page.frame_locator("iframe.html-body").locator("html").get_attribute("lang")
        page.goto(base + status_path.group(1))
        seen["status"] = page.locator("main").inner_text()

    _in_a_browser(read, seen)
    assert seen["ack_lang"] == lang
    assert reference in seen["status"]
    assert "Jane" not in seen["status"] and "jane.doe" not in seen["status"]
    assert ("Answered" if lang == "en" else "Respondida") in seen["status"]


def run_dag_at(created: Any) -> Any:
    from tests.integration.conftest import _parse_dag

    return _parse_dag().test(
        logical_date=created.logical_date, run_after=created.logical_date, run_conf=dict(created.conf)
    )
