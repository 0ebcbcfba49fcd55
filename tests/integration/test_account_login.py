"""Account holders verify by logging in (11 CCR §7061), end to end: dag.test(), MariaDB (with an accounts table the
registry marks ``identifies: account_id``), the Slack emulator, the Flask callback and the mail sink."""

from __future__ import annotations

import csv
import io
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from devtools.demo_data import DEMO_PERSON
from devtools.standins.slack_emulator import APP_ID, TEAM_ID
from tests.factories import declaration_for, registry_with_accounts, seed_accounts
from tests.integration.conftest import APPROVER, body_html, everything_html

pytestmark = pytest.mark.integration

#: Jane's values: in a full report, never in a categories-only answer.
VALUES = ("+1-415-555-1000", "ORD-000000", "203.0.113.10")


def _login(account_id: str = "ACC-1001", minutes_ago: float = 3, **extra: str) -> dict:
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {"account_id": account_id, "authenticated_at": at.isoformat(), "method": "mfa", **extra}


def _buttons(message: dict) -> list[dict]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


@pytest.fixture
def accounts(stack, monkeypatch, tmp_path):
    """The stack with the accounts datastore in the registry (the DAG's extraction tasks stay the demo's three)."""
    from sqlalchemy import create_engine

    engine = create_engine(stack.datastores_url)
    seed_accounts(engine)
    engine.dispose()
    monkeypatch.setenv("CCPA_DATASTORES_FILE", str(registry_with_accounts(tmp_path)))
    # Set (the default): an unset Variable read in dag.test()'s process races the task's supervisor channel.
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REAUTH_MAX_AGE_MINUTES", "30")
    return stack


def _prompt(stack) -> dict:
    """The next review prompt, once the task has recorded it (a click before that races the task: see notes)."""
    msg = stack.slack.wait_for_message(lambda m: bool(_buttons(m)), 60)
    request_id = _buttons(msg)[0]["value"]
    deadline = time.time() + 30
    while stack.store.get_request(request_id).slack_ts is None and time.time() < deadline:
        time.sleep(0.05)
    return msg


def _officer(stack, action_id: str, seen: dict) -> threading.Thread:
    def play() -> None:
        msg = _prompt(stack)
        seen["actions"] = [b["action_id"] for b in _buttons(msg)]
        seen["prompt"] = str(msg["blocks"])
        seen["click"] = stack.slack.click(msg["ts"], action_id, user_id=APPROVER)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    return thread


def _export(stack) -> dict[str, dict[str, str]]:
    from include.store import records

    out = io.StringIO()
    year = datetime.now(UTC).year
    records.export_records_csv(stack.store, *records.year_bounds(year), out)
    return {row["request_id"]: row for row in csv.DictReader(io.StringIO(out.getvalue()))}


def test_7061_a_logged_in_request_is_approved_with_a_full_report_and_its_basis_recorded(accounts, run_dag):
    seen: dict = {}
    officer = _officer(accounts, "ccpa_approve", seen)
    dag_run = run_dag({**DEMO_PERSON, "account": _login()})  # two data points only: the login verifies
    officer.join(5)

    assert dag_run.state == "success"
    assert "account held for this email (accounts); mfa login 3 min before the request" in seen["prompt"]
    assert "verified by account login (§7061)" in seen["prompt"] and "enough for specific pieces" in seen["prompt"]
    assert "ACC-1001" not in seen["prompt"]
    record = accounts.store.find_by_run_id(dag_run.run_id)
    decision = accounts.store.get_decision(record.request_id)
    assert (decision.scope, decision.basis) == ("full", "account_login")
    [mail] = accounts.answers()
    html = everything_html(mail, collapse=True)
    assert all(v in html for v in VALUES) and "123-45-6789" not in html
    assert record.account is None and record.closed_at is not None, "the login facts are gone at close"
    # §7101: the export says how the requester was verified.
    assert _export(accounts)[record.request_id]["verification_basis"] == "account_login"


