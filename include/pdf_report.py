"""The report as a PDF a person can print: summary by category, what is withheld, the data by datastore.

fpdf2 draws text, never markup, so a value like ``<script>`` is just characters on the page. Rows are pulled
lazily; a section longer than ``MAX_ROWS_PER_SECTION`` is cut in the PDF with a note pointing to the JSON and CSV
copies, which are always complete.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import IO, Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from include.report import WITHHELD_NOTICE, RowsFor, categories_held, holding, withheld_held

MAX_ROWS_PER_SECTION = 200  # fpdf2 lays out ~7 ms per table row: 200 rows a section stay near 1.5 s
_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


class _Pdf(FPDF):
    def __init__(self, request_id: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.request_id = request_id
        self.set_margins(14, 14, 14)
        self.set_auto_page_break(auto=True, margin=16)
        if (_FONT_DIR / "DejaVuSans.ttf").exists():
            self.add_font("body", "", str(_FONT_DIR / "DejaVuSans.ttf"))
            self.add_font("body", "B", str(_FONT_DIR / "DejaVuSans-Bold.ttf"))
            self.unicode = True
        else:  # no Unicode font on this machine: core font, non-Latin-1 characters become '?'
            self.unicode = False

    @property
    def family(self) -> str:
        return "body" if self.unicode else "helvetica"

    def text_(self, value: Any) -> str:
        text = "" if value is None else str(value)
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 7)
        self.set_text_color(110, 110, 115)
        self.cell(
            0, 5, self.text_(f"CCPA access report · request {self.request_id} · page {self.page_no()}"), align="C"
        )


def write_pdf(
    out: IO[bytes],
    *,
    name: str,
    request_id: str,
    received_at: datetime,
    since: datetime,
    datastores: list[dict[str, Any]],
    rows: RowsFor,
) -> None:
    pdf = _Pdf(request_id)
    pdf.add_page()
    t = pdf.text_
    held = holding(datastores)
    total = sum(d["row_count"] for d in held)

    pdf.set_font(pdf.family, "B", 16)
    pdf.multi_cell(0, 8, t("The personal information we hold about you"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 10)
    period = f"{since:%B %-d, %Y} to {received_at:%B %-d, %Y}"
    intro = (
        f"Prepared for {name}, in answer to the request received on {received_at:%B %-d, %Y}, "
        f"covering {period}. "
        + (
            f"We found {total} record{'s' if total != 1 else ''} in {len(held)} system{'s' if len(held) != 1 else ''}."
            if held
            else "We hold no personal information about you."
        )
    )
    pdf.multi_cell(0, 5, t(intro), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    if not held:
        pdf.output(out)
        return

    _heading(pdf, "Summary by category")
    pdf.set_font(pdf.family, "", 8)
    with pdf.table(
        col_widths=(34, 22, 22, 22, 22),
        headings_style=FontFace(emphasis="B", fill_color=(240, 240, 245)),
        text_align="LEFT",
        line_height=4.2,
    ) as table:
        table.row([t(h) for h in ("Category", "Where we keep it", "Source", "Purpose", "Disclosed to")])
        for c in categories_held(datastores):
            table.row(
                [
                    t(c["label"]),
                    t(", ".join(c["datastores"])),
                    t(", ".join(c["sources"]) or "-"),
                    t(", ".join(c["purposes"]) or "-"),
                    t(", ".join(c["third_parties"]) or "no one"),
                ]
            )
    withheld = withheld_held(datastores)
    if withheld:
        pdf.ln(2)
        _heading(pdf, "Information we hold but do not disclose")
        pdf.set_font(pdf.family, "", 9)
        for w in withheld:
            pdf.multi_cell(
                0, 5, t(f"• {w['column']} ({w['datastore']}): {WITHHELD_NOTICE}"), new_x="LMARGIN", new_y="NEXT"
            )

    for store in held:
        pdf.ln(3)
        _heading(pdf, store["description"] or store["datastore"])
        for section in store["sections"]:
            if not section["row_count"]:
                continue
            pdf.set_font(pdf.family, "B", 9)
            title = f"{section['query'].replace('_', ' ').capitalize()} ({section['row_count']} records)"
            pdf.multi_cell(0, 5, t(title), new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(pdf.family, "", 7)
            columns = section["columns"]
            withheld_cols = set(section["withheld"])
            with pdf.table(
                headings_style=FontFace(emphasis="B", fill_color=(240, 240, 245)),
                line_height=3.6,
                padding=0.8,
                text_align="LEFT",
            ) as table:
                table.row([t(c.replace("_", " ")) for c in columns])
                for n, row in enumerate(rows(store, section["query"])):
                    if n >= MAX_ROWS_PER_SECTION:
                        break
                    table.row(
                        [
                            t(
                                "held, not disclosed"
                                if c in withheld_cols and section["withheld_present"].get(c)
                                else row.get(c)
                            )
                            for c in columns
                        ]
                    )
            if section["row_count"] > MAX_ROWS_PER_SECTION:
                pdf.set_font(pdf.family, "", 8)
                note = (
                    f"The first {MAX_ROWS_PER_SECTION} of {section['row_count']} records are printed here; "
                    "the JSON and CSV copies contain all of them."
                )
                pdf.multi_cell(0, 5, t(note), new_x="LMARGIN", new_y="NEXT")
    pdf.output(out)


def _heading(pdf: _Pdf, text: str) -> None:
    pdf.set_font(pdf.family, "B", 12)
    pdf.multi_cell(0, 7, pdf.text_(text), new_x="LMARGIN", new_y="NEXT")
