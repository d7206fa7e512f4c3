"""The appendix as a web page (Jinja2, ``templates/appendix.html``) and as a
PDF (fpdf2, https://py-pdf.github.io/fpdf2/), both in the layout of a TRO
appendix: a title, the counts, then per registry a heading and its names
numbered in a table."""

from __future__ import annotations

from pathlib import Path

import jinja2

_TEMPLATES = Path(__file__).parent / "templates"
_COLUMNS = (("No.", 12), ("Domain name", 62), ("Registrable domain", 46), ("Family", 30), ("Registrar", 30))


def html(appendix) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("appendix.html").render(a=appendix, a_summary=_summary(appendix))


def _latin1(text: str) -> str:
    # the PDF's core fonts (Helvetica) cover Latin-1 only; names are ASCII,
    # an operator's registrar label may not be
    return text.encode("latin-1", "replace").decode("latin-1")


def pdf(appendix) -> bytes:
    from fpdf import FPDF

    doc = FPDF(orientation="portrait", unit="mm", format="A4")
    doc.set_title(f"Appendix: domain names of operation {appendix.operation}")
    doc.set_creator("takedown")
    doc.set_auto_page_break(True, margin=15)
    doc.add_page()
    doc.set_font("Helvetica", "B", 14)
    doc.cell(0, 8, _latin1(f"APPENDIX A: domain names, operation {appendix.operation}"),
             new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", "", 9)
    for line in _summary(appendix):
        doc.cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    for g in appendix.groups:
        doc.ln(4)
        doc.set_font("Helvetica", "B", 11)
        doc.multi_cell(0, 6, _latin1(f"Registry: {g.registry} ({len(g.entries)} names)"),
                       new_x="LMARGIN", new_y="NEXT")
        doc.set_font("Helvetica", "", 8)
        doc.multi_cell(0, 4, _latin1(f"RDAP service: {g.service or 'none in the bootstrap file'}; "
                                     f"TLDs: {', '.join('.' + t for t in g.tlds)}; "
                                     f"registrable domains: {g.registrable_count}"),
                       new_x="LMARGIN", new_y="NEXT")
        if g.registrars:
            doc.multi_cell(0, 4, _latin1("Registrars: " + ", ".join(f"{r} ({n})" for r, n in g.registrars)),
                           new_x="LMARGIN", new_y="NEXT")
        doc.ln(1)
        with doc.table(col_widths=[w for _, w in _COLUMNS], text_align="LEFT", line_height=4.5,
                       first_row_as_headings=True) as table:
            table.row([c for c, _ in _COLUMNS])
            for e in g.entries:
                table.row([str(e.number), e.name, e.registrable, _latin1(e.family), _latin1(e.registrar)])
    return bytes(doc.output())


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _summary(appendix) -> list[str]:
    lines = [f"Operation file: {appendix.source}",
             f"{appendix.total} names ({appendix.registrable_count} registrable domains) "
             f"at {plural(len(appendix.groups), 'registry', 'registries')}"]
    if appendix.dga_window:
        lines.append(f"DGA names held from {appendix.dga_window[0]} to {appendix.dga_window[1]} included")
    lines += [f"Registries: {appendix.bootstrap}", f"Registrable domains: Public Suffix List ({appendix.psl})"]
    return lines

