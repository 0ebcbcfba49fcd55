"""The categories-only answer (Civ. 1798.110(a)(1)-(4), 11 CCR §7062(b), §7024): categories of personal information
held, their sources, business purposes, the third parties they are disclosed to, and the types held but never
disclosed. Built from the extraction summaries alone (the report model's ``ReportContext`` with no rows): it contains
no value, and no file with values is written.

A specific-pieces request that could not be verified to that degree is answered this way, with the reason (§7024).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from include import storage
from include.i18n import N_, gettext
from include.report import files
from include.report.model import BuiltReport, ExtractSummary, ReportContext, no_rows
from include.store import RequestRecord
from include.templating import env_for

HTML_NAME = "report.html"
SUBJECT = N_("Your CCPA access request: the categories of personal information we hold about you")

ACCOUNT_MISMATCH = N_("the account you were signed in to when making the request is not the one we hold for your email")
NEEDED_WITH_DECLARATION = N_("the law requires %(needed)s matching pieces of information and a signed declaration")
NEEDED = N_("the law requires %(needed)s matching pieces of information")
MATCHED = N_("%(matched)s of the pieces of information you gave matched our records")
MATCHED_NO_DECLARATION = N_(
    "%(matched)s of the pieces of information you gave matched our records, and no signed declaration was given"
)


@dataclass(frozen=True)
class Unverified:
    """§7024: why a specific-pieces request is answered with the categories, as facts (the words are the
    requester's language's, :meth:`text`)."""

    points_needed: int = 0
    declaration_needed: bool = False
    points_matched: int = 0
    declared: bool = False
    #: §7061: the account login did not match the account held for this email.
    account_mismatch: bool = False

    def text(self, language: str) -> str:
        if self.account_mismatch:
            return gettext(language, ACCOUNT_MISMATCH)
        needed = gettext(
            language, NEEDED_WITH_DECLARATION if self.declaration_needed else NEEDED, needed=self.points_needed
        )
        have = gettext(language, MATCHED if self.declared else MATCHED_NO_DECLARATION, matched=self.points_matched)
        return f"{needed}; {have}"


def context_for(
    record: RequestRecord, since: datetime, datastores: Iterable[ExtractSummary | Mapping[str, Any]]
) -> ReportContext:
    """The report's context without rows: nothing here can read a value."""
    return files.context_for(record, since, datastores, rows=no_rows)


def render(context: ReportContext, unverified: Unverified | None = None) -> str:
    """The page in the requester's language (§7003)."""
    return (
        env_for(context.language)
        .get_template("report_categories.html.j2")
        .render(
            name=context.name,
            request_id=context.request_id,
            received_at=context.received_at,
            since=context.since,
            categories=context.categories(),
            nothing_sold=context.nothing_sold_or_shared(),
            withheld=context.withheld(),
            unverified_reason=unverified.text(context.language) if unverified else "",
        )
    )


def build(
    record: RequestRecord,
    since: datetime,
    datastores: Iterable[ExtractSummary | Mapping[str, Any]],
    *,
    unverified: Unverified | None = None,
) -> BuiltReport:
    """The categories-only report in storage: one HTML page, no attachments (they would carry values)."""
    context = context_for(record, since, datastores)
    folder = storage.request_dir(record.request_id)
    with storage.text_writer(folder / HTML_NAME) as out:
        out.write(render(context, unverified))
    return BuiltReport(
        html=storage.url_of(folder / HTML_NAME),
        files=(),
        subject=gettext(context.language, SUBJECT),
        since=since,
        datastores=context.datastores,
        row_count=sum(s.row_count for s in context.datastores),
    )
