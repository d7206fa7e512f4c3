"""``takedown report``: the numbers of an operation as JSON, CSV, charts and a page.

:func:`build_report` runs the queries of :mod:`takedown.analytics.queries`
over the dataset of :func:`takedown.analytics.dataset.open_dataset` and
writes into one directory:

- ``summary.json``: every table and total (layout in docs/report.md);
- ``weeks.csv``, ``days.csv``, ``countries.csv``, ``asns.csv``,
  ``families.csv``, ``rules.csv``, ``new_returning.csv``,
  ``resolver_weeks.csv``, ``commands.csv``, ``command_weeks.csv``: the same tables, one row per JSON object (a JSON
  null is an empty field);
- ``weekly_unique_ips``, ``daily_unique_ips``, ``countries_top_bottom``
  as ``.png`` and ``.svg`` (:mod:`takedown.analytics.charts`);
- ``index.html``: one self-contained page (inline CSS and SVG, no script,
  no external address) with the numbers, the charts and the tables.

The layout follows Microsoft's Rustock report (2011): unique addresses
reaching the sinkhole counted per week, the change from the first week to
the last (Rustock: -44.2% from week 1 to week 8), and the countries with
the most and the least traffic. Commands sent under a court's authority
(Coreflood's stop command, 2011) are a section of their own: what was sent
to how many addresses, under which authority, when.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import jinja2
from markupsafe import Markup

from takedown.analytics import charts, engines, queries
from takedown.analytics.dataset import IpLookup
from takedown.errors import ReportError
from takedown.store.reader import retry_vanished

#: Countries in each bar list of the top/bottom chart.
TOP_N = 10
#: A country enters the *bottom* list only with at least this many unique
#: addresses: below it, a country's few events are one stray host or a
#: scanner, and would crowd out the countries whose low numbers mean
#: something (Rustock's bottom list held countries with 0.4 M+ events).
BOTTOM_MIN_IPS = 10

#: Columns of each CSV file, in order (also for a table without rows).
TABLES: dict[str, tuple[str, ...]] = {
    "weeks": ("week", "unique_ips", "events"),
    "days": ("day", "unique_ips", "events"),
    "countries": ("cc", "unique_ips", "events"),
    "asns": ("asn", "as_name", "unique_ips", "events"),
    "families": ("family", "unique_ips", "events"),
    "rules": ("rule", "unique_ips", "events"),
    "new_returning": ("week", "unique_ips", "new_ips", "returning_ips"),
    "resolver_weeks": ("week", "unique_resolvers", "events"),
    "commands": ("family", "command", "authority", "unique_ips", "events", "first", "last"),
    "command_weeks": ("week", "family", "command", "unique_ips", "events"),
}
_TEMPLATES = Path(__file__).resolve().parent / "templates"
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ReportResult:
    """What :func:`build_report` produced: the summary (as in summary.json)
    and the paths written, sorted."""

    summary: dict
    out: Path
    files: list[Path] = field(default_factory=list)


def parse_date(text: str, what: str = "date") -> date:
    """``YYYY-MM-DD`` -> date; anything else raises :class:`ReportError`.

    Stricter than :meth:`date.fromisoformat`, which since Python 3.11 also
    takes ``20240501`` and ``2024-W18-3``: a report period should read the
    same to everyone.
    """
    text = str(text).strip()
    if _DATE_RE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ReportError(f"invalid {what} {text!r}: expected a day as YYYY-MM-DD")


def _as_date(value: date | str | None, what: str) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        return parse_date(value, what)
    raise ReportError(f"invalid {what} {value!r}: expected a day as YYYY-MM-DD")


def _jsonable(value):
    if isinstance(value, datetime):  # a command's first/last time
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _clean(rows: Sequence[dict]) -> list[dict]:
    return [{k: _jsonable(v) for k, v in r.items()} for r in rows]


def _source_dict(src) -> dict:
    # takedown.enrich.Enricher gives dataclasses (enrich.model.Source); dicts
    # and named tuples are taken as well
    if dataclasses.is_dataclass(src) and not isinstance(src, type):
        return dataclasses.asdict(src)
    if hasattr(src, "_asdict"):
        return src._asdict()
    return dict(src)


def _sources(enricher) -> list[dict]:
    """The enricher's ``sources`` (databases, versions, dates), JSON-safe."""
    raw = getattr(enricher, "sources", None) or []
    try:
        return json.loads(json.dumps([_source_dict(s) for s in raw], default=str))
    except (TypeError, ValueError) as exc:
        raise ReportError(f"enricher sources must be dicts or dataclasses, not {raw!r}: {exc}") from None


