"""The steps of one access request. Each function is one DAG task's work; the DAG file only wires them.

Every task process imports this module when it parses the DAG file, so heavy libraries (the Slack client, the PDF
and report writers) are imported by the functions that use them, not here: ~1 s less per task start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from include import clock, config, deployment, storage
from include.datastores.extract import extract
from include.datastores.registry import load_registry
from include.decision import reminders
from include.mail.alert import alert_in_digest, alert_officers, email_officers_once
from include.mail.notices import render_acknowledgement, render_duplicate_notice, render_extension, render_rejection
from include.mail.send import SMTPUTF8Unavailable, check_deliverable, send_once
from include.report.model import BuiltReport, ExtractSummary, summaries
from include.request import SPECIFIC_PIECES, AccessRequest, InvalidRequest, channel_of, lookback_of, received_at_of
from include.slack import client as slack_client
from include.slack.blocks import outcome_prompt, review_prompt, thread_notice
from include.store import (
    ACKNOWLEDGEMENT,
    APPROVE,
    DUPLICATE_NOTICE,
    EXTENSION_NOTICE,
    MARGIN_ALERT,
    REJECTION,
    REPORT,
    SCOPE_CATEGORIES,
    SCOPE_FULL,
    ComplianceStore,
    RequestRecord,
    Status,
)

if TYPE_CHECKING:
    from include.report.categories import Unverified

log = logging.getLogger(__name__)
T = TypeVar("T")


def store() -> ComplianceStore:
    return ComplianceStore.from_connection()


def validate_request(conf: dict[str, Any], run_id: str, entered_at: datetime) -> dict[str, Any]:
    """Normalise and validate the conf, and register the request once per DAG run (a retry finds it again).

    ``entered_at`` is the run's trigger time; the legal clock starts at the conf's ``received_at`` when given (a
    request made by email or phone is entered later). A conf that fails validation is still recorded (§7101) as
    ``invalid``, naming the fields at fault and keeping none of their values, then the run fails without retries."""
    try:  # a distributed executor with unshared state would split the request between machines: refuse first
        deployment.check_shared_state()
    except config.ConfigurationError as exc:
        raise AirflowFailException(f"Deployment not ready for this executor: {exc}") from None
    problems: list[InvalidRequest] = []

    def attempt(check: Callable[[], T]) -> T | None:
        try:
            return check()
        except InvalidRequest as exc:
            problems.append(exc)
            return None

    request = attempt(lambda: AccessRequest.from_conf(conf))
    channel = attempt(lambda: channel_of(conf))
    received_at = attempt(lambda: received_at_of(conf, entered_at)) or entered_at
    lookback = attempt(lambda: lookback_of(conf)) or "12_months"
    if request is not None:
        for field, address in _addresses(request):
            try:
                _deliverable(field, address)
            except InvalidRequest as exc:
                problems.append(exc)
    s = store()
    if problems or request is None:
        fields = [p.field for p in problems]
        s.register_invalid(run_id, fields, received_at, channel=channel or "unknown", entered_at=entered_at)
        # A malformed request stays malformed: fail now, without retries, naming the fields (never their values).
        raise AirflowFailException("; ".join(str(p) for p in problems))
    from include.i18n import language_or_default

    zone = clock.business_timezone()  # read once: the run's later tasks get it from this task's output
    record = s.register_request(
        run_id,
        request,
        received_at,
        tz=zone,
        channel=channel or "unknown",
        entered_at=entered_at,
        lookback=lookback,
        # Every request is for specific pieces until verification levels exist (the stricter reading).
        required_approvals=config.required_approvals(specific_pieces=True),
        language=language_or_default(str(conf.get("language") or "") or None),
    )
    if record.linked_to is None and record.closed_at is None:
        # One answer per open request (never a closed, failed or overdue one): a later request of the same email
        # only tells the requester.
        record = s.link_if_duplicate(record.request_id)
        if record.linked_to is not None and lookback == "all":
            # Civ. 1798.130(a)(2)(B): the answer in progress covers the wider ask.
            s.widen_scope(record.linked_to, by_request=record.request_id)
    log.info(
        "Request %s registered for run %s, due %s", record.request_id, run_id, clock.format_short(record.due_at, zone)
    )
    return {
        "request_id": record.request_id,
        "due_at": record.due_at.isoformat(),
        "lookback": record.lookback,
        "linked_to": record.linked_to,
        # The zone the legal dates were computed in: every later task of the run uses it (clock.request_zone).
        "timezone": zone.key,
    }


def _addresses(request: AccessRequest) -> list[tuple[str, str]]:
    """Every address this request will be answered at: the requester's, and an authorised agent's (§7063)."""
    found = [("email", request.email)]
    if request.identifiers.agent is not None:
        found.append(("agent.email", request.identifiers.agent.email))
    return found


def _deliverable(field: str, address: str) -> None:
    """Issue 18: a non-ASCII address the mail server cannot take (no SMTPUTF8) is refused here, at intake, clearly and
    recorded as invalid, rather than failing at the first email; an unreachable server raises (the task retries)."""
    try:
        check_deliverable(address)
    except SMTPUTF8Unavailable:
        raise InvalidRequest(
            field,
            "is not an ASCII address and the mail server does not offer SMTPUTF8: it cannot be answered by email "
            "(enable SMTPUTF8 on the SMTP server, or answer this requester another way)",
        ) from None


def post_review_prompt(request_id: str) -> dict[str, str]:
    """Post the Approve/Reject prompt once; a retry after a post that succeeded reuses it."""
    s = store()
    record = s.get_request(request_id)
    if record.linked_to:
        raise AirflowSkipException(f"request {request_id} is a duplicate of open request {record.linked_to}")
    if record.slack_ts:
        return {"channel": record.slack_channel or "", "ts": record.slack_ts}
    from include.verification import agents
    from include.verification import service as verification

    record, evidence = verification.compute(s, record)
    record = _check_account(s, record)
    text, blocks = review_prompt(
        record,
        evidence=evidence.summary(),
        earlier_requests=s.earlier_requests(record),
        agent=(agents.state(s, record), agents.describe(s, record)),
    )
    channel = config.get_variable(config.VAR_REVIEW_CHANNEL)
    try:
        response = slack_client.web_client().chat_postMessage(
            channel=channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
        )
    except Exception as exc:
        alert_slack_unusable(s, record, "the review prompt could not be posted in Slack", exc, once_key="alert_prompt")
        raise
    s.set_review_prompt(request_id, response["channel"], response["ts"])
    return {"channel": response["channel"], "ts": response["ts"]}


DAG_ID = "ccpa_right_of_access"


def slack_error(exc: BaseException) -> str:
    """What Slack said, without the message body (which holds personal data): the exception type, the HTTP status
    and Slack's error code."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    code = response.get("error") if response is not None and hasattr(response, "get") else None
    return " ".join(str(p) for p in (type(exc).__name__, f"HTTP {status}" if status else None, code) if p)


