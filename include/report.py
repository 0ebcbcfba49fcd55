"""Render what the requester receives, from Jinja2 templates a company can rebrand (``include/templates``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from include.config import INCLUDE_DIR

_env = Environment(
    loader=FileSystemLoader(INCLUDE_DIR / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Email:
    subject: str
    html: str


def render_report(
    *, name: str, request_id: str, received_at: datetime, since: datetime, datastores: list[dict[str, Any]]
) -> Email:
    """The report: every datastore that holds something, every section, every value escaped."""
    holding = [d for d in datastores if d["row_count"] > 0]
    html = _env.get_template("report.html.j2").render(
        name=name,
        request_id=request_id,
        received_at=received_at,
        since=since,
        datastores=holding,
        total_rows=sum(d["row_count"] for d in holding),
    )
    subject = "Your CCPA access request: the personal information we hold about you"
    if not holding:
        subject = "Your CCPA access request: we hold no personal information about you"
    return Email(subject=subject, html=html)


def render_rejection(*, name: str, request_id: str, reason: str | None) -> Email:
    html = _env.get_template("rejection.html.j2").render(name=name, request_id=request_id, reason=reason)
    return Email(subject="Your CCPA access request could not be completed", html=html)
