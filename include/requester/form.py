"""The request form: ``GET/POST /ccpa/request``, its receipt, and the status page ``/ccpa/request/status/<token>``.

A consumer's own way to ask (Cal. Civ. Code §1798.130(a)(1): the business's website is one of the methods). On a valid
submission the form creates the DAG run itself, as the intake system would through the REST API
(``airflow.api.common.trigger_dag``, the function behind ``POST /api/v2/dags/{dag_id}/dagRuns``, with the DAG's
params validated the same way), with ``channel=web_form``, and shows a receipt with a reference and the due date.

Hardened as a public form: a signed, single-use, expiring form token (CSRF; no cookie, so the form also works inside
an ``<iframe>`` on the business's privacy page), an ``Origin`` check against the API server's origin and the
Variable ``ccpa_form_embed_origins``, rate limits per client address and per email address (in-process, see
:mod:`include.requester.limits`), a honeypot field, strict validation with messages in the chosen language, nothing
created on bad input, and no personal data in the logs. No JavaScript anywhere.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, request

from include import clock, config
from include.i18n import N_
from include.request import CURRENT_DECLARATION, AccessRequest, InvalidRequest, declaration_version_for
from include.requester import i18n, signing, uploads
from include.requester.limits import RateLimiter, UsedNonces

log = logging.getLogger(__name__)

DAG_ID = "ccpa_right_of_access"
CHANNEL = "web_form"
REQUEST_TYPES = ("specific_pieces", "categories")
DECLARATION_VERSION = CURRENT_DECLARATION

#: A form token is good for two hours, and for one submission.
FORM_TOKEN_MAX_AGE = 2 * 3600
#: Every POST from one client address counts, valid or not.
ADDRESS_LIMIT = (20, 3600.0)
#: Requests created for one email address.
EMAIL_LIMIT = (3, 24 * 3600.0)
#: The whole form with a photo ID: the photo's limit plus room for the fields.
MAX_FORM_BYTES = uploads.MAX_PHOTO_BYTES + 64 * 1024

_PHONE_CHARS = re.compile(r"^[0-9+().\s-]+$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MAX_ADDRESS = 300

#: Creates the run: (dag_id, run_id, conf, logical_date, note). The API server's own function by default.
TriggerRun = Callable[[str, str, dict[str, Any], datetime, str], None]


def airflow_trigger(dag_id: str, run_id: str, conf: dict[str, Any], logical_date: datetime, note: str) -> None:
    """Create the run in Airflow's metadata DB, as ``POST /api/v2/dags/{dag_id}/dagRuns`` does."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    trigger_dag(
        dag_id,
        triggered_by=DagRunTriggeredByType.REST_API,
        triggering_user_name="ccpa_request_form",
        run_id=run_id,
        conf=conf,
        logical_date=logical_date,
        run_after=logical_date,
        replace_microseconds=False,
        note=note,
    )


def run_id_for(logical_date: datetime) -> str:
    """The id Airflow gives a manual run of that logical date (what ``dag.test`` would also give it)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.types import DagRunType

    return DagRun.generate_run_id(run_type=DagRunType.MANUAL, logical_date=logical_date, run_after=logical_date)


@dataclass
class Submission:
    """The form as posted, and what is wrong with it (field -> message id)."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    photo: bytes | None = None


def parse(form: Any, files: Any) -> Submission:
    """Validate every field. Messages are English message ids, translated when shown; none repeats a value."""
    values = {
        key: str(form.get(key, "")).strip()
        for key in ("name", "email", "request_type", "phone", "postal_address", "account_id", "language")
    }
    values["declaration"] = "yes" if form.get("declaration") == "yes" else ""
    sub = Submission(values=values)
    errors = sub.errors

    try:
        request_ = AccessRequest.from_conf({"name": values["name"], "email": values["email"]})
        values["name"], values["email"] = request_.name, request_.email
    except InvalidRequest as exc:
        if exc.field == "name":
            errors["name"] = (
                N_("Your name must be at most 200 characters.")
                if "at most" in str(exc)
                else N_("Enter your full name.")
            )
        else:
            errors["email"] = N_("Enter a valid email address, such as name@example.com.")
        if "email" not in errors:  # name failed first: check the email on its own
            try:
                AccessRequest.from_conf({"name": "x", "email": values["email"]})
            except InvalidRequest:
                errors["email"] = N_("Enter a valid email address, such as name@example.com.")
    if _CONTROL.search(values["name"]):
        errors["name"] = N_("Enter your full name.")

    if values["request_type"] not in REQUEST_TYPES:
        errors["request_type"] = N_("Choose what you are asking for.")
    if values["phone"]:
        digits = re.sub(r"\D", "", values["phone"])
        if not _PHONE_CHARS.match(values["phone"]) or not 7 <= len(digits) <= 15:
            errors["phone"] = N_("Enter a phone number of 7 to 15 digits, or leave it empty.")
    values["postal_address"] = " ".join(values["postal_address"].split())
    if len(values["postal_address"]) > _MAX_ADDRESS or _CONTROL.search(values["postal_address"]):
        errors["postal_address"] = N_("The postal address must be at most 300 characters.")
    if values["account_id"] and not _ACCOUNT.match(values["account_id"]):
        errors["account_id"] = N_("An account number uses letters, digits, dots, dashes and underscores (at most 100).")
    if values["language"] not in i18n.LANGUAGES:
        values["language"] = i18n.language_or_default(None)

    upload = files.get("photo_id") if files else None
    if upload is not None and upload.filename:
        data = upload.stream.read(uploads.MAX_PHOTO_BYTES + 1)
        try:
            uploads.check(data)
            sub.photo = data
        except uploads.BadUpload as exc:
            too_large = exc.code == "too_large"
            errors["photo_id"] = (
                N_("The photo ID must be at most 5 MB.")
                if too_large
                else N_("The photo ID must be a JPEG, PNG or PDF file.")
            )
    return sub


