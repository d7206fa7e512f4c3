"""The tracker's statistics: ``takedown tracker stats``.

What ZeuS Tracker published on its statistics page (abuse.ch, 2009-2019):
C&Cs by status (online, offline; here also sinkholed, seized, unknown) per
malware family, the ASes and countries hosting the most, and the C&Cs
newly tracked each week. As a table on the terminal, ``summary.json`` and
charts (PNG and SVG, in the style of the report's: ``analytics.charts``).

The counting runs in SQL (``GROUP BY`` through SQLAlchemy Core), so it is
the database's work on SQLite and PostgreSQL alike; :func:`collect` does the
same over a list of indicators (tests hold the two equal). Days are counted
in SQL (Unix seconds divided by 86,400, or ``EXTRACT`` of a timestamp) and
folded into ISO 8601 weeks here: the two databases have no common ISO-week
function.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from takedown.errors import TrackerError
from takedown.tracker.indicator import STATUSES, Indicator

__all__ = ["Stats", "collect", "collect_sql", "collect_store", "write_stats", "write_summary", "write_charts", "tables",
           "iso_week"]

#: Rows of the AS and country tables (ZeuS Tracker showed its top 10s; 20 here).
TOP = 20
_EPOCH = date(1970, 1, 1)
#: Chart colours per status, as on abuse.ch's pages: red live, green sunk.
COLORS = {"online": "#b03a2e", "offline": "#8c8c8c", "sinkholed": "#3b7d3b", "seized": "#1f5f99",
          "unknown": "#d4a017"}


def iso_week(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def _unknown(key: Any) -> bool:
    return key is None or (isinstance(key, tuple) and key[0] is None)


def _week_start(d: date) -> date:
    return d - timedelta(days=d.isoweekday() - 1)


@dataclass
class Stats:
    """Counts by status per group. ``families``/``ases``/``countries`` map a
    key (family; (asn, as name); country code, None when unknown) to a
    Counter of statuses; ``days`` counts indicators first seen each UTC day."""

    families: dict[Any, Counter] = field(default_factory=lambda: defaultdict(Counter))
    ases: dict[Any, Counter] = field(default_factory=lambda: defaultdict(Counter))
    countries: dict[Any, Counter] = field(default_factory=lambda: defaultdict(Counter))
    days: Counter = field(default_factory=Counter)

    @property
    def by_status(self) -> Counter:
        total: Counter = Counter()
        for c in self.families.values():
            total.update(c)
        return total

    def weeks(self) -> list[tuple[str, int]]:
        """New indicators per ISO week, first to last, weeks with none included."""
        if not self.days:
            return []
        per: Counter = Counter()
        for d, n in self.days.items():
            per[_week_start(d)] += n
        out, w, last = [], min(per), max(per)
        while w <= last:
            out.append((iso_week(w), per[w]))
            w += timedelta(days=7)
        return out

    def summary(self, generated: datetime | None = None, top: int = TOP) -> dict:
        def rows(groups: dict[Any, Counter], key: Any) -> list[dict]:
            # most first; ties by name, the unknown (no AS, no country) last
            ordered = sorted(groups.items(), key=lambda kv: (-sum(kv[1].values()), _unknown(kv[0]), str(kv[0])))
            return [{**key(k), **{s: c[s] for s in STATUSES}, "total": sum(c.values())} for k, c in ordered[:top]]

        total = self.by_status
        return {
            "generated": generated.isoformat().replace("+00:00", "Z") if generated else None,
            "total": sum(total.values()),
            "by_status": {s: total[s] for s in STATUSES},
            "families": rows(self.families, lambda k: {"family": k}),
            "ases": rows(self.ases, lambda k: {"asn": k[0], "as_name": k[1]}),
            "countries": rows(self.countries, lambda k: {"country": k}),
            "weeks": [{"week": w, "new": n} for w, n in self.weeks()],
        }


def collect(indicators: Iterable[Indicator]) -> Stats:
    """The statistics of ``indicators`` counted in Python."""
    st = Stats()
    for ind in indicators:
        st.families[ind.family][ind.status] += 1
        st.ases[(ind.asn, ind.as_name)][ind.status] += 1
        st.countries[ind.country][ind.status] += 1
        if ind.first_seen is not None:
            st.days[ind.first_seen.date()] += 1
    return st


def collect_sql(conn: sa.Connection, table: sa.FromClause) -> Stats:
    """The statistics counted by the database over ``table``, which has the
    columns ``family``, ``status``, ``asn``, ``as_name``, ``country`` and
    ``first_seen`` (Unix seconds, as the store keeps it, or a timestamp in
    UTC), one row per indicator."""
    c = table.c
    n = sa.func.count().label("n")
    st = Stats()
    for groups, keys in ((st.families, (c.family,)), (st.ases, (c.asn, c.as_name)), (st.countries, (c.country,))):
        for row in conn.execute(sa.select(*keys, c.status, n).group_by(*keys, c.status)):
            key = row[0] if len(keys) == 1 else tuple(row[:len(keys)])
            groups[key][row.status] += row.n
    first_seen: Any = c.first_seen
    if isinstance(first_seen.type, sa.Integer):  # Unix seconds, as the store keeps times
        day = (first_seen // 86400).label("day")
        for row in conn.execute(sa.select(day, n).where(first_seen.is_not(None)).group_by(day)):
            st.days[_EPOCH + timedelta(days=int(row.day))] += row.n
        return st
    if conn.dialect.name == "postgresql" and getattr(first_seen.type, "timezone", False):
        # EXTRACT from a timestamptz reads it in the session's zone: the day in UTC is wanted
        first_seen = sa.func.timezone("UTC", first_seen)
    parts = [sa.extract(p, first_seen).label(p) for p in ("year", "month", "day")]
    q = sa.select(*parts, n).where(c.first_seen.is_not(None)).group_by(*parts)
    for row in conn.execute(q):
        st.days[date(int(row.year), int(row.month), int(row.day))] += row.n
    return st


def collect_store(tracker: Any) -> Stats:
    """The statistics of a :class:`takedown.tracker.store.Tracker`, counted
    by its database (the table of indicators is read by its name)."""
    table = getattr(tracker, "indicators_table", None)
    try:
        with tracker.engine.connect() as conn:
            if table is None:
                table = sa.Table("indicators", sa.MetaData(), autoload_with=conn)
            return collect_sql(conn, table)
    except sa.exc.SQLAlchemyError as exc:
        raise TrackerError(f"tracker stats: {str(exc).splitlines()[0]}") from None


def write_stats(st: Stats, out: Path, generated: datetime) -> dict:
    """``summary.json`` and the charts of ``st`` in ``out`` (made if
    missing); the summary."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrackerError(f"--out: cannot make {out}: {exc.strerror or exc}") from None
    summary = st.summary(generated)
    write_summary(summary, out)
    write_charts(summary, out)
    return summary


