"""What the HTTP sinkhole answers: response policies, sans-I/O (docs/notice.md).

:class:`ResponsePolicy` turns a policy name and a parsed request into the
bytes of a complete HTTP/1.1 response, or None for ``silent``:

``silent``    close without answering.
``empty``     200 with an empty body.
``notfound``  404 with a short text body.
``notice``    the notice page for infected users (as the Dutch police showed
              Bredolab's victims): what happened, what to do, where to get
              help. English and Japanese are shipped; the language follows
              Accept-Language (RFC 9110 12.5.4), English when nothing matches.
``template``  an operator's Jinja2 template, rendered per request with the
              request's fields (host, path, family, rule, client_ip, time...).

Every response carries Date, Server, Content-Type, Content-Length,
``Connection: keep-alive`` or ``close`` and ``Cache-Control: no-store``;
HTML pages also carry a Content-Security-Policy that lets them load nothing
(they are self-contained). HEAD gets the headers without the body. CONNECT
never gets a 2xx (a 2xx means "tunnel established", RFC 9110 9.3.6): it gets
405 and the connection is closed. Nothing is ever forwarded.

Cost. Responses depend on (policy, language, family, keep-alive, HEAD) and
the Date header, which changes once a second: each is built once per second
and then returned as one bytes object from a dict. Notice bodies are rendered
once per (language, family) and kept. Only ``template`` renders per request
(Jinja2, tens of microseconds).

Templates are checked when the policy is built, not when a bot arrives:
every notice template (shipped or the operator's) and the operator's
template file are compiled and rendered once with sample values, and any
error becomes a :class:`~takedown.errors.TemplateError` naming the file and
line. Undefined variables are errors (``StrictUndefined``), so a misspelt
variable is caught then too.
"""

from __future__ import annotations

import re
import time
import traceback
from datetime import datetime, timezone
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path

import jinja2

from takedown.errors import TemplateError
from takedown.lists import display_path

__all__ = ["DEFAULT_OPERATOR", "POLICIES", "ResponsePolicy", "TEMPLATE_DIR"]

POLICIES = ("silent", "empty", "notfound", "notice", "template")
DEFAULT_OPERATOR = "the operator of this sinkhole"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_LANGUAGE = "en"

_NOTICE_RE = re.compile(r"notice\.([a-z]{2,3}(?:-[a-z0-9]{1,8})?)\.html\.j2")

_REASONS = {
    200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 413: "Content Too Large", 414: "URI Too Long",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 505: "HTTP Version Not Supported",
}
_HTML = "text/html; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"
# The notice is self-contained: let it load nothing, run nothing.
_HTML_HEADERS = (
    "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
)
_LANG_CACHE_MAX = 1024
_FULL_MAX = 4096


def _reason(status: int) -> str:
    reason = _REASONS.get(status)
    if reason is None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
    return reason


