"""The distributed-executor guard: state a run's tasks share must be shared between the machines they run on."""

from __future__ import annotations

import pytest

from include import deployment
from include.config import ConfigurationError


@pytest.mark.parametrize(
    ("raw", "distributed"),
    [
        ("LocalExecutor", None),
        ("CeleryExecutor", "CeleryExecutor"),
        ("KubernetesExecutor", "KubernetesExecutor"),
        ("LocalExecutor,CeleryExecutor", "CeleryExecutor"),
        ("airflow.providers.celery.executors.celery_executor.CeleryExecutor", "CeleryExecutor"),
        (
            "fast:LocalExecutor, k8s:airflow.providers.cncf.kubernetes.executors.KubernetesExecutor",
            "KubernetesExecutor",
        ),
    ],
)
def test_which_executors_run_tasks_on_several_machines(raw, distributed):
    assert deployment.distributed_executor(raw) == distributed


def test_local_executor_accepts_local_storage_and_sqlite(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path}")
    monkeypatch.delenv("AIRFLOW_CONN_CCPA_COMPLIANCE_DB", raising=False)
    deployment.check_shared_state()


def test_celery_with_undeclared_local_storage_says_what_to_set(monkeypatch, tmp_path, compliance_store):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path}")
    with pytest.raises(ConfigurationError) as raised:
        deployment.check_shared_state()
    message = str(raised.value)
    assert "CeleryExecutor" in message and "ccpa_report_storage" in message
    assert "s3://" in message and "ccpa_report_storage_shared" in message and "compliance store" not in message
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE_SHARED", "true")  # one volume on every worker: declared
    deployment.check_shared_state()


def test_kubernetes_with_a_sqlite_compliance_store_says_what_to_set(monkeypatch, s3_storage):
    from include.db import dispose_all

    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "KubernetesExecutor")
    monkeypatch.delenv("AIRFLOW_CONN_CCPA_COMPLIANCE_DB", raising=False)
    dispose_all()
    with pytest.raises(ConfigurationError, match=r"KubernetesExecutor .* connection 'ccpa_compliance_db'"):
        deployment.check_shared_state()


def test_celery_with_object_storage_and_mariadb_is_ready(monkeypatch, s3_storage, compliance_store):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    deployment.check_shared_state()


def test_the_first_task_fails_before_registering_anything(monkeypatch, tmp_path, compliance_store):
    from airflow.sdk.exceptions import AirflowFailException
    from sqlalchemy import func, select

    from include.store import utcnow
    from include.store.schema import requests_table as requests
    from include.tasks.access_request import validate_request

    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path}")
    conf = {"name": "Jane Doe", "email": "jane@example.com", "photo_id_url": "https://x.example/id"}
    with pytest.raises(AirflowFailException, match="Deployment not ready for this executor: CeleryExecutor"):
        validate_request(conf, "run-1", utcnow())
    with compliance_store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(requests)).scalar() == 0
