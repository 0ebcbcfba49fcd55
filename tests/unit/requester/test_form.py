"""The request form (/ccpa/request): a consumer's own door to ask, hardened like any public form."""

from __future__ import annotations

import io
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from include import clock
from include.requester import form as request_form
from include.requester import signing, uploads

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
NAME, EMAIL = "Ana María Núñez", "ana.nunez@example.com"


class Runs:
    """Stands in for Airflow's trigger in these unit tests (tests/integration and the browser test use the real one)."""

    def __init__(self, fail: bool = False) -> None:
        self.created: list[dict[str, Any]] = []
        self.fail = fail

    def __call__(self, dag_id: str, run_id: str, conf: dict, logical_date: datetime, note: str) -> None:
        if self.fail:
            raise RuntimeError("metadata database unavailable")
        self.created.append(
            {"dag_id": dag_id, "run_id": run_id, "conf": conf, "logical_date": logical_date, "note": note}
        )


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "form-test-secret-0123456789")
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path / 'reports'}")
    monkeypatch.delenv("AIRFLOW_VAR_CCPA_DEFAULT_LANGUAGE", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_CCPA_FORM_EMBED_ORIGINS", raising=False)
    return tmp_path / "reports"


@pytest.fixture
def runs() -> Runs:
    return Runs()


@pytest.fixture
def client(env, runs):
    from include.slack.callback import create_app

    app = create_app(request_trigger=runs)
    return app.test_client()


def token_from(html: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', html)
    assert match, "the form carries a token"
    return match.group(1)


def fields(client, lang: str = "en", **overrides: Any) -> dict[str, Any]:
    page = client.get(f"/request?lang={lang}")
    data = {
        "form_token": token_from(page.get_data(as_text=True)),
        "language": lang,
        "name": NAME,
        "email": EMAIL,
        "request_type": "specific_pieces",
        "phone": "",
        "postal_address": "",
        "account_id": "",
        "website": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def post(client, data: dict[str, Any], **headers: str):
    return client.post("/request", data=data, content_type="multipart/form-data", headers=headers)


# -- the door -------------------------------------------------------------------------------------------------


def test_1798_130a1_the_website_offers_a_form_to_ask(client):
    """Civ. 1798.130(a)(1): the business's website is one of the methods to submit a request."""
    page = client.get("/request")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="en">' in html and "<script" not in html  # works without JavaScript
    for name in ("name", "email", "request_type", "phone", "postal_address", "account_id", "photo_id", "language"):
        assert f'name="{name}"' in html
    assert 'enctype="multipart/form-data"' in html
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]


def test_the_form_speaks_spanish_and_defaults_to_the_variable(client, monkeypatch):
    spanish = client.get("/request?lang=es").get_data(as_text=True)
    assert '<html lang="es">' in spanish and "Su nombre completo" in spanish and "Your full name" not in spanish
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DEFAULT_LANGUAGE", "es")
    assert '<html lang="es">' in client.get("/request").get_data(as_text=True)
    assert '<html lang="en">' in client.get("/request?lang=en").get_data(as_text=True)


def test_7021b_the_receipt_gives_a_reference_and_the_due_date_45_days_on(client, runs):
    response = post(client, fields(client, phone="+1 (415) 555-0100", account_id="AC-1001", declaration="yes"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    [run] = runs.created
    assert run["dag_id"] == "ccpa_right_of_access"
    assert run["conf"] == {
        "name": NAME,
        "email": EMAIL,
        "photo_id_url": "",
        "channel": "web_form",
        "language": "en",
        "request_type": "specific_pieces",
        "phone": "+1 (415) 555-0100",
        "account_id": "AC-1001",
        "declaration": {
            "signed_at": run["logical_date"].isoformat(),
            "signer_name": NAME,
            "statement_version": request_form.DECLARATION_VERSION,
        },
    }
    assert run["run_id"] == request_form.run_id_for(run["logical_date"])
    reference = signing.reference(run["run_id"])
    assert reference in html and reference in run["note"]
    due = clock.local_day(clock.due_date(run["logical_date"]))  # §7021(b): a California day, naming the zone
    assert f"We will answer by {due:%B} {due.day}, {due.year} (Pacific Time)." in html
    assert 'href="/request/status/' in html  # on the host the requester used (the plugin mounts it under /ccpa)


def test_a_spanish_submission_gets_a_spanish_receipt(client, runs):
    html = post(client, fields(client, lang="es", request_type="categories")).get_data(as_text=True)
    assert '<html lang="es">' in html and "Recibimos su solicitud" in html
    assert "Le responderemos a más tardar el" in html
    assert " de 20" in html  # "5 de diciembre de 2026": Babel's Spanish long date
    assert runs.created[0]["conf"]["language"] == "es"
    assert runs.created[0]["conf"]["request_type"] == "categories"


# -- bad input: a clear message, nothing created ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "   "}, "name", "Escriba su nombre completo."),
        ({"name": "x" * 201}, "name", "como máximo 200 caracteres"),
        ({"email": "ana@example"}, "email", "Escriba un correo electrónico válido"),
        ({"email": "ana nunez@example.com"}, "email", "Escriba un correo electrónico válido"),
        ({"request_type": "everything"}, "request_type", "Elija qué solicita."),
        ({"phone": "call me"}, "phone", "de 7 a 15 dígitos"),
        ({"phone": "12345"}, "phone", "de 7 a 15 dígitos"),
        ({"postal_address": "x" * 301}, "postal_address", "como máximo 300 caracteres"),
        ({"account_id": "<script>"}, "account_id", "Un número de cuenta usa letras"),
    ],
)
def test_bad_input_is_refused_in_the_chosen_language_and_creates_nothing(client, runs, env, overrides, field, message):
    response = post(client, fields(client, lang="es", **overrides))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html and f'href="#{field}"' in html and 'aria-invalid="true"' in html
    assert runs.created == []
    assert not env.exists() or not any(env.iterdir())


def test_a_refused_form_keeps_what_was_typed_escaped(client, runs):
    html = post(client, fields(client, name='<b>"Ana"</b>', email="bad")).get_data(as_text=True)
    assert "&lt;b&gt;&#34;Ana&#34;&lt;/b&gt;" in html and "<b>" not in html
    assert runs.created == []


def test_a_form_without_a_valid_token_is_refused(client, runs):
    for token in (None, "", "forged.token.value"):
        data = fields(client, form_token=token)
        response = post(client, data)
        assert response.status_code == 400
        assert "This form has expired or was already sent" in response.get_data(as_text=True)
    assert runs.created == []


def test_a_form_token_is_good_for_one_submission(client, runs):
    data = fields(client)
    assert post(client, data).status_code == 200
    again = post(client, data)
    assert again.status_code == 400 and "already sent" in again.get_data(as_text=True)
    assert len(runs.created) == 1


def test_an_expired_form_token_is_refused(client, runs, monkeypatch):
    data = fields(client)
    monkeypatch.setattr(request_form, "FORM_TOKEN_MAX_AGE", -1)
    assert post(client, data).status_code == 400
    assert runs.created == []


def test_a_form_posted_from_another_site_is_refused(client, runs, monkeypatch):
    response = post(client, fields(client), Origin="https://evil.example")
    assert response.status_code == 403
    assert runs.created == []
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_FORM_EMBED_ORIGINS", "https://www.example.com, https://privacy.example.com")
    assert post(client, fields(client), Origin="https://privacy.example.com").status_code == 200
    page = client.get("/request")
    assert (
        "frame-ancestors 'self' https://www.example.com https://privacy.example.com"
        in page.headers["Content-Security-Policy"]
    )


def test_the_honeypot_field_catches_bots(client, runs):
    response = post(client, fields(client, website="http://spam.example"))
    assert response.status_code == 400
    assert runs.created == []


def test_posts_from_one_address_are_rate_limited(client, runs):
    limit, _ = request_form.ADDRESS_LIMIT
    for _ in range(limit):
        post(client, fields(client, email="x"))  # invalid posts count too
    response = post(client, fields(client))
    assert response.status_code == 429
    assert "Too many requests from your connection" in response.get_data(as_text=True)
    assert runs.created == []


def test_requests_for_one_email_are_rate_limited(client, runs):
    limit, _ = request_form.EMAIL_LIMIT
    for _ in range(limit):
        assert post(client, fields(client, email=EMAIL.upper())).status_code == 200
    response = post(client, fields(client))
    assert response.status_code == 429
    assert len(runs.created) == limit


def test_nothing_personal_is_logged(client, runs, caplog):
    caplog.set_level(logging.DEBUG)
    post(client, fields(client, phone="+1 415 555 0100", postal_address="1 Main St"))
    post(client, fields(client, email="ana.nunez@example"))
    text = caplog.text
    assert "run manual__" in text and "invalid field(s) email" in text
    for value in (NAME, EMAIL, "ana.nunez", "555 0100", "Main St"):
        assert value not in text


def test_when_the_run_cannot_be_created_nothing_is_left_behind(env, monkeypatch):
    from include.slack.callback import create_app

    failing = Runs(fail=True)
    client = create_app(request_trigger=failing).test_client()
    data = fields(client, photo_id=(io.BytesIO(PNG), "id.png"))
    response = post(client, data)
    assert response.status_code == 503
    assert "nothing was sent" in response.get_data(as_text=True)
    assert not any(p.is_file() for p in env.rglob("*"))


# -- the photo ID -------------------------------------------------------------------------------------------------


def test_an_uploaded_photo_id_is_kept_in_report_storage_behind_a_signed_link(client, runs, env):
    response = post(client, fields(client, photo_id=(io.BytesIO(PNG), "passport.png")))
    assert response.status_code == 200
    link = runs.created[0]["conf"]["photo_id_url"]
    assert link.startswith("http") and uploads.PHOTO_PATH in link
    [stored] = [p for p in env.rglob("*") if p.is_file()]
    assert stored.read_bytes() == PNG and stored.name == "photo-id.png"
    served = client.get(link[link.index("/request/photo/") :])
    assert served.status_code == 200 and served.mimetype == "image/png" and served.data == PNG
    assert client.get("/request/photo/forged").status_code == 404

    assert uploads.delete_for(link)
    assert not stored.exists() and not stored.parent.exists()
    assert client.get(link[link.index("/request/photo/") :]).status_code == 410


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"MZ\x90\x00 not an image", "must be a JPEG, PNG or PDF"),
        (b"<svg onload=alert(1)>", "must be a JPEG, PNG or PDF"),
        (b"\xff\xd8\xff" + b"\x00" * uploads.MAX_PHOTO_BYTES, "at most 5 MB"),
    ],
)
def test_a_photo_id_must_be_an_image_or_pdf_of_at_most_5_mb(client, runs, env, content, message):
    response = post(client, fields(client, photo_id=(io.BytesIO(content), "id.png")))
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert runs.created == []
    assert not any(p.is_file() for p in env.rglob("*"))


