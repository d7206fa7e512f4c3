"""The API for scripts, in the manner of Shadowserver's Reports API
(https://github.com/The-Shadowserver-Foundation/api_utils): ``POST
/api/<method>`` with a JSON body ``{"apikey": KEY_ID, "timestamp":
UNIX_SECONDS, ...parameters}`` and the header ``HMAC2: <hex HMAC-SHA256 of
the raw body with the key's secret>`` (:mod:`takedown.console.apikeys`).

Every method is declared once in :data:`METHODS`, its parameters and its
answer's JSON schema beside its handler; the routes and the OpenAPI 3.1
description (``GET /api/openapi.json``) are made from that table, and every
route is made by :func:`api_route`, which checks the signature, the
timestamp window and replays before the handler runs: a method cannot be
added without them. A partner's key reaches exactly what the partner's
pages show; an object outside its scope is a 404, as for a path that does
not exist. docs/console.md, section "API", describes it for users.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from takedown.analytics import shadowserver as ss
from takedown.console import apikeys, partnerdata, web
from takedown.console.access import NotFound, route
from takedown.console.scope import scope_of
from takedown.tracker.indicator import KINDS, STATUSES

__all__ = ["ROUTES", "METHODS", "openapi", "ApiError"]

MAX_BODY = 64 * 1024  # a request is a few parameters
MAX_DAYS = 92  # the longest period one request may ask for


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


# --------------------------------------------------------------------------
# Parameters: declared with their JSON schema, checked before the handler
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    kind: str  # 'date', 'int', 'str', 'ip'
    doc: str
    required: bool = False
    default: Any = None
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None

    def schema(self) -> dict:
        s: dict[str, Any] = {"description": self.doc}
        if self.kind == "date":
            s.update(type="string", format="date")
        elif self.kind == "int":
            s["type"] = "integer"
            if self.minimum is not None:
                s["minimum"] = self.minimum
            if self.maximum is not None:
                s["maximum"] = self.maximum
        elif self.kind == "ip":
            s.update(type="string", description=self.doc + " (IPv4 or IPv6)")
        else:
            s["type"] = "string"
        if self.enum:
            s["enum"] = list(self.enum)
        if self.default is not None:
            s["default"] = self.default
        return s

    def parse(self, name: str, v: Any) -> Any:
        if self.kind == "date":
            if isinstance(v, str):
                try:
                    return date.fromisoformat(v)
                except ValueError:
                    pass
            raise ApiError(400, f"{name}: {v!r} is not a date (YYYY-MM-DD)")
        if self.kind == "int":
            if isinstance(v, bool) or not isinstance(v, int) or (self.minimum is not None and v < self.minimum) \
                    or (self.maximum is not None and v > self.maximum):
                raise ApiError(400, f"{name}: {v!r} is not an integer from {self.minimum} to {self.maximum}")
            return v
        if not isinstance(v, str):
            raise ApiError(400, f"{name}: {v!r} is not a string")
        if self.enum and v not in self.enum:
            raise ApiError(400, f"{name}: {v!r} is not one of {', '.join(self.enum)}")
        if self.kind == "ip":
            try:
                return str(ipaddress.ip_address(v))
            except ValueError:
                raise ApiError(400, f"{name}: {v!r} is not an IP address") from None
        if len(v) > 255:
            raise ApiError(400, f"{name}: longer than 255 characters")
        return v


PAGE = Param("int", "page number, from 1", default=1, minimum=1, maximum=1_000_000)
SIZE = Param("int", "items per page", default=100, minimum=1, maximum=1000)
DATE_FROM = Param("date", "first day (UTC), inclusive; default: date_to minus 6 days")
DATE_TO = Param("date", "last day (UTC), inclusive; default: today")


@dataclass(frozen=True)
class Call:
    """What a handler gets: the request's context, the key and its
    partner's scope, and the checked parameters."""

    request: Request
    key: apikeys.ApiKey
    params: dict[str, Any]

    @property
    def ctx(self):
        return web.ctx(self.request)

    @property
    def scope(self):
        return scope_of(self.ctx.store, self.key.partner_id)

    def period(self) -> tuple[date, date]:
        today = datetime.fromtimestamp(self.ctx.now(), UTC).date()
        to = self.params.get("date_to") or today
        frm = self.params.get("date_from") or to - timedelta(days=6)
        if frm > to:
            raise ApiError(400, "date_from is after date_to")
        if (to - frm).days >= MAX_DAYS:
            raise ApiError(400, f"the period is longer than {MAX_DAYS} days: ask for it in parts")
        return frm, to


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    handler: Handler
    params: dict[str, Param] = field(default_factory=dict)
    answer: dict = field(default_factory=dict)  # JSON schema of a 200 answer
    media: str = "application/json"


