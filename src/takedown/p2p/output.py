"""What ``takedown sim run`` writes: summary.json, timeseries.csv and charts.

Charts share the report's style (:mod:`takedown.analytics.charts`): PNG and
SVG, no timestamps or version strings inside, so the same run gives the same
files.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from takedown.analytics.charts import RC, save_figure
from takedown.p2p.engine import COLUMNS, Result
from takedown.p2p.model import SimError

_SHARES = (("commandable", "commandable by the C&C", "#b03a2e"),
           ("sinkholed", "lists only sinkholes", "#1f5f99"),
           ("largest_component", "largest connected component", "#7a5195"),
           ("sinkhole_indegree", "sinkhole share of list entries", "#3b7d3b"),
           ("seen_share", "seen by the sinkhole (cumulative)", "#e08a00"))


def prepare(out: Path) -> None:
    """Create the output directory (before a long run, so that a bad --out fails first)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SimError(f"{out}: cannot create the output directory: {e.strerror or e}") from None


def write_outputs(result: Result, out: Path) -> list[Path]:
    """Write the run's files under ``out`` (created); return their paths."""
    prepare(out)
    paths = [out / "summary.json", out / "timeseries.csv"]
    paths[0].write_text(json.dumps(result.summary(), indent=2) + "\n")
    with paths[1].open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in result.rows:
            w.writerow(["" if r[c] is None else r[c] for c in COLUMNS])
    return paths + shares_chart(result, out) + activity_chart(result, out)


def _takedown_line(ax, result: Result) -> None:
    start = result.scenario.takedown_hour
    if start is not None:
        ax.axvline(start, color="#444444", linestyle="--", linewidth=0.8)
        ax.text(start, 0.5, " takedown starts", transform=ax.get_xaxis_transform(), fontsize=8, color="#444444",
                rotation=90, va="center", ha="right")


def shares_chart(result: Result, out: Path) -> list[Path]:
    """Shares of live bots over time: commandable, sinkholed, largest component..."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(8, 4.8))
        ax = fig.add_subplot()
        for key, label, color in _SHARES:
            pts = [(r["hour"], r[key]) for r in result.rows if r[key] is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, color=color, linewidth=1.4)
        _takedown_line(ax, result)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("hours since the simulation start")
        ax.set_ylabel("share of live bots")
        sc = result.scenario
        ax.set_title(sc.title or f"{sc.model.name}: {sc.bots:,} bots", loc="left")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=8, frameon=False)
        fig.tight_layout()
        return save_figure(fig, out, "shares")


def activity_chart(result: Result, out: Path) -> list[Path]:
    """Per metric step: answered exchanges, sinkhole contacts, fallbacks."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(8, 3.4))
        ax = fig.add_subplot()
        hours = [r["hour"] for r in result.rows]
        for key, label, color in (("answered", "exchanges answered by a bot", "#1f5f99"),
                                  ("sinkhole_contacts", "contacts with a sinkhole entry", "#3b7d3b"),
                                  ("fallbacks", "fallbacks", "#b03a2e")):
            ax.plot(hours, [r[key] for r in result.rows], label=label, color=color, linewidth=1.2)
        _takedown_line(ax, result)
        ax.set_xlabel("hours since the simulation start")
        ax.set_ylabel("per metric step")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8, frameon=False)
        fig.tight_layout()
        return save_figure(fig, out, "activity")
