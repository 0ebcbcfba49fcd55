"""The requester's verification page, ``/ccpa/verify/<token>`` (served by the plugin next to the Slack callback).

An officer clicked **Ask for more…**; the requester got a signed, expiring link naming the request and what was
asked. Here they provide it: the form is validated exactly like the intake conf (include.request.parse_identifiers),
merged into the open request, the evidence is recomputed against the datastores, and the review prompt is updated in
place. The request keeps waiting for the officer: nothing here decides anything.

A photo of an identity document, when asked for, is checked and kept exactly as the request form's upload is
(:mod:`include.requester.uploads`: JPEG, PNG or PDF recognised by its first bytes, at most 5 MB, in report storage in
a folder of its own, behind a signed link the officer opens from the prompt) and becomes the request's photo ID; it
is deleted when the request closes, like the form's (§7060(d): used only for verification). A refused file stores
nothing and changes nothing.

The pages are written in the request's language (§7003), like every email the requester receives.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request

from include.i18n import N_, gettext, language_or_default
from include.request import InvalidRequest, declaration_text, declaration_version_for, parse_identifiers
from include.requester import uploads
from include.store import ComplianceStore, RequestRecord, UnknownRequest
from include.templating import env_for
from include.verification import links

log = logging.getLogger(__name__)

#: A form carries a few short fields: anything bigger is refused before it is read ...
MAX_FORM_BYTES = 8 * 1024
#: ... unless it carries the photo ID asked for: the upload's limit plus room for the fields (as the request form).
MAX_PHOTO_FORM_BYTES = uploads.MAX_PHOTO_BYTES + 64 * 1024
PHOTO_FIELD = "photo_id"

#: What the requester reads when a field is refused: never the value, in their language.
_FIELD_ERRORS = {
    "phone": N_("Enter a phone number of 7 to 15 digits (you may use +, spaces, dashes, dots and brackets)."),
    "postal_address": N_("The postal address must be at most 300 characters."),
    "account_id": N_("An account id is 1 to 128 letters, digits or . _ : @ + / - characters."),
    "declaration": N_("Sign the declaration with your full name, as in your request."),
}
PHOTO_TOO_LARGE = N_("The photo ID must be at most 5 MB.")
PHOTO_WRONG_TYPE = N_("The photo ID must be a JPEG, PNG or PDF file.")
NOTHING_GIVEN = N_("Fill in at least one field.")
LINK_INVALID = N_("This link is not valid.")
LINK_EXPIRED = N_("This link has expired. Reply to our email and we will send a new one.")
NOT_WAITING = N_("This request is no longer waiting for information.")
AGENT_LINK_EXPIRED = N_("This link has expired.")
AGENT_NOT_WAITING = N_("This request is no longer waiting for your answer.")
AGENT_ALREADY = N_("We already have your answer.")
AGENT_YES = N_("We will answer your request and send the answer to you.")
AGENT_NO = N_("We will not answer this request; nothing about you is disclosed.")


def _harden(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    # No script anywhere: a requester-supplied name can never run; the forms post only to this page.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    return response


def _page(status: int, language: str, **context: Any) -> tuple[Response, int]:
    defaults: dict[str, Any] = {
        "done": False,
        "error": None,
        "fields": [],
        "statement": "",
        "due_at": None,
        "max_photo_mb": uploads.MAX_PHOTO_BYTES // (1024 * 1024),
    }
    html = env_for(language).get_template("verification_page.html.j2").render(**(defaults | context))
    return _harden(Response(html, mimetype="text/html")), status


def _message(status: int, text: str, language: str | None = None) -> tuple[Response, int]:
    language = language_or_default(language)
    html = env_for(language).get_template("verification_message.html.j2").render(message=gettext(language, text))
    return _harden(Response(html, mimetype="text/html")), status


class _Closed(Exception):
    """The link cannot be used (invalid, expired, request closed): the page says so."""

    def __init__(self, status: int, text: str, language: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.language = language


def too_large(language: str | None = None) -> tuple[Response, int]:
    """A post over the page's size limit, refused by Flask before the view could read it."""
    return _message(413, PHOTO_TOO_LARGE, language)


