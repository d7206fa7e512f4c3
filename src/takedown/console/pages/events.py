"""/events: event search over the operation's dataset
(:mod:`takedown.console.eventsearch`), a page at a time, newest first.
A plain GET form; with htmx, submitting replaces only the results."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from takedown.console import web
from takedown.console.access import route
from takedown.console.eventsearch import KINDS, parse_filters, search
from takedown.errors import TakedownError

__all__ = ["ROUTES"]

FIELDS = ("ip", "cidr", "asn", "country", "family", "rule", "kind", "from", "to")


async def events(request: Request) -> Response:
    c = web.ctx(request)
    q = request.query_params
    values = {k: q.get(k, "") for k in FIELDS}
    page, size = web.page_args(request)
    htmx = web.is_htmx(request)
    template = "events_results.html.j2" if htmx else "events.html.j2"
    common = {"values": values, "kinds": KINDS, "page": page, "size": size}

    def failed(message: str, status: int) -> Response:
        # htmx swaps no 4xx/5xx answer: its partial comes as 200 so the line shows in place
        return web.render(request, template, status=200 if htmx else status, error=message, rows=[], total=0,
                          prev=None, next=None, **common)

    try:
        f = parse_filters(q)
    except TakedownError as exc:  # a bad field: the form again, with the line naming it
        return failed(str(exc), 400)
    try:
        rows, total = await asyncio.to_thread(search, c.storage, f, enricher=c.lookup(), page=page, size=size)
    except TakedownError as exc:  # the dataset or the enrichment cannot be read: not the user's input
        return failed(str(exc), 503)
    link = lambda p: "/events?" + urlencode({**f.query(), "page": p, "size": size})  # noqa: E731
    return web.render(request, template, error="", rows=rows, total=total,
                      prev=link(page - 1) if page > 1 else None,
                      next=link(page + 1) if page * size < total else None, **common)


ROUTES = [route("/events", events, access="operator")]
