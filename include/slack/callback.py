"""The Slack interactivity endpoint: ``POST /slack/actions``.

Served by the Airflow API server through the plugin (``/ccpa/slack/actions``) or on its own with
``flask --app 'include.slack_callback:create_app()' run``. Slack's signature is the only authentication, so nothing
is read from the body before it is verified, and every rejection writes nothing.

Slack gives an app 3 seconds to answer. The decision is written while Slack waits (at most ``ACK_BUDGET``
seconds: a slow database finishes in the background); everything else a click causes — updating the prompt,
telling a second clicker who was first, opening the rejection modal — happens after the answer.

A decision is never lost silently: decision writes run on their own threads (never queued behind Slack HTTP calls),
on a compliance-store engine whose every operation times out inside the budget (include.db.INTERACTIVE_TIMEOUTS). A
write that fails is logged at ERROR and the officer is told "not recorded — click again" (through the click's
``response_url``); a modal whose write fails stays open with the error instead of closing.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from flask import Flask, Response, jsonify, request
from slack_sdk.signature import SignatureVerifier

from include import clock, config
from include.db import INTERACTIVE_TIMEOUTS
from include.report import downloads
from include.requester import form as request_form
from include.slack import client as slack_client
from include.slack.blocks import (
    ACTIONS,
    APPROVE_CATEGORIES,
    ASK_ACTION_ID,
    ASK_BLOCK_ID,
    ASK_MORE,
    ASK_VIEW_CALLBACK_ID,
    DETAILS_ACTION_ID,
    DETAILS_BLOCK_ID,
    EXTEND,
    EXTEND_VIEW_CALLBACK_ID,
    OTHER_REASON,
    REASON_ACTION_ID,
    REASON_BLOCK_ID,
    REJECT_VIEW_CALLBACK_ID,
    REJECTION_REASONS,
    SKIP_AGENT,
    approvals_line,
    ask_modal,
    extend_modal,
    outcome_prompt,
    reject_modal,
    review_prompt,
)
from include.store import (
    APPROVE,
    REJECT,
    SCOPE_CATEGORIES,
    SCOPE_FULL,
    ApprovalResult,
    ComplianceStore,
    Decision,
    ExtensionRefused,
    RequestRecord,
    UnknownRequest,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
#: How long the decision write may keep Slack waiting before we answer anyway (Slack's limit is 3 s).
ACK_BUDGET = 2.0

#: Slack HTTP calls made after the answer (chat.update, response_url notes): 10-30 s timeouts each.
_background = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ccpa-slack")
#: Decision writes: their own threads, so a slow Slack never delays a write past the budget.
DECISION_WORKERS = 8
_decisions = ThreadPoolExecutor(max_workers=DECISION_WORKERS, thread_name_prefix="ccpa-decision")

NOT_RECORDED = (
    ":warning: Your decision was *not recorded*: the compliance database did not answer in time. Click again "
    "(a second click never records twice)."
)
NOT_RECORDED_MODAL = "Not recorded: the compliance database did not answer in time. Submit again."
NOT_CONFIRMED_MODAL = (
    "The compliance database is slow: we cannot confirm it was recorded yet. Submit again in a moment "
    "(it is never recorded twice)."
)


class _Unset:
    """Not given (None is a value: an unknown request's basis)."""


_UNSET = _Unset()


def callback_store() -> ComplianceStore:
    """The callback's compliance store: timeouts inside the ack budget, a pool as large as the threads using it."""
    return ComplianceStore.from_connection(timeouts=INTERACTIVE_TIMEOUTS, pool_size=2 * DECISION_WORKERS)


class _Settings:
    """Signing secret and approvers, re-read at most every ``ttl`` seconds (a Variable change applies quickly)."""

    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self._loaded_at = -ttl
        self._secret = ""
        self._approvers: frozenset[str] = frozenset()
        self._team_id = ""
        self._app_id = ""

    def _refresh(self) -> None:
        if time.monotonic() - self._loaded_at < self.ttl:
            return
        self._secret = config.get_variable(config.VAR_SIGNING_SECRET, "")
        self._approvers = config.approvers()
        self._team_id = config.get_variable(config.VAR_SLACK_TEAM_ID, "").strip()
        self._app_id = config.get_variable(config.VAR_SLACK_APP_ID, "").strip()
        self._loaded_at = time.monotonic()

    @property
    def team_id(self) -> str:
        self._refresh()
        return self._team_id

    @property
    def app_id(self) -> str:
        self._refresh()
        return self._app_id

    @property
    def signing_secret(self) -> str:
        self._refresh()
        return self._secret

    @property
    def approvers(self) -> frozenset[str]:
        self._refresh()
        return self._approvers


@dataclass(frozen=True)
class _Click:
    action: str
    user_id: str
    request_id: str
    response_url: str | None
    trigger_id: str | None
    channel_id: str | None


class BadPayload(ValueError):
    pass


def create_app(
    store_factory: Callable[[], ComplianceStore] = callback_store,
    settings: Any | None = None,
    slack_client_factory: Callable[[], Any] = slack_client.web_client,
    request_trigger: request_form.TriggerRun | None = None,
) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    settings = settings or _Settings()
    handler = interaction_handler(store_factory, settings, slack_client_factory)

    app.register_blueprint(downloads.blueprint)
    from include.verification.page import blueprint_for

    app.register_blueprint(blueprint_for(store_factory, handler.refresh_prompt))
    form = request_form.register(app, trigger=request_trigger)  # the requester's form and status pages: /request…

    @app.errorhandler(413)
    def too_large(_: Exception) -> Response | tuple[Response, int]:
        if request.path.rstrip("/").endswith("/request"):
            return form.too_large()  # a person, in their language
        if request.endpoint == "ccpa_verification.submit":
            from include.verification.page import too_large as page_too_large

            return page_too_large()  # a person: the photo ID asked for is too big
        return jsonify(error="request body too large"), 413

    @app.get("/health")
    def health() -> Response:
        return jsonify(status="ok")

    @app.post("/slack/actions")
    def slack_actions() -> tuple[Response | str, int]:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return jsonify(error="request body too large"), 413
        body = request.get_data(cache=False)
        if len(body) > MAX_BODY_BYTES:
            return jsonify(error="request body too large"), 413
        secret = settings.signing_secret
        if not secret:
            log.error("Slack callback refused: Variable '%s' is not set", config.VAR_SIGNING_SECRET)
            return jsonify(error="signing secret not configured"), 401
        try:
            config.refuse_demo_secret(f"Airflow Variable '{config.VAR_SIGNING_SECRET}'", secret)
        except config.DemoSecretRefused as exc:
            # Anyone can sign a click with a published secret: no click is trusted, the officers are not deceived.
            log.error("Slack callback refused: %s", exc)
            return jsonify(error="the demo signing secret is refused outside the demo"), 401
        if not _signature_valid(secret, body, request.headers):
            log.warning("Slack callback refused: missing, forged or expired signature")
            return jsonify(error="invalid signature"), 401
        try:
            payload = _parse_payload(body)
            if not _from_our_app(payload, settings):
                log.warning("Slack callback refused: signed, but from another workspace or app")
                return jsonify(error="wrong workspace or app"), 403
            answer = handler.handle(payload)
        except BadPayload as exc:
            return jsonify(error=str(exc)), 400
        return (jsonify(answer), 200) if answer else ("", 200)

    return app


def interaction_handler(
    store_factory: Callable[[], ComplianceStore] = ComplianceStore.from_connection,
    settings: Any | None = None,
    slack_client_factory: Callable[[], Any] = slack_client.web_client,
) -> _Handler:
    """What answers an interaction payload (:meth:`_Handler.handle`): the HTTP callback and the Socket Mode service
    (include/slack/socket_mode.py) each hold one, so both apply the same allow-list, exactly-once and answers."""
    return _Handler(store_factory, settings or _Settings(), slack_client_factory)


class _Handler:
    def __init__(self, store_factory: Callable[[], ComplianceStore], settings: Any, slack: Callable[[], Any]):
        self._store_factory = store_factory
        self._store: ComplianceStore | None = None
        self.settings = settings
        self._slack_factory = slack
        self._slack: Any = None

    @property
    def store(self) -> ComplianceStore:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    @property
    def slack(self) -> Any:
        if self._slack is None:
            self._slack = self._slack_factory()
        return self._slack

    def handle(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """One interaction payload, however it arrived (the HTTP callback after its signature check, or a Socket
        Mode envelope): what to answer Slack with (None: an empty 200 / a bare ack). Raises BadPayload."""
        kind = payload.get("type")
        if kind == "block_actions":
            self.on_click(_click(payload))
            return None
        callback_id = (payload.get("view") or {}).get("callback_id") if kind == "view_submission" else None
        if callback_id == REJECT_VIEW_CALLBACK_ID:
            return self.on_reject_submission(payload)
        if callback_id == EXTEND_VIEW_CALLBACK_ID:
            return self.on_extend_submission(payload)
        if callback_id == ASK_VIEW_CALLBACK_ID:
            return self.on_ask_submission(payload)
        raise BadPayload(f"unsupported payload type {kind!r}")

    # -- block_actions ----------------------------------------------------------------------------

    def on_click(self, click: _Click) -> None:
        if not self._may_decide(click.user_id, click.request_id, click.action, click.response_url, click.channel_id):
            return
        if click.action in (APPROVE, APPROVE_CATEGORIES):
            scope = SCOPE_FULL if click.action == APPROVE else SCOPE_CATEGORIES

            def not_recorded() -> None:
                self._tell(click.response_url, click.channel_id, click.user_id, NOT_RECORDED)

            state, _ = _within_budget(
                lambda: self._approve(click.request_id, scope, click.user_id, click.response_url, click.channel_id),
                on_late_failure=not_recorded,
            )
            if state == FAILED:
                not_recorded()
            return
        if click.action == SKIP_AGENT:

            def skip_not_recorded() -> None:
                self._tell(click.response_url, click.channel_id, click.user_id, NOT_RECORDED)

            state, _ = _within_budget(
                lambda: self._skip_agent(click.request_id, click.user_id, click.response_url),
                on_late_failure=skip_not_recorded,
            )
            if state == FAILED:
                skip_not_recorded()
            return
        try:
            self._open_modal(click)
        except Exception as exc:  # the database is down or slow: say so rather than answer 500 to Slack
            log.error("Could not open the %s modal: %s", click.action, type(exc).__name__)
            self._tell(
                click.response_url,
                click.channel_id,
                click.user_id,
                ":warning: The compliance database did not answer: nothing was changed. Click again in a moment.",
            )

    def _open_modal(self, click: _Click) -> None:
        # Reject and Extend ask for the reason first; nothing changes until the modal is submitted.
        decided = self.store.get_decision(click.request_id)
        if decided is not None:
            self._tell(click.response_url, click.channel_id, click.user_id, _already(decided))
            return
        try:
            record = self.store.get_request(click.request_id)
        except UnknownRequest:
            self._tell(click.response_url, click.channel_id, click.user_id, "This request is unknown or closed.")
            return
        if click.action == EXTEND and record.extended_at is not None:
            when = clock.format_short(record.extended_at)
            self._tell(
                click.response_url,
                click.channel_id,
                click.user_id,
                f"Already extended on {when} by <@{record.extended_by}>: the law allows one extension.",
            )
            return
        modal = {REJECT: reject_modal, EXTEND: extend_modal, ASK_MORE: ask_modal}[click.action](record)
        if click.trigger_id:  # a trigger_id lives 3 s: open the modal now, not after the ack
            try:
                self.slack.views_open(trigger_id=click.trigger_id, view=modal)
            except Exception:
                log.warning("Could not open the %s modal", click.action, exc_info=True)

    def _may_decide(
        self, user_id: str, request_id: str, action: str, response_url: str | None, channel_id: str | None
    ) -> bool:
        approvers = self.settings.approvers
        if user_id in approvers:
            return True
        try:
            self.store.audit(request_id, "decision_refused_not_approver", actor=user_id, detail={"action": action})
        except Exception as exc:
            log.error("Could not audit a refused decision: %s", type(exc).__name__)
        message = (
            "You are not an approver for CCPA requests."
            if approvers
            else f"Nobody can decide CCPA requests yet: set the Airflow Variable '{config.VAR_APPROVERS}'."
        )
        self._tell(response_url, channel_id, user_id, message)
        return False

    def _refuse_non_approver(self, user_id: str, request_id: str, action: str, block_id: str) -> dict | None:
        """A modal can only have been opened by an approver, but the list may have changed since: check again."""
        if user_id in self.settings.approvers:
            return None
        self.store.audit(request_id, "decision_refused_not_approver", actor=user_id, detail={"action": action})
        return _errors(block_id, "You are not an approver for CCPA requests.")

    # -- view_submission (the rejection modal) ------------------------------------------------------

    def on_reject_submission(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        user_id, request_id, values = _submission(payload)
        choice = ((values.get(REASON_BLOCK_ID) or {}).get(REASON_ACTION_ID) or {}).get("selected_option") or {}
        details = _text_input(values)
        reason_key = choice.get("value")
        if reason_key not in REJECTION_REASONS:
            return _errors(REASON_BLOCK_ID, "Pick the reason the requester will read.")
        if reason_key == OTHER_REASON and not details:
            return _errors(DETAILS_BLOCK_ID, "Explain the reason: the requester will read it.")
        if refused := self._refuse_non_approver(user_id, request_id, REJECT, REASON_BLOCK_ID):
            return refused
        reason = details if reason_key == OTHER_REASON else REJECTION_REASONS[reason_key]
        if details and reason_key != OTHER_REASON:
            reason = f"{reason}. {details}"
        state, outcome = _within_budget(
            lambda: self._decide(request_id, REJECT, user_id, reason, None),
            on_late_failure=lambda: self._tell(None, self._channel(request_id), user_id, NOT_RECORDED),
        )
        if state == FAILED:
            return _errors(REASON_BLOCK_ID, NOT_RECORDED_MODAL)
        if state == PENDING:
            return _errors(REASON_BLOCK_ID, NOT_CONFIRMED_MODAL)
        if outcome not in (CREATED, REPEATED):
            return _errors(REASON_BLOCK_ID, str(outcome))
        return None

    # -- view_submission (the extension modal) -----------------------------------------------------

    def on_extend_submission(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        user_id, request_id, values = _submission(payload)
        reason = _text_input(values)
        if not reason:
            return _errors(DETAILS_BLOCK_ID, "Give the reason: the requester will read it.")
        if refused := self._refuse_non_approver(user_id, request_id, EXTEND, DETAILS_BLOCK_ID):
            return refused
        state, refusal = _within_budget(
            lambda: self._extend(request_id, user_id, reason),
            on_late_failure=lambda: self._tell(None, self._channel(request_id), user_id, NOT_RECORDED),
        )
        if state == FAILED:
            return _errors(DETAILS_BLOCK_ID, NOT_RECORDED_MODAL)
        if state == PENDING:
            return _errors(DETAILS_BLOCK_ID, NOT_CONFIRMED_MODAL)
        return _errors(DETAILS_BLOCK_ID, refusal) if refusal else None

    def _extend(self, request_id: str, user_id: str, reason: str) -> str | None:
        """Grant the extension; returns why not, or None."""
        if self.store.get_decision(request_id) is not None:
            return "This request is already decided."
        try:
            record = self.store.extend(request_id, user_id, reason)
        except UnknownRequest:
            return "This request is unknown or closed."
        except ExtensionRefused as exc:
            self.store.audit(request_id, "extension_refused", actor=user_id, detail={"why": str(exc)})
            return f"Refused: {exc}"
        _background.submit(self._show_extension, record)
        return None

    # -- view_submission (ask for more information, §7060(c)) --------------------------------------

    def on_ask_submission(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        from include.verification.links import ASKABLE

        user_id, request_id, values = _submission(payload)
        chosen = ((values.get(ASK_BLOCK_ID) or {}).get(ASK_ACTION_ID) or {}).get("selected_options") or []
        fields = [str(o["value"]) for o in chosen if isinstance(o, dict) and o.get("value") in ASKABLE]
        if not fields:
            return _errors(ASK_BLOCK_ID, "Pick what the requester should provide.")
        if refused := self._refuse_non_approver(user_id, request_id, ASK_MORE, ASK_BLOCK_ID):
            return refused
        if self.store.get_decision(request_id) is not None:
            return _errors(ASK_BLOCK_ID, "This request is already decided.")
        record = self.store.find_request(request_id)
        if record is None or not record.open:
            return _errors(ASK_BLOCK_ID, "This request is unknown or closed.")
        self.store.audit(request_id, "more_information_requested", actor=user_id, detail={"fields": sorted(fields)})
        _background.submit(self._ask_requester, record, fields, _text_input(values), user_id)
        return None

    def _ask_requester(self, record: Any, fields: list[str], note: str, user_id: str) -> None:
        """Email the requester the signed link, and say so in the prompt's thread."""
        from include.mail.notices import render_verification_request
        from include.mail.send import send_once
        from include.verification.links import make_link

        try:
            link = make_link(record.request_id, fields, record.due_at)
            email = render_verification_request(
                name=record.name,
                request_id=record.request_id,
                asked=fields,
                note=note,
                link=link,
                due_at=record.due_at,
                language=record.language,
            )
            asked_before = sum(
                1 for e in self.store.audit_trail(record.request_id) if e["event"] == "more_information_requested"
            )
            send_once(self.store, record.request_id, f"verification_request_{asked_before}", record.email, email)
            if record.slack_channel and record.slack_ts:
                self.slack.chat_postMessage(
                    channel=record.slack_channel,
                    thread_ts=record.slack_ts,
                    text=f":envelope: <@{user_id}> asked the requester for: {', '.join(fields)}. "
                    "The prompt updates when they answer.",
                )
        except Exception:
            log.exception("Could not ask request %s's requester for more information", record.request_id)
            self._tell(None, record.slack_channel, user_id, "Could not email the requester: see the API server log.")

    def _skip_agent(self, request_id: str, user_id: str, response_url: str | None) -> str:
        """§7063: a power of attorney lets the officer skip the consumer's confirmation; recorded with who did."""
        record = self.store.find_request(request_id)
        agent = record.identifiers.agent if record else None
        if record is None or agent is None or agent.permission_kind != "power_of_attorney":
            self._tell(response_url, None, user_id, "Only a power of attorney lets the confirmation be skipped.")
            return "refused"
        from include.verification import agents

        # Only a confirmation still awaited can be skipped: after the consumer's own answer (a stale prompt, or a click
        # racing the answer) the §7101 trail must not say the approval rested on the power of attorney.
        if agents.state(self.store, record) != "waiting" or not self.store.record_once(
            request_id, agents.CONFIRMED, ref=f"poa:{user_id}"
        ):
            self._tell(response_url, None, user_id, "Nothing to skip: the consumer has already answered.")
            return "refused"
        self.store.audit(request_id, "agent_confirmation_skipped", actor=user_id, detail={"basis": "power_of_attorney"})
        _background.submit(self.refresh_prompt, request_id)
        return "created"

    def prompt_for(self, record: Any, approvers: Sequence[str] | None = None) -> tuple[str, list[dict[str, Any]]]:
        """The review prompt as it stands (evidence, agent confirmation, the approvals so far)."""
        from include.verification import agents

        agent = (agents.state(self.store, record), agents.describe(self.store, record))
        if approvers is None:
            approvers = [a.approver for a in self.store.approvals(record.request_id)]
        return review_prompt(
            record, earlier_requests=self.store.earlier_requests(record), approvers=approvers, agent=agent
        )

    def refresh_prompt(self, request_id: str) -> None:
        """Re-render the review prompt in place (the evidence changed); the request keeps waiting."""
        record = self.store.get_request(request_id)
        if record.slack_channel and record.slack_ts and self.store.get_decision(request_id) is None:
            text, blocks = self.prompt_for(record)
            self.slack.chat_update(channel=record.slack_channel, ts=record.slack_ts, text=text, blocks=blocks)
            self.slack.chat_postMessage(
                channel=record.slack_channel,
                thread_ts=record.slack_ts,
                text=":inbox_tray: Updated: the requester provided more information or answered a confirmation.",
            )

    def _show_extension(self, record: Any) -> None:
        """The prompt shows the new due date and why; the run emails the requester the notice."""
        try:
            if record.slack_channel and record.slack_ts:
                text, blocks = self.prompt_for(record)
                self.slack.chat_update(channel=record.slack_channel, ts=record.slack_ts, text=text, blocks=blocks)
        except Exception:
            log.warning("Could not show the extension on the review prompt", exc_info=True)

    # -- approval at a verified scope (§7062) -------------------------------------------------------

    def _approve(
        self, request_id: str, scope: str, user_id: str, response_url: str | None, channel_id: str | None
    ) -> str:
        """Approve at ``scope`` only if the verification level allows it: a full approval of a request verified
        for categories only is refused here, whatever the button said (a hidden button is not a control)."""
        from include.verification.account import record_basis
        from include.verification.levels import Scope, approvable, thresholds
        from include.verification.service import level_of

        decided, record = self.store.decision_and_request(request_id)
        if decided is not None:  # the one-decision rule answers (and Slack retries stay silent)
            return self._record_approval(request_id, user_id, response_url, decided.scope or SCOPE_FULL)
        if record is None:
            self._tell(response_url, channel_id, user_id, "This request is unknown or closed.")
            return "This request is unknown or closed."
        from include.verification import agents

        if not agents.may_disclose(self.store, record):
            self.store.audit(
                request_id, "approval_refused_agent", actor=user_id, detail={"agent": agents.state(self.store, record)}
            )
            self._tell(
                response_url,
                channel_id or record.slack_channel,
                user_id,
                "Refused: the consumer has not confirmed that they gave the authorised agent permission (§7063).",
            )
            return "refused"
        # One read of the request, its level and the Variables per click: the level checked here is the one the
        # decision records as its §7101 basis (thresholds re-read from the metadata DB at most every few seconds).
        level = level_of(record, thresholds(read=config.recent_variable))
        allowed = approvable(level, record.request_type)
        if Scope(scope) > allowed:
            self.store.audit(
                request_id,
                "approval_refused_verification",
                actor=user_id,
                detail={"asked": scope, "allowed": allowed.value, "points": level.points},
            )
            what = {
                Scope.CATEGORIES: "Use *Approve categories only*.",
                Scope.NONE: "Ask for more information, or reject.",
            }.get(allowed, "")
            self._tell(
                response_url,
                channel_id or record.slack_channel,
                user_id,
                f"Refused: the identity evidence is not enough for that ({level.words(record.request_type)}). {what}",
            )
            return "refused"
        basis = record_basis(level, scope, power_of_attorney=agents.on_power_of_attorney(self.store, record))
        return self._record_approval(request_id, user_id, response_url, scope, basis=basis)

    # -- shared -------------------------------------------------------------------------------------

    def _record_approval(
        self,
        request_id: str,
        user_id: str,
        response_url: str | None,
        scope: str = SCOPE_FULL,
        *,
        basis: str | _Unset | None = _UNSET,
    ) -> str:
        """One officer's Approve (at a scope the level allows): decides when it completes the approvals the request
        needs, else is pending. The decision records the scope and its §7101 verification ``basis`` (read from the
        store when the caller has not already worked it out)."""
        if isinstance(basis, _Unset):
            basis = _approval_basis(self.store, request_id, scope)
        try:
            result = self.store.record_approval(
                request_id, user_id, response_url=response_url, scope=scope, basis=basis
            )
        except UnknownRequest:
            self._tell(response_url, None, user_id, "This request is unknown or closed.")
            return "This request is unknown or closed."
        decision = result.decision
        if result.decided:
            _background.submit(
                self._show_progress,
                request_id,
                APPROVE,
                user_id,
                response_url,
                scope=scope,
                approvers=result.approvers,
                record=result.request,
            )
            return "created"
        if decision is not None:
            if (decision.decided_by, decision.action) != (user_id, APPROVE):  # not just Slack retrying our click
                self._tell(response_url, self._channel(request_id), user_id, _already(decision))
            return _already(decision, plain=True)
        if result.added:  # pending: the prompt shows "1 of 2 approvals — @first", buttons kept
            _background.submit(self._show_pending, request_id, response_url, result)
            return "pending"
        note = (
            "You have already approved this request: "
            + approvals_line(result.approvers, result.required)
            + " A second approval must come from a different officer."
        )
        self._tell(response_url, self._channel(request_id), user_id, note)
        return "already approved by you"

    def _show_pending(self, request_id: str, response_url: str | None, result: ApprovalResult) -> None:
        """ "1 of 2 approvals — @first", buttons kept. The updates after the ack run on background threads, so the
        second officer's deciding click can be shown before this one: a pending prompt posted after the outcome
        would put the buttons back on a decided request. So it is not posted once a decision exists, and when the
        decision is written while it is being posted, the outcome is posted again after it."""
        try:
            if self.store.get_decision(request_id) is not None:
                return
            # As the click read it under the request's lock (an approval changes nothing the prompt shows of it).
            record = result.request or self.store.get_request(request_id)
            text, blocks = self.prompt_for(record, approvers=result.approvers)
            if response_url:
                slack_client.webhook(response_url).send_dict({"replace_original": True, "text": text, "blocks": blocks})
            elif record.slack_channel and record.slack_ts:
                self.slack.chat_update(channel=record.slack_channel, ts=record.slack_ts, text=text, blocks=blocks)
            decision = self.store.get_decision(request_id)
        except Exception:  # the approval is recorded; a lost courtesy update must not undo it
            log.warning("Could not show the pending approval on the review prompt", exc_info=True)
            return
        if decision is not None:
            approvals = self.store.approvals(request_id) if decision.action == APPROVE else []
            approvers = tuple(a.approver for a in approvals)
            self._show_progress(
                request_id,
                decision.action,
                decision.decided_by,
                decision.response_url or response_url,
                scope=decision.scope,
                approvers=approvers,
            )

    def _decide(self, request_id: str, action: str, user_id: str, reason: str | None, response_url: str | None) -> str:
        """Write the decision (the database keeps it to one), then update Slack. Returns CREATED, REPEATED (the same
        officer's same decision again: Slack retrying, or the officer clicking again after "not recorded") or why
        not."""
        try:
            decision, created = self.store.record_decision(
                request_id, action, user_id, reason=reason, response_url=response_url
            )
        except UnknownRequest:
            self._tell(response_url, None, user_id, "This request is unknown or closed.")
            return "This request is unknown or closed."
        if not created:
            if (decision.decided_by, decision.action) == (user_id, action):
                return REPEATED
            self._tell(response_url, self._channel(request_id), user_id, _already(decision))
            return _already(decision, plain=True)
        _background.submit(self._show_progress, request_id, action, user_id, response_url)
        return CREATED

    def _show_progress(
        self,
        request_id: str,
        action: str,
        user_id: str,
        response_url: str | None,
        scope: str | None = None,
        approvers: Sequence[str] = (),
        record: RequestRecord | None = None,
    ) -> None:
        """The prompt, decided. ``record``: the request as the decision's transaction read it (an approval reads it
        under its lock, and nothing the prompt shows of it changes with a decision), saving a read after the ack."""
        try:
            record = record or self.store.get_request(request_id)
            progress = "building the report…" if action == APPROVE else "sending the rejection…"
            text, blocks = outcome_prompt(
                record, action=action, decided_by=user_id, outcome=progress, scope=scope, approvers=approvers
            )
            if response_url:
                slack_client.webhook(response_url).send_dict({"replace_original": True, "text": text, "blocks": blocks})
            elif record.slack_channel and record.slack_ts:
                self.slack.chat_update(channel=record.slack_channel, ts=record.slack_ts, text=text, blocks=blocks)
        except Exception:  # the decision is recorded; a lost courtesy update must not undo it
            log.warning("Could not update the review prompt after a decision", exc_info=True)

    def _channel(self, request_id: str) -> str | None:
        try:
            record = self.store.find_request(request_id)
        except Exception as exc:
            log.error("Could not look up the prompt's channel: %s", type(exc).__name__)
            return None
        return record.slack_channel if record else None

    def _tell(self, response_url: str | None, channel: str | None, user_id: str, text: str) -> None:
        """An ephemeral note to one officer, after the ack."""

        def send() -> None:
            try:
                if response_url:
                    slack_client.webhook(response_url).send_dict(
                        {"response_type": "ephemeral", "replace_original": False, "text": text}
                    )
                elif channel:
                    self.slack.chat_postEphemeral(channel=channel, user=user_id, text=text)
            except Exception:
                log.warning("Could not send an ephemeral note to an officer", exc_info=True)

        _background.submit(send)


CREATED, REPEATED = "created", "repeated"
#: What became of a write within the budget: done (with its result), failed, or still pending.
DONE, FAILED, PENDING = "done", "failed", "pending"


def _within_budget(work: Callable[[], Any], on_late_failure: Callable[[], None]) -> tuple[str, Any]:
    """Run the decision write ``work`` on the decision threads, waiting at most ACK_BUDGET seconds.

    Returns (DONE, its result), (FAILED, None) or (PENDING, None). A write still pending finishes in the background;
    if it then fails, that is logged at ERROR and ``on_late_failure`` tells the officer. Errors are logged by type
    only: a database error's text can quote what was written.
    """
    future = _decisions.submit(work)
    try:
        return DONE, future.result(timeout=ACK_BUDGET)
    except FutureTimeout:
        log.warning("Decision write exceeded %.1f s: answering Slack first, finishing in the background", ACK_BUDGET)
    except Exception as exc:
        log.error("Decision write failed: %s; the officer is asked to decide again", type(exc).__name__)
        return FAILED, None

    def finished(done: Any) -> None:
        exc = done.exception()
        if exc is None:
            return
        log.error(
            "Decision write failed after the %.1f s budget: %s; the officer is asked to decide again",
            ACK_BUDGET,
            type(exc).__name__,
        )
        try:
            on_late_failure()
        except Exception:
            log.exception("Could not tell the officer that the decision was not recorded")

    future.add_done_callback(finished)
    return PENDING, None


def _approval_basis(store: ComplianceStore, request_id: str, scope: str) -> str | None:
    """§7101: the verification basis an approval at ``scope`` rests on (None for an unknown request): the account
    login, the data points and declaration, or the power of attorney the consumer's confirmation was skipped on."""
    from include.verification import agents
    from include.verification.account import current_level, record_basis

    record = store.find_request(request_id)
    if record is None:
        return None
    return record_basis(current_level(record), scope, power_of_attorney=agents.on_power_of_attorney(store, record))


def _already(decision: Decision, plain: bool = False) -> str:
    when = decision.decided_at.strftime("%Y-%m-%d %H:%M UTC")
    who = decision.decided_by if plain else f"<@{decision.decided_by}>"
    verb = "approved" if decision.action == APPROVE else "rejected"
    return f"Already decided: {verb} by {who} at {when}."


def _errors(block_id: str, message: str) -> dict[str, Any]:
    return {"response_action": "errors", "errors": {block_id: message}}


def _signature_valid(secret: str, body: bytes, headers: Any) -> bool:
    """slack_sdk's verifier (v0 HMAC-SHA256, 5-minute window), hardened against garbage headers and bodies
    (a non-ASCII signature makes hmac.compare_digest raise TypeError: that is a forgery, 401, not a 500)."""
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if not timestamp or not signature or not (timestamp.isascii() and timestamp.isdigit()):
        return False
    if not signature.isascii():
        return False
    try:
        return SignatureVerifier(secret).is_valid(body=body, timestamp=timestamp, signature=signature)
    except (ValueError, TypeError, UnicodeDecodeError):
        return False


def _from_our_app(payload: dict[str, Any], settings: Any) -> bool:
    """With ``ccpa_slack_team_id`` / ``ccpa_slack_app_id`` set, only payloads from that workspace and app count."""
    team_id, app_id = getattr(settings, "team_id", ""), getattr(settings, "app_id", "")
    if team_id:
        team: dict[str, Any] = payload["team"] if isinstance(payload.get("team"), dict) else {}
        user: dict[str, Any] = payload["user"] if isinstance(payload.get("user"), dict) else {}
        if team_id not in (team.get("id"), user.get("team_id")) or team.get("id") not in (None, team_id):
            return False
    return not app_id or payload.get("api_app_id") == app_id


def _parse_payload(body: bytes) -> dict[str, Any]:
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        payload = json.loads(form["payload"][0])
    except (UnicodeDecodeError, ValueError, KeyError, IndexError):
        raise BadPayload("expected a form field 'payload' holding JSON") from None
    if not isinstance(payload, dict):
        raise BadPayload("payload must be a JSON object")
    return payload


def _submission(payload: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(user id, request id, input values) of one of our modals' view_submission."""
    view = payload["view"]
    request_id = view.get("private_metadata")
    if not isinstance(request_id, str) or not request_id:
        raise BadPayload("view carries no request id")
    values = (view.get("state") or {}).get("values") or {}
    return _user_id(payload), request_id, values if isinstance(values, dict) else {}


def _text_input(values: dict[str, Any]) -> str:
    return (((values.get(DETAILS_BLOCK_ID) or {}).get(DETAILS_ACTION_ID) or {}).get("value") or "").strip()


def _user_id(payload: dict[str, Any]) -> str:
    user = payload.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
        raise BadPayload("payload has no user id")
    return user["id"]


def _click(payload: dict[str, Any]) -> _Click:
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise BadPayload("block_actions payload has no actions")
    user_id = _user_id(payload)
    action_id = actions[0].get("action_id")
    if action_id not in ACTIONS:
        raise BadPayload(f"unknown action {action_id!r}")
    request_id = actions[0].get("value")
    if not isinstance(request_id, str) or not request_id:
        raise BadPayload("action carries no request id")
    response_url = payload.get("response_url")
    found = payload.get("channel")
    channel: dict[str, Any] = found if isinstance(found, dict) else {}
    trigger_id = payload.get("trigger_id")
    return _Click(
        action=ACTIONS[action_id],
        user_id=user_id,
        request_id=request_id,
        response_url=response_url if isinstance(response_url, str) else None,
        trigger_id=trigger_id if isinstance(trigger_id, str) else None,
        channel_id=channel.get("id") if isinstance(channel.get("id"), str) else None,
    )