def change_pct(weeks: Sequence[dict]) -> float | None:
    """Percent change of unique addresses from the first week to the last
    (one decimal), None with fewer than two weeks or none in the first."""
    if len(weeks) < 2 or not weeks[0]["unique_ips"]:
        return None
    first, last = weeks[0]["unique_ips"], weeks[-1]["unique_ips"]
    return round((last - first) * 100.0 / first, 1)


def top_bottom(countries: Sequence[dict], n: int = TOP_N, min_ips: int = BOTTOM_MIN_IPS) -> tuple[list, list]:
    """The countries of the top/bottom chart, ranked by check-in events over
    the whole period (Rustock ranked by traffic), ties by country code.

    Top: the ``n`` with most events, most first. Bottom: the ``n`` with
    fewest, fewest first, among those not in the top and with at least
    ``min_ips`` unique addresses. Unknown country is in neither.
    """
    known = sorted((c for c in countries if c["cc"] is not None), key=lambda c: (-c["events"], c["cc"]))
    top = known[:n]
    rest = [c for c in known[n:] if c["unique_ips"] >= min_ips]
    bottom = sorted(rest, key=lambda c: (c["events"], c["cc"]))[:n]
    pick = ("cc", "events", "unique_ips")
    return [{k: c[k] for k in pick} for c in top], [{k: c[k] for k in pick} for c in bottom]


def _period(con, date_from: date | None, date_to: date | None) -> tuple[date | None, date | None]:
    """The report period: the given bounds, else the data's first/last day."""
    first, last = date_from, date_to
    if first is None or last is None:
        data_first, data_last = queries.data_days(con, date_from, date_to)
        first = first or data_first
        last = last or data_last
    # one bound given and no data on that side: a period of that one day
    return first or last, last or first


def _summarise(con, *, period, operation, sources, exact, top_n, bottom_min_ips) -> dict:
    first, last = period
    queries.make_calendar(con, first, last)
    weeks = _clean(queries.weeks(con, exact=exact))
    countries = queries.countries(con, exact=exact)
    top, bottom = top_bottom(countries, top_n, bottom_min_ips)
    summary = {
        "operation": operation,
        "period": {"from": _jsonable(first), "to": _jsonable(last)},
        "generated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sources": sources,
        "exact": exact,
        **queries.totals(con, exact=exact),
        "week_change_pct": change_pct(weeks),
        "weeks": weeks,
        "days": _clean(queries.days(con, exact=exact)),
        "new_returning": _clean(queries.new_returning(con)),
        "countries": countries,
        "asns": queries.asns(con, exact=exact),
        "families": queries.families(con, exact=exact),
        "rules": queries.rules(con, exact=exact),
        "countries_chart": {
            "ranked_by": "events",
            "scope": "period",
            "top_n": top_n,
            "bottom_min_unique_ips": bottom_min_ips,
            "top": top,
            "bottom": bottom,
        },
        "resolvers": {
            **queries.resolver_totals(con, exact=exact),
            "weeks": _clean(queries.resolver_weeks(con, exact=exact)),
        },
        "commands": _commands(con, exact),
    }
    return summary


def _commands(con, exact: bool) -> dict:
    """The ``commands`` section: command events per (family, command,
    authority), per (family, command) and per (ISO week, family, command);
    empty lists and 0 when no command was sent."""
    by_command = queries.commands_by_command(con, exact=exact)
    return {
        "total_events": sum(r["events"] for r in by_command),
        "sent": _clean(queries.commands_sent(con, exact=exact)),
        "by_command": by_command,
        "weeks": queries.command_weeks(con, exact=exact),
    }


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="raise")
        w.writeheader()
        w.writerows(rows)  # None is written as an empty field


def _table_rows(summary: dict) -> dict[str, list[dict]]:
    rows = {name: summary[name] for name in TABLES if name in summary}
    rows["resolver_weeks"] = summary["resolvers"]["weeks"]
    rows["commands"] = summary["commands"]["sent"]
    rows["command_weeks"] = summary["commands"]["weeks"]
    return rows


def _inline_svg(path: Path, prefix: str) -> Markup:
    """The ``<svg>`` element of a chart file, for inlining: without the XML
    declaration, the DOCTYPE (it names an external DTD) and the metadata,
    and with its ids prefixed: two charts may define the same marker under
    the same hashed id, and ids must be unique in one page."""
    text = path.read_text(encoding="utf-8")
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'(\sid="|href="#|url\(#)', lambda m: m.group(1) + prefix, text)
    return Markup(text)  # our own matplotlib output: text in it is XML-escaped


