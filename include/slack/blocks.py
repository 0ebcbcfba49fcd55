"""Block Kit for the review prompt. Buttons carry only the request id: no personal data leaves in a value."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from include import clock, config, law
from include.i18n import N_
from include.request import CATEGORIES
from include.store import APPROVE, REJECT, RequestRecord
from include.verification.levels import Level, Scope, approvable

ACTION_APPROVE = "ccpa_approve"
#: Approve at the categories scope (§7062(b)): the evidence is not enough for specific pieces, or only
#: categories were asked for.
ACTION_APPROVE_CATEGORIES = "ccpa_approve_categories"
ACTION_REJECT = "ccpa_reject"
ACTION_EXTEND = "ccpa_extend"
#: Ask the requester for more information (§7060(c)): a modal, then an email with a signed link to the page.
ACTION_ASK_MORE = "ccpa_ask_more"
#: §7063: with a power of attorney, the officer may skip the consumer's confirmation of the agent (recorded).
ACTION_SKIP_AGENT = "ccpa_skip_agent_confirmation"
SKIP_AGENT = "skip_agent_confirmation"
EXTEND = "extend"
APPROVE_CATEGORIES = "approve_categories"
ASK_MORE = "ask_more"
ACTIONS = {
    ACTION_APPROVE: APPROVE,
    ACTION_APPROVE_CATEGORIES: APPROVE_CATEGORIES,
    ACTION_REJECT: REJECT,
    ACTION_EXTEND: EXTEND,
    ACTION_ASK_MORE: ASK_MORE,
    ACTION_SKIP_AGENT: SKIP_AGENT,
}
ASK_VIEW_CALLBACK_ID = "ccpa_ask_more"
ASK_BLOCK_ID = "ask"
ASK_ACTION_ID = "ask_fields"
ACTIONS_BLOCK_ID = "ccpa_decision"

REJECT_VIEW_CALLBACK_ID = "ccpa_reject_reason"
EXTEND_VIEW_CALLBACK_ID = "ccpa_extend_reason"
REASON_BLOCK_ID = "reason"
REASON_ACTION_ID = "reason_choice"
DETAILS_BLOCK_ID = "details"
DETAILS_ACTION_ID = "reason_details"
OTHER_REASON = "other"

#: Reasons an officer can pick when rejecting; the requester reads the text (11 CCR §7024(e): explain the basis).
REJECTION_REASONS: dict[str, str] = {
    # Marked for translation: the requester reads the chosen reason in their language (include/i18n.py).
    "photo_id_mismatch": N_("the photo ID does not match the name in your request"),
    "cannot_verify": N_("we could not verify your identity to the degree the law requires"),
    "photo_id_unreadable": N_("the photo ID could not be read"),
    "too_many_requests": N_(
        "you have already received two answers in the last 12 months (Cal. Civ. Code §1798.130(b))"
    ),
    OTHER_REASON: "another reason (explained below)",
}


def _escape(text: str) -> str:
    """Slack mrkdwn control characters; a requester-supplied name must not become a mention or link. Used for every
    text built from requester input, the fallback ``text`` included (it is rendered, and notifies, too)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link_url(url: str) -> str:
    """A URL inside ``<url|label>``: escaped, and ``|`` percent-encoded so it cannot end the URL and start a label
    of the requester's choosing."""
    return _escape(url).replace("|", "%7C")


def _date(value: datetime) -> str:
    """A legal date for the officers: the business's calendar day, naming the zone ("2026-01-05 (America/...)"), in
    the request's zone in its tasks, else the Variable's read at most once per TTL (config.recent_variable)."""
    return clock.format_short(value, clock.business_timezone(read=config.recent_variable))


def _summary_fields(request: RequestRecord) -> list[dict[str, str]]:
    due = (
        f"{_date(request.due_at)} (extended to 90 days)"
        if request.extended_at
        else f"{_date(request.due_at)} (45 days)"
    )
    return [
        {"type": "mrkdwn", "text": f"*Name*\n{_escape(request.name)}"},
        {"type": "mrkdwn", "text": f"*Email*\n{_escape(request.email)}"},
        {"type": "mrkdwn", "text": f"*Received*\n{_date(request.received_at)}"},
        {"type": "mrkdwn", "text": f"*Due by*\n{due}"},
    ]


