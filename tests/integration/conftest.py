"""The whole workflow, for real: dag.test() on the project's DAG, the compliance store and the datastores on
MariaDB, Slack played by the emulator (real slack_sdk client, real signed callbacks to the real Flask app) and the
requester's inbox played by the SMTP sink."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import MYSQL_URL, ROOT, use_datastores, use_slack, use_smtp
from tests.factories import verified_conf

SIGNING_SECRET = "test-signing-secret"
APPROVER = "U0APPROVER"
CHANNEL = "#privacy-requests"
FROM_EMAIL = "privacy@example.com"
ACK_SUBJECT = "We received your CCPA access request"
#: The emulator also offers Socket Mode; clicks go over HTTP unless an app connects (test_socket_mode_run.py).
APP_TOKEN = "xapp-1-A0EMULATOR-integration"
#: Jane Doe, verified for specific pieces (§7062(c)): three matching points (email, name, phone) and a signed
#: declaration, with a photo-ID link, through the web form. Approved in full, she gets her whole report.
REQUEST = verified_conf()


def body_html(mail, *, collapse: bool = False) -> str:
    """The email's HTML body; ``collapse``: whitespace collapsed (templates wrap their lines)."""
    html = mail.message.get_body(preferencelist=("html",)).get_content()
    return " ".join(html.split()) if collapse else html


def everything_html(mail, *, collapse: bool = False) -> str:
    """The HTML the person receives: the body and, for a report, the attached report.html holding every record
    (since issue 20 the body is a summary); ``collapse``: whitespace collapsed."""
    attached = [
        part.get_content() if isinstance(part.get_content(), str) else part.get_content().decode("utf-8")
        for part in mail.message.iter_attachments()
        if part.get_filename() == "report.html"
    ]
    html = body_html(mail) + " ".join(attached)
    return " ".join(html.split()) if collapse else html


@dataclass
class Stack:
    slack: object
    sink: object
    callback_url: str
    datastores_url: str
    store: object
    storage: Path

    def click_when_posted(self, action_id: str, user_id: str = APPROVER, timeout: float = 60) -> threading.Thread:
        """Play the officer: wait for the next review prompt, then press a button (in the background)."""
        seen = {m["ts"] for m in self.slack.messages()}
        results: dict[str, object] = {}

        def officer() -> None:
            msg = self.slack.wait_for_message(lambda m: m["ts"] not in seen and _has_button(m), timeout=timeout)
            results["click"] = self.slack.click(msg["ts"], action_id, user_id=user_id)
            if action_id == "ccpa_reject":
                results["submit"] = self.submit_rejection(user_id=user_id)

        thread = threading.Thread(target=officer, daemon=True)
        thread.results = results  # type: ignore[attr-defined]
        thread.start()
        return thread

    def acknowledgements(self) -> list:
        return [m for m in self.sink.messages() if m.message["Subject"] == ACK_SUBJECT]

    def answers(self) -> list:
        """Every email but the acknowledgement: the report, the rejection."""
        return [m for m in self.sink.messages() if m.message["Subject"] != ACK_SUBJECT]

    def submit_rejection(self, reason: str = "photo_id_mismatch", details: str = "", user_id: str = APPROVER):
        """Fill in and submit the rejection modal the Reject click opened."""
        deadline = time.time() + 10
        while not self.slack.views() and time.time() < deadline:
            time.sleep(0.05)
        values = {"reason": {"reason_choice": reason}, "details": {"reason_details": details}}
        return self.slack.submit_view("ccpa_reject_reason", values, user_id=user_id)


def play(stack: Stack, script: Callable[[], None]) -> threading.Thread:
    """Run an officer's (or requester's) script in the background while dag.test() runs. Should the script fail, every
    undecided request is rejected, so the run ends and the test reports the failure instead of hanging until the
    legal deadline; the error is kept in ``thread.error``."""

    def guarded() -> None:
        try:
            script()
        except BaseException as exc:
            thread.error = exc  # type: ignore[attr-defined]
            for record in stack.store.open_requests():
                if stack.store.get_decision(record.request_id) is None:
                    stack.store.record_decision(record.request_id, "reject", "U0TESTHARNESS", reason="test failed")
            raise

    thread = threading.Thread(target=guarded, daemon=True)
    thread.error = None  # type: ignore[attr-defined]
    thread.start()
    return thread


