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
