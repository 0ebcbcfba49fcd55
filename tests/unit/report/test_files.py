"""The report people receive, in every format, built from a real extraction on MariaDB."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator
from pypdf import PdfReader
from sqlalchemy import create_engine, insert, update

from devtools.demo_data import DEMO_PERSON, crm_users, seed
from include.datastores.extract import extract
from include.datastores.registry import load_registry
from include.mail.message import build_message
from include.report import files as report_files
from tests.conftest import MYSQL_URL, ROOT, use_datastores
from tests.factories import approved_record

SCRIPT = "<script>alert(1)</script>"
RECEIVED = datetime.now(UTC).replace(microsecond=0)
SINCE = RECEIVED - timedelta(days=365)


@pytest.fixture(scope="module")
def datastores_url(mysql_database):
    url = f"{MYSQL_URL}/{mysql_database('ccpa_formats')}"
    engine = create_engine(url)
    seed(engine, now=RECEIVED)
    with engine.begin() as conn:  # a hostile value in Jane's own data
        conn.execute(update(crm_users).where(crm_users.c.email == DEMO_PERSON["email"]).values(favorite_food=SCRIPT))
        conn.execute(insert(crm_users).values(email="solo@example.com", name="Solo", ssn=None))
    engine.dispose()
    return url


def _extracted(datastores_url, monkeypatch, tmp_path, request_id: str, run_id: str):
    """The demo person's approved request with every demo datastore extracted into its folder under ``tmp_path``:
    (record, folder, registry, summaries)."""
    use_datastores(monkeypatch, datastores_url)
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_REPORT_STORAGE", f"file://{tmp_path}")
    record = approved_record(
        request_id=request_id,
        run_id=run_id,
        name=DEMO_PERSON["name"],
        email=DEMO_PERSON["email"],
        received_at=RECEIVED,
    )
    folder = tmp_path / record.request_id
    folder.mkdir()
    registry = load_registry(ROOT / "include" / "datastores" / "datastores.yaml")
    summaries = [
        extract(d, email=record.email, name=record.name, since=SINCE, dest=folder / f"{d.name}.jsonl")
        for d in registry.datastores
    ]
    return record, folder, registry, summaries


@pytest.fixture
def report(datastores_url, monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_DOWNLOAD_SECRET", "download-secret")
    record, folder, _, summaries = _extracted(datastores_url, monkeypatch, tmp_path, "f" * 32, "manual__formats")
    return record, report_files.build(record, SINCE, summaries), folder


def _message(record, report):
    email, attachments, link = report_files.email_for(record, report)
    msg = build_message(
        from_email="privacy@example.com",
        to=record.email,
        subject=email.subject,
        html=email.html,
        message_id="<m1@example.com>",
        attachments=attachments,
    )
    return msg, link


def test_mime_structure(report):
    record, built, _ = report
    msg, link = _message(record, built)
    assert link is None
    assert msg.get_content_type() == "multipart/mixed"
    parts = [(p.get_content_type(), p.get_filename()) for p in msg.iter_parts()]
    assert parts == [
        ("multipart/alternative", None),  # the summary: text/plain, then HTML
        ("text/html", "report.html"),  # every record, as in the body before
        ("application/json", "report.json"),
        ("text/csv", "crm.csv"),
        ("text/csv", "orders.csv"),
        ("text/csv", "web.csv"),
        ("application/pdf", "report.pdf"),
    ]
    assert msg["To"] == DEMO_PERSON["email"] and msg["Message-ID"] == "<m1@example.com>"
    [body] = [p for p in msg.iter_parts() if p.get_content_type() == "multipart/alternative"]
    assert [p.get_content_type() for p in body.iter_parts()] == ["text/plain", "text/html"]


def test_json_follows_its_schema_and_holds_the_data(report):
    _, _built, folder = report
    document = json.loads((folder / "report.json").read_text())
    schema = json.loads((ROOT / "include" / "report" / "schema.json").read_text())
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(document)
    assert document["schema_version"] == "2.0"
    crm = next(d for d in document["datastores"] if d["datastore"] == "crm")
    [profile] = crm["sections"]
    columns = [c["name"] for c in profile["columns"]]
    row = dict(zip(columns, profile["rows"][0], strict=True))
    assert row["phone"] == "+1-415-555-1000" and row["favorite_food"] == SCRIPT  # exact, inert data
    assert (
        row["ssn"] is None
        and {"name": "ssn", "category": "sensitive", "withheld": True, "held": True} in (profile["columns"])
    )
    assert "123-45-6789" not in json.dumps(document)
    assert {c["category"] for c in document["categories"]} >= {"identifiers", "commercial", "internet_activity"}
    assert document["withheld"] == [
        {"datastore": "Customer profiles", "column": "ssn", "category": "Sensitive personal information"}
    ]
    web = next(d for d in document["datastores"] if d["datastore"] == "web")
    assert web["sections"][0]["row_count"] == len(web["sections"][0]["rows"]) == 40


def test_csv_per_datastore(report):
    _, _, folder = report
    rows = list(csv.reader(io.StringIO((folder / "crm.csv").read_text())))
    assert rows[0] == ["section", "name", "email", "phone", "favorite_food", "ssn", "created_at"]
    assert rows[1][0] == "(category)"
    assert rows[2][1] == "Jane Doe" and rows[2][3] == "'+1-415-555-1000"  # a spreadsheet won't compute it
    assert rows[2][5] == "held, not disclosed"
    assert "123-45-6789" not in (folder / "crm.csv").read_text()


def test_pdf_text_contains_the_data(report):
    _, _, folder = report
    text = "".join(page.extract_text() for page in PdfReader(folder / "report.pdf").pages)
    assert "The personal information we hold about you" in text
    assert "+1-415-555-1000" in text and "ORD-000000" in text
    assert "held, not disclosed" in text and "123-45-6789" not in text
    assert SCRIPT in "".join(text.split())  # drawn as characters (a narrow cell may wrap it)


def test_script_is_inert_in_the_html(report):
    record, built, _ = report
    msg, _ = _message(record, built)
    [attached] = [p for p in msg.iter_attachments() if p.get_filename() == "report.html"]
    html = msg.get_body(preferencelist=("html",)).get_content() + attached.get_content()
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "held, not disclosed for your security (§7024(d))" in html
    assert "Summary by category" in html and "payment processors" in html  # third parties from the registry


def test_too_big_for_email_goes_by_signed_expiring_link(report, monkeypatch):
    from include.report.downloads import read_token
    from include.slack.callback import create_app

    record, built, _folder = report
    monkeypatch.setattr(report_files, "MAX_EMAIL_BYTES", 4096)
    msg, link = _message(record, built)
    assert link is not None and list(msg.iter_attachments()) == []
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert link.url in html and "too large to attach" in html
    assert (link.expires_at - datetime.now(UTC)) > timedelta(hours=71)  # ccpa_download_ttl_hours, default 72
    from include import clock

    assert f"{clock.local_day(link.expires_at):%B %-d, %Y}" in html  # the business-zone day (issue 15)
    assert "+1-415-555-1000" not in html  # the data is behind the link, not in the body

    token = link.url.rsplit("/", 1)[1]
    assert read_token(token) == record.request_id
    client = create_app(store_factory=lambda: None).test_client()
    response = client.get(f"/download/{token}")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as bundle:
        assert set(bundle.namelist()) >= {"report.html", "report.json", "crm.csv", "report.pdf"}
        assert "+1-415-555-1000" in bundle.read("report.json").decode()
    assert client.get(f"/download/{token[:-2]}xx").status_code == 404
    with pytest.raises(TimeoutError):
        read_token(token, now=datetime.now(UTC) + timedelta(hours=73))


def test_expired_link_is_gone(report):
    from include.report.downloads import make_link
    from include.slack.callback import create_app

    record, _, _ = report
    old = make_link(record.request_id, now=datetime.now(UTC) - timedelta(hours=100))
    client = create_app(store_factory=lambda: None).test_client()
    assert client.get("/download/" + old.url.rsplit("/", 1)[1]).status_code == 410


def test_no_data_report_has_no_attachments(report, tmp_path):
    record, _, _ = report
    built = report_files.build(record, SINCE, [])
    msg, _ = _message(record, built)
    assert list(msg.iter_attachments()) == []
    assert "We hold no personal information about you." in msg.get_body().get_content()


# -- Civ. 1798.110(a)(4), 1798.115(a), (c)(1): recipients per category, in every format ------------------------------


def _by_category(document):
    return {c["category"]: c for c in document["categories"]}


def test_1798_110c_third_parties_per_category_in_every_format(report):
    """The shipped registry gives carriers the delivery details (customer records) but not the orders (commercial):
    the report shows each category going only where the registry says it goes."""
    record, built, folder = report
    categories = _by_category(json.loads((folder / "report.json").read_text()))
    assert categories["customer_records"]["third_parties"] == ["carriers"]
    assert categories["commercial"]["third_parties"] == []  # not every recipient of the datastore
    assert categories["commercial"]["service_providers"] == ["payment processors"]  # apart from third parties
    assert "payment processors" not in categories["commercial"]["third_parties"]
    document = json.loads((folder / "report.json").read_text())
    orders = next(d for d in document["datastores"] if d["datastore"] == "orders")
    assert orders["kind"] == "business" and "third_parties" not in orders  # v1's per-datastore list is gone
    assert orders["disclosures"]["customer_records"]["third_parties"] == ["carriers"]
    assert orders["disclosures"]["commercial"]["third_parties"] == []
    msg, _ = _message(record, built)
    text = msg.get_body(preferencelist=("plain",)).get_content()
    [commercial_row] = [line for line in text.splitlines() if line.startswith("Commercial information") and "|" in line
                        and "payment processors" in line]  # fmt: skip
    assert "carriers" not in commercial_row


def test_1798_115_not_sold_or_shared_is_stated(report):
    """Per category, what was sold or shared and to whom; when nothing was, the report says so in words, in the
    email (HTML and text), the report, the PDF and the JSON: an explicit statement, not an empty cell."""
    record, built, folder = report
    categories = _by_category(json.loads((folder / "report.json").read_text()))
    assert categories["commercial"]["sold_or_shared"] == {"status": "not_sold_or_shared", "to": []}
    assert categories["identifiers"]["sold_or_shared"] == {"status": "sold_or_shared", "to": ["advertising networks"]}
    assert categories["internet_activity"]["sold_or_shared"]["to"] == ["advertising networks"]
    msg, _ = _message(record, built)
    text = msg.get_body(preferencelist=("plain",)).get_content()
    stated = [line for line in text.splitlines() if "We have not sold or shared this category" in line]
    assert {line.split(" (")[0] for line in stated} >= {"Commercial information", "Customer records"}
    assert any(
        line.startswith("Identifiers") and "Sold or shared to: advertising networks" in line
        for line in text.splitlines()
    )
    assert "We have not sold or shared any of your personal information" not in text  # some of it was
    html = (folder / "report.html").read_text()
    assert "We have not sold or shared this category of personal information." in html
    pdf = " ".join(page.extract_text() for page in PdfReader(folder / "report.pdf").pages)
    assert "We have not sold or shared this category" in " ".join(pdf.split())
    assert "Sold or shared to: advertising" in " ".join(pdf.split())


def test_report_json_v2_schema_validation(report):
    """report.json is version 2 and valid; the schema itself refuses what v2 forbids; v1 is kept for v1 readers."""
    _, _, folder = report
    document = json.loads((folder / "report.json").read_text())
    schema = json.loads((ROOT / "include" / "report" / "schema.json").read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    validator.validate(document)
    assert document["$schema"] == schema["$id"] and schema["$id"].endswith("/v2.json")
    assert document["schema_version"].startswith("2.")
    bad_statuses = [
        {"status": "sold_or_shared", "to": []},  # sold, but to no one named
        {"status": "not_sold_or_shared", "to": ["data brokers"]},  # a contradiction
        {"status": "maybe", "to": []},
    ]
    for bad in bad_statuses:
        broken = json.loads(json.dumps(document))
        broken["categories"][0]["sold_or_shared"] = bad
        assert not validator.is_valid(broken), bad
    missing = json.loads(json.dumps(document))
    del missing["categories"][0]["service_providers"]
    assert not validator.is_valid(missing)
    v1 = json.loads((ROOT / "include" / "report" / "schema-v1.json").read_text())
    assert v1["$id"].endswith("/v1.json") and not Draft202012Validator(v1).is_valid(document)


def test_every_row_is_decoded_once_for_all_formats(datastores_url, monkeypatch, tmp_path):
    """HTML, JSON, the CSVs and the PDF come from one read of the extract files (include/report/rowpass.py): the
    build decodes as many JSON lines as the extraction wrote, not once per format."""
    from include import jsonlines
    from include.datastores import extract as extract_module
    from include.report import rowpass

    record, folder, registry, summaries = _extracted(datastores_url, monkeypatch, tmp_path, "d" * 32, "manual__once")
    decoded = []

    def decode_line(text):
        decoded.append(text)
        return jsonlines.decode_line(text)

    for module in (rowpass, extract_module):  # the pass, and the reader a section read a second time would use
        monkeypatch.setattr(module, "decode_line", decode_line)
    built = report_files.build(record, SINCE, summaries)
    lines = sum(len((folder / f"{d.name}.jsonl").read_text().splitlines()) for d in registry.datastores)
    assert lines == built.row_count > 40
    assert len(decoded) == lines
    assert {f.filename for f in built.files} == {"report.json", "crm.csv", "orders.csv", "web.csv", "report.pdf"}
    assert len((folder / "web.csv").read_text().splitlines()) == 2 + summaries[2].row_count
