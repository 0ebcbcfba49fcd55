"""Airflow's own copy of a request: the run of ``ccpa_right_of_access`` whose ``dag_run.conf`` holds the requester's
name, email and photo link. Past retention the run is deleted through Airflow's public REST API.

Why the REST API and not the ORM: in Airflow 3 a task has no access to the metadata database (the task supervisor
replaces its engine: "Direct database access via the ORM is not allowed in Airflow 3.0"); the REST API is the
interface Airflow offers instead. ``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}`` changes only the state and the
note, not the conf, so the run is removed with ``DELETE`` (its task instances and XComs go with it; they hold paths
and counts only). The §7101 record lives in the compliance store, which keeps it.

Connection ``ccpa_airflow_api`` (type HTTP): host = the API server's URL (e.g. ``http://airflow-apiserver:8080``),
login and password of an Airflow account allowed to delete runs of the DAG (SimpleAuthManager role ``user``, or a
FAB role with DAG Runs: delete). A token is taken from ``POST /auth/token``, as the README's intake does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote

import requests

from include import config

log = logging.getLogger(__name__)

#: The DAG whose runs carry a requester's conf.
DAG_ID = "ccpa_right_of_access"
TIMEOUT_SECONDS = 30


class AirflowApiError(RuntimeError):
    """The API server refused or failed a call: the message says which and never holds personal data."""


@dataclass(frozen=True)
class ApiAccount:
    base_url: str
    login: str
    password: str

    @classmethod
    def from_connection(cls, conn_id: str = config.AIRFLOW_API_CONN_ID) -> ApiAccount:
        from airflow.sdk import BaseHook

        try:
            conn = BaseHook.get_connection(conn_id)
        except Exception as exc:
            raise config.ConfigurationError(
                f"Airflow connection '{conn_id}' could not be found or read ({type(exc).__name__}): define it (type "
                f"HTTP: the API server's URL, and an account that may delete runs of {DAG_ID}; env "
                f"AIRFLOW_CONN_{conn_id.upper()}) so retention can remove the runs' conf"
            ) from None
        host = (conn.host or "").rstrip("/")
        if not host:
            raise config.ConfigurationError(f"Airflow connection '{conn_id}' has no host (the API server's URL)")
        if "://" not in host:
            host = f"{conn.schema or 'http'}://{host}" + (f":{conn.port}" if conn.port else "")
        if not conn.login or not conn.password:
            raise config.ConfigurationError(f"Airflow connection '{conn_id}' needs a login and a password")
        return cls(base_url=host, login=conn.login, password=conn.password)


class AirflowRuns:
    """Deletes runs through the REST API, one token per instance."""

    def __init__(self, account: ApiAccount, session: requests.Session | None = None) -> None:
        self.account = account
        self.session = session or requests.Session()
        self._token: str | None = None

    def _bearer(self) -> str:
        if self._token is None:
            answer = self.session.post(
                f"{self.account.base_url}/auth/token",
                json={"username": self.account.login, "password": self.account.password},
                timeout=TIMEOUT_SECONDS,
            )
            if answer.status_code not in (200, 201):
                raise AirflowApiError(f"POST /auth/token answered HTTP {answer.status_code}: check the account")
            self._token = str(answer.json()["access_token"])
        return self._token

    def delete_run(self, run_id: str, dag_id: str = DAG_ID) -> bool:
        """Delete the run; True when deleted, False when Airflow had no such run (already deleted, or cleaned by
        ``airflow db clean``): either way its conf is gone."""
        url = f"{self.account.base_url}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}"
        bearer = {"Authorization": f"Bearer {self._bearer()}"}
        answer = self.session.delete(url, headers=bearer, timeout=TIMEOUT_SECONDS)
        if answer.status_code == 204:
            return True
        if answer.status_code == 404:
            return False
        if answer.status_code == 409:
            raise AirflowApiError(f"a {dag_id} run past retention is still running: it is deleted once it ends")
        raise AirflowApiError(f"DELETE of a {dag_id} run answered HTTP {answer.status_code}")