def alert_slack_unusable(
    s: ComplianceStore,
    record: RequestRecord,
    what: str,
    exc: BaseException | None,
    *,
    once_key: str,
    subject: str = "Slack unusable",
) -> bool:
    """Email the officers (once per request and ``once_key``) that Slack could not be used for this request."""
    cause = f" ({slack_error(exc)})" if exc is not None else ""
    body = (
        f"Request {record.request_id}, received {record.received_at:%Y-%m-%d}, legally due {record.due_at:%Y-%m-%d}: "
        f"{what}{cause}.\n\n"
        "It is tried again automatically (for hours) and the request is not lost. If it keeps failing, look the "
        f"request up in the Airflow run: {run_url(DAG_ID, record.run_id)}"
    )
    return alert_officers(
        f"{subject} for request {record.request_id}",
        body,
        store=s,
        request_id=record.request_id,
        once_key=once_key,
    )


def _check_account(s: ComplianceStore, record: RequestRecord) -> RequestRecord:
    """§7061: check the account login the intake asserted (if any) and keep the result for the prompt and the
    callback; the record read back carries it."""
    from include.verification import account

    if account.compute(s, record) is None:
        return record
    return s.get_request(record.request_id)


def extract_datastore(name: str, request_id: str, lookback: str) -> dict[str, Any]:
    """One datastore's rows for the requester, streamed to storage; only the path and counts go to XCom."""
    s = store()
    record = s.get_request(request_id)
    datastore = load_registry().get(name)
    dest = storage.request_dir(request_id) / f"{name}.jsonl"
    summary = extract(
        datastore,
        email=record.email,
        name=record.name,
        since=_since(record.received_at, lookback, record.lookback),
        dest=dest,
        keep_values=_scope(s, request_id) == SCOPE_FULL,  # a categories answer never writes a value (§7062(b))
    )
    log.info("Datastore %s: %d row(s) for request %s", name, summary.row_count, request_id)
    return summary.to_dict()


