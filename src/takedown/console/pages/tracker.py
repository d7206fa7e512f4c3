"""/tracker: the tracked indicators (:class:`takedown.tracker.store.Tracker`)
filtered and paged; /tracker/i/{value}: one indicator with its history, and
its status changed by hand (POST: a status and a required reason), recorded
in the tracker's history with by = the user name, and in the audit log."""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from takedown.console import web
from takedown.console.access import NotFound, route
from takedown.errors import TrackerError
from takedown.tracker.indicator import KINDS, STATUSES

__all__ = ["ROUTES"]

FIELDS = ("family", "status", "kind", "q")
MAX_REASON = 500


def indicator_url(value: str) -> str:
    return "/tracker/i/" + quote(value, safe="")


async def tracker_list(request: Request) -> Response:
    t = web.ctx(request).tracker
    q = request.query_params
    values = {k: q.get(k, "").strip() for k in FIELDS}
    page, size = web.page_args(request)
    common = {"values": values, "statuses": STATUSES, "kinds": KINDS, "page": page, "size": size,
              "indicator_url": indicator_url}
    try:
        rows, total = await asyncio.to_thread(t.search, family=values["family"] or None,
                                              status=values["status"] or None, kind=values["kind"] or None,
                                              text=values["q"], limit=size, offset=(page - 1) * size)
    except TrackerError as exc:
        return web.render(request, "tracker.html.j2", status=400, error=str(exc), rows=[], total=0, prev=None,
                          next=None, **common)
    link = lambda p: "/tracker?" + urlencode({**values, "page": p, "size": size})  # noqa: E731
    return web.render(request, "tracker.html.j2", error="", rows=rows, total=total,
                      prev=link(page - 1) if page > 1 else None,
                      next=link(page + 1) if page * size < total else None, **common)


def _indicator(t, value: str):
    try:
        ind = t.get(value)
    except TrackerError:  # not even a valid value: no such indicator either
        ind = None
    if ind is None:
        raise NotFound()
    return ind


async def indicator(request: Request) -> Response:
    c = web.ctx(request)
    t = c.tracker
    ind = _indicator(t, request.path_params["value"])
    error, status = "", 200
    if request.method == "POST":
        form = await request.form()
        new, reason = str(form.get("status", "")).strip(), str(form.get("reason", "")).strip()
        if new not in STATUSES:
            error = f"status: choose one of {', '.join(STATUSES)}"
        elif not reason:
            error = "reason: say why the status changes (required)"
        elif len(reason) > MAX_REASON or any(ch in reason for ch in "\r\n"):
            error = f"reason: at most {MAX_REASON} characters on one line"
        elif new == ind.status:
            error = f"status: {ind.value} is {new} already"
        if error:
            status = 400
        else:
            u = web.user(request)
            await asyncio.to_thread(t.set_status, ind.value, new, by=u.username, reason=reason)
            c.store.audit(u.username, "status", ind.value, {"old": ind.status, "new": new, "reason": reason},
                          web.client_address(request))
            return RedirectResponse(indicator_url(ind.value), status_code=303)
    return web.render(request, "indicator.html.j2", status=status, ind=ind, history=t.history(ind.value),
                      statuses=STATUSES, error=error, action=indicator_url(ind.value))


ROUTES = [route("/tracker", tracker_list, access="operator"),
          route("/tracker/i/{value:path}", indicator, access="operator", methods=("GET", "POST"))]