class ResponsePolicy:
    """Builds response bytes for the policies above. One per listener; not
    thread-safe (one per worker process, as everything in the sensor)."""

    def __init__(
        self,
        *,
        operator: str = DEFAULT_OPERATOR,
        contact_url: str | None = None,
        cert_url: str | None = None,
        template_dir: Path | None = None,
        template_file: Path | None = None,
        server_header: str = "sinkhole",
    ) -> None:
        if not server_header or any(c in server_header for c in "\r\n\0"):
            raise ValueError("server_header must be one line of text")  # it goes into a header
        self.operator = operator if operator and operator.strip() else DEFAULT_OPERATOR
        self.contact_url = contact_url
        self.cert_url = cert_url
        self.server_header = server_header
        self.template_dir = Path(template_dir) if template_dir is not None else None
        self.template_file = Path(template_file) if template_file is not None else None
        self._server = f"Server: {server_header}\r\n"
        # Notice templates: the operator's directory first, then the shipped ones.
        dirs = [str(self.template_dir)] if self.template_dir is not None else []
        self._env = _environment(jinja2.FileSystemLoader(dirs + [str(TEMPLATE_DIR)]))
        self.languages = self._find_languages()
        self._notice_templates = {lang: self._load(self._env, f"notice.{lang}.html.j2", None)
                                  for lang in self.languages}
        self._notice_bodies: dict[tuple[str, str | None], bytes] = {}
        for lang in self.languages:  # render once now: errors surface at load time
            self._notice_body(lang, None)
            self._notice_body(lang, "example-family")
        self._notice_bodies.clear()
        self._operator_template: jinja2.Template | None = None
        if self.template_file is not None:
            env = _environment(jinja2.FileSystemLoader(str(self.template_file.parent)))
            self._operator_template = self._load(env, self.template_file.name, self.template_file)
            self._render_operator(None, "example-family", "example-rule", "192.0.2.1", "example.com", "/")
        self._lang_cache: dict[str, str] = {}
        self._second = -1
        self._date = b""
        self._full: dict[tuple, bytes] = {}

    # -- public --------------------------------------------------------------

    def render(self, policy: str, request, *, family: str | None, rule: str | None,
               client_ip: str, keep_alive: bool) -> bytes | None:
        """The response to ``request`` (a takedown.net.http.Request, or None
        when there is none to look at) under ``policy``, or None for silent.

        ``keep_alive`` decides the Connection header; the caller closes the
        connection after a ``Connection: close`` response.
        """
        return self.answer(policy, request, family, rule, client_ip, keep_alive)

    def answer(self, policy: str, request, family: str | None, rule: str | None, client_ip: str,
               keep_alive: bool) -> bytes | None:
        """:meth:`render` with positional arguments (the check-in path's
        call: keyword arguments cost about 0.15 us more per request)."""
        if policy == "silent":
            return None
        now = time.time()
        if int(now) != self._second:
            self._tick(now)
        method = request.method if request is not None else "GET"
        head = method == "HEAD"
        if method == "CONNECT":
            key = ("connect",)
        elif policy == "empty" or policy == "notfound":
            key = (policy, keep_alive, head)
        elif policy == "notice" or (policy == "template" and self._operator_template is None):
            key = ("notice", self._language(request), family, keep_alive, head)
        elif policy == "template":
            return self._template_response(request, family, rule, client_ip, keep_alive, head, now)
        else:
            raise ValueError(f"unknown response policy {policy!r} (expected one of {', '.join(POLICIES)})")
        out = self._full.get(key)
        if out is None:
            out = self._build(key)
        return out

    def command(self, status: int, content_type: str, body: bytes, *, keep_alive: bool, head: bool) -> bytes:
        """A command response (takedown.net.commands): ``status`` with
        ``body`` as ``content_type``, with the headers every response
        carries (Date, Server, Content-Length, Connection, Cache-Control);
        HEAD gets the headers only. Built once a second, as the others."""
        now = time.time()
        if int(now) != self._second:
            self._tick(now)
        key = ("command", status, content_type, body, keep_alive, head)
        out = self._full.get(key)
        if out is None:
            out = self._build(key)
        return out

    def bad_request(self, status: int, reason: str) -> bytes:
        """The answer to a request the parser refused (400, 413, 414, 431,
        505...), always with ``Connection: close``. ``reason`` is for the
        event log and is not sent: the body is the status line's text."""
        now = time.time()
        if int(now) != self._second:
            self._tick(now)
        key = ("error", status)
        out = self._full.get(key)
        if out is None:
            out = self._build(key)
        return out

    def notice_html(self, lang: str = DEFAULT_LANGUAGE, family: str | None = None) -> str:
        """The notice page's HTML (for previews: ``takedown`` docs, tests)."""
        if lang not in self._notice_templates:
            raise ValueError(f"no notice template for language {lang!r} (have: {', '.join(self.languages)})")
        return self._notice_body(lang, family).decode("utf-8")

    # -- building ------------------------------------------------------------

    def _tick(self, now: float) -> None:
        """A new second: a new Date header, and every cached response goes."""
        self._second = int(now)
        self._date = f"Date: {formatdate(self._second, usegmt=True)}\r\n".encode("ascii")
        self._full = {}

    def _build(self, key: tuple) -> bytes:
        kind = key[0]
        if kind == "connect":
            out = self._response(405, _TEXT, b"", False, extra="Allow: GET, HEAD, POST\r\n")
        elif kind == "error":
            status = key[1]
            out = self._response(status, _TEXT, f"{status} {_reason(status)}\n".encode("ascii"), False)
        elif kind == "empty":
            _, keep_alive, head = key
            out = self._response(200, _TEXT, b"", keep_alive, head=head)
        elif kind == "notfound":
            _, keep_alive, head = key
            out = self._response(404, _TEXT, b"404 Not Found\n", keep_alive, head=head)
        elif kind == "command":
            _, status, ctype, body, keep_alive, head = key
            out = self._response(status, ctype, body, keep_alive, head=head)
        else:  # notice
            _, lang, family, keep_alive, head = key
            body = self._notice_body(lang, family)
            out = self._response(200, _HTML, body, keep_alive, head=head,
                                 extra=f"Content-Language: {lang}\r\nVary: Accept-Language\r\n" + _HTML_HEADERS)
        if len(self._full) >= _FULL_MAX:
            self._full = {}
        self._full[key] = out
        return out

    def _response(self, status: int, ctype: str, body: bytes, keep_alive: bool, *,
                  head: bool = False, extra: str = "") -> bytes:
        conn = "keep-alive" if keep_alive else "close"
        top = (f"HTTP/1.1 {status} {_reason(status)}\r\n").encode("ascii")
        rest = (f"{self._server}Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                f"Connection: {conn}\r\nCache-Control: no-store\r\n{extra}\r\n").encode("utf-8")
        return top + self._date + rest + (b"" if head else body)

    def _notice_body(self, lang: str, family: str | None) -> bytes:
        key = (lang, family)
        body = self._notice_bodies.get(key)
        if body is None:
            template = self._notice_templates[lang]
            html = self._run(template, {
                "operator": self.operator if self.operator != DEFAULT_OPERATOR else None,
                "contact_url": self.contact_url, "cert_url": self.cert_url,
                "family": family, "lang": lang,
            })
            body = html.encode("utf-8")
            if len(self._notice_bodies) >= _FULL_MAX:
                self._notice_bodies.clear()
            self._notice_bodies[key] = body
        return body

    def _template_response(self, request, family, rule, client_ip, keep_alive, head, now) -> bytes:
        host = request.host if request is not None else None
        path = request.path if request is not None else "/"
        html = self._render_operator(request, family, rule, client_ip, host, path, now)
        return self._response(200, _HTML, html.encode("utf-8"), keep_alive, head=head, extra=_HTML_HEADERS)

    def _render_operator(self, request, family, rule, client_ip, host, path, now: float | None = None) -> str:
        when = datetime.fromtimestamp(now if now is not None else time.time(), timezone.utc)
        return self._run(self._operator_template, {  # type: ignore[arg-type]
            "host": host, "path": path,
            "query": request.query if request is not None else "",
            "method": request.method if request is not None else "GET",
            "user_agent": request.user_agent if request is not None else None,
            "family": family, "rule": rule, "client_ip": client_ip,
            "time": when.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "operator": self.operator, "contact_url": self.contact_url, "cert_url": self.cert_url,
        })

    # -- language ----------------------------------------------------------------

    def _language(self, request) -> str:
        if request is None:
            return DEFAULT_LANGUAGE
        value = None
        for name, v in request.headers:
            if name == "accept-language":
                value = v
                break
        if not value:
            return DEFAULT_LANGUAGE
        lang = self._lang_cache.get(value)
        if lang is None:
            lang = choose_language(value, self.languages)
            if len(self._lang_cache) >= _LANG_CACHE_MAX:
                self._lang_cache.clear()
            self._lang_cache[value] = lang
        return lang

    # -- templates ----------------------------------------------------------------

    def _find_languages(self) -> tuple[str, ...]:
        found = {m.group(1) for p in TEMPLATE_DIR.iterdir() if (m := _NOTICE_RE.fullmatch(p.name))}
        if self.template_dir is not None:
            try:
                names = [p.name for p in self.template_dir.iterdir()]
            except OSError as e:
                raise TemplateError(f"{display_path(self.template_dir)}: cannot read the notice "
                                    f"template directory: {e.strerror or e}") from None
            found |= {m.group(1) for n in names if (m := _NOTICE_RE.fullmatch(n))}
        if DEFAULT_LANGUAGE not in found:  # cannot happen: shipped
            raise TemplateError(f"{TEMPLATE_DIR}: notice.{DEFAULT_LANGUAGE}.html.j2 is missing")
        return tuple(sorted(found, key=lambda x: (x != DEFAULT_LANGUAGE, x)))

    def _load(self, env: jinja2.Environment, name: str, path: Path | None) -> jinja2.Template:
        shown = display_path(path) if path is not None else name
        try:
            return env.get_template(name)
        except jinja2.TemplateSyntaxError as e:
            where = display_path(e.filename) if e.filename else shown
            raise TemplateError(f"{where}:{e.lineno}: template syntax error: {e.message}") from None
        except jinja2.TemplateNotFound as e:
            missing = shown if e.name == name else f"{e.name} (used by {shown})"
            raise TemplateError(f"{missing}: template file not found") from None
        except UnicodeDecodeError as e:
            raise TemplateError(f"{shown}: not valid UTF-8 text ({e.reason})") from None
        except OSError as e:
            raise TemplateError(f"{shown}: cannot read: {e.strerror or e}") from None

    def _run(self, template: jinja2.Template, context: dict) -> str:
        try:
            return template.render(context)
        except Exception as e:  # noqa: BLE001 - any error of an operator's template
            raise TemplateError(_render_error(template, e)) from None


def _environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    return jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,
    )