def _json(v: Any) -> Any:
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    raise TypeError(type(v).__name__)


def _paged(items_key: str, item: dict) -> dict:
    return {"type": "object", "required": ["total", "page", "size", items_key], "properties": {
        "total": {"type": "integer"}, "page": {"type": "integer"}, "size": {"type": "integer"},
        items_key: {"type": "array", "items": item}}}


# --------------------------------------------------------------------------
# The methods
# --------------------------------------------------------------------------


def key_info(call: Call) -> dict:
    claims = call.ctx.store.claims(partner_id=call.key.partner_id, status="approved")
    return {"key_id": call.key.key_id, "label": call.key.label, "partner": call.key.partner,
            "claims": [{"kind": c.kind, "value": c.value} for c in claims]}


def reports_list(call: Call) -> dict:
    frm, to = call.period()
    days = partnerdata.report_files(call.ctx.operation, call.scope, call.key.partner, frm, to)
    return {"date_from": frm.isoformat(), "date_to": to.isoformat(), "days": days}


def reports_download(call: Call) -> Response:
    day, report = call.params["day"], call.params["type"]
    body, rows = partnerdata.report_csv(call.ctx.operation, call.scope, report, day)
    if not rows:  # no such file, as reports/list says
        raise ApiError(404, "not found")
    name = partnerdata.file_name(day, report, call.key.partner)
    call.ctx.store.audit(f"api:{call.key.key_id}", "download", name, {"rows": rows},
                         web.client_address(call.request), call.key.partner_id)
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


def reports_query(call: Call) -> dict:
    frm, to = call.period()
    page, size = call.params["page"], call.params["size"]
    table, total = partnerdata.report_rows(call.ctx.operation, call.scope, call.params["type"], frm, to,
                                           limit=size, offset=(page - 1) * size)
    return {"total": total, "page": page, "size": size, "rows": table.to_pylist()}


def ips_query(call: Call) -> dict:
    frm, to = call.period()
    page, size = call.params["page"], call.params["size"]
    rows, total = partnerdata.infected_ips(call.ctx.operation, call.scope, frm, to, page=page, size=size)
    return {"total": total, "page": page, "size": size, "ips": rows}


def ips_get(call: Call) -> dict:
    p = call.params
    try:
        events, total = partnerdata.ip_events(call.ctx.operation, call.scope, p["ip"], p.get("date_from"),
                                              p.get("date_to"), page=p["page"], size=p["size"])
    except NotFound:
        raise ApiError(404, "not found") from None
    if not total:  # in scope but never seen in the period: nothing to show, as outside it
        raise ApiError(404, "not found")
    return {"ip": p["ip"], "total": total, "page": p["page"], "size": p["size"], "events": events}


def tracker_query(call: Call) -> dict:
    p = call.params
    entries, total = partnerdata.tracker_entries(call.ctx.tracker, call.scope, status=p.get("status"),
                                                 family=p.get("family"), kind=p.get("kind"), page=p["page"],
                                                 size=p["size"])
    fields = ("value", "kind", "family", "status", "first_seen", "last_seen", "last_online", "asn", "as_name",
              "country", "confidence", "tags")
    return {"total": total, "page": p["page"], "size": p["size"],
            "entries": [{f: getattr(i, f) for f in fields} for i in entries]}


_STR = {"type": ["string", "null"]}
_INT = {"type": ["integer", "null"]}
_IP_ROW = {"type": "object", "properties": {
    "ip": {"type": "string"}, "cc": _STR, "asn": _INT, "as_name": _STR, "families": _STR,
    "checkins": {"type": "integer"}, "first_seen": {"type": "string", "format": "date-time"},
    "last_seen": {"type": "string", "format": "date-time"}}}
_EVENT = {"type": "object", "description": "one event: time, kind (http, tcp, dns...), its fields"}
_ENTRY = {"type": "object", "properties": {
    "value": {"type": "string"}, "kind": {"type": "string", "enum": ["domain", "ip", "url"]},
    "family": {"type": "string"}, "status": {"type": "string", "enum": list(STATUSES)},
    "first_seen": _STR, "last_seen": _STR, "last_online": _STR, "asn": _INT, "as_name": _STR, "country": _STR,
    "confidence": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}}}