def test_7061_a_login_with_an_account_channel_gets_a_notice_and_the_link_not_the_data(accounts, run_dag):
    seen: dict = {}
    officer = _officer(accounts, "ccpa_approve", seen)
    centre = "https://shop.example.com/account/messages/privacy"
    dag_run = run_dag({**DEMO_PERSON, "account": _login(delivery_url=centre)})
    officer.join(5)

    assert dag_run.state == "success"
    [mail] = accounts.answers()
    html = body_html(mail, collapse=True)
    assert centre in html and not [v for v in VALUES if v in html]
    assert not list(mail.message.iter_attachments())


def test_7061_a_stale_login_falls_back_to_the_data_points(accounts, run_dag):
    seen: dict = {}
    officer = _officer(accounts, "ccpa_approve_categories", seen)
    dag_run = run_dag({**DEMO_PERSON, "account": _login(minutes_ago=120)})
    officer.join(5)

    assert dag_run.state == "success"
    assert "ccpa_approve" not in seen["actions"], "no full approval on two data points"
    assert "treated as a request from a non-account holder" in seen["prompt"]
    assert "2 of 2 points match: email, name" in seen["prompt"]
    record = accounts.store.find_by_run_id(dag_run.run_id)
    decision = accounts.store.get_decision(record.request_id)
    assert (decision.scope, decision.basis) == ("categories", "categories_only")
    [mail] = accounts.answers()
    assert not [v for v in VALUES if v in body_html(mail, collapse=True)]
    assert _export(accounts)[record.request_id]["verification_basis"] == "categories_only"


def test_7061_a_mismatched_account_is_flagged_and_a_full_approval_refused(accounts, run_dag):
    seen: dict = {}

    def officer() -> None:
        msg = _prompt(accounts)
        seen["actions"] = [b["action_id"] for b in _buttons(msg)]
        seen["prompt"] = str(msg["blocks"])
        request_id = _buttons(msg)[0]["value"]
        crafted = {  # validly signed, by an approver: only the red flag stands in the way
            "type": "block_actions",
            "user": {"id": APPROVER},
            "team": {"id": TEAM_ID},  # from our workspace and app, as Slack sends it
            "api_app_id": APP_ID,
            "actions": [{"action_id": "ccpa_approve", "value": request_id, "type": "button"}],
            "response_url": msg["response_url"],
        }
        seen["crafted"] = accounts.slack.send_signed(crafted)
        time.sleep(0.5)
        seen["after"] = accounts.store.get_decision(request_id)
        seen["reject"] = accounts.slack.click(msg["ts"], "ccpa_reject", user_id=APPROVER)
        seen["modal"] = accounts.submit_rejection("cannot_verify")

    thread = threading.Thread(target=officer, daemon=True)
    thread.start()
    # John Roe's account id with Jane's email; her data points and declaration alone would reach specific pieces.
    conf = {
        **DEMO_PERSON,
        "postal_address": "100 Market Street",
        "declaration": declaration_for(DEMO_PERSON["name"]),
        "account": _login("ACC-2002"),
    }
    dag_run = run_dag(conf)
    thread.join(5)

    assert dag_run.state == "success"
    assert "red flag" in seen["prompt"] and "not the one held for this email" in seen["prompt"]
    assert "verified by account login" not in seen["prompt"] and "ACC-2002" not in seen["prompt"]
    assert "ccpa_approve" not in seen["actions"]
    assert seen["crafted"][0] == 200 and seen["after"] is None, "the full approval is refused"
    record = accounts.store.find_by_run_id(dag_run.run_id)
    refused = [
        e for e in accounts.store.audit_trail(record.request_id) if e["event"] == "approval_refused_verification"
    ]
    assert refused and refused[0]["detail"]["asked"] == "full"
    [mail] = accounts.answers()
    assert "could not be completed" in mail.message["Subject"]
    assert not [v for v in VALUES if v in body_html(mail, collapse=True)]
