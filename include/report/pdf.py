"""The report as a PDF a person can print: summary by category, what is withheld, the data by datastore.

Drawn with ReportLab's canvas: text is placed as text, never parsed as markup, so a value like ``<script>`` is just
characters on the page. ReportLab rather than fpdf2 because every report is built in a fresh task process, where
fpdf2's import alone took 0.45 s of CPU and loading its fonts 0.13 s (ReportLab: 0.08 and 0.03 s; measured in
docs/benchmarks.md). Rows are pulled lazily; a section longer than ``MAX_ROWS_PER_SECTION`` is cut in the PDF, and a
value longer than a dozen lines of its column is cut with "…", each with a note pointing to the JSON and CSV copies,
which are always complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import islice
from pathlib import Path
from typing import IO, Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from include.i18n import gettext, long_date, ngettext
from include.report.model import ReportContext

MAX_ROWS_PER_SECTION = 200  # a printed page holds ~60 rows; the JSON and CSV copies are complete
_MAX_LINES = 12  # a longer value is cut in the PDF (a cell must fit on a page); JSON and CSV hold it whole
#: Where Debian's font packages put their TrueType files (scripts/lib.sh and deploy/Dockerfile install them).
FONT_ROOT = Path("/usr/share/fonts/truetype")
#: The fallback chain, in order: each character is drawn in the first font that has it. ReportLab embeds TrueType
#: outlines only (not CFF/OpenType), so CJK comes from Droid Sans Fallback (glyf outlines), not Noto CJK (CFF).
#: (regular, bold) file names under FONT_ROOT; a missing file is skipped.
FONT_CHAIN: tuple[tuple[str, str], ...] = (
    ("noto/NotoSans-Regular.ttf", "noto/NotoSans-Bold.ttf"),  # Latin incl. Vietnamese, Greek, Cyrillic
    ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf"),  # symbols; Latin/Greek/Cyrillic without Noto
    ("noto/NotoSansArabic-Regular.ttf", "noto/NotoSansArabic-Bold.ttf"),
    ("noto/NotoSansHebrew-Regular.ttf", "noto/NotoSansHebrew-Bold.ttf"),
    ("droid/DroidSansFallbackFull.ttf", "droid/DroidSansFallbackFull.ttf"),  # Chinese, Japanese
    ("nanum/NanumGothic.ttf", "nanum/NanumGothicBold.ttf"),  # Korean (Hangul)
)
_PAGE_W, _PAGE_H = A4[0] / mm, A4[1] / mm  # the layout is in millimetres, from the top of the page
_MARGIN, _BOTTOM = 14.0, 16.0
_PAD = 1.0  # space between a cell's border and its text
_LINE_MM = 3.4  # one line of a table at 7 pt
_HEADER_FILL = (240 / 255, 240 / 255, 245 / 255)


class _Font:
    """One font of the chain: registered with ReportLab on first use, with the code points it has glyphs for."""

    def __init__(self, name: str, path: Path) -> None:
        self.name, self.path = name, path
        self._cmap: frozenset[str] | None = None

    @property
    def chars(self) -> frozenset[str]:
        if self._cmap is None:
            if self.name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(self.name, str(self.path)))
            face = pdfmetrics.getFont(self.name).face
            self._cmap = frozenset(map(chr, face.charToGlyph))
        return self._cmap

    def has(self, char: str) -> bool:
        return char in self.chars


_CHAINS: dict[bool, list[_Font]] = {}


def _chain(bold: bool) -> list[_Font]:
    """The installed fonts of FONT_CHAIN (regular or bold), loaded lazily: a Latin-only report never reads CJK."""
    if bold not in _CHAINS:
        chain = []
        for n, pair in enumerate(FONT_CHAIN):
            path = FONT_ROOT / pair[int(bold)]
            if path.exists():
                chain.append(_Font(f"ccpa-{n}-{'bold' if bold else 'regular'}", path))
        _CHAINS[bold] = chain
    return _CHAINS[bold]


_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


def visual(text: str) -> str:
    """Right-to-left text (Arabic, Hebrew) in the order it is drawn, Arabic letters in their joined forms.

    A PDF places glyphs left to right; without this, "محمد" would print reversed and unjoined."""
    if not _RTL.search(text):
        return text
    from arabic_reshaper import ArabicReshaper
    from bidi import get_display

    # No ligatures (e.g. U+FDF2 for "Allah"): DejaVu has every joined letter form but not them, so a name stays in
    # one font and is extracted as one piece of text.
    reshaper = ArabicReshaper(configuration={"support_ligatures": False})
    return str(get_display(reshaper.reshape(text)))


class _Pdf:
    """A cursor down A4 pages: wraps text to a width, breaks pages, repeats the footer."""

    def __init__(self, out: IO[bytes], request_id: str, footer: str = "%(request_id)s · %(page)s") -> None:
        self.canvas = Canvas(out, pagesize=A4, pageCompression=1)
        self.canvas.setLineWidth(0.2 * mm)
        self.request_id = request_id
        self.footer = footer
        self.unicode = bool(_chain(False))
        self.regular, self.bold = ("regular", "bold") if self.unicode else ("Helvetica", "Helvetica-Bold")
        self.width = _PAGE_W - 2 * _MARGIN
        self.y = _MARGIN
        self.page = 1
        self.font, self.size = self.regular, 10.0

    # ---- text
    def text_(self, value: Any) -> str:
        text = "" if value is None else str(value)
        return visual(text) if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def runs(self, text: str) -> list[tuple[str, str]]:
        """``text`` cut into (font name, piece): each character in the first font of the chain that has it."""
        if not self.unicode:
            return [(self.font, text)]
        chain = _chain(self.font == "bold")
        if chain[0].chars.issuperset(text):  # the common case, at C speed: one font has it all
            return [(chain[0].name, text)]
        out: list[tuple[str, str]] = []
        for char in text:
            font = next((f for f in chain if f.has(char)), chain[0]) if not char.isspace() or not out else None
            name = font.name if font is not None else out[-1][0]
            if out and out[-1][0] == name:
                out[-1] = (name, out[-1][1] + char)
            else:
                out.append((name, char))
        return out

    def ellipsis(self) -> str:
        return "…" if self.unicode else "..."

    def set_font(self, bold: bool, size: float) -> None:
        self.font, self.size = (self.bold if bold else self.regular), size

    def string_width(self, text: str) -> float:
        return sum(pdfmetrics.stringWidth(piece, font, self.size) for font, piece in self.runs(text)) / mm

    def draw(self, x: float, top: float, line_height: float, text: str, gray: bool = False) -> None:
        """``text`` on the line that starts ``top`` mm from the top of the page, centred in its height."""
        baseline = top + (line_height + self.size * 0.7 * 25.4 / 72) / 2
        if gray:
            self.canvas.setFillColorRGB(110 / 255, 110 / 255, 115 / 255)
        at = x * mm
        for font, piece in self.runs(text):
            self.canvas.setFont(font, self.size)
            self.canvas.drawString(at, (_PAGE_H - baseline) * mm, piece)
            at += pdfmetrics.stringWidth(piece, font, self.size)
        if gray:
            self.canvas.setFillColorRGB(0, 0, 0)

    def paragraph(self, text: str, bold: bool, size: float, line_height: float) -> None:
        """``text`` over the full width, wrapped; a page break may fall between its lines."""
        self.set_font(bold, size)
        for line in self.wrap(text, self.width - 2 * _PAD, max_lines=None)[0]:
            self.room_for(line_height)
            self.draw(_MARGIN + _PAD, self.y, line_height, line)
            self.y += line_height

    def gap(self, height: float) -> None:
        self.y += height

    # ---- pages
    def room_for(self, height: float) -> bool:
        """Starts a new page unless ``height`` mm fit above the bottom margin; says whether it did."""
        if self.y + height <= _PAGE_H - _BOTTOM:
            return False
        self._footer()
        self.canvas.showPage()
        self.canvas.setLineWidth(0.2 * mm)
        self.page += 1
        self.y = _MARGIN
        return True

    def _footer(self) -> None:
        font, size = self.font, self.size
        self.set_font(False, 7)
        text = self.text_(self.footer % {"request_id": self.request_id, "page": self.page})
        x = _MARGIN + (self.width - self.string_width(text)) / 2
        self.draw(x, _PAGE_H - 12, 5, text, gray=True)
        self.font, self.size = font, size

    def save(self) -> None:
        self._footer()
        self.canvas.showPage()
        self.canvas.save()

    # ---- tables
    def wrap(self, value: Any, room: float, max_lines: int | None = _MAX_LINES) -> tuple[list[str], bool]:
        """``value`` in lines that fit ``room`` (mm), broken at spaces where it can; and whether it was cut short."""
        text = " ".join(self.text_(value).split())  # newlines and tabs become spaces
        lines: list[str] = []
        while (full := self.string_width(text)) > room:
            if max_lines is not None and len(lines) == max_lines - 1:
                mark = self.ellipsis()
                return [*lines, text[: self._fitting(text, full, room, mark)] + mark], True
            keep = self._fitting(text, full, room)
            space = text.rfind(" ", 0, keep + 1)
            if space > keep // 2:
                keep = space
            lines.append(text[:keep])
            text = text[keep:].lstrip()
        return [*lines, text], False

    def _fitting(self, text: str, full: float, room: float, suffix: str = "") -> int:
        """How many leading characters of ``text`` (``full`` mm wide) fit ``room`` with ``suffix`` after (≥ 1)."""
        keep = max(int(len(text) * room / full), 1)  # a guess from the average width, then shortened to fit
        while keep > 1 and self.string_width(text[:keep] + suffix) > room:
            keep -= 1
        return keep

    def table(
        self, headings: list[str], rows: Iterable[Sequence[Any]], shares: Sequence[float], size: float, line: float
    ) -> bool:
        """A grid over the full width, columns in proportion to ``shares``, values wrapped in their cells; the
        header row is repeated on each new page. Returns whether any value was cut (over ``_MAX_LINES`` lines)."""
        widths = [self.width * s / sum(shares) for s in shares]

        def row(cells: list[list[str]], fill: bool = False) -> None:
            height = max(len(lines) for lines in cells) * line + 0.6
            if self.room_for(height) and not fill:  # a header row that moved is drawn once, on the new page
                header()
            x = _MARGIN
            for width, lines in zip(widths, cells, strict=True):
                if fill:
                    self.canvas.setFillColorRGB(*_HEADER_FILL)
                self.canvas.rect(
                    x * mm, (_PAGE_H - self.y - height) * mm, width * mm, height * mm, stroke=1, fill=int(fill)
                )
                if fill:
                    self.canvas.setFillColorRGB(0, 0, 0)
                for n, text in enumerate(lines):
                    self.draw(x + _PAD, self.y + 0.3 + n * line, line, text)
                x += width
            self.y += height

        def header() -> None:
            self.set_font(True, size)
            row([self.wrap(h, w - 2 * _PAD)[0] for h, w in zip(headings, widths, strict=True)], fill=True)
            self.set_font(False, size)

        header()
        shortened = False
        for values in rows:
            cells = []
            for value, width in zip(values, widths, strict=True):
                lines, cut = self.wrap(value, width - 2 * _PAD)
                cells.append(lines)
                shortened = shortened or cut
            row(cells)
        return shortened


def write_pdf(out: IO[bytes], context: ReportContext) -> None:
    name, request_id, received_at, since = context.name, context.request_id, context.received_at, context.since
    language = context.language

    def _(message: str, **variables: Any) -> str:
        return gettext(language, message, **variables)

    def records(n: int) -> str:
        return ngettext(language, "%(num)s record", "%(num)s records", n)

    rows = context.rows
    pdf = _Pdf(out, request_id, footer=_("CCPA access report · request %(request_id)s · page %(page)s"))
    held = context.holding
    total = context.total_rows

    pdf.paragraph(_("The personal information we hold about you"), bold=True, size=16, line_height=8)
    period = _("from %(start)s to %(end)s", start=long_date(since, language), end=long_date(received_at, language))
    intro = _(
        "Prepared for %(name)s, in answer to the request received on %(received)s, covering the period %(period)s.",
        name=name,
        received=long_date(received_at, language),
        period=period,
    )
    systems = ngettext(language, "%(num)s system", "%(num)s systems", len(held))
    found = (
        _("We found %(records)s in %(systems)s.", records=records(total), systems=systems)
        if held
        else _("We hold no personal information about you.")
    )
    pdf.paragraph(f"{intro} {found}", bold=False, size=10, line_height=5)
    pdf.gap(3)
    if not held:
        pdf.save()
        return

    _heading(pdf, _("Summary by category"))
    categories = context.categories()
    pdf.table(
        [_("Category"), _("Where we keep it"), _("Source"), _("Purpose")],
        (
            [_(c.label), ", ".join(c.datastores), ", ".join(c.sources) or "-", ", ".join(c.purposes) or "-"]
            for c in categories
        ),
        shares=(34, 22, 22, 22),
        size=8,
        line=4.2,
    )
    # Civ. 1798.110(a)(4), 1798.115(a)(2)-(3), (c)(1): per category, who receives it; "not sold or shared" in words.
    pdf.gap(2)
    _heading(pdf, _("Who receives your personal information"))
    if context.nothing_sold_or_shared():
        nothing_sold = _("We have not sold or shared any of your personal information.")
        pdf.paragraph(nothing_sold, bold=True, size=9, line_height=5)
    pdf.table(
        [
            _("Category"),
            _("Third parties we disclose it to for a business purpose"),
            _("Service providers and contractors"),
            _("Sold or shared"),
        ],
        (
            [
                _(c.label),
                ", ".join(c.third_parties) or _("no one"),
                ", ".join(c.service_providers) or _("no one"),
                _("We have not sold or shared this category of personal information.")
                if c.not_sold_or_shared
                else _("Sold or shared to: %(recipients)s", recipients=", ".join(c.sold_or_shared))
                if c.sold_or_shared
                else "-",
            ]
            for c in categories
        ),
        shares=(30, 24, 24, 22),
        size=8,
        line=4.2,
    )
    pdf.paragraph(
        _(
            "Service providers and contractors handle personal information on our behalf, under a contract that does "
            "not allow them to use it for any other purpose; they are not third parties."
        ),
        bold=False,
        size=8,
        line_height=4.5,
    )
    withheld = context.withheld()
    if withheld:
        pdf.gap(2)
        _heading(pdf, _("Information we hold but do not disclose"))
        for w in withheld:
            pdf.paragraph(
                f"• {_(w.label) if w.label else w.column} ({w.datastore}): {_(w.notice)}",
                bold=False,
                size=9,
                line_height=5,
            )

    held_not_disclosed = _("held, not disclosed")
    for store in held:
        pdf.gap(3)
        _heading(pdf, store.label)
        if store.kind != "business":
            kept = (
                _("kept for us by a contractor: %(provider)s", provider=store.held_by)
                if store.kind == "contractor"
                else _("kept for us by a service provider: %(provider)s", provider=store.held_by)
            )
            pdf.paragraph(kept, bold=False, size=9, line_height=5)
        for section in store.sections:
            if not section.row_count:
                continue
            pdf.paragraph(f"{section.title} ({records(section.row_count)})", bold=True, size=9, line_height=5)
            columns = section.columns
            shown = (
                [held_not_disclosed if section.held_but_withheld(c) else row.get(c) for c in columns]
                for row in islice(rows(store, section.query), MAX_ROWS_PER_SECTION)
            )
            headings = [c.replace("_", " ") for c in columns]
            if pdf.table(headings, shown, shares=[1] * len(columns), size=7, line=_LINE_MM):
                note = _(
                    "Values too long to print whole end in %(mark)s; the JSON and CSV copies hold them in full.",
                    mark=pdf.ellipsis(),
                )
                pdf.paragraph(note, bold=False, size=8, line_height=5)
            if section.row_count > MAX_ROWS_PER_SECTION:
                note = _(
                    "The first %(shown)s of %(total)s records are printed here; the JSON and CSV copies contain all "
                    "of them.",
                    shown=MAX_ROWS_PER_SECTION,
                    total=section.row_count,
                )
                pdf.paragraph(note, bold=False, size=8, line_height=5)
    pdf.save()


def _heading(pdf: _Pdf, text: str) -> None:
    pdf.paragraph(text, bold=True, size=12, line_height=7)
