"""Test data shared by the tests (and the benchmarks): registries, requests, extract summaries."""

from __future__ import annotations

from pathlib import Path


def write_registry(tmp_path: Path, text: str) -> Path:
    """A registry file with ``text`` in ``tmp_path``."""
    path = tmp_path / "datastores.yaml"
    path.write_text(text)
    return path


#: One datastore, one query. The business states at the top that it sells or shares nothing (Civ. 1798.115(c)(1)): a
#: registry must say so, or declare sold_or_shared per category (the registry fails closed without it).
ENTRY = """sold_or_shared: none
datastores:
  - name: crm
    conn_id: ccpa_crm_db
    queries:
      - name: profile
        sql: SELECT name FROM crm_users WHERE email = :email
        categories: {name: identifiers}
"""


def report_context(
    *,
    name: str,
    request_id: str,
    received_at,
    since,
    datastores: list[dict],
    rows=None,
    email: str = "",
    language: str = "en",
):
    """A ReportContext from extract summaries as dicts (as XCom carries them); a dict's ``_rows`` are its rows."""
    from include.report.model import ExtractSummary, ReportContext

    kept = {d["datastore"]: d.get("_rows", []) for d in datastores}
    typed = tuple(ExtractSummary.from_dict(d) for d in datastores)
    return ReportContext(
        request_id=request_id,
        name=name,
        email=email,
        received_at=received_at,
        since=since,
        datastores=typed,
        rows=rows or (lambda summary, query: iter(kept[summary.datastore])),
        language=language,
    )


def approved_record(*, request_id: str, name: str, email: str, received_at, run_id: str = "manual__test"):
    """An approved request as the store returns it, without a store: what the report builders need."""
    from include import law
    from include.store import RequestRecord, Status

    return RequestRecord(
        request_id=request_id,
        run_id=run_id,
        name=name,
        email=email,
        photo_id_url="https://intake.example/id",
        status=Status.APPROVED,
        received_at=received_at,
        due_at=law.due_date(received_at),
        slack_channel=None,
        slack_ts=None,
        closed_at=None,
    )


# -- §7061: a datastore that identifies accounts (issue 17) -------------------------------------------------------

#: A registry entry for the accounts table (on the crm connection): its ``account_id`` column identifies accounts.
ACCOUNTS_ENTRY = """
  - name: accounts
    conn_id: ccpa_crm_db
    description: Customer accounts
    sources: [the consumer, when signing up]
    purposes: [account management]
    disclosures:
      identifiers: {sold_or_shared: []}
    queries:
      - name: accounts
        sql: SELECT account_id, email FROM ccpa_accounts WHERE email = :email
        categories: {account_id: identifiers, email: identifiers}
        identifies: {account_id: account_id, email: email}
"""

#: (account id, email) rows seeded by :func:`seed_accounts`.
ACCOUNTS = (("ACC-1001", "jane.doe@example.com"), ("ACC-2002", "john.roe@example.com"))


def registry_with_accounts(tmp_path: Path) -> Path:
    """The demo registry plus the accounts datastore."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "include" / "datastores" / "datastores.yaml").read_text().rstrip("\n") + "\n" + ACCOUNTS_ENTRY
    return write_registry(tmp_path, text)


def seed_accounts(engine) -> None:  # type: ignore[no-untyped-def]
    """The ``ccpa_accounts`` table (account_id, email), created afresh with :data:`ACCOUNTS`."""
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS ccpa_accounts"))
        conn.execute(text("CREATE TABLE ccpa_accounts (account_id VARCHAR(64) NOT NULL, email VARCHAR(254) NOT NULL)"))
        for account_id, email in ACCOUNTS:
            conn.execute(
                text("INSERT INTO ccpa_accounts (account_id, email) VALUES (:a, :e)"), {"a": account_id, "e": email}
            )


# -- verification (§7062): requests verified to a given level ------------------------------------------------------

DECLARATION_VERSION = "2026-01"


def declaration_for(name: str) -> dict:
    """A signed declaration as the intake sends it (conf ``declaration``)."""
    from datetime import UTC, datetime, timedelta

    signed_at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    return {"signed_at": signed_at, "signer_name": name, "statement_version": DECLARATION_VERSION}


#: The demo subject's phone as an intake form sends it; the demo crm holds +1-415-555-1000 (a matching point).
DEMO_PHONE = "+1 (415) 555-1000"


def verified_conf(**overrides: object) -> dict:
    """The run conf of a request verified for specific pieces (§7062(c)): the demo subject (Jane Doe) with three
    matching points (email, name, phone) and a signed declaration, made through the web form. ``overrides`` replace
    fields (None: as if left out)."""
    from devtools.demo_data import DEMO_PERSON

    conf: dict = {
        **DEMO_PERSON,
        "photo_id_url": "https://intake.example.com/ids/jane.png",
        "phone": DEMO_PHONE,
        "declaration": declaration_for(DEMO_PERSON["name"]),
        "channel": "web_form",
    }
    return {**conf, **overrides}


def points_json(matched: tuple[str, ...], given: tuple[str, ...] | None = None) -> str:
    """Stored evidence (``ccpa_requests.verification``) with these kinds matched in one datastore."""
    import json

    from include.datastores.identity import PointsRecord, StoreMatch  # noqa: F401 (the format it reads)

    return json.dumps(
        {
            "version": 1,
            "given": list(given or matched),
            "stores": [{"datastore": "crm", "reachable": True, "found": True, "matched": list(matched), "differs": []}],
        }
    )


def verified_request(
    name: str = "Jane Doe", email: str = "jane@example.com", photo_id_url: str = "https://x.example/id"
):
    """An AccessRequest that carries a phone and a signed declaration (with 3 matching points: specific pieces)."""
    from include.request import AccessRequest

    return AccessRequest.from_conf(
        {
            "name": name,
            "email": email,
            "photo_id_url": photo_id_url,
            "phone": "+1-415-555-1000",
            "declaration": declaration_for(name),
        }
    )


def register_verified(store, run_id: str, request=None, *, matched=("email", "name", "phone")):
    """Register a request whose evidence reaches ``matched`` (default: 3 points and a declaration: full)."""
    from datetime import UTC, datetime

    record = store.register_request(run_id, request or verified_request(), datetime.now(UTC))
    store.set_identity_evidence(record.request_id, "email found in 1 of 1 datastores (crm)", points_json(matched))
    return store.get_request(record.request_id)


class RecordedRuns:
    """Airflow's REST API as retention uses it (include.airflow_runs.AirflowRuns.delete_run); the real API server
    and metadata DB: tests/integration/test_retention_runs.py."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    def delete_run(self, run_id: str, dag_id: str = "ccpa_right_of_access") -> bool:
        self.deleted.append(run_id)
        return True