_REPORT_TYPE = Param("str", "report type (Shadowserver's name)", required=True, enum=tuple(ss.REPORTS))

METHODS: tuple[Method, ...] = (
    Method("key/info", "The key, its partner and the partner's approved claims.", key_info, answer={
        "type": "object", "required": ["key_id", "partner", "claims"], "properties": {
            "key_id": {"type": "string"}, "label": {"type": "string"}, "partner": {"type": "string"},
            "claims": {"type": "array", "items": {"type": "object", "properties": {
                "kind": {"type": "string", "enum": ["asn", "cidr", "country", "domain"]},
                "value": {"type": "string"}}}}}}),
    Method("reports/list", "The days with events in scope, each with its report types and file names "
           "(as takedown notify names them).", reports_list,
           {"date_from": DATE_FROM, "date_to": DATE_TO},
           {"type": "object", "properties": {
               "date_from": {"type": "string", "format": "date"}, "date_to": {"type": "string", "format": "date"},
               "days": {"type": "array", "items": {"type": "object", "properties": {
                   "day": {"type": "string", "format": "date"},
                   "reports": {"type": "array", "items": {"type": "object", "properties": {
                       "type": {"type": "string"}, "name": {"type": "string"}, "rows": {"type": "integer"}}}}}}}}}),
    Method("reports/download", "One day's report file of one type, in Shadowserver's CSV format; 404 when "
           "the day has no row of that type in scope.",
           reports_download, {"day": Param("date", "the day (UTC)", required=True), "type": _REPORT_TYPE},
           {"type": "string"}, media="text/csv"),
    Method("reports/query", "The rows of one report type over a period, a page at a time "
           "(over several days a DNS row counts a resolver's queries of a name over the period).",
           reports_query, {"type": _REPORT_TYPE, "date_from": DATE_FROM, "date_to": DATE_TO, "page": PAGE,
                           "size": SIZE},
           _paged("rows", {"type": "object", "description": "the report's columns, as in its CSV"})),
    Method("ips/query", "The infected addresses in scope seen in a period, most recently seen first.",
           ips_query, {"date_from": DATE_FROM, "date_to": DATE_TO, "page": PAGE, "size": SIZE},
           _paged("ips", _IP_ROW)),
    Method("ips/get", "One address's events (check-ins and DNS queries), newest first, a page at a time; "
           "404 when it has none in scope.",
           ips_get, {"ip": Param("ip", "the address", required=True),
                     "date_from": Param("date", "first day (UTC), inclusive; default: all"),
                     "date_to": Param("date", "last day (UTC), inclusive; default: all"), "page": PAGE,
                     "size": SIZE},
           {"type": "object", "required": ["ip", "total", "page", "size", "events"], "properties": {
               "ip": {"type": "string"}, "total": {"type": "integer"}, "page": {"type": "integer"},
               "size": {"type": "integer"}, "events": {"type": "array", "items": _EVENT}}}),
    Method("tracker/query", "The tracker's entries in scope (an IP or URL host in the claimed networks, a domain "
           "under a claimed domain).", tracker_query,
           {"status": Param("str", "only entries with this status", enum=STATUSES),
            "family": Param("str", "only entries of this malware family"),
            "kind": Param("str", "only entries of this kind", enum=KINDS), "page": PAGE, "size": SIZE},
           _paged("entries", _ENTRY)),
)

# --------------------------------------------------------------------------
# Signing, the routes, the description
# --------------------------------------------------------------------------

RESERVED = ("apikey", "timestamp", "nonce")
#: the fields every request must carry (``nonce`` is optional: a random
#: string that makes two identical requests in one second differ, since a
#: signature is accepted once)
REQUIRED = ("apikey", "timestamp")


