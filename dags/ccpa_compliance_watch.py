"""
### CCPA compliance watch

Once a day: checks every open request's acknowledgement against its 10-business-day deadline (§7021(a); retried,
officers alerted), voids an extension whose notice did not go out within the first 45 days (§7021(b)), answers a
request still undecided at its due date as unverifiable (notice with the categories disclosure; `expired_unverified`),
nudges officers about undecided requests (a reminder after `ccpa_reminder_hours`, an escalation
10 days before the legal deadline, each posted once), reports overdue requests to the review channel, alerts the
officers about decided requests whose run is gone or failed (one summary a day, by email and in the channel), removes
personal data older than 24 months (11 CCR §7101: the records and counts stay), and deletes report files once
their download window has passed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task
from airflow.timetables.trigger import CronTriggerTimetable

from include.clock import DEFAULT_TIMEZONE
from include.store import ComplianceStore
from include.tasks import compliance_watch as watch


@dag(
    dag_id="ccpa_compliance_watch",
    # Five minutes after midnight in California (§7021(b): a due date is the end of a California day), so a request
    # still undecided at its due date gets its notice minutes after the deadline, not up to a day later as at UTC
    # midnight (16:00/17:00 Pacific). A business that sets another ccpa_timezone still gets one run a day.
    schedule=CronTriggerTimetable("5 0 * * *", timezone=DEFAULT_TIMEZONE),
    start_date=pendulum.datetime(2026, 1, 1, tz=DEFAULT_TIMEZONE),
    catchup=False,
    max_active_runs=1,
    # One task at a time (issue 18): on `airflow standalone`'s SQLite metadata DB, the watch's tasks starting together
    # stalled every Airflow component for 60 s, and intake triggers in that window got HTTP 500. Its work is small.
    max_active_tasks=1,
    doc_md=__doc__,
    tags=["ccpa", "privacy", "compliance"],
    default_args={"owner": "privacy", "retries": 2, "retry_delay": timedelta(minutes=5)},
)
def ccpa_compliance_watch() -> None:
    @task
    def nudge_undecided() -> dict[str, int]:
        return watch.nudge_undecided(ComplianceStore.from_connection())

    @task
    def report_overdue() -> int:
        return watch.report_overdue(ComplianceStore.from_connection())

    @task
    def check_extension_notices() -> dict[str, int]:
        return watch.check_extension_notices(ComplianceStore.from_connection())

    @task
    def expire_undecided() -> int:
        return watch.expire_undecided(ComplianceStore.from_connection())

    @task
    def check_acknowledgements() -> dict[str, int]:
        return watch.check_acknowledgements(ComplianceStore.from_connection())

    @task
    def check_decided_runs(**context: Any) -> int:
        return len(watch.check_decided_runs(ComplianceStore.from_connection(), watch.airflow_run_state(context["ti"])))

    @task
    def apply_retention() -> int:
        return watch.apply_retention(ComplianceStore.from_connection())

    @task
    def purge_report_files() -> int:
        return watch.purge_report_files(ComplianceStore.from_connection())

    # A void extension moves the due date back before anything expires or is reported overdue.
    check_extension_notices() >> expire_undecided() >> nudge_undecided() >> report_overdue() >> check_decided_runs()
    check_acknowledgements()
    apply_retention()
    purge_report_files()


ccpa_compliance_watch()
