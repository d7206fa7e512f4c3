"""``/audit``: the audit log for operators, newest first, filtered by action,
actor and UTC date range, in pages (docs/console.md, "The audit log")."""

from __future__ import annotations

import calendar
import time
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from takedown.console import web
from takedown.console.access import route

__all__ = ["ROUTES", "day_start"]


def day_start(text: str) -> int:
    """00:00 UTC of an ISO day ``YYYY-MM-DD`` as Unix seconds; ValueError otherwise."""
    return calendar.timegm(time.strptime(text, "%Y-%m-%d"))


async def audit_page(request: Request) -> Response:
    c = web.ctx(request)
    q = request.query_params
    action = q.get("action", "").strip() or None
    actor = q.get("actor", "").strip() or None
    since = until = None
    errors = []
    for key in ("from", "to"):
        text = q.get(key, "").strip()
        if not text:
            continue
        try:
            value = day_start(text)
        except ValueError:
            errors.append(f"{key}: {text!r} is not a date YYYY-MM-DD")
            continue
        if key == "from":
            since = value
        else:
            until = value + 86400  # the 'to' day is included
    page, size = web.page_args(request)
    filters = {"action": action, "actor": actor, "since": since, "until": until}
    total = c.store.audit_count(**filters)
    entries = c.store.audit_log(limit=size, offset=(page - 1) * size, **filters)
    kept = {k: q[k] for k in ("action", "actor", "from", "to", "size") if q.get(k)}

    def link(p: int) -> str:
        return "/audit?" + urlencode({**kept, "page": p})

    return web.render(request, "audit.html.j2", status=400 if errors else 200, entries=entries, total=total,
                      page=page, size=size, actions=c.store.audit_actions(), errors=errors, query=q,
                      partners={p.id: p.name for p in c.store.partners()},
                      previous=link(page - 1) if page > 1 else None,
                      next=link(page + 1) if page * size < total else None)


ROUTES = [route("/audit", audit_page, access="operator")]