def _has_button(message: dict) -> bool:
    return any(b.get("type") == "actions" for b in message.get("blocks") or [])


@pytest.fixture(scope="module")
def datastores_db(mysql_database) -> str:
    from sqlalchemy import create_engine, insert

    from devtools.demo_data import crm_users, seed

    url = f"{MYSQL_URL}/{mysql_database('ccpa_data')}"
    engine = create_engine(url)
    seed(engine)
    with engine.begin() as conn:  # a requester whose email is full of SQL metacharacters
        conn.execute(
            insert(crm_users).values(email="o'brien+x\"--@example.com", name="Pat O'Brien", phone="+1-415-555-0199")
        )
    engine.dispose()
    return url


@pytest.fixture
def stack(airflow_db, compliance_store, datastores_db, monkeypatch, tmp_path) -> Iterator[Stack]:
    from devtools.standins.mail_sink import MailSink
    from devtools.standins.slack_emulator import SlackEmulator
    from devtools.standins.wsgi_thread import ServedApp
    from include.slack.callback import create_app

    use_datastores(monkeypatch, datastores_db)
    monkeypatch.setenv("CCPA_DATASTORES_FILE", str(ROOT / "include" / "datastores" / "datastores.yaml"))
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REVIEW_CHANNEL", CHANNEL)
    # Set, like every Variable the callback reads: under dag.test() the callback runs in a thread of the task's
    # process, where looking up an unset Variable goes through the task's in-process supervisor channel and breaks
    # the running task (a real API server reads Variables from its own database).
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_TIMEZONE", "America/Los_Angeles")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_APPROVERS", f"{APPROVER},U0SECOND")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_FROM_EMAIL", FROM_EMAIL)
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path / 'reports'}")
    # The callback accepts only our workspace and app (Slack's ids, as the emulator sends them). Also keeps every
    # Variable the in-process callback reads in the env: dag.test() serves unset ones through the running task's
    # supervisor channel, which a second thread must not use.
    from devtools.standins.slack_emulator import APP_ID, TEAM_ID

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_SLACK_TEAM_ID", TEAM_ID)
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_SLACK_APP_ID", APP_ID)
    # Set, as the law's numbers: the callback runs in dag.test()'s process, where an unset Variable falls through to
    # the task's supervisor channel from another thread (a test-harness race, not one the API server has).
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_VERIFICATION_MIN_POINTS_CATEGORIES", "2")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_VERIFICATION_MIN_POINTS_SPECIFIC", "3")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_EMAIL_BACKEND", "smtp")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "integration-link-secret")

    with (
        MailSink(tmp_path / "mail") as sink,
        SlackEmulator(signing_secret=SIGNING_SECRET, app_token=APP_TOKEN) as slack,
        ServedApp(create_app()) as callback,
    ):
        slack.callback_url = f"{callback.url}/slack/actions"
        use_slack(monkeypatch, slack.api_url)
        use_smtp(monkeypatch, sink.port)
        yield Stack(
            slack=slack,
            sink=sink,
            callback_url=slack.callback_url,
            datastores_url=datastores_db,
            store=compliance_store,
            storage=tmp_path / "reports",
        )


def _parse_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["ccpa_right_of_access"]


@pytest.fixture(scope="session")
def dag():
    return _parse_dag()


@pytest.fixture
def dag_factory():
    """Parse the DAG anew, for tests that change parse-time settings (CCPA_RETRY_DELAY_SECONDS)."""
    return _parse_dag


@pytest.fixture
def run_dag(dag) -> Callable[..., object]:
    # dag.test() on the one parsed DAG keeps the last run's param values as the next run's defaults: a run that
    # leaves an optional field out would inherit the previous test's phone or declaration. Spell the defaults out.
    # §7101: the intake system always says how the request was made (main: web_form unless a test says otherwise).
    defaults = {"request_type": "specific_pieces", "lookback": "12_months", "channel": "web_form", "photo_id_url": ""}
    defaults |= {"language": ""}
    defaults |= dict.fromkeys(
        ("phone", "postal_address", "account_id", "account", "declaration", "agent", "received_at")
    )

    def run(conf: dict) -> object:
        return dag.test(run_conf={**defaults, **conf})

    return run
