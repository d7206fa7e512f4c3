"""The partner's own pages: its infected addresses, an address's events,
its weekly figures, its daily report files and its tracker entries.

Everything here reads :mod:`takedown.console.partnerdata` with the scope of
the logged-in user's partner, computed afresh at each request (an approval
takes effect at once). An address outside the scope is
:class:`takedown.console.access.NotFound`: the 404 page of an unknown path.
"""

from __future__ import annotations

import ipaddress
from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from takedown.console import partnerdata as pd
from takedown.console import web
from takedown.console.access import NotFound, route
from takedown.console.scope import Scope, scope_of
from takedown.tracker.indicator import KINDS, STATUSES

__all__ = ["ROUTES", "figures_chart"]


def _scope(request: Request) -> Scope:
    return scope_of(web.ctx(request).store, web.user(request).partner_id)


def _period(request: Request) -> tuple[date | None, date | None, str]:
    """(from, to, error) of ?from=&to= (ISO dates, inclusive)."""
    out: list[date | None] = []
    error = ""
    for key in ("from", "to"):
        text = request.query_params.get(key, "").strip()
        try:
            out.append(date.fromisoformat(text) if text else None)
        except ValueError:
            out.append(None)
            error = f"{key}: {text!r} is not a date (YYYY-MM-DD)"
    return out[0], out[1], error


def _pages(total: int, size: int) -> int:
    return max(1, -(-total // size))


def _paged(request: Request, template: str, *, total: int, page: int, size: int, **values) -> Response:
    """``template`` with the pager's values: the page count and ``pager_query(n)``,
    the request's query string for page ``n`` (the filters kept)."""
    def pager_query(n: int) -> str:
        return str(QueryParams({**request.query_params, "page": str(n)}))
    return web.render(request, template, total=total, page=page, size=size, pages=_pages(total, size),
                      pager_query=pager_query, **values)


def _linkable(text: str | None) -> bool:
    try:
        ipaddress.ip_address(text or "")
    except ValueError:
        return False  # a keyed hash (privacy modes): no page of its own
    return True


async def ips(request: Request) -> Response:
    c = web.ctx(request)
    date_from, date_to, error = _period(request)
    page, size = web.page_args(request)
    rows, total = await run_in_threadpool(pd.infected_ips, c.operation, _scope(request), date_from, date_to,
                                          page=page, size=size)
    for r in rows:
        r["linkable"] = _linkable(r["ip"])
    return _paged(request, "portal_ips.html.j2", rows=rows, total=total, page=page, size=size,
                  date_from=date_from, date_to=date_to, error=error)


async def ip_page(request: Request) -> Response:
    c = web.ctx(request)
    ip = request.path_params["ip"]
    date_from, date_to, error = _period(request)
    page, size = web.page_args(request)
    rows, total = await run_in_threadpool(pd.ip_events, c.operation, _scope(request), ip, date_from, date_to,
                                          page=page, size=size)  # NotFound outside the scope
    return _paged(request, "portal_ip.html.j2", ip=ip, rows=rows, total=total, page=page, size=size,
                  date_from=date_from, date_to=date_to, error=error)


def figures_chart(weeks: list[dict], width: int = 720, height: int = 220) -> dict:
    """Bars of unique addresses per week, as coordinates for the template's SVG."""
    top = max((w["unique_ips"] for w in weeks), default=0) or 1
    step = width / max(1, len(weeks))
    bars = []
    for i, w in enumerate(weeks):
        h = round((height - 30) * w["unique_ips"] / top, 1)
        bars.append({"x": round(i * step + 2, 1), "y": round(height - 20 - h, 1), "w": round(max(1.0, step - 4), 1),
                     "h": h, "label": w["week"], "value": w["unique_ips"], "tx": round(i * step + step / 2, 1)})
    return {"width": width, "height": height, "bars": bars, "top": top, "base": height - 20}


async def figures(request: Request) -> Response:
    c = web.ctx(request)
    date_from, date_to, error = _period(request)
    scope = _scope(request)

    def compute():
        return (pd.weekly(c.operation, scope, date_from, date_to),
                pd.breakdown(c.operation, scope, date_from, date_to))

    weeks, parts = await run_in_threadpool(compute)
    return web.render(request, "portal_figures.html.j2", weeks=weeks, parts=parts, chart=figures_chart(weeks),
                      date_from=date_from, date_to=date_to, error=error)


def _partner(request: Request) -> str:
    return web.user(request).partner or ""


async def reports(request: Request) -> Response:
    c = web.ctx(request)
    days = await run_in_threadpool(pd.report_days, c.operation, _scope(request))
    page, size = web.page_args(request, default_size=14, max_size=100)
    shown = days[(page - 1) * size: page * size]
    return _paged(request, "portal_reports.html.j2", days=shown, total=len(days), page=page, size=size)


async def report_day(request: Request) -> Response:
    c = web.ctx(request)
    try:
        day = date.fromisoformat(request.path_params["day"])
    except ValueError:
        raise NotFound(request.path_params["day"]) from None
    files = await run_in_threadpool(pd.daily_csvs, c.operation, _scope(request), day, partner=_partner(request))
    if not files:
        raise NotFound(day.isoformat())
    return web.render(request, "portal_report_day.html.j2", day=day,
                      files=[(name, body.count(b"\n") - 1, len(body)) for name, body in files])


async def report_file(request: Request) -> Response:
    c = web.ctx(request)
    name = request.path_params["name"]
    try:
        day = date.fromisoformat(request.path_params["day"])
    except ValueError:
        raise NotFound(name) from None
    files = dict(await run_in_threadpool(pd.daily_csvs, c.operation, _scope(request), day, partner=_partner(request)))
    if name not in files:
        raise NotFound(name)
    u = web.user(request)
    c.store.audit(u.username, "download", name, {"partner": u.partner, "bytes": len(files[name])},
                  web.client_address(request))
    return Response(files[name], media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


async def tracker(request: Request) -> Response:
    c = web.ctx(request)
    q = request.query_params
    family = q.get("family") or None
    status = q.get("status") if q.get("status") in STATUSES else None
    kind = q.get("kind") if q.get("kind") in KINDS else None
    page, size = web.page_args(request)
    rows, total = await run_in_threadpool(pd.tracker_entries, c.tracker, _scope(request), family=family,
                                          status=status, kind=kind, page=page, size=size)
    return _paged(request, "portal_tracker.html.j2", rows=rows, total=total, page=page, size=size,
                  family=family or "", status_filter=status or "", kind=kind or "", statuses=STATUSES, kinds=KINDS)


ROUTES = [
    route("/my/ips", ips, access="partner"),
    route("/my/ips/{ip}", ip_page, access="partner"),
    route("/my/figures", figures, access="partner"),
    route("/my/reports", reports, access="partner"),
    route("/my/reports/{day}", report_day, access="partner"),
    route("/my/reports/{day}/{name}", report_file, access="partner"),
    route("/my/tracker", tracker, access="partner"),
]
