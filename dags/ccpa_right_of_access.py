"""
### CCPA right of access

One run answers one "what personal information do you hold about me?" request (Cal. Civ. Code §1798.110).

The intake system triggers a run with conf `{"name", "email", "channel"}` and, optionally, `request_type`
(specific_pieces or categories), `photo_id_url`, `phone`, `postal_address`, `account_id`, a signed `declaration`
(docs/verification.md), `account` (§7061) and `agent` (§7063), and `received_at` (ISO 8601 with its offset, when the
request was made earlier than it is entered; every legal date counts from it, in the business's time zone, Variable
`ccpa_timezone`).
The run posts a review prompt to Slack, waits (deferred, holding no worker slot) for a compliance officer to click
**Approve** or **Reject**, then either gathers the person's data from every datastore in
`include/datastores/datastores.yaml` and emails them the report, or emails a rejection. Finally the Slack prompt is
replaced by the outcome so nobody acts twice. Every step is recorded in the compliance store (connection
`ccpa_compliance_db`).
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Param, TriggerRule, dag, task, task_group

from include import retries
from include.clock import request_zone
from include.datastores.registry import load_registry
from include.decision.sensor import WaitForDecisionSensor
from include.request import PARAM_SCHEMAS, sharing_schemas
from include.tasks import access_request as workflow

# A local YAML file: reading it at parse time touches no database, Variable or connection.
DATASTORES = load_registry().datastores
# Slack-facing tasks outlast a Slack outage: back-off doubling from the retry delay up to 10 minutes, about 3.5 hours
# in all (the officers are emailed at the first failure; nothing is sent twice, the prompt is posted once).
SLACK_TASK_RETRIES = retries.SLACK_TASK_RETRIES


@dag(
    dag_id="ccpa_right_of_access",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["ccpa", "privacy", "right-to-know"],
    default_args={
        "owner": "privacy",
        # Every task is idempotent (a retry finds the request registered, rewrites the extraction, never sends an
        # email twice): about an hour of retries outlasts a MariaDB restart or an SMTP outage (include/retries.py).
        "retries": retries.idempotent_task_retries(),
        # Back-off starts here and doubles per try; environment knobs (read at parse time, like the registry).
        "retry_delay": retries.retry_delay(),
        "retry_exponential_backoff": retries.BACKOFF_MULTIPLIER,
        "max_retry_delay": retries.MAX_RETRY_DELAY,
        "retry_policy": retries.retry_policy(),
        "on_failure_callback": workflow.notify_failure,
        # Finish the requests already under way before starting new ones: a task's priority grows with the
        # tasks before it, so a report being sent outranks an extraction that has just begun.
        "weight_rule": "upstream",
    },
    # Airflow copies these for every operator of every task process; the copies share the schemas (read-only).
    params=sharing_schemas(
        {
            "name": Param(title="Name", description="The requester's full name", **PARAM_SCHEMAS["name"]),
            "email": Param(title="Email", description="Where the answer goes", **PARAM_SCHEMAS["email"]),
            "request_type": Param(
                "specific_pieces",
                title="Request type",
                description="specific_pieces (a copy of the data: 3 matching points and a declaration) or categories",
                **PARAM_SCHEMAS["request_type"],
            ),
            "photo_id_url": Param(
                "",
                title="Photo ID URL",
                description="Link to the photo ID (optional)",
                **PARAM_SCHEMAS["photo_id_url"],
            ),
            "phone": Param(
                None, title="Phone", description="Optional, matched against data held", **PARAM_SCHEMAS["phone"]
            ),
            "postal_address": Param(
                None,
                title="Postal address",
                description="Optional, matched against data held",
                **PARAM_SCHEMAS["postal_address"],
            ),
            "account_id": Param(
                None,
                title="Account id",
                description="Optional, matched against data held",
                **PARAM_SCHEMAS["account_id"],
            ),
            "account": Param(
                None,
                title="Account login (§7061)",
                description="{account_id, authenticated_at, method, delivery_url?, email_changed_at?, "
                "password_reset_at?}: the consumer was logged in to this account when making the request",
                **PARAM_SCHEMAS["account"],
            ),
            "agent": Param(
                None,
                title="Authorised agent",
                description="{name, email, permission: {kind, document_url}}: acting for the consumer (§7063)",
                **PARAM_SCHEMAS["agent"],
            ),
            "declaration": Param(
                None,
                title="Signed declaration",
                description="{signed_at, signer_name, statement_version}: signed under penalty of perjury (§7063)",
                **PARAM_SCHEMAS["declaration"],
            ),
            "language": Param(
                "",
                description="The requester's language (en, es); empty: the Variable ccpa_default_language",
                **PARAM_SCHEMAS["language"],
            ),
            "channel": Param(
                title="Channel",
                description="How the consumer made the request, for the §7101 records (required)",
                **PARAM_SCHEMAS["channel"],
            ),
            "received_at": Param(
                None,
                title="Received at",
                description=(
                    "When the consumer made the request, ISO 8601 with its UTC offset (e.g. "
                    "2026-01-05T18:00:00-08:00), if it was entered later; default: now. "
                    "The legal deadlines count from it."
                ),
                **PARAM_SCHEMAS["received_at"],
            ),
            "lookback": Param(
                "12_months",
                description="12_months (the legal minimum) or all (back to 2022-01-01, if the requester asks)",
                **PARAM_SCHEMAS["lookback"],
            ),
        }
    ),
    max_active_tasks=32,
    # A request waiting days for its decision is an active run: the default (16) would queue the 17th request
    # unacknowledged while its legal clock runs.
    max_active_runs=10_000,
)
def ccpa_right_of_access() -> None:
    # Every later task (the sensor too) takes this output whole: one XCom, not one more per key (issue #22).
    @task(multiple_outputs=False)
    def validate_request(**context: Any) -> dict[str, Any]:
        return workflow.validate_request(dict(context["params"]), context["run_id"], context["dag_run"].run_after)

    # Every task after validate_request takes its whole output (one XCom read, as its request_id alone would be) and
    # runs in the zone the request was registered under: no task reads the time zone's Variable again (issue #22).
    @task(priority_weight=1000)  # §7021(a): receipt is confirmed at once, ahead of any other work
    def send_acknowledgement(request: dict[str, Any]) -> str:
        with request_zone(request.get("timezone")):
            return workflow.send_acknowledgement(request["request_id"])

    # A dict return would be pushed key by key as well (TaskFlow infers multiple_outputs); it is passed whole.
    @task(multiple_outputs=False, retries=SLACK_TASK_RETRIES)
    def post_review_prompt(request: dict[str, Any]) -> dict[str, str]:
        with request_zone(request.get("timezone")):
            return workflow.post_review_prompt(request["request_id"])

    @task(multiple_outputs=False)
    def extract(name: str, request: dict[str, Any]) -> dict[str, Any]:
        with request_zone(request.get("timezone")):
            return workflow.extract_datastore(name, request["request_id"], request["lookback"])

    @task_group(group_id="aggregate_personal_data")
    def aggregate_personal_data(request: Any) -> Any:
        return [extract.override(task_id=d.task_id)(d.name, request) for d in DATASTORES]

    @task(multiple_outputs=False)
    def build_report(request: dict[str, Any], extracts: list[dict[str, Any]]) -> dict[str, Any]:
        with request_zone(request.get("timezone")):
            return workflow.build_report(request["request_id"], request["lookback"], extracts)

    @task
    def send_report(request: dict[str, Any], report: dict[str, Any]) -> str:
        with request_zone(request.get("timezone")):
            return workflow.send_report(request["request_id"], report)

    @task
    def send_rejection(request: dict[str, Any]) -> str:
        with request_zone(request.get("timezone")):
            return workflow.send_rejection(request["request_id"])

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS, retries=SLACK_TASK_RETRIES)
    def close_review_prompt(request: dict[str, Any], **context: Any) -> str:
        run_url = workflow.run_url(context["dag"].dag_id, context["run_id"])
        with request_zone(request.get("timezone")):
            return workflow.close_review_prompt(request["request_id"], run_url)

    # TaskFlow calls return XComArgs (references resolved at run time), hence Any for the type checker.
    request: Any = validate_request()
    # The sensor follows the decision itself (approve → the extractions, reject → the rejection email).
    decision = WaitForDecisionSensor(
        task_id="wait_for_decision",
        request=request,
        approve_branch="aggregate_personal_data",
        reject_branch="send_rejection",
        deferrable=True,
    )
    send_acknowledgement(request)
    post_review_prompt(request) >> decision
    extracts: Any = aggregate_personal_data(request)
    decision >> extracts
    built: Any = build_report(request, extracts)
    report = send_report(request, built)
    rejection = send_rejection(request)
    decision >> rejection
    [report, rejection] >> close_review_prompt(request)


ccpa_right_of_access()
