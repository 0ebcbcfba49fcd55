"""The report as a PDF a person can print: summary by category, what is withheld, the data by datastore.

fpdf2 draws text, never markup, so a value like ``<script>`` is just characters on the page. Rows are pulled
lazily; a section longer than ``MAX_ROWS_PER_SECTION`` is cut in the PDF, and a value longer than a dozen lines of its
column is cut with "…", each with a note pointing to the JSON and CSV copies, which are always complete.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from include.report import WITHHELD_NOTICE, RowsFor, categories_held, holding, withheld_held

MAX_ROWS_PER_SECTION = 200  # a printed page holds ~60 rows; the JSON and CSV copies are complete
_LINE_MM = 3.4
_MAX_LINES = 12  # a longer value is cut in the PDF (a cell must fit on a page); JSON and CSV hold it whole
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
            columns = section["columns"]
            shown = (
                [
                    "held, not disclosed"
                    if c in section["withheld"] and section["withheld_present"].get(c)
                    else row.get(c)
                    for c in columns
                ]
                for row in islice(rows(store, section["query"]), MAX_ROWS_PER_SECTION)
            )
            if _data_table(pdf, [c.replace("_", " ") for c in columns], shown):
                pdf.set_font(pdf.family, "", 8)
                mark = _ellipsis(pdf)
                note = f"Values too long to print whole end in {mark}; the JSON and CSV copies hold them in full."
                pdf.multi_cell(0, 5, t(note), new_x="LMARGIN", new_y="NEXT")
            if section["row_count"] > MAX_ROWS_PER_SECTION:
                pdf.set_font(pdf.family, "", 8)
                note = (
                    f"The first {MAX_ROWS_PER_SECTION} of {section['row_count']} records are printed here; "
                    "the JSON and CSV copies contain all of them."
                )
                pdf.multi_cell(0, 5, t(note), new_x="LMARGIN", new_y="NEXT")
    pdf.output(out)


def _data_table(pdf: _Pdf, headings: list[str], rows: Iterable[list[Any]]) -> bool:
    """The records as a grid, values wrapped in their cells; the header is repeated on each new page.
    Returns whether any value was too long to print whole (more than ``_MAX_LINES`` lines).

    fpdf2's ``table()`` lays out every cell through its general line breaker, character by character (~7 ms a row:
    90% of building a report). Here a value that fits its column, the usual case, costs one width measurement.
    """
    width = pdf.epw / len(headings)
    room = width - 2 * pdf.c_margin

    def row(cells: list[list[str]], fill: bool = False) -> None:
        height = max(len(lines) for lines in cells) * _LINE_MM + 0.6
        if pdf.will_page_break(height):
            pdf.add_page()
            header()
        x, y = pdf.l_margin, pdf.get_y()
        for lines in cells:
            pdf.rect(x, y, width, height, style="DF" if fill else "D")
            for n, line in enumerate(lines):
                pdf.set_xy(x, y + 0.3 + n * _LINE_MM)
                pdf.cell(width, _LINE_MM, line)
            x += width
        pdf.set_xy(pdf.l_margin, y + height)

    def header() -> None:
        pdf.set_font(pdf.family, "B", 7)
        pdf.set_fill_color(240, 240, 245)
        row([_wrap(pdf, h, room)[0] for h in headings], fill=True)
        pdf.set_font(pdf.family, "", 7)

    header()
    shortened = False
    for values in rows:
        cells = []
        for value in values:
            lines, cut = _wrap(pdf, value, room)
            cells.append(lines)
            shortened = shortened or cut
        row(cells)
    return shortened


def _wrap(pdf: _Pdf, value: Any, room: float) -> tuple[list[str], bool]:
    """``value`` in lines that fit ``room`` (mm), broken at spaces where it can; and whether it was cut short."""
    text = " ".join(pdf.text_(value).split())  # newlines and tabs become spaces
    lines: list[str] = []
    while (full := pdf.get_string_width(text)) > room:
        if len(lines) == _MAX_LINES - 1:
            mark = _ellipsis(pdf)
            return [*lines, text[: _fitting(pdf, text, full, room, mark)] + mark], True
        keep = _fitting(pdf, text, full, room)
        space = text.rfind(" ", 0, keep + 1)
        if space > keep // 2:
            keep = space
        lines.append(text[:keep])
        text = text[keep:].lstrip()
    return [*lines, text], False


def _fitting(pdf: _Pdf, text: str, full: float, room: float, suffix: str = "") -> int:
    """How many leading characters of ``text`` (``full`` mm wide) fit ``room`` with ``suffix`` after them (≥ 1)."""
    keep = max(int(len(text) * room / full), 1)  # a guess from the average width, then shortened to fit
    while keep > 1 and pdf.get_string_width(text[:keep] + suffix) > room:
        keep -= 1
    return keep


def _ellipsis(pdf: _Pdf) -> str:
    return "…" if pdf.unicode else "..."


def _heading(pdf: _Pdf, text: str) -> None:
    pdf.set_font(pdf.family, "B", 12)
    pdf.multi_cell(0, 7, pdf.text_(text), new_x="LMARGIN", new_y="NEXT")
