"""The appendix as a web page (Jinja2, ``templates/appendix.html``) and as a
PDF (fpdf2, https://py-pdf.github.io/fpdf2/), both in the layout of a TRO
appendix: a title, the counts, then per registry a heading and its names
numbered in a table."""

from __future__ import annotations

from pathlib import Path

import jinja2
from fpdf import FPDF

_TEMPLATES = Path(__file__).parent / "templates"
_HEADINGS = ("No.", "Domain name", "Registrable domain", "Family", "Registrar")
_FONT = ("Helvetica", "", 8)  # the tables' font; the widths are measured in it
_PAD = 3.0  # mm a cell's text needs beyond its width (fpdf2's cell margins)


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def html(appendix) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("appendix.html").render(a=appendix, a_summary=_summary(appendix))


def _latin1(text: str) -> str:
    # the PDF's core fonts (Helvetica) cover Latin-1 only; names are ASCII,
    # an operator's registrar label may not be
    return text.encode("latin-1", "replace").decode("latin-1")


def _widths(doc, appendix) -> list[float]:
    """Column widths (mm) for every table: the number, family and registrar
    fixed, the seized name first served to its longest, the registrable
    domain the rest. A name breaks across lines only when it cannot fit (a
    break inside a label, next to its hyphens, is easy to misread); the
    registrable domain, a suffix of the name, may."""
    entries = [e for g in appendix.groups for e in g.entries]
    number, family, registrar, least = 12.0, 24.0, 28.0, 34.0
    avail = doc.epw - number - family - registrar
    need_name = max(doc.get_string_width(e.name) for e in entries) + _PAD
    need_reg = max(doc.get_string_width(e.registrable) for e in entries) + _PAD
    if need_name + need_reg <= avail:  # both fit: share the room out in proportion
        name = avail * need_name / (need_name + need_reg)
    elif need_name <= avail - least:  # the name fits whole, the registrable domain may wrap
        name = need_name
    else:  # the longest name wraps anyway: keep the registrable domains whole where they can be
        name = avail - min(need_reg, avail * 0.4)
    return [number, name, avail - name, family, registrar]


def pdf(appendix) -> bytes:
    title = f"Appendix A: domain names, operation {appendix.operation}"

    class Doc(FPDF):
        def footer(self):  # every page says what it belongs to, and where it is in it
            self.set_y(-12)
            self.set_font("Helvetica", "", 7)
            self.cell(0, 5, _latin1(f"{title}. Page {self.page_no()} of {{nb}}"), align="C")

    doc = Doc(orientation="portrait", unit="mm", format="A4")
    doc.set_title(_latin1(title))
    doc.set_creator("takedown")
    doc.set_margins(10, 10, 10)
    doc.set_auto_page_break(True, margin=15)
    doc.add_page()
    doc.set_font("Helvetica", "B", 14)
    doc.cell(0, 8, _latin1(f"APPENDIX A: domain names, operation {appendix.operation}"),
             new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", "", 9)
    for line in _summary(appendix):
        doc.multi_cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    doc.set_font(*_FONT)
    widths = _widths(doc, appendix)
    for g in appendix.groups:
        doc.ln(4)
        if doc.will_page_break(30):  # a registry's heading starts a page rather than end one alone
            doc.add_page()
        doc.set_font("Helvetica", "B", 11)
        doc.multi_cell(0, 6, _latin1(g.title),
                       new_x="LMARGIN", new_y="NEXT")
        doc.set_font("Helvetica", "", 8)
        doc.multi_cell(0, 4, _latin1(f"RDAP service: {g.service or 'none in the bootstrap file'}; "
                                     f"TLDs: {', '.join('.' + t for t in g.tlds)}; "
                                     f"registrable domains: {g.registrable_count}"),
                       new_x="LMARGIN", new_y="NEXT")
        if g.served:
            doc.multi_cell(0, 4, _latin1("Order served on: " + g.served_on), new_x="LMARGIN", new_y="NEXT")
        if g.registrars:
            doc.multi_cell(0, 4, _latin1("Registrars: " + ", ".join(f"{r} ({n})" for r, n in g.registrars)),
                           new_x="LMARGIN", new_y="NEXT")
        doc.ln(1)
        doc.set_font(*_FONT)
        _row(doc, widths, _HEADINGS, heading=True)
        for e in g.entries:
            _row(doc, widths, (str(e.number), e.name, e.registrable, _latin1(e.family), _latin1(e.registrar)))
    return bytes(doc.output())


_LINE = 4.5  # mm per line of a table cell


def _row(doc, widths, cells, heading: bool = False) -> None:
    """One table row, drawn cell by cell (fpdf2's table() took ten times as
    long: 10,000 names in 11 s); a row that does not fit on the page starts
    the next one, under the heading repeated."""
    lines = [[text] if doc.get_string_width(text) + _PAD <= w
             else doc.multi_cell(w, _LINE, text, dry_run=True, output="LINES")
             for w, text in zip(widths, cells)]
    height = _LINE * max(len(ls) for ls in lines)
    if doc.will_page_break(height):
        doc.add_page()
        if not heading:
            _row(doc, widths, _HEADINGS, heading=True)
    if heading:
        doc.set_font(_FONT[0], "B", _FONT[2])
    x, y = doc.l_margin, doc.get_y()
    for w, ls in zip(widths, lines):
        doc.rect(x, y, w, height)
        for i, line in enumerate(ls):
            doc.set_xy(x, y + i * _LINE)
            doc.cell(w, _LINE, line)
        x += w
    doc.set_xy(doc.l_margin, y + height)
    if heading:
        doc.set_font(*_FONT)


def _summary(appendix) -> list[str]:
    lines = [f"Operation file: {appendix.source}",
             f"{plural(appendix.total, 'name', 'names')} "
             f"({plural(appendix.registrable_count, 'registrable domain', 'registrable domains')}) "
             f"at {plural(len(appendix.groups), 'registry', 'registries')}"]
    if appendix.dga_window:
        lines.append(f"DGA names held from {appendix.dga_window[0]} to {appendix.dga_window[1]} included")
    lines += [f"Registries: {appendix.bootstrap}", f"Registrable domains: Public Suffix List ({appendix.psl})"]
    return lines
