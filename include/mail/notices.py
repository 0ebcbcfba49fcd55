"""The notices the requester receives besides the report: acknowledgement, duplicate, extension, rejection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from include.mail.message import Email
from include.templating import env


def render_rejection(*, name: str, request_id: str, reason: str | None) -> Email:
    html = env.get_template("rejection.html.j2").render(name=name, request_id=request_id, reason=reason)
    return Email(subject="Your CCPA access request could not be completed", html=html)


def render_acknowledgement(*, name: str, request_id: str, received_at: datetime, due_at: datetime) -> Email:
    """§7021(a): confirm receipt, say how the request will be verified and when to expect the answer."""
    html = env.get_template("acknowledgement.html.j2").render(
        name=name, request_id=request_id, received_at=received_at, due_at=due_at
    )
    return Email(subject="We received your CCPA access request", html=html)


def render_duplicate_notice(*, name: str, request_id: str, original: Any) -> Email:
    html = env.get_template("duplicate.html.j2").render(
        name=name, request_id=request_id, original_received_at=original.received_at, due_at=original.due_at
    )
    return Email(subject="Your CCPA access request: we are already working on it", html=html)


def render_extension(*, name: str, request_id: str, due_at: datetime, reason: str) -> Email:
    """§7021(b): notice of the extension with its reason, sent within the first 45 days."""
    html = env.get_template("extension.html.j2").render(name=name, request_id=request_id, due_at=due_at, reason=reason)
    return Email(subject="Your CCPA access request: we need more time", html=html)