async def _body(request: Request) -> bytes:
    """The raw body, read no further than :data:`MAX_BODY` (a client cannot
    make the console hold a large upload in memory)."""
    too_large = ApiError(413, f"the request body is larger than {MAX_BODY} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _authenticate(request: Request) -> tuple[apikeys.ApiKey, dict]:
    """The key that signed the request and its body, or an ApiError: bad
    JSON 400; unknown key, bad or missing signature 401; timestamp outside
    ``[console] api_window`` 401; a signature seen before 401 (replay)."""
    c = web.ctx(request)
    body = await _body(request)
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"the body is not JSON: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    sent = request.headers.get("hmac2")
    key = await run_in_threadpool(apikeys.verify, c.store, c.secret, data.get("apikey"), body, sent)
    if key is None:
        raise ApiError(401, "unknown key or bad signature (HMAC2: hex HMAC-SHA256 of the body)")
    now = int(c.now())
    ts = data.get("timestamp")
    window = c.settings.api_window
    if isinstance(ts, bool) or not isinstance(ts, int) or abs(now - ts) > window:
        raise ApiError(401, f"timestamp: not within {window} seconds of the server's clock ({now})")
    nonce = data.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or len(nonce) > 64):
        raise ApiError(400, "nonce: a string of at most 64 characters")
    if not await run_in_threadpool(apikeys.remember, c.store, key, sent, expires=ts + window + 1, now=now):
        raise ApiError(401, "this signature was used already: sign each request anew (replay)")
    return key, data


def _params(m: Method, data: dict) -> dict:
    unknown = sorted(set(data) - set(m.params) - set(RESERVED))
    if unknown:
        raise ApiError(400, f"{m.name}: unknown parameter {unknown[0]!r} (known: {', '.join(m.params) or 'none'})")
    out = {}
    for name, p in m.params.items():
        if name in data and data[name] is not None:
            out[name] = p.parse(name, data[name])
        elif p.required:
            raise ApiError(400, f"{m.name}: the parameter {name!r} is required")
        else:
            out[name] = p.default
    return out


def api_route(m: Method):
    """The route of one method: authentication first, then the parameters,
    then the handler (in a thread: it reads the dataset)."""

    async def endpoint(request: Request) -> Response:
        try:
            key, data = await _authenticate(request)
            call = Call(request, key, _params(m, data))
            result = await run_in_threadpool(m.handler, call)
        except ApiError as e:
            return _error(e.status, e.message)
        if isinstance(result, Response):
            return result
        return Response(json.dumps(result, default=_json), media_type="application/json")

    endpoint.__name__ = "api_" + m.name.replace("/", "_")
    return route(f"/api/{m.name}", endpoint, access="api", methods=("POST",), name=endpoint.__name__)


async def unknown_method(request: Request) -> Response:
    """Any other /api/ path: authenticated like a method, then 404."""
    try:
        await _authenticate(request)
    except ApiError as e:
        return _error(e.status, e.message)
    return _error(404, f"no method {request.path_params['rest']!r}: see /api/openapi.json")


_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


def openapi(server: str = "/") -> dict:
    """The OpenAPI 3.1 description of :data:`METHODS`."""
    paths = {}
    for m in METHODS:
        props: dict[str, Any] = {
            "apikey": {"type": "string", "description": "the key id"},
            "timestamp": {"type": "integer", "description": "the request's time, Unix seconds (UTC)"},
            "nonce": {"type": "string", "maxLength": 64,
                      "description": "optional: any random text, so that two identical requests in one second "
                                     "have different signatures (each is accepted once)"},
        }
        props.update({n: p.schema() for n, p in m.params.items()})
        required = [*REQUIRED, *(n for n, p in m.params.items() if p.required)]
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        errors = {str(s): {"description": d, "content": error}
                  for s, d in ((400, "bad JSON or parameters"),
                               (401, "unknown key, bad signature, timestamp outside the window, or a replay"),
                               (404, "not in the key's scope"))}
        paths[f"/api/{m.name}"] = {"post": {
            "operationId": m.name.replace("/", "_"),
            "summary": m.summary,
            "security": [{"HMAC2": []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": required, "properties": props, "additionalProperties": False}}}},
            "responses": {"200": {"description": "the answer", "content": {m.media: {"schema": m.answer}}},
                          **errors},
        }}
    return {
        "openapi": "3.1.0",
        "info": {"title": "takedown console API", "version": "1",
                 "description": "Requests are signed: header HMAC2 = hex HMAC-SHA256(secret, raw body); "
                                "the body carries apikey and timestamp. See docs/console.md, section API."},
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {"HMAC2": {"type": "apiKey", "in": "header", "name": "HMAC2",
                                          "description": "hex HMAC-SHA256 of the raw body with the key's secret"}},
        },
    }


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi())


ROUTES = [
    route("/api/openapi.json", openapi_json, access="public"),
    *(api_route(m) for m in METHODS),
    route("/api/{rest:path}", unknown_method, access="api", methods=("POST",)),
]
