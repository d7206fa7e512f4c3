"""/numbers: the operation's figures for a period (?from=&to=, default the
whole dataset), computed by ``takedown report``'s own code
(:func:`takedown.analytics.report.summarise`) and drawn as inline SVG bar
charts (:mod:`takedown.console.charts`) with their tables."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from takedown.analytics.report import ReportError, parse_date, summarise
from takedown.console import web
from takedown.console.access import route
from takedown.console.charts import bars
from takedown.errors import TakedownError

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


async def numbers(request: Request) -> Response:
    c = web.ctx(request)
    q = request.query_params
    values = {"from": q.get("from", "").strip(), "to": q.get("to", "").strip()}

    def failed(message: str, status: int) -> Response:
        return web.render(request, "numbers.html.j2", status=status, error=message, values=values, s=None,
                          charts={})

    try:
        first = parse_date(values["from"], "from") if values["from"] else None
        last = parse_date(values["to"], "to") if values["to"] else None
    except ReportError as exc:
        return failed(str(exc), 400)
    if first and last and first > last:
        return failed(f"empty period: from {first} is after to {last}", 400)
    try:
        s = await asyncio.to_thread(summarise, c.storage, enricher=c.lookup(), date_from=first, date_to=last,
                                    operation=c.operation.name)
    except TakedownError as exc:  # the dataset or the enrichment cannot be read: not the user's input
        return failed(str(exc), 503)
    return web.render(request, "numbers.html.j2", error="", values=values, s=s, charts=_charts(s))


ROUTES = [route("/numbers", numbers, access="operator")]
