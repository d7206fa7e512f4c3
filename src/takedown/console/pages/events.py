"""/events: event search over the operation's dataset
(:mod:`takedown.console.eventsearch`), a page at a time, newest first.
A plain GET form; with htmx, submitting replaces only the results.

The total reads every day of the period: it is not part of a page but
its own request, /events/count (htmx puts its answer in place of the
"count" link; without JavaScript the link leads to the page with it)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from takedown.console import web
from takedown.console.access import route
from takedown.console.eventsearch import KINDS, count, parse_filters, search
from takedown.errors import TakedownError

__all__ = ["ROUTES"]

FIELDS = ("ip", "cidr", "asn", "country", "family", "rule", "kind", "from", "to")


async def _answer(request: Request, counting: bool) -> Response:
    c = web.ctx(request)
    q = request.query_params
    values = {k: q.get(k, "") for k in FIELDS}
    page, size = web.page_args(request)
    htmx = web.is_htmx(request)
    if counting and htmx:
        template = "events_count.html.j2"
    else:
        template = "events_results.html.j2" if htmx else "events.html.j2"
    common = {"values": values, "kinds": KINDS, "page": page, "size": size}

    def failed(message: str, status: int) -> Response:
        # htmx swaps no 4xx/5xx answer: its partial comes as 200 so the line shows in place
        return web.render(request, template, status=200 if htmx else status, error=message, rows=[], total=None,
                          prev=None, next=None, count_url="", **common)

    try:
        f = parse_filters(q)
    except TakedownError as exc:  # a bad field: the form again, with the line naming it
        return failed(str(exc), 400)
    total = None
    try:
        if counting:
            total = await asyncio.to_thread(count, c.dataset, f, enricher=c.lookup())
        if counting and htmx:
            rows, more = [], False
        else:
            rows, more = await asyncio.to_thread(search, c.dataset, f, enricher=c.lookup(), page=page, size=size)
    except TakedownError as exc:  # the dataset or the enrichment cannot be read: not the user's input
        return failed(str(exc), 503)
    link = lambda p: "/events?" + urlencode({**f.query(), "page": p, "size": size})  # noqa: E731
    return web.render(request, template, error="", rows=rows, total=total,
                      prev=link(page - 1) if page > 1 else None, next=link(page + 1) if more else None,
                      count_url="/events/count?" + urlencode({**f.query(), "page": page, "size": size}), **common)


async def events(request: Request) -> Response:
    return await _answer(request, counting=False)


async def events_count(request: Request) -> Response:
    """The number of matching events: an htmx fragment, or the page with it."""
    return await _answer(request, counting=True)


ROUTES = [route("/events", events, access="operator"), route("/events/count", events_count, access="operator")]