def test_only_our_own_upload_links_are_ever_deleted(env, tmp_path):
    victim = tmp_path / "keep.txt"
    victim.write_text("x")
    assert not uploads.delete_for(f"https://intake.example.com{uploads.PHOTO_PATH}{victim}")
    assert not uploads.delete_for("https://intake.example.com/ids/jane.png")
    assert not uploads.delete_for("")
    assert victim.exists()


# -- the status page ----------------------------------------------------------------------------------------------


def _status_page(client, run_id: str, lang: str = "en") -> str:
    token = signing.status_token(run_id, lang)
    response = client.get(f"/request/status/{token}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_status_page_follows_the_request_and_shows_no_personal_data(client, compliance_store):
    from include.request import AccessRequest
    from include.store import APPROVE, Status

    received = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    run_id = "manual__status-test"
    assert 'data-state="received"' in _status_page(client, run_id)  # the run has not registered it yet
    record = compliance_store.register_request(run_id, AccessRequest(NAME, EMAIL, ""), received, channel="web_form")
    html = _status_page(client, run_id)
    # 02:00 PST on 5 December: due at the end of 18 January 2027, Pacific Time (the 45th day counting the 5th).
    assert 'data-state="received"' in html and "December 5, 2026" in html and "January 18, 2027" in html

    compliance_store.set_review_prompt(record.request_id, "C1", "1.1")
    assert 'data-state="verifying"' in _status_page(client, run_id)
    spanish = _status_page(client, run_id, "es")
    assert "Verificando" in spanish and "18 de enero de 2027" in spanish

    compliance_store.extend(record.request_id, "U0APPROVER", "we are gathering records from an archive")
    html = _status_page(client, run_id)
    assert 'data-state="extended"' in html
    # §7021(b): 45 calendar days added to the last day (18 January), in California.
    assert "Extended to March 4, 2027 (Pacific Time), because: we are gathering records from an archive" in html

    compliance_store.record_decision(record.request_id, APPROVE, "U0APPROVER")
    compliance_store.set_status(record.request_id, Status.COMPLETED)
    html = _status_page(client, run_id)
    assert 'data-state="answered"' in html and "Answered on" in html
    for value in (NAME, EMAIL, "Ana", "nunez", "U0APPROVER", record.request_id):
        assert value not in html


def test_a_forged_status_link_shows_nothing(client):
    response = client.get("/request/status/eyJyIjoibWFudWFsIn0.forged")
    assert response.status_code == 404 and "This link is not valid." in response.get_data(as_text=True)


def test_status_states_in_order():
    from include.requester.status import state_of
    from include.store import RequestRecord, Status

    now = datetime(2026, 12, 5, tzinfo=UTC)

    def record(status: Status, **kw: Any) -> RequestRecord:
        base = dict(
            request_id="r", run_id="x", name="n", email="e", photo_id_url="", status=status, received_at=now,
            due_at=now + timedelta(days=45), slack_channel=None, slack_ts=None, closed_at=None,
        )  # fmt: skip
        return RequestRecord(**{**base, **kw})

    assert state_of(None).kind == "registering"
    assert state_of(record(Status.RECEIVED)).kind == "received"
    assert state_of(record(Status.AWAITING_DECISION)).kind == "verifying"
    assert state_of(record(Status.APPROVED)).kind == "preparing"
    assert state_of(record(Status.AWAITING_DECISION, extended_at=now, extension_reason="r")).kind == "extended"
    assert state_of(record(Status.REJECTED_NOTIFIED, closed_at=now)).kind == "answered"
    assert state_of(record(Status.LINKED_DUPLICATE, linked_to="o", closed_at=now)).kind == "linked"


@pytest.mark.parametrize(("lang", "words"), [("en", "at most 5 MB"), ("es", "5 MB como máximo")])
def test_a_post_over_the_size_limit_gets_a_page_in_the_requesters_language(client, runs, lang, words):
    """Flask refuses a body over the form's limit before the view reads it: the person still reads why, in their
    language (the form's action keeps ``?lang=``), and nothing is created."""
    from include.requester.form import MAX_FORM_BYTES

    body = b"x" * (MAX_FORM_BYTES + 1024)
    page = client.post(f"/request?lang={lang}", data=body, headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert page.status_code == 413
    assert words in page.get_data(as_text=True) and 'lang="' + lang + '"' in page.get_data(as_text=True)
    assert runs.created == []


def test_an_address_the_mail_server_cannot_take_is_refused_at_the_form_in_the_chosen_language(
    client, runs, monkeypatch, tmp_path
):
    """Issue 18: josé@… needs SMTPUTF8. When the mail server does not offer it, the person is told on the form, in
    their language, and can give another address: no run is created that could never be answered."""
    from devtools.standins.mail_sink import MailSink
    from tests.conftest import use_smtp

    monkeypatch.setenv("AIRFLOW_VAR_CCPA_EMAIL_BACKEND", "smtp")
    with MailSink(tmp_path / "old", smtputf8=False) as old_server:
        use_smtp(monkeypatch, old_server.port)
        response = post(client, fields(client, lang="es", email="josé@example.com"))
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        assert "No podemos enviar correo a una dirección con acentos" in html and 'href="#email"' in html
        assert runs.created == []
        # An ASCII address goes through the same server.
        assert post(client, fields(client, lang="es")).status_code == 200
        assert len(runs.created) == 1
    with MailSink(tmp_path / "new") as server:  # a server offering SMTPUTF8 takes josé@
        use_smtp(monkeypatch, server.port)
        assert post(client, fields(client, email="josé@example.com")).status_code == 200
        assert runs.created[-1]["conf"]["email"] == "josé@example.com"


def test_7003_7063a_the_declaration_recorded_is_the_text_shown_in_the_requesters_language(client, runs):
    """§7003, §7063(a): a Spanish requester reads and signs the statement in Spanish, and the §7101 record names
    that very text (its own version), not the English one; English keeps the base version."""
    from include.request import CURRENT_DECLARATION, declaration_text
    from include.verification import page

    for lang, marker in (("es", "Declaro bajo pena de perjurio"), ("en", "I declare under penalty of perjury")):
        shown = client.get(f"/request?lang={lang}").get_data(as_text=True)
        assert post(client, fields(client, lang=lang, declaration="yes")).status_code == 200
        version = runs.created[-1]["conf"]["declaration"]["statement_version"]
        signed = declaration_text(version)
        assert signed.startswith(marker)
        assert " ".join(signed.split()) in " ".join(shown.split()), "the form shows exactly the text recorded"
        assert page._statement(lang) == signed  # the verification page asks for the same statement
    assert runs.created[-1]["conf"]["declaration"]["statement_version"] == CURRENT_DECLARATION
    assert runs.created[-2]["conf"]["declaration"]["statement_version"] == f"{CURRENT_DECLARATION}-es"
