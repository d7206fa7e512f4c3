"""The report's charts, as PNG and SVG, after those of Microsoft's Rustock
report (2011): unique addresses reaching the sinkhole week by week (a line),
and the top and bottom countries by traffic (bars).

matplotlib draws them without pyplot (a bare :class:`Figure` on the Agg
canvas): no display, no global figure state, safe in a server. The output
is the same bytes from run to run, so it can be compared and versioned:

- SVG: a fixed ``svg.hashsalt`` (the ids of clip paths are hashes salted
  with it, random by default) and no ``Date`` metadata; text is kept as
  ``<text>`` (``svg.fonttype = none``), so the numbers are searchable and
  the SVG can be inlined in a page without glyph ids clashing;
- PNG: no ``Software`` metadata (which names the matplotlib version).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

RC = {
    "svg.hashsalt": "takedown-report",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_LINE = "#1f5f99"
_TOP = "#b03a2e"
_BOTTOM = "#3b7d3b"
#: Point labels on the weekly line up to this many weeks (beyond, they overlap).
_LABEL_POINTS = 20


def _thousands(value: float, _pos: int | None = None) -> str:
    return f"{int(value):,}"


def save_figure(fig: Figure, out: Path, stem: str) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg`` under ``out``; return both paths."""
    FigureCanvasAgg(fig)
    png, svg = out / f"{stem}.png", out / f"{stem}.svg"
    fig.savefig(png, format="png", dpi=110, metadata={"Software": None})
    fig.savefig(svg, format="svg", metadata={"Date": None})
    return [png, svg]


def _no_data(ax, text: str = "no check-ins in the period") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def _series(fig: Figure, labels: Sequence[str], values: Sequence[int], title: str, xlabel: str) -> None:
    ax = fig.add_subplot()
    ax.set_title(title, loc="left")
    if not labels:
        _no_data(ax)
        return
    x = range(len(labels))
    ax.plot(x, values, color=_LINE, marker="o", markersize=4, linewidth=1.8)
    ax.set_ylim(bottom=0, top=max(max(values), 1) * 1.15)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # addresses are whole: no 2.5 ticks
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    step = max(1, len(labels) // 12)  # at most ~12 tick labels
    ax.set_xticks(list(x)[::step], list(labels)[::step], rotation=45, ha="right")
    if len(labels) <= _LABEL_POINTS:
        for i, v in enumerate(values):
            ax.annotate(f"{v:,}", (i, v), textcoords="offset points", xytext=(0, 5), ha="center", fontsize=7)


def weekly_unique_ips(weeks: Sequence[dict], out: Path, change_pct: float | None = None) -> list[Path]:
    """Line of ``unique_ips`` per ISO week (zeros included) -> weekly_unique_ips.{png,svg}."""
    title = "Unique infected IP addresses per ISO week (bot check-ins)"
    if change_pct is not None:
        title += f"\nfirst to last week: {change_pct:+.1f}%"
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(8, 4), layout="constrained")
        _series(fig, [w["week"] for w in weeks], [w["unique_ips"] for w in weeks], title, "ISO week (UTC)")
        return save_figure(fig, out, "weekly_unique_ips")


def daily_unique_ips(days: Sequence[dict], out: Path) -> list[Path]:
    """Line of ``unique_ips`` per UTC day (zeros included) -> daily_unique_ips.{png,svg}."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(8, 4), layout="constrained")
        labels = [d["day"].isoformat() if hasattr(d["day"], "isoformat") else str(d["day"]) for d in days]
        _series(fig, labels, [d["unique_ips"] for d in days],
                "Unique infected IP addresses per day (bot check-ins)", "day (UTC)")
        return save_figure(fig, out, "daily_unique_ips")


def _bars(ax, rows: Sequence[dict], title: str, color: str) -> None:
    ax.set_title(title, loc="left")
    if not rows:
        _no_data(ax, "no country")
        return
    labels = [r["cc"] for r in rows]
    values = [r["events"] for r in rows]
    y = range(len(rows))
    ax.barh(y, values, color=color)
    ax.set_yticks(list(y), labels)
    ax.invert_yaxis()  # first row of the list at the top
    ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
    ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))
    ax.set_xlim(0, max(max(values), 1) * 1.3)  # room for the value labels
    for i, v in enumerate(values):
        ax.annotate(f"{v:,}", (v, i), textcoords="offset points", xytext=(3, 0), va="center", fontsize=7)


def countries_top_bottom(top: Sequence[dict], bottom: Sequence[dict], out: Path, note: str = "") -> list[Path]:
    """Bars of check-in events for the top and the bottom countries (rows
    ``{cc, events}``, already chosen and ordered) -> countries_top_bottom.{png,svg}."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(9, 4.5), layout="constrained")
        left, right = fig.subplots(1, 2)
        _bars(left, top, f"Most check-ins (top {len(top)})", _TOP)
        _bars(right, bottom, f"Fewest check-ins (bottom {len(bottom)})", _BOTTOM)
        if note:
            fig.suptitle(note, fontsize=8, color="#555555", x=0.01, ha="left")
        return save_figure(fig, out, "countries_top_bottom")
