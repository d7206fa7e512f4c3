"""HTTP/1.0 and 1.1 requests for the sinkhole, sans-I/O: bytes in, requests out.

A :class:`RequestParser` holds one connection's state. :meth:`RequestParser.feed`
takes whatever the socket delivered and returns the requests it completed, in
order (several when a client pipelines); a partial request is kept until the
rest arrives. Malformed or over-limit input raises :class:`HttpError`, whose
``status`` the connection is answered with before it is closed; the parser
then refuses everything (the same error again).

Who decides what
----------------
*Framing* (where a header section ends, where a body ends) is found here
with byte searches, so that every limit is exact and enforced before anything
grows: the header section is looked for with ``bytes.find`` and refused past
``max_header_bytes`` (431; 414 when the request line alone does not fit), a
Content-Length beyond ``max_body_bytes`` is refused before its body is read
(413), a chunked body when its chunks pass it. *Validity* is llhttp's
(through httptools), in strict mode: methods, URL characters, header tokens
and values, Content-Length syntax and duplicates, Transfer-Encoding, chunk
syntax. llhttp is fed exactly the bytes of one message at a time, in this
module's boundaries, so a pipelined request is framed and limited like the
first, and llhttp never holds more than one message.

Fast paths: known header sections
---------------------------------
Bots send the same request again and again: same path, same headers in the
same order, byte for byte. A header section llhttp accepted once is accepted
again (same bytes, same parser state: the start of a message), so the parsed
result is kept, keyed by the exact bytes (``ParserCaches.known``, bounded,
cleared when full, as the DNS answer cache is; one :class:`ParserCaches` per
listener, passed to its parsers). On a hit llhttp is not run at all,
neither on the header section nor on a Content-Length body (llhttp only
counts body bytes; that count is done here), and the request object itself
is reused when there is no body (it is frozen).

Second level (``ParserCaches.lines``): the same header lines under a new request
line (a bot id or a counter in the URL). The whole section still goes
through llhttp, in a callback-free parser (C only, about 0.3 us), and only
the request line is parsed in Python; keep-alive is taken from what llhttp
decided for the same lines and version. Anything unusual (CONNECT, an
error, a version not seen with these lines) falls back to the ordinary path,
so the cached paths never decide differently from it (tests/test_net_http.py
checks this with generated requests).

Chunked requests, CONNECT and upgrades are never cached. Measured costs are
in docs/notice.md ("Performance").

Compiled twin
-------------
``takedown/net/_http_c.pyx`` (issue 18; docs/performance.md, "The request
parser in C") holds the request-line split (:func:`_request_line`) as a loop
over the bytes, and ``feed_whole``: :meth:`RequestParser.feed` for one whole
request in one read on the two fast paths above, in one C function instead
of six Python frames. This module uses them when the extension is built and
``TAKEDOWN_PURE`` is not ``1`` (:mod:`takedown.accel`); the pure code stays
the reference, and tests/test_net_http_accel.py holds the two to the same
requests, errors, parser states and cache contents.

Why not a pure-Python parser for simple GETs (measured on the 2-core
development machine, Python 3.11, httptools 0.9; header parsing of a
six-header GET): a validating regular expression plus ``findall``,
lowercasing and a dict took 4.3 us; llhttp alone validates the same bytes in
0.3 us and with one Python callback per header in 1.1 us. Regular
expressions as strict as llhttp cost more than the callbacks they would
save, so llhttp stays the only judge, and what is kept small is the Python
around it: one callback per header (extending a flat list with the raw
pair), names and values decoded once per request (a name sequence's
lowercased form and the positions of Host, User-Agent, Content-Length... are
computed once per distinct sequence, :class:`_Layout`), the request built
without the frozen dataclass's per-field ``object.__setattr__``.

Deliberate leniency
-------------------
A sinkhole records what bots send, and forwards nothing, so there is no
second parser to disagree with: a missing Host header, or several, is
accepted (the first is reported; RFC 9112 3.2 would answer 400); empty lines
before a request line are skipped (RFC 9112 2.2; old Internet Explorer sent
CRLF after POST bodies). Everything else llhttp refuses is refused (400).
HTTP/0.9, HTTP/2.0 and the HTTP/2 preface get 505.

Never proxied
-------------
``CONNECT`` and upgrade requests (``Upgrade`` with ``Connection: upgrade``)
are returned as requests with ``keep_alive=False``; their body, if any, is
not read and the connection's remaining bytes are discarded (they would be
tunnel or WebSocket data). :mod:`takedown.net.responses` answers CONNECT with
a non-2xx status (a 2xx would mean "tunnel established", RFC 9110 9.3.6) and
the connection is closed. The sinkhole never connects anywhere.

After a request with ``keep_alive=False`` (``Connection: close``, HTTP/1.0
without keep-alive, CONNECT, upgrade) later bytes are discarded: RFC 9112 9.6
forbids processing further requests on a connection the client closes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from types import SimpleNamespace

import httptools

from takedown.accel import compiled

__all__ = ["HttpError", "ParserCaches", "Request", "RequestParser"]


@dataclass(frozen=True, slots=True)
class Request:
    method: str  # "GET", as sent (llhttp accepts only its known methods, upper case)
    target: str  # the request-target as sent: "/gate.php?a=1", "http://x/y", "host:443", "*"
    path: str  # "/gate.php" ("*" for OPTIONS *, "" for CONNECT); no query, no fragment
    query: str  # "a=1" (without "?"; "" when absent)
    version: str  # "1.0" or "1.1"
    host: str | None  # first Host header as sent, or the authority of an absolute-form/CONNECT target
    user_agent: str | None  # first User-Agent header
    headers: tuple[tuple[str, str], ...]  # in order received; names lowercased, values as sent
    body_len: int  # decoded body length (after de-chunking)
    body_sha256: str | None  # hex SHA-256 of the decoded body; None when there is no body
    body_head: bytes  # the first body_head_bytes of the decoded body
    keep_alive: bool  # the connection may carry another request after the response


class _RequestBuilder:
    """Builds a :class:`Request` in 0.3 us instead of 1.2 us.

    A frozen dataclass sets each of its 12 fields through
    ``object.__setattr__``; this class has the same slots, sets them with
    plain stores, then becomes a Request (``__class__`` assignment between
    classes of identical slot layout). The object is a Request in every
    respect: its type, equality, hash, repr, and frozenness.
    """

    __slots__ = Request.__slots__

    def __init__(self, method, target, path, query, version, host, user_agent, headers,
                 body_len, body_sha256, body_head, keep_alive):
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self.host = host
        self.user_agent = user_agent
        self.headers = headers
        self.body_len = body_len
        self.body_sha256 = body_sha256
        self.body_head = body_head
        self.keep_alive = keep_alive
        self.__class__ = Request  # type: ignore[assignment]


_request = _RequestBuilder


class HttpError(Exception):
    """A request that cannot be served: answer ``status`` and close.

    ``reason`` says what was wrong, for the event log ("Invalid method
    encountered", "header section larger than 8192 bytes").
    """

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason

    def __repr__(self) -> str:
        return f"HttpError({self.status}, {self.reason!r})"


# Parser states.
_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILERS, _CLOSED, _FAILED = range(8)

_VERSIONS = {"HTTP/1.1": "1.1", "HTTP/1.0": "1.0"}
_MAX_CHUNK_LINE = 4096  # a chunk-size line with its extensions
_CONTINUE = "100-continue"
_BAD_VERSION = "HTTP version not supported (only 1.0 and 1.1)"


class _Llhttp:
    """The callbacks llhttp calls: as little Python as possible per call."""

    __slots__ = ("on_header", "flat", "done", "keep_alive", "parser")

    def __init__(self) -> None:
        self.flat: list[bytes] = []  # name, value, name, value... as llhttp delivers them
        self.done = 0
        self.keep_alive = False
        self.parser: httptools.HttpRequestParser | None = None
        extend = self.flat.extend
        self.on_header = lambda name, value: extend((name, value))

    def on_headers_complete(self) -> None:
        # llhttp resets its flags when the message completes: ask now.
        self.keep_alive = self.parser.should_keep_alive()  # type: ignore[union-attr]

    def on_message_complete(self) -> None:
        self.done += 1


class _Layout:
    """What a sequence of header names says, computed once per distinct
    sequence (bots send the same headers in the same order every time)."""

    __slots__ = ("names", "host", "ua", "length", "chunked", "expect")

    def __init__(self, joined: bytes):
        names = joined.decode("latin-1").lower().split("\0")
        self.names = names
        self.host = names.index("host") if "host" in names else -1
        self.ua = names.index("user-agent") if "user-agent" in names else -1
        self.length = names.index("content-length") if "content-length" in names else -1
        self.expect = names.index("expect") if "expect" in names else -1
        # Any Transfer-Encoding llhttp accepted in a request ends with chunked.
        self.chunked = "transfer-encoding" in names


# A header section llhttp accepted, by its exact bytes: (request, fields,
# nheaders, length, expect). ``request`` is body-less (returned as is when
# length == 0); ``fields`` are its first eight fields, for a request with a body.
_Known = tuple


class _Lines:
    """Header lines llhttp accepted (a header section minus its request
    line), parsed: the second level of the cache, for requests that differ
    only in their request line (a bot id or a counter in the URL)."""

    __slots__ = ("headers", "host", "ua", "nheaders", "length", "expect", "keep")

    def __init__(self, headers, host, ua, nheaders: int, length: int, expect: bool):
        self.headers = headers
        self.host = host  # the Host header (an absolute-form target overrides it per request)
        self.ua = ua
        self.nheaders = nheaders
        self.length = length  # Content-Length, 0 when none
        self.expect = expect  # "Expect: 100-continue" (honoured for HTTP/1.1 only)
        self.keep: dict[str, bool] = {}  # version -> keep-alive, as llhttp decided it


class ParserCaches:
    """What the parsers of one listener learn from the requests they parse,
    shared by its connections (owned by the listener: see
    :class:`takedown.net.connection.ListenerState`; a parser made without
    one gets its own). Every table is bounded and cleared when full, as the
    DNS answer cache is:

    - ``known``: whole header sections llhttp accepted, by their exact bytes
      (the first level: a hit runs no llhttp at all);
    - ``lines``: header lines under any request line (the second level);
    - ``layouts``: what a sequence of header names says (:class:`_Layout`);
    - ``seen``: hashes of keys offered once (a key is admitted the second time);
    - ``hosts``: Host header values without port, lowercased (for events);
    - a callback-free llhttp parser that validates a section whose lines are
      known (:meth:`accepts`).

    Nothing here depends on the operation (rules, responses), only on what
    llhttp accepts, so a reload keeps them.
    """

    __slots__ = ("known", "lines", "layouts", "seen", "hosts", "known_max", "layouts_max", "key_max",
                 "seen_max", "hosts_max", "_validator")

    def __init__(self, *, known_max: int = 8192, layouts_max: int = 4096, key_max: int = 2048,
                 seen_max: int = 65536, hosts_max: int = 50_000) -> None:
        self.known: dict[bytes, _Known] = {}
        self.lines: dict[bytes, _Lines] = {}
        self.layouts: dict[bytes, _Layout] = {}
        self.seen: set[int] = set()
        self.hosts: dict[str, str | None] = {}
        self.known_max = known_max  # entries of known and of lines
        self.layouts_max = layouts_max
        self.key_max = key_max  # header sections longer than this are not kept
        self.seen_max = seen_max
        self.hosts_max = hosts_max
        self._validator = httptools.HttpRequestParser(object())

    def clear(self) -> None:
        self.known.clear()
        self.lines.clear()
        self.layouts.clear()
        self.seen.clear()
        self.hosts.clear()

    def admit(self, key: bytes) -> bool:
        """True the second time ``key`` is offered to a cache (by hash: a
        collision only admits a key early). One-off sections, such as a request
        with a unique Host, then cost a set insertion instead of an entry that
        would only push useful ones out."""
        if len(key) > self.key_max or type(key) is not bytes:
            return False
        h = hash(key)
        seen = self.seen
        if h in seen:
            return True
        if len(seen) >= self.seen_max:
            seen.clear()
        seen.add(h)
        return False

    def remember(self, key: bytes, known: _Known) -> None:
        if len(self.known) >= self.known_max:
            self.known.clear()
        self.known[key] = known

    def remember_lines(self, lines_key: bytes | None, key: bytes, headers, host, ua, nheaders: int, length: int,
                       expect: bool, version: str, keep_alive: bool) -> None:
        """Record the header lines of ``key`` (a section llhttp just accepted)."""
        if lines_key is None:
            lines_key = key[key.find(b"\r\n"):]
        lines = self.lines.get(lines_key)
        if lines is None:
            if not self.admit(lines_key):
                return
            if len(self.lines) >= self.known_max:
                self.lines.clear()
            lines = self.lines[lines_key] = _Lines(headers, host, ua, nheaders, length, expect)
        lines.keep[version] = keep_alive

    def layout(self, joined: bytes) -> _Layout:
        lay = self.layouts.get(joined)
        if lay is None:
            if len(self.layouts) >= self.layouts_max:
                self.layouts.clear()
            lay = self.layouts[joined] = _Layout(joined)
        return lay

    def accepts(self, section: bytes, reusable: bool) -> bool:
        """Whether llhttp accepts a whole header section whose header lines
        are known (only its request line is new), checked in C by a shared
        callback-free parser; ``section`` may carry the whole Content-Length
        body after it (the parser then ends at the start of the next
        message). The parser is replaced after any use that leaves it inside
        a message (a body follows, an error, an upgrade, Connection: close)."""
        try:
            self._validator.feed_data(section)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            self._validator = httptools.HttpRequestParser(object())
            return False
        if not reusable:
            self._validator = httptools.HttpRequestParser(object())
        return True

    def host(self, value: str | None) -> str | None:
        """Host header without port, lowercased (cached: bots repeat their Host)."""
        if not value:
            return None
        h = self.hosts.get(value)
        if h is None:
            if len(self.hosts) > self.hosts_max:
                self.hosts.clear()
            h = self.hosts[value] = _host_uncached(value)
        return h


def _host_uncached(value: str) -> str:
    v = value.strip().lower()
    if v.startswith("["):
        return v[1 : v.find("]")] if "]" in v else v
    return v.rsplit(":", 1)[0] if v.count(":") == 1 else v


def _llhttp_error(e: Exception) -> HttpError:
    reason = str(e) or type(e).__name__
    if reason == "Pause on PRI/Upgrade":  # "PRI * HTTP/2.0": the HTTP/2 preface
        return HttpError(505, "HTTP/2 with prior knowledge is not supported")
    return HttpError(400, reason)


def _request_line(key: bytes, line_end: int) -> tuple[str, str, str, str, str, str | None] | None:
    """(method, target, path, query, version, authority or None) of the
    request line ``key[:line_end]``, or None when it is not three words
    (split as ``str.split()`` splits) whose last is ``HTTP/1.1`` or
    ``HTTP/1.0``. ``authority``: that of an absolute-form or CONNECT target
    (RFC 9112 3.2), which stands for the Host header. Its compiled twin is
    ``takedown.net._http_c.request_line`` (a loop over the bytes)."""
    parts = key[:line_end].decode("latin-1").split()
    version = _VERSIONS.get(parts[2]) if len(parts) == 3 else None
    if version is None:
        return None
    method = parts[0]
    target = parts[1]
    if target[0] == "/" and "?" not in target and "#" not in target:
        return method, target, target, "", version, None
    path, query, authority = _split_target(target, method)
    return method, target, path, query, version, authority


def _split_target(target: str, method: str) -> tuple[str, str, str | None]:
    """(path, query, authority or None) of a request-target (RFC 9112 3.2)."""
    if target[0] == "/":
        authority = None
        rest = target
    elif method == "CONNECT":
        return "", "", target
    elif target == "*":
        return "*", "", None
    else:  # absolute-form: scheme "://" authority path-abempty [ "?" query ]
        _scheme, _, after = target.partition("://")
        end = len(after)
        for c in "/?#":
            i = after.find(c)
            if 0 <= i < end:
                end = i
        authority = after[:end].rpartition("@")[2] or None
        rest = after[end:]
        if not rest.startswith("/"):
            rest = "/" + rest
    if "#" in rest:
        rest = rest.partition("#")[0]
    path, _, query = rest.partition("?")
    return path, query, authority


class RequestParser:
    """One connection's HTTP request stream. See the module docstring."""

    __slots__ = (
        "max_header_bytes", "max_headers", "max_body_bytes", "body_head_bytes",
        "_cb", "_hp", "_state", "_buf", "_scanned", "_fed", "_error", "_continue",
        "_fields", "_remaining", "_hash", "_head", "_body_len", "_trailer_bytes", "_llhttp_body",
        "caches", "_known",
    )

    def __init__(
        self,
        *,
        max_header_bytes: int = 8192,
        max_headers: int = 100,
        max_body_bytes: int = 1_048_576,
        body_head_bytes: int = 256,
        caches: ParserCaches | None = None,
    ) -> None:
        if max_header_bytes < 16 or max_headers < 1 or max_body_bytes < 0 or body_head_bytes < 0:
            raise ValueError("limits must not be negative; max_header_bytes at least 16, max_headers at least 1")
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.max_body_bytes = max_body_bytes
        self.body_head_bytes = body_head_bytes
        self.caches = caches if caches is not None else ParserCaches()
        self._known = self.caches.known  # never replaced (cleared in place)
        # llhttp with callbacks, made on first use (_callbacks): a request
        # whose header lines are known never needs it, and making it costs
        # more than parsing such a request (2 us of 10 per connection)
        self._cb: _Llhttp | None = None
        self._hp: httptools.HttpRequestParser | None = None
        self._state = _HEAD
        self._buf = b""  # unconsumed bytes of a header section, chunk-size line or trailer line
        self._scanned = 0  # bytes of _buf already searched for the end of the header section
        self._fed = 0  # bytes of _buf already fed to llhttp
        self._error: HttpError | None = None
        self._continue = False
        # The request whose body is being read: its fields but the body ones.
        self._fields: tuple | None = None
        self._remaining = 0
        self._hash = None
        self._head = b""
        self._body_len = 0
        self._trailer_bytes = 0
        self._llhttp_body = True  # llhttp parsed this request's headers and expects its body

    # -- public --------------------------------------------------------------

    def pending(self) -> bool:
        """True while a request has started and is not complete (a slow-request timer runs)."""
        st = self._state
        if st == _HEAD:
            return bool(self._buf)
        return st != _CLOSED and st != _FAILED

    def expects_continue(self) -> bool:
        """True once after a request said ``Expect: 100-continue`` and its body
        has not arrived: the server may send ``HTTP/1.1 100 Continue``
        (clients send the body after a short wait anyway)."""
        if self._continue:
            self._continue = False
            return True
        return False

    @property
    def closed(self) -> bool:
        """No further request will be parsed (after keep_alive=False or an error)."""
        return self._state >= _CLOSED

    def feed(self, data: bytes) -> list[Request]:
        """The requests completed by ``data``, in order. Raises HttpError."""
        if type(data) is not bytes:
            data = bytes(data)
        st = self._state
        end = -2  # not searched yet
        key = None  # the first header section, if feed() sliced it
        if st == _HEAD and not self._buf:
            if _feed_whole is not None:
                # The compiled twin of the two fast paths (known section, known lines) for one whole request.
                got = _feed_whole(self, data)
                if got is not None:
                    return got
            # Fast path: one whole request whose header section is known.
            end = data.find(b"\r\n\r\n")
            if end > 0:
                hend = end + 4
                n = len(data)
                key = data if hend == n else data[:hend]
                known = self._known.get(key)
                if known is not None and hend <= self.max_header_bytes and known[2] <= self.max_headers:
                    req, fields, _nh, length, _expect = known
                    if not length:
                        if hend == n:
                            if not req.keep_alive:
                                self._state = _CLOSED
                            return [req]
                    elif hend + length == n and length <= self.max_body_bytes:
                        body = data[hend:]
                        method, target, path, query, version, host, ua, headers = fields
                        keep_alive = req.keep_alive
                        if not keep_alive:
                            self._state = _CLOSED
                        return [_request(method, target, path, query, version, host, ua, headers,
                                         length, hashlib.sha256(body).hexdigest(),
                                         body if length <= self.body_head_bytes else body[:self.body_head_bytes],
                                         keep_alive)]
        elif st >= _CLOSED:
            if st == _CLOSED:
                return []
            raise self._error  # type: ignore[misc]
        out: list[Request] = []
        if self._buf:
            data = self._buf + data
            self._buf = b""
        try:
            self._run(data, out, end, key)
        except HttpError as e:
            self._state = _FAILED
            self._error = e
            self._buf = b""
            self._fields = None
            self._hash = None
            raise
        return out

    # -- the loop ------------------------------------------------------------

    def _run(self, data: bytes, out: list[Request], end: int, key: bytes | None) -> None:
        """``end``: where the first header section ends, if feed() looked (-2: not searched);
        ``key``: that section's bytes if feed() sliced them (None: not)."""
        pos = 0
        n = len(data)
        while pos < n:
            st = self._state
            if st == _HEAD:
                pos = self._head_section(data, pos, n, out, end, key)
                end = -2
                key = None
            elif st == _BODY:
                pos = self._body(data, pos, n, out)
            elif st == _CLOSED:
                return
            else:
                pos = self._chunked(data, pos, n, out)

    def _callbacks(self) -> _Llhttp:
        """llhttp with callbacks, made now if not yet: always at the start of
        a message (the known paths never leave one half-parsed), so a new
        parser is in the state the old one would be in."""
        cb = self._cb
        if cb is None:
            cb = self._cb = _Llhttp()
            self._hp = cb.parser = httptools.HttpRequestParser(cb)
        return cb

    def _llhttp(self, data) -> bool:
        """Feed llhttp; False when it signalled an upgrade (CONNECT, Upgrade)."""
        try:
            self._hp.feed_data(data)  # type: ignore[union-attr]
        except httptools.HttpParserUpgrade:
            return False
        except httptools.HttpParserError as e:
            raise _llhttp_error(e) from None
        return True

    def _head_section(self, data: bytes, pos: int, n: int, out: list[Request], end: int,
                      key: bytes | None = None) -> int:
        fed = self._fed
        if not fed:
            # Empty lines before a request line are ignored (RFC 9112 2.2), as llhttp does.
            c = data[pos]
            if c == 13 or c == 10:
                end = -2
                key = None
                while c == 13 or c == 10:
                    pos += 1
                    if pos == n:
                        return n
                    c = data[pos]
        if end == -2:
            end = data.find(b"\r\n\r\n", pos + self._scanned)
        if end < 0 or end + 4 - pos > self.max_header_bytes:
            return self._partial_head(data, pos, n, end)
        hend = end + 4
        if key is None:
            key = data if pos == 0 and hend == n else data[pos:hend]
        if not fed:
            known = self._known.get(key)
            if known is not None and known[2] <= self.max_headers:
                self._llhttp_body = False
                req, fields, _nh, length, expect = known
                if length:
                    return self._body_start(data, hend, n, out, fields, req.keep_alive, length, expect, None)
                out.append(req)
                if req.keep_alive:
                    return hend
                self._state = _CLOSED
                return n
            line_end = key.find(b"\r\n")
            lines_key = key[line_end:]
            lines = self.caches.lines.get(lines_key)
            if lines is not None and lines.nheaders <= self.max_headers:
                pos = self._known_lines(key, line_end, lines, data, hend, n, out)
                if pos >= 0:
                    return pos
        else:
            lines_key = None
        cb = self._callbacks()
        done = cb.done
        # Feed llhttp the header section (the rest of it, when part was fed early).
        try:
            self._hp.feed_data(key if not fed else memoryview(key)[fed:])  # type: ignore[union-attr]
            ok = True
        except httptools.HttpParserUpgrade:
            ok = False
        except httptools.HttpParserError as e:
            raise _llhttp_error(e) from None
        self._fed = 0
        self._scanned = 0
        self._llhttp_body = True
        line = _request_line(key, key.find(b"\r\n"))
        if line is None:
            raise HttpError(505, _BAD_VERSION)
        method, target, path, query, version, authority = line
        flat = cb.flat
        nheaders = len(flat) >> 1
        if nheaders:
            if nheaders > self.max_headers:
                raise HttpError(431, f"more than {self.max_headers} header fields")
            joined = b"\0".join(flat[0::2])
            lay = self.caches.layouts.get(joined)
            if lay is None:
                lay = self.caches.layout(joined)
            # One decode for all values (NUL cannot occur: llhttp refuses it).
            vs = b"\0".join(flat[1::2]).decode("latin-1")
            flat.clear()
            values = vs.split("\0")
            if " \0" in vs or "\t\0" in vs or vs[-1:] in (" ", "\t"):
                # llhttp keeps trailing whitespace; it is not part of a value (RFC 9110 5.5).
                values = [v.rstrip(" \t") for v in values]
            headers = tuple(zip(lay.names, values))
            host_header = values[lay.host] if lay.host >= 0 else None
            ua = values[lay.ua] if lay.ua >= 0 else None
        else:
            lay = None
            headers = ()
            host_header = ua = None
        host = host_header if authority is None else authority
        if not ok:
            # CONNECT or an upgrade: answered, never tunnelled; nothing more is read.
            out.append(_request(method, target, path, query, version, host, ua, headers,
                                0, None, b"", False))
            self._state = _CLOSED
            return n
        keep_alive = cb.keep_alive
        if cb.done != done:  # llhttp says: no body
            req = _request(method, target, path, query, version, host, ua, headers, 0, None, b"", keep_alive)
            caches = self.caches
            if caches.admit(key):
                caches.remember(key, (req, None, nheaders, 0, False))
            caches.remember_lines(lines_key, key, headers, host_header, ua, nheaders, 0, False, version, keep_alive)
            out.append(req)
            if keep_alive:
                return hend
            self._state = _CLOSED
            return n
        # A body follows: Content-Length or chunked (llhttp would have refused anything else).
        if lay is None:
            raise HttpError(400, "body framing disagrees with llhttp")
        fields = (method, target, path, query, version, host, ua, headers)
        expect = lay.expect >= 0 and version == "1.1" and values[lay.expect].lower() == _CONTINUE
        if lay.chunked:
            return self._body_start(data, hend, n, out, fields, keep_alive, -1, expect, None)
        length = int(values[lay.length]) if lay.length >= 0 else 0  # llhttp checked the digits
        if length == 0:
            raise HttpError(400, "body framing disagrees with llhttp")
        remember = None
        if length <= self.max_body_bytes:
            caches = self.caches
            if caches.admit(key):
                req = _request(method, target, path, query, version, host, ua, headers, 0, None, b"", keep_alive)
                remember = (key, (req, fields, nheaders, length, expect))
            continue_ = lay.expect >= 0 and values[lay.expect].lower() == _CONTINUE
            caches.remember_lines(lines_key, key, headers, host_header, ua, nheaders, length, continue_, version,
                            keep_alive)
        return self._body_start(data, hend, n, out, fields, keep_alive, length, expect, remember)

    def _known_lines(self, key: bytes, line_end: int, lines: _Lines, data: bytes, hend: int, n: int,
                     out: list[Request]) -> int:
        """A header section whose header lines are known: llhttp checks it
        without callbacks, only the request line is parsed here. -1 when this
        does not apply (a version not seen with these lines, CONNECT, an
        error): the caller parses the section the ordinary way."""
        line = _request_line(key, line_end)
        if line is None:
            return -1
        method, target, path, query, version, authority = line
        keep_alive = lines.keep.get(version)
        if keep_alive is None or lines.length > self.max_body_bytes:
            return -1
        caches = self.caches
        length = lines.length
        if length and hend + length <= n:
            # The body is here too: the validator sees the whole message and
            # ends at the start of the next one, reusable (no new parser).
            whole = data if hend + length == n and hend == len(key) else data[hend - len(key):hend + length]
            if not caches.accepts(whole, keep_alive):
                return -1
        elif not caches.accepts(key, keep_alive and not length):
            return -1
        host = lines.host if authority is None else authority
        expect = lines.expect and version == "1.1"
        self._llhttp_body = False  # llhttp (ours) never saw this section
        if length:
            fields = (method, target, path, query, version, host, lines.ua, lines.headers)
            remember = None
            if caches.admit(key):
                req = _request(method, target, path, query, version, host, lines.ua, lines.headers,
                               0, None, b"", keep_alive)
                remember = (key, (req, fields, lines.nheaders, length, expect))
            return self._body_start(data, hend, n, out, fields, keep_alive, length, expect, remember)
        req = _request(method, target, path, query, version, host, lines.ua, lines.headers,
                       0, None, b"", keep_alive)
        if caches.admit(key):
            caches.remember(key, (req, None, lines.nheaders, 0, False))
        out.append(req)
        if keep_alive:
            return hend
        self._state = _CLOSED
        return n

    def _partial_head(self, data: bytes, pos: int, n: int, end: int) -> int:
        """No complete header section within the limit: refuse, or keep what came."""
        limit = self.max_header_bytes
        size = n - pos if end < 0 else end + 4 - pos
        if size > limit:
            if data.find(b"\r\n", pos, pos + limit) < 0:
                raise HttpError(414, f"request line longer than {limit} bytes")
            raise HttpError(431, f"header section larger than {limit} bytes")
        # Show llhttp what is new, so that garbage (a TLS ClientHello, a
        # telnet banner) is refused now, not at a timeout.
        fed = self._fed
        if n - pos > fed:
            done = self._callbacks().done
            ok = self._llhttp(memoryview(data)[pos + fed:])
            if self._cb.done != done:  # "GET /\r\n": an HTTP/0.9 request, complete for llhttp
                raise HttpError(505, _BAD_VERSION)
            if not ok:  # an upgrade is decided at the blank line: cannot happen
                raise HttpError(400, "unexpected upgrade in an incomplete header section")
            self._fed = n - pos
        self._scanned = max(0, n - pos - 3)
        self._buf = data[pos:] if pos else data
        return n

    def _body_start(self, data: bytes, hend: int, n: int, out: list[Request], fields: tuple,
                    keep_alive: bool, length: int, expect: bool, remember) -> int:
        """After a header section with a body: ``length`` bytes, or chunked when -1.
        ``remember``: (key, known) to cache once the length is known to be acceptable."""
        if length >= 0:
            if length > self.max_body_bytes:
                raise HttpError(413, f"Content-Length {length} is over the {self.max_body_bytes}-byte limit")
            if remember is not None and remember[1] is not None:
                self.caches.remember(*remember)
            if hend + length <= n:
                # The whole body is here: one hash call, no state kept.
                body = data[hend:hend + length]
                if self._llhttp_body:
                    done = self._cb.done
                    self._llhttp(body)
                    if self._cb.done == done:
                        raise HttpError(400, "body framing disagrees with llhttp")
                method, target, path, query, version, host, ua, headers = fields
                head = body if length <= self.body_head_bytes else body[:self.body_head_bytes]
                out.append(_request(method, target, path, query, version, host, ua, headers,
                                    length, hashlib.sha256(body).hexdigest(), head, keep_alive))
                if keep_alive:
                    return hend + length
                self._state = _CLOSED
                return n
            self._remaining = length
            self._state = _BODY
        else:
            self._state = _CHUNK_SIZE
            self._trailer_bytes = 0
        # The body arrives in pieces: stream it through the hash.
        self._fields = fields + (keep_alive,)
        self._hash = hashlib.sha256()
        self._head = b""
        self._body_len = 0
        self._continue = expect
        return hend

    def _take(self, chunk) -> None:
        """Decoded body bytes: limit, hash, head."""
        self._body_len += len(chunk)
        if self._body_len > self.max_body_bytes:
            raise HttpError(413, f"body over the {self.max_body_bytes}-byte limit")
        self._hash.update(chunk)  # type: ignore[union-attr]
        room = self.body_head_bytes - len(self._head)
        if room > 0:
            self._head += bytes(chunk[:room])
        self._continue = False

    def _finish(self, out: list[Request]) -> None:
        method, target, path, query, version, host, ua, headers, keep_alive = self._fields  # type: ignore[misc]
        n = self._body_len
        out.append(_request(method, target, path, query, version, host, ua, headers, n,
                            self._hash.hexdigest() if n else None, self._head, keep_alive))  # type: ignore[union-attr]
        self._fields = None
        self._hash = None
        self._head = b""
        self._state = _HEAD if keep_alive else _CLOSED

    def _body(self, data: bytes, pos: int, n: int, out: list[Request]) -> int:
        take = min(self._remaining, n - pos)
        chunk = memoryview(data)[pos:pos + take]
        llhttp_body = self._llhttp_body  # then llhttp, which parsed the head, exists
        done = self._cb.done if llhttp_body else 0  # type: ignore[union-attr]
        if llhttp_body:
            self._llhttp(chunk)
        self._take(chunk)
        self._remaining -= take
        if self._remaining == 0:
            if llhttp_body and self._cb.done == done:  # type: ignore[union-attr]
                raise HttpError(400, "body framing disagrees with llhttp")
            self._finish(out)
            if self._state == _CLOSED:
                return n
        return pos + take

    def _chunked(self, data: bytes, pos: int, n: int, out: list[Request]) -> int:
        """One step of a chunked body (RFC 9112 7.1). llhttp sees every byte
        first and validates it; this only finds the boundaries."""
        st = self._state
        if st == _CHUNK_DATA:
            take = min(self._remaining, n - pos)
            chunk = memoryview(data)[pos:pos + take]
            self._llhttp(chunk)
            self._take(chunk)
            self._remaining -= take
            if self._remaining == 0:
                self._state = _CHUNK_CRLF
            return pos + take
        if st == _CHUNK_CRLF:
            # The CRLF after chunk data (_remaining counts its bytes): llhttp checks it.
            take = min(2 - self._remaining, n - pos)
            self._llhttp(memoryview(data)[pos:pos + take])
            self._remaining += take
            if self._remaining == 2:
                self._remaining = 0
                self._state = _CHUNK_SIZE
            return pos + take
        # A chunk-size line or a trailer line: up to CRLF.
        eol = data.find(b"\r\n", pos)
        if st == _CHUNK_SIZE:
            cap = _MAX_CHUNK_LINE
        else:
            cap = self.max_header_bytes - self._trailer_bytes
        size = (n if eol < 0 else eol + 2) - pos
        if size > cap:
            if st == _CHUNK_SIZE:
                raise HttpError(400, "chunk-size line too long")
            raise HttpError(431, f"trailer section larger than {self.max_header_bytes} bytes")
        fed = self._fed
        if eol < 0:
            if n - pos > fed:
                self._llhttp(memoryview(data)[pos + fed:])
                self._fed = n - pos
            self._buf = data[pos:]
            return n
        end = eol + 2
        done = self._cb.done
        self._llhttp(memoryview(data)[pos + fed:end])
        self._fed = 0
        if st == _CHUNK_SIZE:
            # llhttp accepted the line: hex digits, then ";extensions" or nothing.
            size = int(data[pos:eol].split(b";", 1)[0], 16)
            if self._body_len + size > self.max_body_bytes:
                raise HttpError(413, f"body over the {self.max_body_bytes}-byte limit")
            if size:
                self._remaining = size
                self._state = _CHUNK_DATA
            else:
                self._state = _TRAILERS
            return end
        # _TRAILERS: field lines until an empty line; not reported as headers.
        self._trailer_bytes += end - pos
        self._cb.flat.clear()
        if end - pos == 2:
            if self._cb.done == done:
                raise HttpError(400, "chunked framing disagrees with llhttp")
            self._finish(out)
            if self._state == _CLOSED:
                return n
        return end


# The compiled twins (issue 18, docs/performance.md "The request parser in
# C"): Cython-compiled from takedown/net/_http_c.pyx when the package was
# built with a compiler. ``_PURE`` keeps this module's own versions, so tests
# and bench/net_conn_micro.py can hold one against the other.
# ``_feed_whole`` has no pure twin: the pure code is ``RequestParser.feed``
# itself, which calls it first when it exists (see _http_c.feed_whole).
ACCELERATED = ("_request_line", "_feed_whole")
_feed_whole = None
_PURE = SimpleNamespace(**{_n: globals()[_n] for _n in ACCELERATED})
_compiled = compiled("takedown.net._http_c")
if _compiled is not None:
    _request_line = _compiled.request_line  # noqa: F811
    _feed_whole = _compiled.feed_whole
