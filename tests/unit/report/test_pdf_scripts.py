"""The PDF prints any script a person's data holds: each name in a table cell is extracted back from the PDF."""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from include.report import pdf
from include.report.pdf import write_pdf
from tests.factories import report_context

RECEIVED = datetime(2026, 12, 5, tzinfo=UTC)
NAMES = {
    "latin": "Zoë Ångström-Muñoz",
    "vietnamese": "Nguyễn Thị Hương",
    "greek": "Αλέξανδρος Παπαδόπουλος",
    "cyrillic": "Анна Иванова",
    "arabic": "محمد عبد الله",
    "hebrew": "דוד כהן",
    "chinese": "王秀英",
    "japanese": "山田太郎",
    "korean": "김민준",
}


def _pdf_text(rows: list[dict]) -> str:
    summary = {
        "datastore": "crm",
        "description": "Customer profiles",
        "sources": [],
        "purposes": [],
        "third_parties": [],
        "row_count": len(rows),
        "sections": [
            {
                "query": "profile",
                "columns": ["script", "name"],
                "categories": {"script": "identifiers", "name": "identifiers"},
                "withheld": [],
                "withheld_present": {},
                "row_count": len(rows),
            }
        ],
    }
    context = report_context(
        name=NAMES["vietnamese"], request_id="r1", received_at=RECEIVED, since=RECEIVED - timedelta(days=365),
        datastores=[summary], rows=lambda _s, _q: iter(rows),
    )  # fmt: skip
    out = io.BytesIO()
    write_pdf(out, context)
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(out.getvalue())).pages)


def _fonts_installed() -> bool:
    return all((pdf.FONT_ROOT / regular).exists() for regular, _bold in pdf.FONT_CHAIN)


@pytest.mark.skipif(not _fonts_installed(), reason="fonts-noto-core / fonts-droid-fallback not installed")
@pytest.mark.parametrize("script", list(NAMES))
def test_a_name_in_any_script_is_printed_as_text(script):
    name = NAMES[script]
    text = _pdf_text([{"script": script, "name": name}])
    if script in ("arabic", "hebrew"):
        # Drawn right to left, Arabic letters joined; pypdf reads the visual order back into reading order.
        assert pdf.visual(name) != name
        assert name in unicodedata.normalize("NFKC", text)
    else:
        assert name in text
    assert "?" not in text.replace("(?)", "")


def test_right_to_left_is_reordered_and_joined_and_left_to_right_untouched():
    assert pdf.visual("Nguyễn Thị Hương") == "Nguyễn Thị Hương"
    hebrew = pdf.visual("דוד כהן")
    assert hebrew == "ןהכ דוד"
    arabic = pdf.visual("محمد")
    assert all(0xFE70 <= ord(c) <= 0xFEFF for c in arabic)  # joined presentation forms, in visual order
    assert unicodedata.normalize("NFKC", arabic)[::-1] == "محمد"