def _approve_button(request: RequestRecord, scope: Scope) -> list[dict[str, Any]]:
    """The approval the evidence allows: Approve (specific pieces), Approve categories only, or none."""
    if scope == Scope.NONE:
        return []
    if scope == Scope.FULL:
        action, label = ACTION_APPROVE, "Approve"
        confirm = "The requester will be emailed all personal information we hold about them."
    else:
        action = ACTION_APPROVE_CATEGORIES
        label = "Approve (categories)" if request.request_type == CATEGORIES else "Approve categories only"
        confirm = (
            "The requester will be told the categories of personal information we hold, where it comes from, why "
            "we use it and who we disclose it to: no values."
        )
    return [
        {
            "type": "button",
            "action_id": action,
            "text": {"type": "plain_text", "text": label},
            "style": "primary",
            "value": request.request_id,
            "confirm": {
                "title": {"type": "plain_text", "text": "Approve this request?"},
                "text": {"type": "mrkdwn", "text": confirm},
                "confirm": {"type": "plain_text", "text": label},
                "deny": {"type": "plain_text", "text": "Cancel"},
            },
        }
    ]


def verification_text(request: RequestRecord, level: Level) -> str:
    """The level in plain words, and what was asked for."""
    asked = "categories" if request.request_type == CATEGORIES else "specific pieces"
    return f"*Verification* (asked for {asked}): {_escape(level.words(request.request_type))}"


def approvals_line(approvers: Sequence[str], required: int) -> str:
    """ "1 of 2 approvals — @first": how far a request needing several officers has come."""
    line = f"*{len(approvers)} of {required} approvals*"
    if approvers:
        line += " — " + ", ".join(f"<@{user}>" for user in approvers)
    remaining = required - len(approvers)
    if remaining > 0:
        other = "another officer" if remaining == 1 else f"{remaining} more officers"
        line += f". Needs {other} to approve" + (" (not the same person)." if approvers else ".")
    return line


def _approvers_text(approvers: Sequence[str]) -> str:
    mentions = [f"<@{user}>" for user in approvers]
    return mentions[0] if len(mentions) == 1 else ", ".join(mentions[:-1]) + " and " + mentions[-1]