def _render_error(template: jinja2.Template, e: Exception) -> str:
    """FILE:LINE: message for an error raised while rendering ``template``
    (Jinja2 rewrites tracebacks so that template frames carry the template's
    file name and line)."""
    filename = template.filename or template.name or "template"
    line = None
    if isinstance(e, jinja2.TemplateSyntaxError) and e.lineno:  # in an included template
        filename, line = e.filename or filename, e.lineno
    else:
        for frame in traceback.extract_tb(e.__traceback__):
            if frame.filename == filename or (template.filename is None and frame.filename == "<template>"):
                line = frame.lineno
            elif frame.filename.endswith((".j2", ".html", ".jinja", ".jinja2")):
                filename, line = frame.filename, frame.lineno
    where = display_path(filename) if filename and filename != "<template>" else "template"
    msg = getattr(e, "message", None) or str(e) or type(e).__name__
    return f"{where}:{line if line is not None else 1}: template error: {msg}"


def choose_language(accept_language: str, available: tuple[str, ...]) -> str:
    """The best of ``available`` for an Accept-Language value (RFC 9110
    12.5.4, RFC 4647 basic filtering), or English (the first of
    ``available``) when none is acceptable.

    Ranges are compared case-insensitively; "ja-JP" matches a "ja" template,
    and a "pt-br" template also serves "pt"; "*" matches the default.
    """
    best = None
    best_q = 0.0
    for i, item in enumerate(accept_language.split(",")):
        rng, _, params = item.partition(";")
        rng = rng.strip().lower()
        if not rng:
            continue
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:
                    q = 0.0
        if q <= best_q:
            continue
        match = None
        if rng == "*":
            match = available[0]
        elif rng in available:
            match = rng
        else:
            primary = rng.split("-", 1)[0]
            if primary in available:
                match = primary
            else:
                match = next((a for a in available if a.split("-", 1)[0] == primary), None)
        if match is not None:
            best, best_q = match, q
        if i > 64:  # a pathological header: enough
            break
    return best if best is not None else available[0]
