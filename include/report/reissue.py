"""Re-issue the download link of a delivered report whose link expired (the requester replied "my link is dead").

A new link (signed token, or the object store's pre-signed URL: include.report.downloads.make_link) to the same ZIP,
emailed to the requester exactly once per invocation (a delivery of its own kind, claimed in the compliance store
before sending, so a crash or retry never sends it twice) and audited (``download_link_issued`` with ``reissue``).
The daily purge keeps the files until the new link expires.

Refused, with a message and nothing changed, for an unknown request, one whose answer was not a report sent with a
download link (open, rejected, expired, a duplicate, a report emailed as attachments), one whose personal data was
removed by retention, one whose files were purged, and one whose last link still works.

CLI (connections ``ccpa_compliance_db`` and ``smtp_default``/Gmail, Variables as for the DAG)::

    python -m include.report.downloads reissue <request_id>
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from include import clock, storage
from include.report.model import DownloadLink
from include.store import REPORT, ComplianceStore, RequestRecord, Status, UnknownRequest, utcnow

#: Delivery kind prefix of a re-issued link's email: one kind per invocation (``ccpa_deliveries`` keys are
#: (request, kind)), so each invocation sends exactly one email and a retried send of the same one none.
REISSUE_KIND_PREFIX = "link_reissue_"


class ReissueRefused(ValueError):
    """The link cannot be re-issued; the message says why (and holds no personal data)."""


@dataclass(frozen=True)
class Reissued:
    request_id: str
    link: DownloadLink
    message_id: str
    #: How many links were re-issued for the request, this one included.
    count: int


def check(store: ComplianceStore, request_id: str, now: datetime) -> RequestRecord:
    """The request, if a link may be re-issued for it; else :class:`ReissueRefused` saying why."""
    from include.report.downloads import ZIP_NAME

    try:
        record = store.get_request(request_id)
    except UnknownRequest:
        raise ReissueRefused(f"no request {request_id!r} in the compliance store") from None
    if record.redacted_at is not None:
        raise ReissueRefused(
            f"request {request_id}: its personal data was removed after the retention period "
            f"({clock.format_short(record.redacted_at)}); there is no report to send"
        )
    if record.status != Status.COMPLETED or REPORT not in store.done_kinds(request_id):
        raise ReissueRefused(
            f"request {request_id} is {record.status}: only a delivered report's download link can be re-issued"
        )
    last = store.last_link_expiry(request_id)
    if last is None:
        raise ReissueRefused(f"request {request_id}: its report was emailed with attachments, not a download link")
    if last > now:
        raise ReissueRefused(f"request {request_id}: the link sent works until {last.isoformat(timespec='minutes')}")
    if not (storage.request_dir(request_id) / ZIP_NAME).exists():
        raise ReissueRefused(
            f"request {request_id}: its report files were deleted (purged after the download window); "
            "there is nothing to link to"
        )
    return record


def reissue(store: ComplianceStore, request_id: str, now: datetime | None = None) -> Reissued:
    """Check, sign a new link, email it once, audit it."""
    from include.mail.notices import render_new_download_link
    from include.mail.send import send_once
    from include.report.downloads import make_link

    now = now or utcnow()
    record = check(store, request_id, now)
    link = make_link(request_id, now=now)
    count = 1 + sum(1 for kind in store.done_kinds(request_id) if kind.startswith(REISSUE_KIND_PREFIX))
    email = render_new_download_link(name=record.name, request_id=request_id, link=link, language=record.language)
    kind = f"{REISSUE_KIND_PREFIX}{uuid.uuid4().hex[:16]}"
    issued = {"expires_at": link.expires_at.isoformat(), "reissue": count}
    try:
        message_id = send_once(store, request_id, kind, record.email, email)
    except Exception:
        if kind in store.done_kinds(request_id):  # in doubt (the claim is kept): the link may be in the inbox
            store.audit(request_id, "download_link_issued", detail={**issued, "in_doubt": True})
        raise  # sent for certain not: nothing recorded, the next invocation tries again
    # What the purge reads: the files stay until this link expires.
    store.audit(request_id, "download_link_issued", detail=issued)
    return Reissued(request_id=request_id, link=link, message_id=message_id, count=count)