def _scope(s: ComplianceStore, request_id: str) -> str:
    """The scope the officer approved (full or categories), as the database recorded it."""
    decision = s.get_decision(request_id)
    if decision is None or decision.action != APPROVE or decision.scope is None:
        raise AirflowFailException(f"request {request_id} has no approval: nothing may be disclosed")
    return decision.scope


def _since(received_at: datetime, lookback: str, record_lookback: str = "12_months") -> datetime:
    """Civ. 1798.130(a)(2)(B): 12 calendar months before receipt, or everything when this request or a duplicate
    of it asked for everything."""
    return clock.lookback_start(received_at, everything="all" in (lookback, record_lookback))


def build_report(request_id: str, lookback: str, extracts: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's files in storage: HTML, JSON, a CSV per datastore, PDF. Returns paths and counts only."""
    s = store()
    record = s.get_request(request_id)
    datastores = summaries(extracts)
    scope = _scope(s, request_id)
    since = _since(record.received_at, lookback, record.lookback)
    report: BuiltReport
    if scope == SCOPE_CATEGORIES:
        from include.report import categories

        report = categories.build(record, since, datastores, unverified=_unverified_reason(record))
    else:
        from include.report import files as report_files

        report = report_files.build(record, since, datastores)
    s.audit(
        request_id,
        "report_built",
        detail={"datastores": len(datastores), "rows": report.row_count, "scope": scope},
    )
    _flag_uncategorised(record, datastores)
    return report.to_dict()


def _unverified_reason(record: RequestRecord) -> Unverified | None:
    """§7024: why a specific-pieces request is answered with categories (None when categories were asked for)."""
    if record.request_type != SPECIFIC_PIECES:
        return None
    from include.report.categories import Unverified
    from include.verification.service import level_of

    level = level_of(record)
    if level.capped:  # §7061: the account login did not match the account held for this email
        return Unverified(account_mismatch=True)
    t = level.thresholds
    return Unverified(
        points_needed=t.specific_points,
        declaration_needed=t.specific_needs_declaration,
        points_matched=level.points,
        declared=bool(level.declaration),
    )


def _flag_uncategorised(record: RequestRecord, datastores: tuple[ExtractSummary, ...]) -> None:
    """Columns the registry does not map to a CCPA category: the officer must know, the engineer must fix."""
    columns = [column for summary in datastores for column in summary.uncategorised_columns()]
    if not columns:
        return
    store().audit(record.request_id, "uncategorised_columns", detail={"columns": columns})
    if record.slack_channel and record.slack_ts:
        _post_in_thread(
            record,
            ':warning: Uncategorised columns in this report, withheld from the requester ("held; category not yet '
            'mapped") until an engineer maps them to a CCPA category in the datastore registry: '
            f"{', '.join(f'`{c}`' for c in columns)}",
        )


def send_report(request_id: str, report: dict[str, Any]) -> str:
    s = store()
    record = s.get_request(request_id)
    sent = _send_answer(s, record, report)
    agent = record.identifiers.agent
    if agent is not None:  # §7063: the answer went to the consumer; the agent is told it was sent
        from include.mail.notices import render_agent_notice
        from include.verification.agents import AGENT_NOTICE

        notice = render_agent_notice(
            name=record.name, agent_name=agent.name, request_id=request_id, language=record.language
        )
        send_once(s, request_id, AGENT_NOTICE, agent.email, notice)
    return sent


def _send_answer(s: ComplianceStore, record: RequestRecord, report: dict[str, Any]) -> str:
    """The answer to the consumer: through the account channel, as the categories page, or the full report."""
    request_id = record.request_id
    decision = s.get_decision(request_id)
    from include.verification.account import delivery_url

    url = delivery_url(record, decision.basis if decision else None)
    if url:
        # §7061: verified by the account login and the intake gave the account's secure channel: the email carries
        # a notice and that link; the data (the attachments) is withheld from email.
        from include.mail.notices import render_account_delivery

        s.audit(request_id, "report_via_account_channel", detail={"attachments_withheld": True})
        notice = render_account_delivery(name=record.name, request_id=request_id, url=url, language=record.language)
        return send_once(s, request_id, REPORT, record.email, notice)
    if decision is not None and decision.scope == SCOPE_CATEGORIES:
        # §7062(b), §7024: the categories answer is its own page (with the reason when specific pieces could not be
        # verified); no attachments, no values.
        from include.mail.message import Email

        built = BuiltReport.from_dict(report)
        page = storage.resolve(built.html).read_text(encoding="utf-8")
        return send_once(s, request_id, REPORT, record.email, Email(subject=built.subject, html=page))
    from include.report import files as report_files

    email, attachments, link = report_files.email_for(record, report)
    if link:
        s.audit(request_id, "download_link_issued", detail={"expires_at": link.expires_at.isoformat()})
    return send_once(s, request_id, REPORT, record.email, email, attachments)


def send_acknowledgement(request_id: str) -> str:
    """§7021(a): confirm receipt at once, with how the request is verified and when it is due. A duplicate of an
    open request is told that one is being answered instead."""
    s = store()
    record = s.get_request(request_id)
    if record.linked_to:
        original = s.get_request(record.linked_to)
        email = render_duplicate_notice(
            name=record.name, request_id=request_id, original=original, language=record.language
        )
        sent = send_once(s, request_id, DUPLICATE_NOTICE, record.email, email)
        _delete_uploaded_photo(record)  # this request is closed: answered with the original
        return sent
    email = render_acknowledgement(
        name=record.name,
        request_id=request_id,
        received_at=record.received_at,
        due_at=record.due_at,
        language=record.language,
        status_url=_status_url(record),
        request_type=record.request_type,
    )
    sent = send_once(s, request_id, ACKNOWLEDGEMENT, record.email, email)
    agent = record.identifiers.agent
    if agent is not None:  # §7063: ask the consumer, at their own address, whether they gave the agent permission
        from include.mail.notices import render_agent_confirmation
        from include.verification.agents import CONFIRMATION_EMAIL
        from include.verification.links import make_agent_link

        link = make_agent_link(request_id, record.due_at)
        confirm = render_agent_confirmation(
            name=record.name, agent_name=agent.name, link=link, request_id=request_id, language=record.language
        )
        send_once(s, request_id, CONFIRMATION_EMAIL, record.email, confirm)
    return sent


def _status_url(record: RequestRecord) -> str | None:
    """The signed link to the requester's status page (none when no signing key is configured)."""
    from include.requester import signing

    try:
        return signing.status_url(record.run_id, record.language)
    except config.ConfigurationError:
        log.warning("No status link in the acknowledgement: set the Variable '%s'", config.VAR_DOWNLOAD_SECRET)
        return None


def send_extension_notice(request_id: str) -> str:
    """§7021(b): the requester learns of the extension, and why, within the first 45 days."""
    s = store()
    record = s.get_request(request_id)
    email = render_extension(
        name=record.name,
        request_id=request_id,
        due_at=record.due_at,
        reason=record.extension_reason or "",
        language=record.language,
    )
    return send_once(s, request_id, EXTENSION_NOTICE, record.email, email)


def send_rejection(request_id: str) -> str:
    s = store()
    record = s.get_request(request_id)
    decision = s.get_decision(request_id)
    email = render_rejection(
        name=record.name,
        request_id=request_id,
        reason=decision.reason if decision else None,
        language=record.language,
    )
    return send_once(s, request_id, REJECTION, record.email, email)


def run_url(dag_id: str, run_id: str) -> str:
    """The run's page in the Airflow UI, from ``[api] base_url``."""
    from urllib.parse import quote

    return f"{config.airflow_base_url()}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


def _post_in_thread(record: RequestRecord, text: str, broadcast: bool = False) -> None:
    if not record.slack_channel or not record.slack_ts:
        return  # no prompt, no thread
    slack_client.web_client().chat_postMessage(
        channel=record.slack_channel, thread_ts=record.slack_ts, reply_broadcast=broadcast, text=text
    )


def post_nudge(request_id: str, kind: str) -> None:
    """Post a reminder or an escalation in the prompt's thread, once."""
    s = store()
    record = s.get_request(request_id)
    if not record.slack_channel or not record.slack_ts:
        return
    if not s.record_once(request_id, reminders.done_key(kind), ref=record.slack_ts):
        return
    try:
        _post_in_thread(record, thread_notice(kind, record, approvers=config.approvers()), kind == reminders.ESCALATION)
    except Exception:
        s.forget_once(request_id, reminders.done_key(kind))
        raise


def escalate_undecided(request_id: str) -> None:
    """The wait for a decision ended ``ccpa_decision_margin_days`` before the due date: the request stays open but
    escalated (no new request is linked to it), and the officers are told in Slack (broadcast) and by email."""
    s = store()
    record = s.get_request(request_id)
    s.mark_failed(request_id, reason="decision_window_closed")
    due = clock.format_short(record.due_at)
    text = (
        f"No decision on request `{request_id}` with {config.decision_margin_days()} day(s) left before its legal "
        f"deadline ({due}): the wait has ended. Decide now in this thread's prompt, then clear `wait_for_decision` in "
        "Airflow so the answer is sent; undecided at the deadline, the requester is told their identity could not be "
        "verified in time and receives the categories disclosure."
    )
    failures: list[Exception] = []
    if s.record_once(request_id, "slack_window_closed", ref=record.slack_ts or "-"):
        try:
            if record.slack_channel and record.slack_ts:
                _post_in_thread(
                    record, thread_notice("failure", record, approvers=config.approvers(), extra=text), True
                )
            else:
                slack_client.web_client().chat_postMessage(
                    channel=config.get_variable(config.VAR_REVIEW_CHANNEL), text=f":warning: {text}"
                )
        except Exception as exc:  # the email below must still go out
            s.forget_once(request_id, "slack_window_closed")
            failures.append(exc)
    try:
        email_officers_once(s, request_id, MARGIN_ALERT, f"CCPA request {request_id}: no decision, due {due}", [text])
    except Exception as exc:
        failures.append(exc)
    if failures:
        raise failures[0]


def notify_failure(context: dict[str, Any]) -> None:
    """on_failure_callback: a run that stops must say so, loudly: in the prompt's thread (reply_broadcast) and by
    email to ``ccpa_alert_emails``. The request stays open and escalated, and is never linked to by a new one."""
    from include.decision.sensor import DecisionWindowClosed

    try:
        ti = context["ti"]
        exc = context.get("exception")
        if isinstance(exc, DecisionWindowClosed):
            return  # already escalated by the sensor (Slack and email)
        s = store()
        record = s.find_by_run_id(context["run_id"])
        if record is None or not record.open:
            return  # failed before it was registered, or an invalid request (recorded as such): nothing to escalate
        # Open and escalated: never closed silently, never linked to by a new request.
        s.mark_failed(record.request_id, reason=f"{ti.task_id}: {type(exc).__name__}")
        if not record.slack_channel or not record.slack_ts:
            # No prompt to reply to: the officers hear of it by email instead of never.
            alert_slack_unusable(
                s,
                record,
                f"the run failed at {ti.task_id} ({type(exc).__name__}) before a review prompt was posted in Slack",
                None,
                once_key=f"alert_failed_{ti.task_id}",
            )
            return
        link = f"<{run_url(ti.dag_id, context['run_id'])}|Airflow run>"
        if ti.task_id == "wait_for_decision" and "Timeout" in type(exc).__name__:
            extra = (
                f"No decision before the legal deadline of {clock.format_short(record.due_at)}: the run has stopped. "
                f"Decide now and re-run it from {link}."
            )
        else:
            extra = (
                f"The run failed at `{ti.task_id}` ({type(exc).__name__}) after its retries. "
                f"{_what_was_sent(s, record.request_id)} See {link}."
            )
        # Aggregated (issue 18): an outage past the retries fails every run in flight at once; the officers get one
        # email listing them (include/mail/alert.py: at most one per 15 minutes, the rest at the next one or the
        # daily watch), and only the failure that opened it is broadcast to the channel, the others reply in their
        # own prompt's thread.
        line = (
            f"Request {record.request_id} (legally due {clock.format_short(record.due_at)}): "
            + extra.replace(link, run_url(ti.dag_id, context["run_id"]))
            + " The request stays open."
        )
        try:
            broadcast = alert_in_digest(s, record.request_id, line)
        except Exception:
            log.exception("Could not email the failure alert")
            broadcast = True
        try:
            notice = thread_notice("failure", record, approvers=config.approvers(), extra=extra)
            _post_in_thread(record, notice, broadcast)
        except Exception as slack_exc:
            alert_slack_unusable(
                s,
                record,
                f"the run failed at {ti.task_id} ({type(exc).__name__}); the failure could not be told in Slack",
                slack_exc,
                once_key=f"alert_failed_{ti.task_id}",
            )
        s.audit(record.request_id, "run_failed", detail={"task_id": ti.task_id, "error": type(exc).__name__})
    except Exception:  # a failing failure callback must not hide the original failure
        log.exception("Could not announce the failure")


def _what_was_sent(s: ComplianceStore, request_id: str) -> str:
    """What the requester has received so far, from the deliveries recorded (said as it is, never assumed)."""
    done = s.done_kinds(request_id)
    if REPORT in done:
        return "The report email had already been sent to the requester."
    if REJECTION in done:
        return "The rejection email had already been sent to the requester."
    if ACKNOWLEDGEMENT in done:
        return "The requester has received the acknowledgement only: no report or rejection was sent."
    return "Nothing was sent to the requester."


def close_review_prompt(request_id: str, run_url: str | None = None) -> str:
    """Replace the prompt by the outcome, without buttons, so nobody acts twice."""
    s = store()
    record = s.get_request(request_id)
    if record.linked_to:
        raise AirflowSkipException(f"request {request_id} is a duplicate: it has no prompt of its own")
    decision = s.get_decision(request_id)
    if decision is None:
        raise RuntimeError(f"request {request_id} has no decision: nothing to close")
    outcome = ":white_check_mark: report sent" if decision.action == APPROVE else ":x: rejection sent"
    if decision.action == APPROVE and decision.scope == SCOPE_CATEGORIES:
        outcome = ":white_check_mark: categories report sent (no values)"
    text, blocks = outcome_prompt(
        record,
        action=decision.action,
        decided_by=decision.decided_by,
        outcome=outcome,
        run_url=run_url,
        scope=decision.scope,
        approvers=[a.approver for a in s.approvals(request_id)],
    )
    # The record closes first, whatever Slack does: the answer was sent (this task runs after it).
    final = Status.COMPLETED if decision.action == APPROVE else Status.REJECTED_NOTIFIED
    if record.status != final:
        s.set_status(request_id, final)
    _delete_uploaded_photo(record)  # the request is closed: the photo ID was for verification only (§7060)
    if record.slack_channel and record.slack_ts:
        try:
            slack_client.web_client().chat_update(
                channel=record.slack_channel, ts=record.slack_ts, text=text, blocks=blocks
            )
        except Exception as exc:
            alert_slack_unusable(
                s,
                record,
                "the review prompt could not be closed in Slack (its buttons stay)",
                exc,
                once_key="alert_close",
            )
            raise
    return outcome


def _delete_uploaded_photo(record: RequestRecord) -> None:
    """A photo ID uploaded through the request form is deleted when the request closes (only verification used it)."""
    from include.requester import uploads

    if uploads.delete_for(record.photo_id_url):
        store().audit(record.request_id, "photo_id_deleted")
