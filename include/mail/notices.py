"""The notices the requester receives besides the report: acknowledgement, duplicate, extension, rejection.

Each is rendered in the request's language (``include/i18n.py``); subjects are translated with the bodies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from include.i18n import DEFAULT_LANGUAGE, N_, gettext
from include.mail.message import Email
from include.templating import env_for

SUBJECT_REJECTION = N_("Your CCPA access request could not be completed")
SUBJECT_ACKNOWLEDGEMENT = N_("We received your CCPA access request")
SUBJECT_DUPLICATE = N_("Your CCPA access request: we are already working on it")
SUBJECT_EXTENSION = N_("Your CCPA access request: we need more time")
SUBJECT_ACCOUNT_DELIVERY = N_("Your CCPA access request: your answer is in your account")
SUBJECT_NEW_DOWNLOAD_LINK = N_("Your CCPA access request: a new download link")
SUBJECT_EXPIRY = N_("Your CCPA access request: we could not verify your identity in time")


def render_rejection(*, name: str, request_id: str, reason: str | None, language: str = DEFAULT_LANGUAGE) -> Email:
    # A reason picked from the prompt's list is translated; an officer's own words are shown as written.
    shown = gettext(language, reason) if reason else reason
    html = env_for(language).get_template("rejection.html.j2").render(name=name, request_id=request_id, reason=shown)
    return Email(subject=gettext(language, SUBJECT_REJECTION), html=html)


def render_acknowledgement(
    *,
    name: str,
    request_id: str,
    received_at: datetime,
    due_at: datetime,
    language: str = DEFAULT_LANGUAGE,
    status_url: str | None = None,
) -> Email:
    """§7021(a): confirm receipt, say how the request will be verified and when to expect the answer."""
    html = (
        env_for(language)
        .get_template("acknowledgement.html.j2")
        .render(name=name, request_id=request_id, received_at=received_at, due_at=due_at, status_url=status_url)
    )
    return Email(subject=gettext(language, SUBJECT_ACKNOWLEDGEMENT), html=html)


def render_duplicate_notice(*, name: str, request_id: str, original: Any, language: str = DEFAULT_LANGUAGE) -> Email:
    html = (
        env_for(language)
        .get_template("duplicate.html.j2")
        .render(name=name, request_id=request_id, original_received_at=original.received_at, due_at=original.due_at)
    )
    return Email(subject=gettext(language, SUBJECT_DUPLICATE), html=html)


def render_extension(
    *, name: str, request_id: str, due_at: datetime, reason: str, language: str = DEFAULT_LANGUAGE
) -> Email:
    """§7021(b): notice of the extension with its reason, sent within the first 45 days."""
    html = (
        env_for(language)
        .get_template("extension.html.j2")
        .render(name=name, request_id=request_id, due_at=due_at, reason=reason)
    )
    return Email(subject=gettext(language, SUBJECT_EXTENSION), html=html)


def render_new_download_link(*, name: str, request_id: str, link: Any, language: str = DEFAULT_LANGUAGE) -> Email:
    """A re-issued download link (include.report.reissue), the earlier one having expired."""
    html = env_for(language).get_template("download_link.html.j2").render(name=name, request_id=request_id, link=link)
    return Email(subject=gettext(language, SUBJECT_NEW_DOWNLOAD_LINK), html=html)


def render_account_delivery(*, name: str, request_id: str, url: str, language: str = DEFAULT_LANGUAGE) -> Email:
    """§7061: an account holder's answer is delivered through the account channel (the business's secure message
    centre); the email carries this notice and the link, never the data. (English text: not yet translated.)"""
    html = env_for(language).get_template("account_delivery.html.j2").render(name=name, request_id=request_id, url=url)
    return Email(subject=gettext(language, SUBJECT_ACCOUNT_DELIVERY), html=html)


def render_expiry(
    *,
    name: str,
    request_id: str,
    received_at: datetime,
    due_at: datetime,
    categories: list,
    language: str = DEFAULT_LANGUAGE,
) -> Email:
    """§7021(b), §7062: identity not verified by the due date; the categories disclosure instead of specific pieces."""
    html = (
        env_for(language)
        .get_template("expiry.html.j2")
        .render(name=name, request_id=request_id, received_at=received_at, due_at=due_at, categories=categories)
    )
    return Email(subject=gettext(language, SUBJECT_EXPIRY), html=html)
