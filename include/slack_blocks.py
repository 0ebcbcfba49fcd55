"""Block Kit for the review prompt. Buttons carry only the request id: no personal data leaves in a value."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from include.compliance_store import APPROVE, REJECT, RequestRecord

ACTION_APPROVE = "ccpa_approve"
ACTION_REJECT = "ccpa_reject"
ACTIONS = {ACTION_APPROVE: APPROVE, ACTION_REJECT: REJECT}
ACTIONS_BLOCK_ID = "ccpa_decision"


def _escape(text: str) -> str:
    """Slack mrkdwn control characters; a requester-supplied name must not become a mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _summary_fields(request: RequestRecord) -> list[dict[str, str]]:
    return [
        {"type": "mrkdwn", "text": f"*Name*\n{_escape(request.name)}"},
        {"type": "mrkdwn", "text": f"*Email*\n{_escape(request.email)}"},
        {"type": "mrkdwn", "text": f"*Received*\n{_date(request.received_at)}"},
        {"type": "mrkdwn", "text": f"*Due by*\n{_date(request.due_at)} (45 days)"},
    ]


def review_prompt(request: RequestRecord) -> tuple[str, list[dict[str, Any]]]:
    """The message an officer acts on: who asks, their photo ID, the legal due date, Approve / Reject."""
    text = f"CCPA access request from {request.name}: approve or reject"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "CCPA right-of-access request"}},
        {"type": "section", "fields": _summary_fields(request)},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*Photo ID*: <{_escape(request.photo_id_url)}|open the photo ID>\n"
                "Check that the photo ID matches the name before approving.",
            },
        },
        {
            "type": "actions",
            "block_id": ACTIONS_BLOCK_ID,
            "elements": [
                {
                    "type": "button",
                    "action_id": ACTION_APPROVE,
                    "text": {"type": "plain_text", "text": "Approve"},
                    "style": "primary",
                    "value": request.request_id,
                },
                {
                    "type": "button",
                    "action_id": ACTION_REJECT,
                    "text": {"type": "plain_text", "text": "Reject"},
                    "style": "danger",
                    "value": request.request_id,
                },
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Request `{request.request_id}`"}]},
    ]
    return text, blocks


def outcome_prompt(
    request: RequestRecord, *, action: str, decided_by: str, outcome: str, run_url: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """The prompt once decided: the same facts, no buttons, who decided and what happened."""
    verb = "Approved" if action == APPROVE else "Rejected"
    icon = ":white_check_mark:" if action == APPROVE else ":x:"
    line = f"{icon} {verb} by <@{decided_by}> — {outcome}"
    if run_url:
        line += f" (<{run_url}|Airflow run>)"
    text = f"CCPA access request from {request.name}: {verb.lower()} by {decided_by}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "CCPA right-of-access request"}},
        {"type": "section", "fields": _summary_fields(request)},
        {"type": "section", "text": {"type": "mrkdwn", "text": line}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Request `{request.request_id}`"}]},
    ]
    return text, blocks
