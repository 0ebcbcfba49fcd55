"""The requester's verification page, ``/ccpa/verify/<token>`` (served by the plugin next to the Slack callback).

An officer clicked **Ask for more…**; the requester got a signed, expiring link naming the request and what was
asked. Here they provide it: the form is validated exactly like the intake conf (include.request.parse_identifiers),
merged into the open request, the evidence is recomputed against the datastores, and the review prompt is updated in
place. The request keeps waiting for the officer: nothing here decides anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request

from include.request import InvalidRequest, declaration_text, declaration_versions, parse_identifiers
from include.store import ComplianceStore, RequestRecord, UnknownRequest
from include.templating import env as _env
from include.verification import links

log = logging.getLogger(__name__)

#: A form carries a few short fields: anything bigger is refused before it is read.
MAX_FORM_BYTES = 8 * 1024
_FIELD_LABELS = {
    "phone": "phone number",
    "postal_address": "postal address",
    "account_id": "account id",
    "declaration": "declaration",
}


def _page(status: int, **context: Any) -> tuple[Response, int]:
    defaults: dict[str, Any] = {"done": False, "error": None, "fields": [], "statement": "", "due_at": None}
    html = _env.get_template("verification_page.html.j2").render(**(defaults | context))
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store"}), status


def _message(status: int, text: str) -> tuple[Response, int]:
    return Response(f"<!DOCTYPE html><title>Verification</title><p>{text}</p>", mimetype="text/html"), status


class _Closed(Exception):
    """The link cannot be used (invalid, expired, request closed): the page says so."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def blueprint_for(
    store_factory: Callable[[], ComplianceStore], on_updated: Callable[[str], None] | None = None
) -> Blueprint:
    """The page's routes. ``on_updated(request_id)`` refreshes the review prompt once the evidence is recomputed."""
    blueprint = Blueprint("ccpa_verification", __name__)

    def _open(token: str) -> tuple[RequestRecord, list[str]]:
        try:
            request_id, fields = links.read_token(token)
        except LookupError:
            raise _Closed(404, "This link is not valid.") from None
        except TimeoutError:
            raise _Closed(410, "This link has expired. Reply to our email and we will send a new one.") from None
        store = store_factory()
        record = store.find_request(request_id)
        if record is None or not record.open or store.get_decision(request_id) is not None:
            raise _Closed(410, "This request is no longer waiting for information.")
        return record, fields

    @blueprint.errorhandler(_Closed)
    def closed(exc: _Closed) -> tuple[Response, int]:
        return _message(exc.status, exc.text)

    @blueprint.get("/verify/<token>")
    def show(token: str) -> tuple[Response, int]:
        record, fields = _open(token)
        return _page(200, fields=fields, statement=declaration_text(_version()), due_at=record.due_at)

    @blueprint.post("/verify/<token>")
    def submit(token: str) -> tuple[Response, int]:
        if (request.content_length or 0) > MAX_FORM_BYTES:
            return _message(413, "Too much data.")
        record, fields = _open(token)
        form = request.form
        conf: dict[str, Any] = {f: form.get(f) for f in ("phone", "postal_address", "account_id") if f in fields}
        if "declaration" in fields and form.get("declare") == "yes":
            conf["declaration"] = {
                "signed_at": datetime.now(UTC).isoformat(),
                "signer_name": form.get("signer_name") or "",
                "statement_version": _version(),
            }
        statement = declaration_text(_version())
        try:
            given = parse_identifiers(conf, name=record.name)
        except InvalidRequest as exc:
            label = _FIELD_LABELS.get(exc.field.split(".")[0], exc.field)
            problem = str(exc).split(f"'{exc.field}' ", 1)[-1]
            return _page(400, fields=fields, statement=statement, due_at=record.due_at, error=f"The {label} {problem}.")
        provided = [
            f
            for f, v in (
                ("phone", given.phone),
                ("postal_address", given.postal_address),
                ("account_id", given.account_id),
                ("declaration", given.declaration),
            )
            if v
        ]
        if not provided:
            return _page(
                400, fields=fields, statement=statement, due_at=record.due_at, error="Fill in at least one field."
            )
        store = store_factory()
        try:
            store.add_identifiers(record.request_id, given, actor="requester", fields=provided)
        except UnknownRequest:
            return _message(410, "This request is no longer waiting for information.")
        from include.verification.service import compute

        compute(store, store.get_request(record.request_id))
        if on_updated is not None:
            try:
                on_updated(record.request_id)
            except Exception:  # the evidence is stored; a prompt that did not refresh is refreshed by the next click
                log.warning("Could not refresh the review prompt of request %s", record.request_id, exc_info=True)
        return _page(200, done=True, due_at=record.due_at)

    @blueprint.route("/confirm-agent/<token>", methods=["GET", "POST"])
    def confirm_agent(token: str) -> tuple[Response, int]:
        """§7063: the consumer confirms (or denies) that they gave the agent permission."""
        from include.verification import agents

        try:
            request_id = links.read_agent_token(token)
        except LookupError:
            raise _Closed(404, "This link is not valid.") from None
        except TimeoutError:
            raise _Closed(410, "This link has expired.") from None
        store = store_factory()
        record = store.find_request(request_id)
        if record is None or not record.open or record.identifiers.agent is None:
            raise _Closed(410, "This request is no longer waiting for your answer.")
        agent_name = record.identifiers.agent.name
        if request.method == "GET":
            return _agent_page(200, agent_name=agent_name)
        if agents.state(store, record) != "waiting":
            return _agent_page(200, agent_name=agent_name, done="We already have your answer.")
        answer = request.form.get("answer")
        if answer not in ("yes", "no"):
            return _agent_page(400, agent_name=agent_name)
        kind = agents.CONFIRMED if answer == "yes" else agents.DENIED
        store.record_once(request_id, kind, ref="consumer")
        if on_updated is not None:
            try:
                on_updated(request_id)
            except Exception:
                log.warning("Could not refresh the review prompt of request %s", request_id, exc_info=True)
        done = (
            "We will answer your request and send the answer to you."
            if answer == "yes"
            else "We will not answer this request; nothing about you is disclosed."
        )
        return _agent_page(200, agent_name=agent_name, done=done)

    return blueprint


def _agent_page(status: int, *, agent_name: str, done: str = "") -> tuple[Response, int]:
    html = _env.get_template("agent_page.html.j2").render(agent_name=agent_name, done=done)
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store"}), status


def _version() -> str:
    """The current declaration text: the newest version."""
    return declaration_versions()[-1]
