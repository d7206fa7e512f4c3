"""/commands: the commands the sinkhole sent under a court's authority
(:mod:`takedown.console.commands`), per UTC day, newest first, with each
authority's validity window from the operation's ``[case]``; the latest
command events of one day; ``/commands/{day}.csv``, a day's command events
as CSV (each download in the audit log)."""

from __future__ import annotations

from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from takedown.analytics.report import parse_date
from takedown.console import commands as cmd
from takedown.console import web
from takedown.console.access import NotFound, route
from takedown.errors import TakedownError

__all__ = ["ROUTES"]

#: latest events of a day shown by default, and at most (``?n=``)
LATEST, LATEST_MAX = 50, 500


def _dates(request: Request) -> tuple[dict[str, date | None], list[str]]:
    """?from=, ?to= and ?day= as dates (absent: None), and a line per bad one."""
    values: dict[str, date | None] = {}
    errors = []
    for key in ("from", "to", "day"):
        text = request.query_params.get(key, "").strip()
        try:
            values[key] = parse_date(text, key) if text else None
        except TakedownError as exc:
            values[key] = None
            errors.append(str(exc))
    if values["from"] and values["to"] and values["from"] > values["to"]:
        errors.append(f"from: {values['from']} is after to {values['to']}")
    return values, errors


def _limit(request: Request) -> int:
    try:
        return min(LATEST_MAX, max(1, int(request.query_params.get("n", str(LATEST)))))
    except ValueError:
        return LATEST


async def commands(request: Request) -> Response:
    c = web.ctx(request)
    op = c.operation
    q = request.query_params
    form = {k: q.get(k, "").strip() for k in ("from", "to", "day")}
    n = _limit(request)
    common = {"form": form, "n": n, "authorities": cmd.authorities(op)}
    if not await run_in_threadpool(cmd.sent_any, op):
        return web.render(request, "commands.html.j2", sent=False, errors=[], rows=[], totals={}, day=None,
                          latest=[], **common)
    values, errors = _dates(request)
    if errors:
        return web.render(request, "commands.html.j2", status=400, sent=True, errors=errors, rows=[], totals={},
                          day=None, latest=[], **common)

    def read():
        rows, totals = cmd.per_day(op, values["from"], values["to"])
        day = values["day"] or (rows[0].day if rows else None)
        return rows, totals, day, (cmd.latest(op, day, n) if day else [])

    try:
        rows, totals, day, latest = await run_in_threadpool(read)
    except TakedownError as exc:  # a damaged file: not the user's input
        return web.render(request, "commands.html.j2", status=503, sent=True, errors=[str(exc)], rows=[],
                          totals={}, day=None, latest=[], **common)
    return web.render(request, "commands.html.j2", sent=True, errors=[], rows=rows, totals=totals, day=day,
                      latest=latest, **common)


async def commands_csv(request: Request) -> Response:
    c = web.ctx(request)
    try:
        day = parse_date(request.path_params["day"], "day")
    except TakedownError:
        raise NotFound(request.path_params["day"]) from None
    body, events = await run_in_threadpool(cmd.day_csv, c.operation, day)
    name = f"{day.isoformat()}-commands-{c.operation.name}.csv"
    web.audit(request, "download", name, {"events": events, "bytes": len(body)})
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


ROUTES = [route("/commands", commands, access="operator"),
          route("/commands/{day}.csv", commands_csv, access="operator")]