def blueprint_for(
    store_factory: Callable[[], ComplianceStore], on_updated: Callable[[str], None] | None = None
) -> Blueprint:
    """The page's routes. ``on_updated(request_id)`` refreshes the review prompt once the evidence is recomputed."""
    blueprint = Blueprint("ccpa_verification", __name__)

    @blueprint.before_request
    def _allow_the_photo() -> None:
        # The app's limit is sized for Slack's small posts; a verification form may carry the photo ID asked for
        # (which fields were asked is only known once the token is read: the view refuses a larger post without one).
        if request.endpoint == "ccpa_verification.submit":
            request.max_content_length = MAX_PHOTO_FORM_BYTES

    def _open(token: str) -> tuple[RequestRecord, list[str]]:
        try:
            request_id, fields = links.read_token(token)
        except LookupError:
            raise _Closed(404, LINK_INVALID) from None
        except TimeoutError:
            raise _Closed(410, LINK_EXPIRED) from None
        store = store_factory()
        record = store.find_request(request_id)
        if record is None or not record.open or store.get_decision(request_id) is not None:
            raise _Closed(410, NOT_WAITING, record.language if record is not None else None)
        return record, fields

    @blueprint.errorhandler(_Closed)
    def closed(exc: _Closed) -> tuple[Response, int]:
        return _message(exc.status, exc.text, exc.language)

    @blueprint.get("/verify/<token>")
    def show(token: str) -> tuple[Response, int]:
        record, fields = _open(token)
        return _page(200, record.language, fields=fields, statement=_statement(record.language), due_at=record.due_at)

    @blueprint.post("/verify/<token>")
    def submit(token: str) -> tuple[Response, int]:
        record, fields = _open(token)
        language = record.language
        limit = MAX_PHOTO_FORM_BYTES if PHOTO_FIELD in fields else MAX_FORM_BYTES
        if (request.content_length or 0) > limit:
            return too_large(language)
        form = request.form
        conf: dict[str, Any] = {f: form.get(f) for f in ("phone", "postal_address", "account_id") if f in fields}
        if "declaration" in fields and form.get("declare") == "yes":
            conf["declaration"] = {
                "signed_at": datetime.now(UTC).isoformat(),
                "signer_name": form.get("signer_name") or "",
                "statement_version": _version(language),
            }

        def refused(message: str) -> tuple[Response, int]:
            text = gettext(language, message)
            return _page(
                400, language, fields=fields, statement=_statement(record.language), due_at=record.due_at, error=text
            )

        try:
            given = parse_identifiers(conf, name=record.name)
        except InvalidRequest as exc:
            return refused(_FIELD_ERRORS.get(exc.field.split(".")[0], NOTHING_GIVEN))
        photo: bytes | None = None
        upload = request.files.get(PHOTO_FIELD) if PHOTO_FIELD in fields else None
        if upload is not None and upload.filename:
            data = upload.stream.read(uploads.MAX_PHOTO_BYTES + 1)
            try:
                uploads.check(data)
            except uploads.BadUpload as exc:
                log.info("Verification page refused a photo ID (%s)", exc.code)
                return refused(PHOTO_TOO_LARGE if exc.code == "too_large" else PHOTO_WRONG_TYPE)
            photo = data
        provided = [
            f
            for f, v in (
                ("phone", given.phone),
                ("postal_address", given.postal_address),
                ("account_id", given.account_id),
                ("declaration", given.declaration),
                (PHOTO_FIELD, photo),
            )
            if v
        ]
        if not provided:
            return refused(NOTHING_GIVEN)
        store = store_factory()
        try:
            if photo is not None:
                _keep_photo(store, record.request_id, photo)
            if set(provided) - {PHOTO_FIELD}:
                store.add_identifiers(
                    record.request_id, given, actor="requester", fields=[f for f in provided if f != PHOTO_FIELD]
                )
        except UnknownRequest:
            return _message(410, NOT_WAITING, language)
        from include.verification.service import compute

        compute(store, store.get_request(record.request_id))
        if on_updated is not None:
            try:
                on_updated(record.request_id)
            except Exception:  # the evidence is stored; a prompt that did not refresh is refreshed by the next click
                log.warning("Could not refresh the review prompt of request %s", record.request_id, exc_info=True)
        return _page(200, language, done=True, due_at=record.due_at)

    @blueprint.route("/confirm-agent/<token>", methods=["GET", "POST"])
    def confirm_agent(token: str) -> tuple[Response, int]:
        """§7063: the consumer confirms (or denies) that they gave the agent permission."""
        from include.verification import agents

        try:
            request_id = links.read_agent_token(token)
        except LookupError:
            raise _Closed(404, LINK_INVALID) from None
        except TimeoutError:
            raise _Closed(410, AGENT_LINK_EXPIRED) from None
        store = store_factory()
        record = store.find_request(request_id)
        if record is None or not record.open or record.identifiers.agent is None:
            raise _Closed(410, AGENT_NOT_WAITING, record.language if record is not None else None)
        language = record.language
        agent_name = record.identifiers.agent.name
        if agents.state(store, record) != "waiting" or store.get_decision(request_id) is not None:
            return _agent_page(200, language, agent_name=agent_name, done=AGENT_ALREADY)
        if request.method == "GET":
            return _agent_page(200, language, agent_name=agent_name)
        answer = request.form.get("answer")
        if answer not in ("yes", "no"):
            return _agent_page(400, language, agent_name=agent_name)
        kind = agents.CONFIRMED if answer == "yes" else agents.DENIED
        store.record_once(request_id, kind, ref="consumer")
        if on_updated is not None:
            try:
                on_updated(request_id)
            except Exception:
                log.warning("Could not refresh the review prompt of request %s", request_id, exc_info=True)
        return _agent_page(200, language, agent_name=agent_name, done=AGENT_YES if answer == "yes" else AGENT_NO)

    return blueprint


def _keep_photo(store: ComplianceStore, request_id: str, data: bytes) -> None:
    """Store the checked photo ID and make it the request's; nothing is left behind if the request closed meanwhile.
    A photo ID uploaded earlier (the form's, or this page's) is deleted: the officer asked for a new one."""
    stored = uploads.save(data)
    try:
        previous = store.set_photo_id(request_id, stored.link, actor="requester")
    except Exception:
        uploads.delete_for(stored.link)
        raise
    if previous and uploads.delete_for(previous):
        store.audit(request_id, "photo_id_deleted", detail={"replaced": True})


def _agent_page(status: int, language: str, *, agent_name: str, done: str = "") -> tuple[Response, int]:
    html = (
        env_for(language)
        .get_template("agent_page.html.j2")
        .render(agent_name=agent_name, done=gettext(language, done) if done else "")
    )
    return _harden(Response(html, mimetype="text/html")), status


def _statement(language: str) -> str:
    """The declaration the requester signs, in their language: the very text of the version recorded (§7003)."""
    return declaration_text(_version(language))


def _version(language: str) -> str:
    return declaration_version_for(language)