def _answerable_by_email(address: str) -> bool:
    """Issue 18: a non-ASCII address needs SMTPUTF8; when the mail server does not offer it, the person is told here,
    at intake, and can give another address. An unreachable server proves nothing: the run's own intake check
    (``validate_request``) decides then."""
    from include.mail.send import SMTPUTF8Unavailable, check_deliverable

    try:
        check_deliverable(address)
    except SMTPUTF8Unavailable:
        return False
    except OSError:
        log.warning("Request form: the mail server could not be asked about SMTPUTF8; the run will check")
    return True


def conf_for(sub: Submission, photo_link: str, now: datetime) -> dict[str, Any]:
    """The DAG run conf, as an intake system would send it; optional fields only when given."""
    v = sub.values
    conf: dict[str, Any] = {
        "name": v["name"],
        "email": v["email"],
        "photo_id_url": photo_link,
        "channel": CHANNEL,
        "language": v["language"],
        "request_type": v["request_type"],
    }
    for key in ("phone", "postal_address", "account_id"):
        if v[key]:
            conf[key] = v[key]
    if v["declaration"]:
        conf["declaration"] = {
            "signed_at": now.isoformat(),
            "signer_name": v["name"],
            "statement_version": declaration_version_for(v["language"], DECLARATION_VERSION),
        }
    return conf


