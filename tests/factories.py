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
