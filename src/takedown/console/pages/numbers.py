"""/numbers: the operation's figures for a period (?from=&to=, default the
whole dataset), computed by ``takedown report``'s own code
(:func:`takedown.analytics.report.summarise`) and drawn as inline SVG bar
charts (:mod:`takedown.console.charts`) with their tables.

The figures are computed at most once per period and dataset state, in a
worker thread (:mod:`takedown.console.figures`); while they are, the page
says so and htmx asks again every 2 s (an htmx request never starts a
computation: a page left open does not recompute a live dataset forever)."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from takedown.analytics.report import ReportError, parse_date
from takedown.console import web
from takedown.console.access import route
from takedown.console.charts import bars

__all__ = ["ROUTES"]


def _label(v, unknown: str = "unknown") -> str:
    return unknown if v is None else str(v)


def _charts(s: dict) -> dict:
    chart = s["countries_chart"]
    return {
        "weeks": bars([(w["week"], w["unique_ips"]) for w in s["weeks"]], title="Unique infected IPs per week"),
        "days": bars([(d["day"], d["unique_ips"]) for d in s["days"]], title="Unique infected IPs per day"),
        "top": bars([(_label(c["cc"]), c["events"]) for c in chart["top"]], title="Countries: most events"),
        "bottom": bars([(_label(c["cc"]), c["events"]) for c in chart["bottom"]], title="Countries: fewest events"),
        "asns": bars([(f"AS{a['asn']}" if a["asn"] is not None else "unknown", a["unique_ips"])
                      for a in s["asns"][:15]], title="Unique infected IPs per AS (top 15)"),
        "families": bars([(f["family"], f["unique_ips"]) for f in s["families"]],
                         title="Unique infected IPs per family"),
        "new_returning": bars([(f"{r['week']} new", r["new_ips"]) for r in s["new_returning"]]
                              + [(f"{r['week']} returning", r["returning_ips"]) for r in s["new_returning"]],
                              title="New and returning IPs per week"),
    }


def _drawn(c, entry):
    """The entry's figures as HTML (charts and tables), drawn once per summary."""
    s = entry.summary
    if entry.html_of is not s:
        entry.html = Markup(c.env.get_template("numbers_tables.html.j2").render(s=s, charts=_charts(s)))
        entry.html_of = s
    return entry.html


def _period(first, last) -> str:
    if first and last:
        return f"{first} to {last}"
    if first or last:
        return f"from {first}" if first else f"up to {last}"
    return "the whole dataset"


async def numbers(request: Request) -> Response:
    c = web.ctx(request)
    q = request.query_params
    values = {"from": q.get("from", "").strip(), "to": q.get("to", "").strip()}
    htmx = web.is_htmx(request)
    template = "numbers_figures.html.j2" if htmx else "numbers.html.j2"

    def failed(message: str, status: int) -> Response:
        # htmx swaps no 4xx/5xx answer: its partial comes as 200 so the line shows in place
        return web.render(request, template, status=200 if htmx else status, error=message, values=values,
                          s=None, body="", state="error", poll="")

    try:
        first = parse_date(values["from"], "from") if values["from"] else None
        last = parse_date(values["to"], "to") if values["to"] else None
    except ReportError as exc:
        return failed(str(exc), 400)
    if first and last and first > last:
        return failed(f"empty period: from {first} is after to {last}", 400)
    figures = c.figures
    # the page starts a computation; htmx's polls only look at it
    entry, current = await asyncio.to_thread(figures.look, first, last, start=not htmx)
    if not current and entry.running is not None and not htmx:
        await asyncio.to_thread(figures.wait, entry, figures.first_wait)
        entry, current = await asyncio.to_thread(figures.look, first, last, start=False)
    if entry.running is not None:
        state = "computing"
    elif current:
        state = "current"
    elif entry.error:
        return failed(entry.error, 503)
    else:
        state = "stale"  # newer events since (or forgotten): a reload computes them
    query = {k: v for k, v in values.items() if v}
    s = entry.summary
    body = await asyncio.to_thread(_drawn, c, entry) if s is not None else ""
    return web.render(request, template, error="", values=values, s=s, body=body,
                      state=state, period=_period(first, last), as_of=entry.as_of,
                      started=time.strftime("%H:%M:%S", time.gmtime(entry.started)),
                      poll="/numbers" + ("?" + urlencode(query) if query else ""))


ROUTES = [route("/numbers", numbers, access="operator")]
