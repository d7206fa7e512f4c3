"""Bar charts drawn as inline SVG on the server: no script, no style
attribute (the console's CSP allows neither; colours come from
console.css's ``svg.chart`` rules), every label escaped."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bars"]

ROW = 18  #: pixels per bar
LABEL = 150  #: width of the label column
WIDTH = 640


def _n(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def bars(rows: Sequence[tuple[str, float]], *, title: str) -> Markup:
    """A horizontal bar chart of (label, value) rows, in the given order;
    values below zero are drawn as zero."""
    if not rows:
        return Markup('<p class="muted">No data.</p>')
    top = max(max(v or 0 for _, v in rows), 1)
    span = WIDTH - LABEL - 80
    height = ROW * len(rows) + 8
    out = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (label, value) in enumerate(rows):
        y = 4 + i * ROW
        w = max(0.0, (value or 0) / top * span)
        out.append(f'<text x="{LABEL - 6}" y="{y + 12}" text-anchor="end">{escape(label)}</text>'
                   f'<rect class="bar" x="{LABEL}" y="{y + 2}" width="{w:.1f}" height="{ROW - 5}"/>'
                   f'<text x="{LABEL + w + 4:.1f}" y="{y + 12}">{_n(value or 0)}</text>')
    out.append(f'<line class="axis" x1="{LABEL}" y1="2" x2="{LABEL}" y2="{height - 2}"/></svg>')
    return Markup("".join(out))
