"""DAG integrity: imports cleanly, has the workflow's tasks, and parsing touches no connection or Variable."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

DAG_ID = "ccpa_right_of_access"
EXPECTED_TASKS = {
    "validate_request",
    "send_acknowledgement",
    "post_review_prompt",
    "wait_for_decision",
    "aggregate_personal_data.extract_crm",
    "aggregate_personal_data.extract_orders",
    "aggregate_personal_data.extract_web",
    "build_report",
    "send_report",
    "send_rejection",
    "close_review_prompt",
}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(ROOT / "dags"))


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags[DAG_ID]


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {DAG_ID, "ccpa_compliance_watch"}


def test_the_daily_watch(dagbag):
    watch = dagbag.dags["ccpa_compliance_watch"]
    assert set(watch.task_ids) == {
        "nudge_undecided",
        "report_overdue",
        "apply_retention",
        "purge_report_files",
        # §7021: the legal clock's safety net (issue 15)
        "check_acknowledgements",
        "check_extension_notices",
        "expire_undecided",
        # issue 18: decided requests whose run is gone or failed
        "check_decided_runs",
    }
    assert watch.timetable.serialize()["expression"] == "5 0 * * *"  # daily, ...
    assert watch.timetable.serialize()["timezone"] == "America/Los_Angeles"  # ... just after California midnight


def test_7021b_the_watch_runs_minutes_after_a_california_due_date_ends(dagbag):
    """§7021(b): a due date ends at midnight in California; the watch that sends the notice of a request undecided at
    its due date runs five minutes later (winter and summer time alike), not at UTC midnight, up to a day late."""
    from datetime import UTC, datetime, timedelta

    from airflow.timetables.base import TimeRestriction

    from include import clock

    watch = dagbag.dags["ccpa_compliance_watch"]
    for received in (datetime(2026, 1, 5, 12, tzinfo=UTC), datetime(2026, 6, 5, 12, tzinfo=UTC)):
        due = clock.due_date(received)
        nxt = watch.timetable.next_dagrun_info(
            last_automated_data_interval=None, restriction=TimeRestriction(due, None, catchup=True)
        )
        assert nxt is not None and timedelta(0) < nxt.run_after - due <= timedelta(minutes=6), (due, nxt.run_after)
    assert watch.max_active_runs == 1 and watch.catchup is False
    assert watch.max_active_tasks == 1, "one task at a time: several at once stall a SQLite metadata DB (issue 18)"


def test_task_ids_read_like_the_workflow(dag):
    assert set(dag.task_ids) == EXPECTED_TASKS


def test_shape(dag):
    def down(task_id):
        return set(dag.get_task(task_id).downstream_task_ids)

    assert down("post_review_prompt") == {"wait_for_decision"}
    assert down("wait_for_decision") == {  # the sensor branches: approve → extractions, reject → rejection
        "aggregate_personal_data.extract_crm",
        "aggregate_personal_data.extract_orders",
        "aggregate_personal_data.extract_web",
        "send_rejection",
    }
    assert down("build_report") == {"send_report"}
    assert down("send_report") == down("send_rejection") == {"close_review_prompt"}
    assert dag.get_task("close_review_prompt").trigger_rule == "none_failed_min_one_success"


def test_one_run_per_request(dag):
    assert type(dag.timetable).__name__ == "NullTimetable"  # schedule=None: the intake system triggers runs
    assert dag.catchup is False
    assert dag.doc_md and dag.tags


def test_waiting_is_deferrable_and_bounded_by_the_legal_deadline(dag):
    sensor = dag.get_task("wait_for_decision")
    assert sensor.deferrable is True
    assert sensor.timeout == 45 * 24 * 3600


def test_tasks_retry_except_where_retrying_cannot_help(dag):
    assert all(t.retries >= 1 for t in dag.tasks)


def test_params_refuse_a_malformed_request_before_a_run_exists(dag):
    """The REST API validates conf exactly like this (SerializedDAG.create_dagrun) and answers 400."""
    from airflow.exceptions import ParamValidationError
    from airflow.serialization.serialized_objects import DagSerialization

    params = DagSerialization.from_dict(DagSerialization.to_dict(dag)).params
    good = {"name": "Jane Doe", "email": "jane@example.com", "photo_id_url": "https://x.example/id", "channel": "email"}
    assert params.deep_merge(good).validate()["lookback"] == "12_months"
    assert params.deep_merge(good).validate()["request_type"] == "specific_pieces"
    # The photo ID is optional; the identifiers and the declaration are accepted when well formed.
    # (main's default since issue 20: the empty string)
    no_photo = {"name": "Jane Doe", "email": "jane@example.com", "channel": "email"}  # channel: required (§7101)
    assert params.deep_merge(no_photo).validate()["photo_id_url"] == ""
    full = {
        **good,
        "request_type": "categories",
        "phone": "+1 (415) 555-1000",
        "postal_address": "100 Market St",
        "account_id": "A-1",
        "declaration": {"signed_at": "2026-01-01T00:00:00Z", "signer_name": "Jane Doe", "statement_version": "2026-01"},
    }
    assert params.deep_merge(full).validate()["phone"] == "+1 (415) 555-1000"
    for bad in (
        {"email": "not-an-email"},
        {"name": "   "},
        {"photo_id_url": "javascript:alert(1)"},
        {"lookback": "forever"},
        {"request_type": "everything"},
        {"phone": "call me maybe"},
        {"declaration": {"signed_at": "2026-01-01T00:00:00Z"}},
        {"declaration": {"signed_at": "2026-01-01T00:00:00Z", "signer_name": "J", "statement_version": "1", "x": 1}},
        {"channel": "carrier_pigeon"},
        {"received_at": "yesterday"},
        {"received_at": "2026-01-05T18:00:00"},  # no UTC offset: which day was it in California?
    ):
        with pytest.raises(ParamValidationError):
            params.deep_merge({**good, **bad}).validate()
    with pytest.raises(ParamValidationError):
        params.deep_merge({"name": "Jane Doe"}).validate()
    assert params.deep_merge({**good, "received_at": "2026-01-05T18:00:00-08:00"}).validate()["received_at"]


def test_7101_channel_is_required_how_the_request_was_made(dag):
    """§7101: the record says how the consumer made the request; the intake system must say it, no default."""
    from airflow.exceptions import ParamValidationError
    from airflow.serialization.serialized_objects import DagSerialization

    params = DagSerialization.from_dict(DagSerialization.to_dict(dag)).params
    good = {"name": "Jane Doe", "email": "jane@example.com", "photo_id_url": "https://x.example/id"}
    with pytest.raises(ParamValidationError):
        params.deep_merge(good).validate()
    assert params.deep_merge({**good, "channel": "phone"}).validate()["channel"] == "phone"


def test_parsing_reads_no_variable_and_no_connection(monkeypatch):
    """Parse the DAG file with Variable and Connection lookups booby-trapped."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook, Variable

    def forbidden(*args, **kwargs):
        raise AssertionError("DAG parsing must not read Variables or Connections")

    monkeypatch.setattr(Variable, "get", forbidden)
    monkeypatch.setattr(BaseHook, "get_connection", forbidden)
    for name in ("AIRFLOW_CONN_CCPA_COMPLIANCE_DB", "AIRFLOW_VAR_CCPA_REVIEW_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    bag = DagBag(str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert DAG_ID in bag.dag_ids


def test_one_extraction_task_per_registered_datastore(tmp_path, monkeypatch):
    """A data engineer adds a datastore in YAML; the DAG grows a task without being touched."""
    from airflow.dag_processing.dagbag import DagBag

    registry = tmp_path / "datastores.yaml"
    registry.write_text(
        "sold_or_shared: none\n"  # Civ. 1798.115(c)(1): the registry states it (fails closed without)
        "datastores:\n"
        "  - name: billing\n    conn_id: billing_db\n    queries:\n"
        "      - name: invoices\n        sql: SELECT amount FROM invoices WHERE email = :email\n"
        "        categories: {amount: commercial}\n"
    )
    monkeypatch.setenv("CCPA_DATASTORES_FILE", str(registry))
    bag = DagBag(str(ROOT / "dags"))
    tasks = set(bag.dags[DAG_ID].task_ids)
    assert "aggregate_personal_data.extract_billing" in tasks
    assert "aggregate_personal_data.extract_crm" not in tasks


def test_parsing_does_not_import_the_heavy_libraries():
    """Every task process parses the DAG file: the PDF writer and the Slack client load only in the tasks
    that use them (measured: the DAG module went from 1.1 s to 0.2 s to import)."""
    import subprocess
    import sys

    heavy = ("reportlab", "include.report.pdf", "airflow.providers.slack.hooks.slack", "include.decision.trigger")
    code = f"import sys, dags.ccpa_right_of_access; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_requests_under_way_finish_first_and_receipts_go_out_at_once(dag):
    """Measured under load (docs/benchmarks.md): with the default priority, 100 approved runs all extracted
    before any sent its email, and acknowledgements waited behind everything."""
    assert all(t.weight_rule == "upstream" for t in dag.tasks)
    assert dag.get_task("send_acknowledgement").priority_weight >= 1000


def test_whole_results_are_pushed_once_not_key_by_key(dag):
    """A TaskFlow task annotated ``-> dict`` pushes every key as its own XCom too (measured: 9 XCom writes per
    extraction instead of 1); downstream tasks take these results whole."""
    whole = [t for t in dag.tasks if t.task_id.startswith("aggregate_personal_data.")]
    whole += [dag.get_task(t) for t in ("validate_request", "build_report", "post_review_prompt")]
    assert len(whole) >= 5
    assert not any(t.multiple_outputs for t in whole)


def test_7021_every_task_after_registration_gets_the_zone_of_the_due_date(dag):
    """The tasks after validate_request take its whole output, the zone the legal dates were computed in included
    (one XCom read each, as its request_id alone was): they date the request in that zone and read no time-zone
    Variable (issue #22). The sensor takes it whole too; its request_id stays a plain kwarg of the trigger."""
    from airflow.sdk.definitions.xcom_arg import PlainXComArg

    validate = dag.get_task("validate_request")
    for task in dag.tasks:
        if task.task_id in ("validate_request", "wait_for_decision"):
            continue
        reads = [a for a in task.op_args if isinstance(a, PlainXComArg) and a.operator is validate]
        assert [a.key for a in reads] == ["return_value"], task.task_id
    sensor = dag.get_task("wait_for_decision")
    assert isinstance(sensor.request, PlainXComArg) and sensor.request.operator is validate
    assert sensor.request.key == "return_value"


def test_7024d_a_registry_with_an_unwithheld_drivers_license_stops_the_dag_naming_file_datastore_and_column(
    monkeypatch, tmp_path
):
    """Fails closed at parse time: no run can disclose a driver's licence number by accident."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.factories import ENTRY, write_registry

    text = ENTRY.replace("SELECT name FROM", "SELECT name, drivers_license FROM").replace(
        "categories: {name: identifiers}", "categories: {name: identifiers, drivers_license: identifiers}"
    )
    path = write_registry(tmp_path, text)
    monkeypatch.setenv("CCPA_DATASTORES_FILE", str(path))
    bag = DagBag(str(ROOT / "dags"))
    errors = "\n".join(str(e) for e in bag.import_errors.values())
    assert DAG_ID not in bag.dag_ids
    assert str(path) in errors and "'crm'" in errors and "'drivers_license'" in errors


def test_1798_115_a_registry_without_a_sold_or_shared_declaration_stops_the_dag_naming_file_datastore_and_category(
    monkeypatch, tmp_path
):
    """Fails closed at parse time: no report can say "we have not sold or shared" what the business never declared."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.factories import ENTRY, write_registry

    path = write_registry(tmp_path, ENTRY.replace("sold_or_shared: none\n", ""))
    monkeypatch.setenv("CCPA_DATASTORES_FILE", str(path))
    bag = DagBag(str(ROOT / "dags"))
    errors = "\n".join(str(e) for e in bag.import_errors.values())
    assert DAG_ID not in bag.dag_ids
    assert str(path) in errors and "'crm'" in errors and "category 'identifiers'" in errors


def test_the_param_copies_airflow_makes_per_operator_share_the_schemas_and_serialize_as_plain_ones(dag):
    """Airflow deep-copies the DAG's Params for every operator (in every task process): the copies share the
    read-only schemas (include/request.py SharedSchema), and the serialized DAG — what the API server validates a
    trigger against — is exactly what plain dict schemas give."""
    import copy

    from airflow.sdk import Param
    from airflow.serialization.serialized_objects import DagSerialization

    copied = copy.deepcopy(dag.params)
    for name in dag.params:
        original, duplicate = dag.params.get_param(name), copied.get_param(name)
        assert duplicate is not original  # each operator still gets Params of its own (their source is set per copy)
        assert duplicate.schema is original.schema
    # Every operator's params share them as well.
    task = dag.get_task("build_report")
    assert task.params.get_param("account").schema is dag.params.get_param("account").schema

    for name in dag.params:
        param = dag.params.get_param(name)
        plain = Param(param.value, description=param.description, **copy.deepcopy(dict(param.schema)))
        assert type(plain.schema) is dict
        assert DagSerialization._serialize_param(param) == DagSerialization._serialize_param(plain)
    # And the whole DAG serializes and validates a trigger as before (the test above).
    assert DagSerialization.from_dict(DagSerialization.to_dict(dag)).params.keys() == dag.params.keys()
