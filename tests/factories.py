"""Test data shared by the tests (and the benchmarks): registries, requests, extract summaries."""

from __future__ import annotations

from pathlib import Path


def write_registry(tmp_path: Path, text: str) -> Path:
    """A registry file with ``text`` in ``tmp_path``."""
    path = tmp_path / "datastores.yaml"
    path.write_text(text)
    return path


ENTRY = """datastores:
  - name: crm
    conn_id: ccpa_crm_db
    queries:
      - name: profile
        sql: SELECT name FROM crm_users WHERE email = :email
        categories: {name: identifiers}
"""


def report_context(
    *, name: str, request_id: str, received_at, since, datastores: list[dict], rows=None, email: str = ""
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
    third_parties: []
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