def review_prompt(
    request: RequestRecord,
    evidence: str | None = None,
    *,
    earlier_requests: int = 0,
    level: Level | None = None,
    approvers: Sequence[str] = (),
    agent: tuple[str, str] | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """The message an officer acts on: who asks, what we hold and how well it matches, the due date, and the
    approval the verification level allows, Reject, Extend.

    With ``required_approvals`` > 1 it also shows who has approved so far ("1 of 2 approvals — @first")."""
    evidence = evidence if evidence is not None else request.identity_evidence
    if level is None:
        from include.verification.service import level_of

        level = level_of(request)
    scope = approvable(level, request.request_type)
    text = f"CCPA access request from {_escape(request.name)}: approve or reject"
    notes = []
    # §7063: (state, description) of an authorised agent; until the consumer confirms, nothing may be approved.
    agent_state = agent[0] if agent else ("waiting" if request.identifiers.agent else "none")
    if request.identifiers.agent is not None:
        described = agent[1] if agent else _escape(request.identifiers.agent.name)
        notes.append(f"*Authorised agent* (§7063): {described}")
        if agent_state not in ("confirmed", "skipped"):
            scope = Scope.NONE
    if earlier_requests >= 2:
        notes.append(
            f":warning: This person has received {earlier_requests} answers in the 12 months before this request: "
            "you may decline this one (Civ. 1798.130(b)) with *Reject… → already received two answers*."
        )
    if request.required_approvals > 1 or approvers:
        notes.append(":busts_in_silhouette: " + approvals_line(approvers, request.required_approvals))
    if request.extended_at:
        notes.append(
            f":hourglass: Deadline extended by <@{request.extended_by}> on {_date(request.extended_at)}: "
            f"{_escape(request.extension_reason or '')}"
        )
    # §7061: the account login (verified, stale, or a red flag) and the fraud signals; they never block.
    from include.verification.account import prompt_lines as account_lines

    notes += [_escape(line) for line in account_lines(request)]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "CCPA right-of-access request"}},
        {"type": "section", "fields": _summary_fields(request)},
        {"type": "section", "text": {"type": "mrkdwn", "text": verification_text(request, level)}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f"*Photo ID*: <{_link_url(request.photo_id_url)}|open the photo ID>\n"
                    "Check that the photo ID matches the name before approving."
                    if request.photo_id_url
                    else "*Photo ID*: none provided. Verify with the identity evidence below."
                ),
            },
        },
        *(
            [{"type": "section", "text": {"type": "mrkdwn", "text": f"*Identity evidence*: {_escape(evidence)}"}}]
            if evidence
            else []
        ),
        *({"type": "section", "text": {"type": "mrkdwn", "text": note}} for note in notes),
        {
            "type": "actions",
            "block_id": ACTIONS_BLOCK_ID,
            "elements": [
                *_approve_button(request, scope),
                *(
                    [
                        {
                            "type": "button",
                            "action_id": ACTION_SKIP_AGENT,
                            "text": {"type": "plain_text", "text": "Skip confirmation (power of attorney)"},
                            "value": request.request_id,
                        }
                    ]
                    if agent_state == "waiting"
                    and request.identifiers.agent is not None
                    and request.identifiers.agent.permission_kind == "power_of_attorney"
                    else []
                ),
                {
                    "type": "button",
                    "action_id": ACTION_ASK_MORE,
                    "text": {"type": "plain_text", "text": "Ask for more…"},
                    "value": request.request_id,
                },
                {
                    "type": "button",
                    "action_id": ACTION_REJECT,
                    "text": {"type": "plain_text", "text": "Reject…"},
                    "style": "danger",
                    "value": request.request_id,
                },
                *(
                    []
                    if request.extended_at
                    else [
                        {
                            "type": "button",
                            "action_id": ACTION_EXTEND,
                            "text": {"type": "plain_text", "text": "Extend 45 days…"},
                            "value": request.request_id,
                        }
                    ]
                ),
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Request `{request.request_id}`"}]},
    ]
    return text, blocks


def outcome_prompt(
    request: RequestRecord,
    *,
    action: str,
    decided_by: str,
    outcome: str,
    run_url: str | None = None,
    scope: str | None = None,
    approvers: Sequence[str] = (),
) -> tuple[str, list[dict[str, Any]]]:
    """The prompt once decided: the same facts, no buttons, who decided (every approver, at which scope) and what
    happened."""
    verb = "Approved" if action == APPROVE else "Rejected"
    if action == APPROVE and scope == Scope.CATEGORIES:
        verb = "Approved (categories only)"
    who = _approvers_text(approvers) if action == APPROVE and approvers else f"<@{decided_by}>"
    line = f"{verb} by {who} — {outcome}"
    if run_url:
        line += f" (<{run_url}|Airflow run>)"
    # `verb` may now read "Approved (categories only)": the text stays searchable by its first word.
    text = f"CCPA access request from {_escape(request.name)}: {verb.lower()} by {decided_by}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "CCPA right-of-access request"}},
        {"type": "section", "fields": _summary_fields(request)},
        {"type": "section", "text": {"type": "mrkdwn", "text": line}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Request `{request.request_id}`"}]},
    ]
    return text, blocks


def _modal(callback_id: str, request: RequestRecord, *, title: str, submit: str, blocks: list) -> dict[str, Any]:
    """A modal about one request: its id travels in private_metadata, never personal data."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": request.request_id,
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def reject_modal(request: RequestRecord) -> dict[str, Any]:
    """Asks for the reason the requester will read; the decision is recorded only when it is submitted."""
    return _modal(
        REJECT_VIEW_CALLBACK_ID,
        request,
        title="Reject request",
        submit="Reject",
        blocks=[
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"Rejecting the request from *{_escape(request.name)}*."},
            },
            {
                "type": "input",
                "block_id": REASON_BLOCK_ID,
                "label": {"type": "plain_text", "text": "Reason (the requester reads it)"},
                "element": {
                    "type": "static_select",
                    "action_id": REASON_ACTION_ID,
                    "placeholder": {"type": "plain_text", "text": "Pick a reason"},
                    "options": [
                        {"text": {"type": "plain_text", "text": text[:75]}, "value": key}
                        for key, text in REJECTION_REASONS.items()
                    ],
                },
            },
            {
                "type": "input",
                "block_id": DETAILS_BLOCK_ID,
                "optional": True,
                "label": {"type": "plain_text", "text": "Details (required for 'another reason')"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": DETAILS_ACTION_ID,
                    "multiline": True,
                    "max_length": 1000,
                },
            },
        ],
    )


def ask_modal(request: RequestRecord) -> dict[str, Any]:
    """What to ask the requester for (§7060(c): only what verification needs), and an optional note they read."""
    from include.verification.links import ASKABLE

    labels = {
        "phone": "Phone number",
        "postal_address": "Postal address",
        "account_id": "Account id",
        "photo_id": "Photo ID (upload)",
        "declaration": "Signed declaration (under penalty of perjury)",
    }
    return _modal(
        ASK_VIEW_CALLBACK_ID,
        request,
        title="Ask for more",
        submit="Send",
        blocks=[
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"The requester is emailed a link to a page where they provide it. The request keeps "
                    f"waiting; it is still due by {_date(request.due_at)}.",
                },
            },
            {
                "type": "input",
                "block_id": ASK_BLOCK_ID,
                "label": {"type": "plain_text", "text": "Ask for"},
                "element": {
                    "type": "checkboxes",
                    "action_id": ASK_ACTION_ID,
                    "options": [{"text": {"type": "plain_text", "text": labels[key]}, "value": key} for key in ASKABLE],
                },
            },
            {
                "type": "input",
                "block_id": DETAILS_BLOCK_ID,
                "optional": True,
                "label": {"type": "plain_text", "text": "Note (the requester reads it)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": DETAILS_ACTION_ID,
                    "multiline": True,
                    "max_length": 1000,
                },
            },
        ],
    )


def extend_modal(request: RequestRecord) -> dict[str, Any]:
    """The one extension the law allows (§7021(b)): the requester is emailed this reason."""
    return _modal(
        EXTEND_VIEW_CALLBACK_ID,
        request,
        title="Extend the deadline",
        submit="Extend",
        blocks=[
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Moves the deadline from {_date(request.due_at)} to "
                    f"{_date(clock.extended_due_date(request.due_at))}. Allowed once, within the first "
                    f"{law.RESPONSE_DAYS} days.",
                },
            },
            {
                "type": "input",
                "block_id": DETAILS_BLOCK_ID,
                "label": {"type": "plain_text", "text": "Reason (the requester reads it)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": DETAILS_ACTION_ID,
                    "multiline": True,
                    "max_length": 1000,
                },
            },
        ],
    )


def thread_notice(
    kind: str, request: RequestRecord, *, approvers: frozenset[str] = frozenset(), extra: str = ""
) -> str:
    """Text for the prompt's thread: a reminder, an escalation, or a failure the officers must see."""
    mentions = " ".join(f"<@{user}>" for user in sorted(approvers))
    due = _date(request.due_at)
    if kind == "reminder":
        return f":hourglass_flowing_sand: Still waiting for a decision. {mentions} Legally due by {due}.".strip()
    if kind == "escalation":
        return (
            f":rotating_light: Escalation: this request is legally due by {due} (10 days or less left) "
            f"and is still undecided. {mentions}"
        ).strip()
    return f":warning: {extra} {mentions}".strip()
