"""The daily compliance watch: what the law's clock needs even when no run is awake to notice.

Each waiting run already nudges its own officers (its sensor wakes for the reminder and the escalation); the
watch is the safety net for requests whose run stopped, and the one place that sees all of them: overdue requests
are reported to the channel, personal data past retention is removed, report files past their download window are
deleted. Everything is idempotent: a nudge is posted once per request, whoever posts it first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from include import clock, config, law, storage
from include.decision import reminders
from include.slack import client as slack_client
from include.store import (
    ACKNOWLEDGEMENT,
    EXPIRY_NOTICE,
    EXTENSION_NOTICE,
    ComplianceStore,
    RequestRecord,
    Status,
    records,
    utcnow,
)

if TYPE_CHECKING:
    from include.airflow_runs import AirflowRuns

log = logging.getLogger(__name__)

#: One-off marker: the request's stored files were deleted (the purge looks at each request once).
FILES_PURGED = "report_files_purged"
#: An open request still without a review prompt this long after it arrived: the officers are emailed.
PROMPT_GRACE = timedelta(hours=1)


def nudge_undecided(store: ComplianceStore, now: datetime | None = None) -> dict[str, int]:
    from include.tasks.access_request import post_nudge

    now = now or utcnow()
    hours = reminders.reminder_hours()
    posted = {reminders.REMINDER: 0, reminders.ESCALATION: 0}
    for record in store.open_requests():
        if not record.slack_ts or store.get_decision(record.request_id) is not None:
            continue
        done = store.done_kinds(record.request_id)
        for kind, at in reminders.schedule(record.received_at, record.due_at, hours):
            if at <= now and reminders.done_key(kind) not in done:
                post_nudge(record.request_id, kind)
                posted[kind] += 1
    return posted


def alert_missing_prompts(store: ComplianceStore, now: datetime | None = None) -> int:
    """Email the officers (once per request) about open requests that still have no review prompt an hour after
    they arrived: Slack was down past the task's retries, or the run stopped. Nobody would see them otherwise."""
    from include.tasks.access_request import alert_slack_unusable

    now = now or utcnow()
    alerted = 0
    for record in store.open_requests():
        if record.slack_ts or record.received_at > now - PROMPT_GRACE:
            continue
        hours = int((now - record.received_at).total_seconds() // 3600)
        if alert_slack_unusable(
            store,
            record,
            f"no review prompt has been posted in Slack {hours} hour(s) after the request arrived",
            None,
            once_key="alert_no_prompt",
            subject="No review prompt",
        ):
            alerted += 1
    return alerted


#: Airflow dag-run states in which a run still acts on its decision (a deferred sensor keeps its run ``running``).
LIVE_RUN_STATES = ("queued", "running")
#: What :func:`check_decided_runs` is told of a run: its state, or None when Airflow no longer has it.
RunState = Callable[[str], str | None]


def airflow_run_state(ti: Any, dag_id: str = "ccpa_right_of_access") -> RunState:
    """The state of a run of the request DAG, asked through the running task (Airflow 3 tasks reach the metadata
    database only through the API server: ``RuntimeTaskInstance.get_dr_count`` / ``get_dagrun_state``, as
    ``ExternalTaskSensor`` does)."""

    def state(run_id: str) -> str | None:
        if not ti.get_dr_count(dag_id=dag_id, run_ids=[run_id]):
            return None  # deleted (by hand, or by ``airflow db clean``)
        found = ti.get_dagrun_state(dag_id=dag_id, run_id=run_id)
        return str(getattr(found, "value", found))  # a DagRunState (a str Enum): its value, "failed"

    return state


@dataclass(frozen=True)
class Orphan:
    """A decided request whose run no longer acts on the decision. No personal data: ids, dates and states."""

    request_id: str
    run_id: str
    action: str
    decided_at: datetime
    due_at: datetime
    run_state: str | None

    def line(self) -> str:
        from include.tasks.access_request import DAG_ID, run_url

        what = "no longer exists in Airflow" if self.run_state is None else f"is {self.run_state}"
        return (
            f"Request {self.request_id}: {self.action} recorded {clock.format_short(self.decided_at)}, legally due "
            f"{clock.format_short(self.due_at)}; its run {self.run_id} {what}, so the answer is not being sent. "
            + (
                "Answer it by hand and record it, or ask the requester to submit again."
                if self.run_state is None
                else f"Clear the run's failed tasks (they act on the recorded decision): {run_url(DAG_ID, self.run_id)}"
            )
        )


def check_decided_runs(store: ComplianceStore, run_state: RunState, now: datetime | None = None) -> list[Orphan]:
    """Issue 18: a request that was decided (approved or rejected) but whose DAG run is gone (deleted), failed, or
    ended without closing it is never answered by itself: nothing else looks at it until its due date passes. The
    officers get one email (``ccpa_alert_emails``) and one channel message listing every such request, every day
    until it is resolved (aggregated: one message however many runs a database outage failed)."""
    from include.mail.alert import alert_officers, flush_digest

    now = now or utcnow()
    flush_digest(store)  # run failures still queued for a digest (no later failure sent them)
    orphans = []
    for record in store.open_requests():
        decision = store.get_decision(record.request_id)
        if decision is None:
            continue
        state = run_state(record.run_id)
        if state in LIVE_RUN_STATES:
            continue
        orphans.append(
            Orphan(record.request_id, record.run_id, decision.action, decision.decided_at, record.due_at, state)
        )
    if not orphans:
        return []
    lines = [o.line() for o in orphans]
    subject = f"{len(orphans)} decided CCPA request(s) with no live run"
    sent = alert_officers(subject, "\n\n".join(lines))
    try:
        slack_client.web_client().chat_postMessage(
            channel=config.get_variable(config.VAR_REVIEW_CHANNEL),
            text=f":rotating_light: {subject}:\n" + "\n".join(f"• {line}" for line in lines),
        )
    except Exception as exc:  # the email above still went out; the task fails so the failure is seen
        log.error("Could not post the decided-without-a-run summary in Slack (%s)", type(exc).__name__)
        if not sent:
            raise
    for orphan in orphans:
        store.audit(orphan.request_id, "decided_without_live_run", detail={"run_state": orphan.run_state})
    return orphans


def report_overdue(store: ComplianceStore, now: datetime | None = None) -> int:
    """One message to the review channel listing every open request past its legal deadline; first, the officers
    are emailed about open requests with no prompt (:func:`alert_missing_prompts`), which Slack never shows."""
    now = now or utcnow()
    alert_missing_prompts(store, now)
    overdue = [r for r in store.open_requests() if r.due_at < now]
    if not overdue:
        return 0
    lines = [
        f"• request `{r.request_id}`: due {clock.format_short(r.due_at)}, {(now - r.due_at).days} day(s) late, "
        f"status {r.status}"
        for r in overdue
    ]
    text = f":rotating_light: {len(overdue)} CCPA request(s) are past their legal deadline:\n" + "\n".join(lines)
    slack_client.web_client().chat_postMessage(channel=config.get_variable(config.VAR_REVIEW_CHANNEL), text=text)
    for r in overdue:
        store.audit(r.request_id, "reported_overdue")
    return len(overdue)


#: One-off markers (``ccpa_deliveries`` kinds) of what retention cleans outside the store, so a failure is retried
#: by the next day's watch and nothing is done twice.
PROMPT_REDACTED = "prompt_redacted"
RUN_DELETED = "airflow_run_deleted"
#: Slack errors that mean the prompt is not there to redact any more (deleted by hand, channel gone).
PROMPT_GONE = frozenset({"message_not_found", "channel_not_found", "is_archived"})


def redacted_prompt_text(request_id: str) -> str:
    return (
        f"CCPA request `{request_id}`: personal data removed after the retention period. The §7101 record of the "
        "request is kept without it."
    )


def apply_retention(store: ComplianceStore, now: datetime | None = None, runs: AirflowRuns | None = None) -> int:
    """§7101: keep the record 24 months after the request closed, then remove the personal data everywhere it was
    copied: the compliance store (name, email, photo link, free text, Slack ``response_url``s; the counts and the
    record stay), the report files, the Slack prompt (replaced through ``chat.update``) and Airflow's run of the
    request (its ``dag_run.conf`` holds the name and email: deleted through Airflow's REST API, see
    include/airflow_runs.py). What fails outside the store is retried by the next day's watch."""
    redacted = records.redact_older_than(store, months=law.RETENTION_MONTHS, now=now)
    for request_id in redacted:
        _delete_files(request_id)
    failures = _redact_prompts(store) + _delete_runs(store, runs)
    if failures:  # the others were done; the task fails so that someone looks
        raise failures[0]
    return len(redacted)


def _redact_prompts(store: ComplianceStore) -> list[Exception]:
    from slack_sdk.errors import SlackApiError

    failures: list[Exception] = []
    client = None
    for record in store.redacted_without(PROMPT_REDACTED):
        if record.slack_channel and record.slack_ts:
            text = redacted_prompt_text(record.request_id)
            try:
                client = client or slack_client.web_client()
                client.chat_update(
                    channel=record.slack_channel,
                    ts=record.slack_ts,
                    text=text,
                    blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
                )
            except SlackApiError as exc:
                if exc.response.get("error") not in PROMPT_GONE:
                    log.error("Could not redact the Slack prompt of request %s: %s", record.request_id, exc)
                    failures.append(exc)
                    continue
            except Exception as exc:
                log.error("Could not redact the Slack prompt of request %s: %s", record.request_id, type(exc).__name__)
                failures.append(exc)
                continue
        ref = record.slack_ts or "-"
        store.record_once(record.request_id, PROMPT_REDACTED, ref=ref, event="review_prompt_redacted")
    return failures


def _delete_runs(store: ComplianceStore, runs: AirflowRuns | None) -> list[Exception]:
    from include.airflow_runs import AirflowRuns, ApiAccount

    failures: list[Exception] = []
    for record in store.redacted_without(RUN_DELETED):
        try:
            runs = runs or AirflowRuns(ApiAccount.from_connection())
            deleted = runs.delete_run(record.run_id)
        except config.ConfigurationError as exc:
            return [*failures, exc]  # the same for every run: say it once
        except Exception as exc:
            log.error("Could not delete the Airflow run of request %s: %s", record.request_id, exc)
            failures.append(exc)
            continue
        store.record_once(
            record.request_id, RUN_DELETED, ref="deleted" if deleted else "absent", event="airflow_run_deleted"
        )
    return failures


def purge_report_files(store: ComplianceStore, now: datetime | None = None) -> int:
    """Delete the files of requests closed longer ago than the download link lives (and of abandoned ones: never
    closed, due longer ago than that): they hold personal data. By the closing date, with no lower bound, so a watch
    paused for weeks catches up; a link re-issued since (include.report.reissue) keeps the files until it expires.
    Each request once (marker ``report_files_purged``); returns how many had files to delete."""
    from include.report.downloads import ttl

    now = now or utcnow()
    deleted = 0
    for request_id in store.files_to_purge(now - ttl(), marker=FILES_PURGED):
        expiry = store.last_link_expiry(request_id)
        if expiry is not None and expiry > now:
            continue  # a re-issued link still works
        _delete_uploaded_photo(store, request_id)
        deleted += _delete_files(request_id)
        store.record_once(request_id, FILES_PURGED, ref="-", event="report_files_purged")
    return deleted


def _delete_uploaded_photo(store: ComplianceStore, request_id: str) -> None:
    """A photo ID uploaded through the request form, if closing the request did not delete it already (a request
    can close by another path than the run's last task)."""
    from include.requester import uploads

    record = store.find_request(request_id)
    if record is not None and uploads.delete_for(record.photo_id_url):
        store.audit(request_id, "photo_id_deleted")


def _delete_files(request_id: str) -> bool:
    """Delete the request's stored files (its folder, or its prefix on an object store)."""
    deleted = storage.delete_tree(storage.request_dir(request_id))
    if deleted:
        log.info("Deleted %d stored file(s) of request %s", deleted, request_id)
    return bool(deleted)


# -- the legal clock's safety net (§7021) ---------------------------------------------------------------------------


def _tell_officers(store: ComplianceStore, request_id: str, kind: str, text: str) -> None:
    """Once per request and kind: the review channel (Slack) and ``ccpa_alert_emails``; neither hides the other."""
    from include.mail.alert import email_officers_once

    failures: list[Exception] = []
    if store.record_once(request_id, f"slack_{kind}"[:32], ref="-"):
        try:
            slack_client.web_client().chat_postMessage(
                channel=config.get_variable(config.VAR_REVIEW_CHANNEL), text=f":rotating_light: {text}"
            )
        except Exception as exc:
            store.forget_once(request_id, f"slack_{kind}"[:32])
            failures.append(exc)
    try:
        email_officers_once(store, request_id, kind, f"CCPA request {request_id}: action needed", [text])
    except Exception as exc:
        failures.append(exc)
    if failures:
        raise failures[0]


def check_acknowledgements(store: ComplianceStore, now: datetime | None = None) -> dict[str, int]:
    """§7021(a): every open request's receipt is confirmed within 10 business days. The run sends it at once; if
    that failed after its retries, this retries it, and tells the officers when it still cannot (or when the
    deadline has passed)."""
    from include.store import DeliveryInDoubt
    from include.tasks.access_request import send_acknowledgement

    now = now or utcnow()
    counts = {"resent": 0, "alerted": 0}
    for record in store.open_requests():
        if ACKNOWLEDGEMENT in store.done_kinds(record.request_id):
            continue
        deadline = clock.acknowledgement_due(record.received_at)
        try:
            send_acknowledgement(record.request_id)
            counts["resent"] += 1
            store.audit(record.request_id, "acknowledgement_resent", detail={"late": now > deadline})
            if now <= deadline:
                continue
            problem = "was sent late, after"
        except DeliveryInDoubt:
            problem = "may not have been sent (a send is in doubt: check the mail server's log) and is due by"
        except Exception:
            log.exception("Acknowledgement of request %s failed again", record.request_id)
            problem = "could not be sent and is due by"
        _tell_officers(
            store,
            record.request_id,
            "ack_alert",
            f"The acknowledgement of CCPA request `{record.request_id}` {problem} the end of "
            f"{clock.format_short(deadline)} (§7021(a): 10 business days).",
        )
        counts["alerted"] += 1
    return counts


def check_extension_notices(store: ComplianceStore, now: datetime | None = None) -> dict[str, int]:
    """§7021(b): an extension counts only if its notice reached the requester within the first 45 days. Retry an
    unsent notice while there is time; past that, the extension is void (the original due date applies) and the
    officers are told."""
    from include.tasks.access_request import send_extension_notice

    now = now or utcnow()
    counts = {"resent": 0, "voided": 0}
    for record in store.open_requests():
        if record.extended_at is None or EXTENSION_NOTICE in store.done_kinds(record.request_id):
            continue
        deadline = clock.extension_deadline(record.received_at)
        if now <= deadline:  # still in time: send it (again)
            try:
                send_extension_notice(record.request_id)
                counts["resent"] += 1
            except Exception:
                log.exception("Extension notice of request %s failed again", record.request_id)
            continue
        voided = store.void_extension(record.request_id)
        counts["voided"] += 1
        _tell_officers(
            store,
            record.request_id,
            "extension_void",
            f"The extension of CCPA request `{record.request_id}` does not count: its notice did not reach the "
            f"requester within the first 45 days (§7021(b)). The request was due by the end of "
            f"{clock.format_short(voided.due_at)}.",
        )
    return counts


def expire_undecided(store: ComplianceStore, now: datetime | None = None) -> int:
    """§7021(b), §7062: a request still undecided at its due date is answered as unverifiable: the requester is told
    their identity could not be verified in time and receives the categories disclosure; the record closes as
    ``expired_unverified`` and the prompt loses its buttons. A request already decided (its run failed later) stays
    open and escalated: it is not the requester's identity that is in doubt. An authorised agent's request the consumer
    has not confirmed is denied instead (:func:`deny_unconfirmed_agents`, run first). Returns the requests closed."""
    from include.datastores.registry import load_registry
    from include.disclosure import categories_disclosure
    from include.mail.notices import render_expiry
    from include.mail.send import send_once
    from include.verification import agents

    now = now or utcnow()
    failures: list[Exception] = []
    try:
        expired = deny_unconfirmed_agents(store, now)
    except Exception as exc:  # the other requests still expire
        failures.append(exc)
        expired = 0
    for record in store.open_requests():
        if record.due_at >= now or record.status not in (Status.RECEIVED, Status.AWAITING_DECISION):
            continue
        if store.get_decision(record.request_id) is not None:
            continue
        if agents.denial_basis(agents.state(store, record)) is not None:
            continue  # §7063: denied by deny_unconfirmed_agents (never answered to an unconfirmed agent's request)
        try:
            email = render_expiry(
                name=record.name,
                request_id=record.request_id,
                received_at=record.received_at,
                due_at=record.due_at,
                categories=categories_disclosure(load_registry().datastores),
                language=record.language,
            )
            send_once(store, record.request_id, EXPIRY_NOTICE, record.email, email)
            store.set_status(record.request_id, Status.EXPIRED_UNVERIFIED)
            expired += 1
            _delete_uploaded_photo(store, record.request_id)  # verification only (§7060): gone at close
            if record.slack_channel and record.slack_ts:
                text = (
                    f":hourglass: Expired undecided at the end of {clock.format_short(record.due_at)}: the requester "
                    "was told their identity could not be verified in time, with the categories disclosure."
                )
                _replace_prompt(record, text)
        except Exception as exc:  # one request's failure must not hold back the others
            log.exception("Could not expire request %s", record.request_id)
            failures.append(exc)
    if failures:
        raise failures[0]
    return expired


def _replace_prompt(record: RequestRecord, text: str) -> None:
    """The prompt of a request the watch closed becomes its outcome: no buttons left to click."""
    assert record.slack_channel and record.slack_ts, "only a posted prompt is replaced"
    slack_client.web_client().chat_update(
        channel=record.slack_channel,
        ts=record.slack_ts,
        text=text,
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    )


def deny_unconfirmed_agents(store: ComplianceStore, now: datetime | None = None) -> int:
    """§7063(a): an authorised agent's request whose consumer has not confirmed the agent's permission by the due date
    (or said they did not give it) is denied, with the basis explained (§7024(e)): to the agent, who made the request,
    and to the consumer, whom we asked directly. Nothing is disclosed, not even the general categories: the request
    was never the consumer's.

    Exactly once, in the database: the denial is a ``reject`` decision (its primary key is the request: an officer's
    decision made first stands, and the watch's is made once), each email a delivery row (``rejection`` to the agent,
    ``agent_denial_consumer`` to the consumer). A run of the watch that stopped half-way is finished by the next one.
    Returns the requests closed."""
    from include.mail.notices import render_agent_denial
    from include.mail.send import send_once
    from include.store import REJECT, REJECTION
    from include.verification import agents

    now = now or utcnow()
    denied = 0
    failures: list[Exception] = []
    for record in store.open_requests():
        agent = record.identifiers.agent
        if agent is None:
            continue
        decision = store.get_decision(record.request_id)
        if decision is None:
            basis = agents.denial_basis(agents.state(store, record))
            if (
                basis is None
                or record.due_at >= now
                or record.status not in (Status.RECEIVED, Status.AWAITING_DECISION)
            ):
                continue
            try:
                decision, _made = store.record_decision(record.request_id, REJECT, agents.WATCH_ACTOR, reason=basis)
            except Exception as exc:
                log.exception("Could not record the denial of the agent request %s", record.request_id)
                failures.append(exc)
                continue
        if decision.decided_by != agents.WATCH_ACTOR or decision.action != REJECT:
            continue  # an officer decided first: the run answers that decision
        state = agents.denied_state(decision.reason)
        try:
            denial = partial(
                render_agent_denial,
                name=record.name,
                agent_name=agent.name,
                request_id=record.request_id,
                due_at=record.due_at,
                consumer_said_no=state == "denied",
                language=record.language,
            )
            send_once(store, record.request_id, REJECTION, agent.email, denial(to_agent=True))
            send_once(store, record.request_id, agents.DENIAL_TO_CONSUMER, record.email, denial(to_agent=False))
            store.set_status(record.request_id, Status.REJECTED_NOTIFIED, basis="agent_not_confirmed", state=state)
            denied += 1
            _delete_uploaded_photo(store, record.request_id)  # verification only (§7060): gone at close
            if record.slack_channel and record.slack_ts:
                text = (
                    f":no_entry: Denied at the end of {clock.format_short(record.due_at)} (§7063): the consumer "
                    + ("said they did not give the agent permission" if state == "denied" else "never confirmed")
                    + ". The agent and the consumer were told why; nothing was disclosed."
                )
                _replace_prompt(record, text)
        except Exception as exc:  # one request's failure must not hold back the others
            log.exception("Could not deny the agent request %s", record.request_id)
            failures.append(exc)
    if failures:
        raise failures[0]
    return denied
