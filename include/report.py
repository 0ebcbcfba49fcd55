"""Render what the requester receives, from Jinja2 templates a company can rebrand (``include/templates``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
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


def report_subject(datastores: list[dict[str, Any]]) -> str:
    if any(d["row_count"] for d in datastores):
        return "Your CCPA access request: the personal information we hold about you"
    return "Your CCPA access request: we hold no personal information about you"


def render_report_chunks(
    *,
    name: str,
    request_id: str,
    received_at: datetime,
    since: datetime,
    datastores: list[dict[str, Any]],
    rows: Callable[[dict[str, Any], str], Iterable[dict[str, Any]]],
) -> Iterator[str]:
    """The report HTML in chunks: rows are pulled lazily (``rows(datastore, query)``), so memory stays bounded."""
    holding = [d for d in datastores if d["row_count"] > 0]
    return _env.get_template("report.html.j2").generate(
        name=name,
        request_id=request_id,
        received_at=received_at,
        since=since,
        datastores=holding,
        rows=rows,
        total_rows=sum(d["row_count"] for d in holding),
    )


def render_report(**kwargs: Any) -> Email:
    """The whole report in memory (small subjects, tests); the DAG streams ``render_report_chunks`` to a file."""
    return Email(subject=report_subject(kwargs["datastores"]), html="".join(render_report_chunks(**kwargs)))


def render_rejection(*, name: str, request_id: str, reason: str | None) -> Email:
    html = _env.get_template("rejection.html.j2").render(name=name, request_id=request_id, reason=reason)
    return Email(subject="Your CCPA access request could not be completed", html=html)