class RequestForm:
    """The blueprint's state: limits, used form tokens and how runs are created (replaceable in tests)."""

    def __init__(self, trigger: TriggerRun | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.trigger = trigger or airflow_trigger
        self.clock = clock or (lambda: datetime.now(UTC))
        self.by_address = RateLimiter(*ADDRESS_LIMIT)
        self.by_email = RateLimiter(*EMAIL_LIMIT)
        self.used_tokens = UsedNonces(FORM_TOKEN_MAX_AGE)
        self.blueprint = self._blueprint()

    # -- pages ----------------------------------------------------------------------------------------

    def _page(self, template: str, language: str, status: int = 200, **context: Any) -> Response:
        html = i18n.render(
            template,
            language,
            form_url=request.script_root + "/request",
            **context,
        )
        response = Response(html, status=status, mimetype="text/html")
        return _harden(response)

    def _form(self, language: str, sub: Submission | None = None, problem: str | None = None, status: int = 200):
        token, _ = signing.new_csrf_token()
        values = sub.values if sub else {"language": language, "request_type": "specific_pieces"}
        return self._page(
            "requester/form.html.j2",
            language,
            status,
            token=token,
            values=values,
            errors=sub.errors if sub else {},
            problem=problem,
            max_photo_mb=uploads.MAX_PHOTO_BYTES // (1024 * 1024),
        )

    def _problem(self, language: str, message: str, status: int) -> Response:
        return self._page("requester/problem.html.j2", language, status, message=message)

    def too_large(self) -> Response:
        """A post over the form's size limit, refused by Flask before the view could read it: the page of the
        language the form was opened in (``?lang=``, kept by the form's action), not the callback's JSON."""
        language = i18n.language_or_default(request.args.get("lang"))
        log.info("Request form refused: the post is larger than %d bytes", MAX_FORM_BYTES)
        return self._problem(language, N_("The photo ID must be at most 5 MB."), 413)

    # -- routes ---------------------------------------------------------------------------------------

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("ccpa_requester", __name__)

        @bp.before_app_request
        def _allow_the_photo() -> None:
            # The app's limit is sized for Slack's small posts; only the form may carry a photo.
            if request.path.rstrip("/").endswith("/request") and request.method == "POST":
                request.max_content_length = MAX_FORM_BYTES

        bp.get("/request")(self.show)
        bp.post("/request")(self.submit)
        bp.get("/request/status/<token>")(self.status)
        bp.get("/request/photo/<token>")(self.photo)
        return bp

    def show(self) -> Response:
        return self._form(i18n.language_or_default(request.args.get("lang")))

    def submit(self) -> Response:
        language = i18n.language_or_default(request.form.get("language"))
        if not _origin_allowed(request.headers.get("Origin"), request.host_url):
            log.warning("Request form refused: posted from another origin")
            return self._problem(language, N_("This form must be sent from our website."), 403)
        if not self.by_address.hit(request.remote_addr or "unknown"):
            log.warning("Request form refused: too many posts from one client address")
            return self._problem(language, N_("Too many requests from your connection. Please try again later."), 429)
        sub = parse(request.form, request.files)
        language = sub.values["language"]
        try:
            nonce = signing.read_csrf_token(request.form.get("form_token", ""), FORM_TOKEN_MAX_AGE)
        except LookupError:
            nonce = None
        if nonce is None or not self.used_tokens.use(nonce):
            log.info("Request form refused: missing, expired or reused form token")
            problem = N_("This form has expired or was already sent. Check your details and send it again.")
            return self._form(language, sub, problem=problem, status=400)
        if request.form.get("website"):  # the honeypot: hidden from people, filled in by bots
            log.info("Request form refused: honeypot field filled in")
            return self._problem(language, N_("We could not accept this form. Please try again."), 400)
        if sub.errors:
            self.used_tokens.forget(nonce)  # the person corrects and sends again with a fresh token
            log.info("Request form refused: invalid field(s) %s", ", ".join(sorted(sub.errors)))
            return self._form(language, sub, status=400)
        if not _answerable_by_email(sub.values["email"]):
            self.used_tokens.forget(nonce)
            sub.errors["email"] = N_(
                "We cannot send email to an address with accented or non-Latin characters. Please give another "
                "address, or contact us another way."
            )
            log.info("Request form refused: an address the mail server cannot take (no SMTPUTF8)")
            return self._form(language, sub, status=400)
        if not self.by_email.allowed(sub.values["email"]):
            log.warning("Request form refused: too many requests for one email address")
            problem = N_(
                "We have already received several requests for this email address today. We will answer them: "
                "you do not need to send another."
            )
            return self._problem(language, problem, 429)
        return self._create(sub)

    def _create(self, sub: Submission) -> Response:
        language = sub.values["language"]
        now = self.clock()
        photo = None
        try:
            if sub.photo is not None:
                photo = uploads.save(sub.photo)
            run_id = run_id_for(now)
            ref = signing.reference(run_id)
            conf = conf_for(sub, photo.link if photo else "", now)
            self.trigger(DAG_ID, run_id, conf, now, f"CCPA request form, reference {ref}")
        except Exception as exc:  # nothing may be left behind: no run, no stored photo
            if photo is not None:
                uploads.delete_for(photo.link)
            log.error("Request form: could not create the run (%s)", type(exc).__name__)
            message = N_(
                "We could not record your request just now, and nothing was sent. Please try again in a few minutes."
            )
            return self._problem(language, message, 503)
        self.by_email.hit(sub.values["email"])
        log.info("Request form: run %s created (reference %s, channel %s)", run_id, ref, CHANNEL)
        return self._page(
            "requester/receipt.html.j2",
            language,
            reference=ref,
            due_at=clock.due_date(now),
            # On the host the requester used (the email's link uses [api] base_url).
            status_url=f"{request.script_root}/request/status/{signing.status_token(run_id, language)}",
        )

    def status(self, token: str) -> Response:
        language = i18n.language_or_default(request.args.get("lang"))
        try:
            data = signing.read_status_token(token)
        except LookupError:
            return self._problem(language, N_("This link is not valid."), 404)
        language = i18n.language_or_default(request.args.get("lang") or data["l"])
        from include.requester.status import status_of

        return self._page(
            "requester/status.html.j2", language, reference=signing.reference(data["r"]), state=status_of(data["r"])
        )

    def photo(self, token: str) -> Response:
        """The uploaded photo ID, for the officer who opens the prompt's link (the signed link is the key)."""
        from include import storage

        try:
            url = uploads.read_token(token)
        except LookupError:
            return Response("not found", status=404, mimetype="text/plain")
        path = storage.resolve(url)
        if not path.exists():
            return Response("this photo ID has been deleted", status=410, mimetype="text/plain")
        with path.open("rb") as f:
            data = f.read()
        ext = path.name.rsplit(".", 1)[-1]
        response = Response(data, mimetype=uploads.CONTENT_TYPES.get(ext, "application/octet-stream"))
        response.headers["Content-Disposition"] = "inline"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


def embed_origins() -> list[str]:
    raw = config.get_variable(config.VAR_FORM_EMBED_ORIGINS, "")
    return [o.rstrip("/") for o in re.split(r"[\s,]+", raw) if o.startswith(("https://", "http://"))]


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _origin_allowed(origin: str | None, host_url: str) -> bool:
    """A browser names the page a form was posted from; it must be ours or an embedding page we allow.
    Clients that send no ``Origin`` (old browsers) still need the signed form token."""
    if origin is None:
        return True
    allowed = {_origin_of(host_url), _origin_of(config.airflow_base_url()), *embed_origins()}
    return origin.rstrip("/") in allowed


def _harden(response: Response) -> Response:
    ancestors = " ".join(["'self'", *embed_origins()])
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Not "no-referrer": with it, browsers post the form with "Origin: null", which the origin check must refuse.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app: Flask, trigger: TriggerRun | None = None) -> RequestForm:
    """Serve the form on ``app`` (the callback app: ``/ccpa/request`` under the API server)."""
    form = RequestForm(trigger=trigger)
    app.register_blueprint(form.blueprint)
    return form