def _render_html(summary: dict, svgs: dict[str, Path]) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["num"] = lambda v: "" if v is None else f"{v:,}"
    nr = {r["week"]: r for r in summary["new_returning"]}
    week_rows = [{**w, **nr.get(w["week"], {})} for w in summary["weeks"]]
    charts_svg = {name: _inline_svg(p, f"{name}-") for name, p in svgs.items()}
    return env.get_template("report.html.j2").render(s=summary, week_rows=week_rows, charts=charts_svg)


def summarise(
    storage: Path,
    *,
    enricher: IpLookup,
    date_from: date | str | None = None,
    date_to: date | str | None = None,
    operation: str = "",
    exact: bool = True,
    top_n: int = TOP_N,
    bottom_min_ips: int = BOTTOM_MIN_IPS,
    engine: str = "duckdb",
    master: str | None = None,
) -> dict:
    """The report's figures (``summary.json``) of the events under
    ``storage``, without writing anything: :func:`build_report` writes them,
    the console draws them. Same arguments and errors as :func:`build_report`.

    ``engine`` is ``"duckdb"`` (in process) or ``"spark"`` (on ``master``,
    :mod:`takedown.analytics.engines.spark`): the same queries, the same figures."""
    engines.check_engine(engine, master)
    date_from = _as_date(date_from, "--from date")
    date_to = _as_date(date_to, "--to date")
    if date_from and date_to and date_from > date_to:
        raise ReportError(f"empty report period: --from {date_from} is after --to {date_to}")
    if top_n < 1 or bottom_min_ips < 0:
        raise ReportError(f"top_n must be >= 1 and bottom_min_ips >= 0, not {top_n} and {bottom_min_ips}")

    def once() -> dict:
        with engines.dataset(engine, storage, enricher=enricher, date_from=date_from, date_to=date_to,
                             master=master) as con:
            return _summarise(
                con,
                period=_period(con, date_from, date_to),
                operation=operation,
                sources=_sources(enricher),
                exact=exact,
                top_n=top_n,
                bottom_min_ips=bottom_min_ips,
            )

    try:
        # a day compacted while the report runs swaps its files: the whole
        # summary is taken again, so its queries never mix two listings
        return retry_vanished(once)
    except engines.query_errors(engine) as exc:  # e.g. files of a layout the views do not expect
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReportError(f"cannot query the events under {storage}: {reason}") from None


def build_report(storage: Path, out: Path, *, enricher: IpLookup, **options) -> ReportResult:
    """Write the report of the events under ``storage`` into directory ``out``.

    The period is ``date_from``..``date_to`` inclusive (UTC days; dates or
    ``YYYY-MM-DD``), by default the data's first to last day. An empty
    dataset gives a report of zeros. Raises :class:`ReportError` for a bad
    date, an empty period (from after to) or an unusable ``out``;
    :class:`takedown.errors.StoreError` for an unreadable event file.
    ``options`` are :func:`summarise`'s: ``date_from``, ``date_to``,
    ``operation``, ``exact``, ``top_n``, ``bottom_min_ips``, ``engine``, ``master``.
    """
    summary = summarise(storage, enricher=enricher, **options)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create report directory {out}: {exc.strerror or exc}") from None
    try:
        files = _write(summary, out)
    except OSError as exc:
        raise ReportError(f"cannot write the report into {out}: {exc}") from None
    return ReportResult(summary=summary, out=out, files=sorted(files))


def _write(summary: dict, out: Path) -> list[Path]:
    files = [out / "summary.json"]
    files[0].write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, rows in _table_rows(summary).items():
        path = out / f"{name}.csv"
        _write_csv(path, TABLES[name], rows)
        files.append(path)
    chart = summary["countries_chart"]
    drawn = {
        "weekly_unique_ips": charts.weekly_unique_ips(summary["weeks"], out, summary["week_change_pct"]),
        "countries_top_bottom": charts.countries_top_bottom(
            chart["top"], chart["bottom"], out,
            note=f"check-in events over the period; bottom list: countries with at least "
                 f"{chart['bottom_min_unique_ips']} unique IPs",
        ),
        "daily_unique_ips": charts.daily_unique_ips(summary["days"], out),
    }
    for paths in drawn.values():
        files.extend(paths)
    html = out / "index.html"
    html.write_text(_render_html(summary, {k: v[1] for k, v in drawn.items()}), encoding="utf-8")
    files.append(html)
    return files