# -- output ----------------------------------------------------------------------


def write_summary(summary: dict, out: Path) -> Path:
    path = out / "summary.json"
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return path


def _status_columns(rows: list[dict]) -> list[str]:
    """The statuses that occur, in STATUSES order (empty columns left out)."""
    return [s for s in STATUSES if any(r[s] for r in rows)] or ["online", "offline"]


def tables(summary: dict) -> list[Any]:
    """Rich tables of a summary: statuses per family, top ASes, top countries, new per week."""
    from rich.table import Table

    def table(title: str, keys: list[tuple[str, Any]], rows: list[dict]) -> Table:
        statuses = _status_columns(rows)
        t = Table(title=title, title_justify="left")
        for name, _ in keys:
            t.add_column(name)
        for s in statuses + ["total"]:
            t.add_column(s, justify="right")
        for r in rows:
            t.add_row(*(get(r) for _, get in keys), *(f"{r[s]:,}" for s in statuses + ["total"]))
        return t

    out = [
        table(f"C&Cs by family ({summary['total']:,} tracked)", [("family", lambda r: r["family"])],
              summary["families"]),
        table("top ASes", [("AS", lambda r: f"AS{r['asn']}" if r["asn"] is not None else "?"),
                           ("name", lambda r: r["as_name"] or "")], summary["ases"]),
        table("top countries", [("country", lambda r: r["country"] or "?")], summary["countries"]),
    ]
    weeks = Table(title="new C&Cs per ISO week (first seen)", title_justify="left")
    weeks.add_column("week")
    weeks.add_column("new", justify="right")
    for w in summary["weeks"]:
        weeks.add_row(w["week"], f"{w['new']:,}")
    return out + [weeks]


def write_charts(summary: dict, out: Path, top: int = 10) -> list[Path]:
    """``status_by_family``, ``top_ases``, ``top_countries`` (stacked bars
    of statuses) and ``new_per_week`` (bars) as PNG and SVG in ``out``."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from takedown.analytics.charts import RC, save_figure

    def stacked(stem: str, title: str, labels: list[str], rows: list[dict]) -> list[Path]:
        fig = Figure(figsize=(8, 0.9 + 0.32 * max(len(rows), 3)), layout="constrained")
        ax = fig.add_subplot()
        ax.set_title(title, loc="left")
        if not rows:
            ax.text(0.5, 0.5, "no indicators", ha="center", va="center", transform=ax.transAxes, color="#666666")
            ax.set_xticks([])
            ax.set_yticks([])
            return save_figure(fig, out, stem)
        y = list(range(len(rows)))
        left = [0] * len(rows)
        for s in _status_columns(rows):
            values = [r[s] for r in rows]
            ax.barh(y, values, left=left, color=COLORS[s], label=s)
            left = [a + b for a, b in zip(left, values)]
        ax.set_yticks(y, labels)
        ax.invert_yaxis()  # the largest at the top
        ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
        ax.set_xlim(0, max(max(left), 1) * 1.12)
        for i, v in enumerate(left):
            ax.annotate(f"{v:,}", (v, i), textcoords="offset points", xytext=(3, 0), va="center", fontsize=7)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7, frameon=False)  # beside the bars
        return save_figure(fig, out, stem)

    paths: list[Path] = []
    with matplotlib.rc_context(RC):
        fams = summary["families"][:top]
        paths += stacked("status_by_family", "C&C servers by family and status",
                         [r["family"] for r in fams], fams)
        ases = summary["ases"][:top]
        paths += stacked("top_ases", f"Top {len(ases)} ASes hosting C&C servers",
                         [f"AS{r['asn']} {(r['as_name'] or '')[:24]}" if r["asn"] is not None else "unknown AS"
                          for r in ases], ases)
        ccs = summary["countries"][:top]
        paths += stacked("top_countries", f"Top {len(ccs)} countries hosting C&C servers",
                         [r["country"] or "??" for r in ccs], ccs)
        weeks = summary["weeks"]
        fig = Figure(figsize=(8, 3.6), layout="constrained")
        ax = fig.add_subplot()
        ax.set_title("New C&C servers tracked per ISO week (first seen)", loc="left")
        if weeks:
            x = list(range(len(weeks)))
            ax.bar(x, [w["new"] for w in weeks], color="#1f5f99")
            step = max(1, len(weeks) // 12)
            ax.set_xticks(x[::step], [w["week"] for w in weeks][::step], rotation=45, ha="right")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        else:
            ax.text(0.5, 0.5, "no indicators", ha="center", va="center", transform=ax.transAxes, color="#666666")
        paths += save_figure(fig, out, "new_per_week")
    return paths
