# cython: language_level=3
"""Compiled twins of :mod:`takedown.net.http`'s request parsing (issue 18).

The profile of a unique check-in (docs/performance.md, "The request parser
in C") put half of the check-in in ``RequestParser.feed`` and below: some
six Python frames per request (``feed``, ``_run``, ``_head_section``,
``_known_lines``, ``_body_start``, ``admit``) around a few C calls, and the
request line split by ``decode``, ``split`` and the request-target's path,
query and authority (RFC 9112 3.2) through Python string methods.

- :func:`request_line` is :func:`takedown.net.http._request_line` (with
  ``_split_target``) as one loop over the bytes.
- :func:`feed_whole` is ``RequestParser.feed`` for its common case, one
  whole request in one read whose header section is known, or whose header
  lines are known under a new request line (a bot id in the URL): one C
  scan finds the end of the head and of the request line, the caches are
  asked as the pure code asks them, llhttp (httptools' callback-free
  parser, shared by the listener) validates the message, the body is
  counted and hashed. Anything else returns None before changing any state,
  and the pure code parses the read.

llhttp stays the only judge of validity: these split and look up what the
pure code splits and looks up, in the same order, with the same effects on
the parser and its caches; tests/test_net_http_accel.py holds both to
identical requests, errors, states and caches. Edit them together.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_DECREF
from cpython.unicode cimport PyUnicode_DecodeLatin1

import hashlib

import httptools

cdef extern from "Python.h":
    # The two slots of a type object used here (public in CPython's C API).
    ctypedef struct _TypeSlots "PyTypeObject":
        int (*tp_descr_set)(PyObject*, PyObject*, PyObject*)
        PyObject* (*tp_alloc)(PyTypeObject*, Py_ssize_t)
    PyTypeObject* Py_TYPE(PyObject*)


cdef extern from "string.h":
    const void* memchr(const void* s, int c, size_t n) nogil


# Whitespace as str.split() sees it in a latin-1 string (str.isspace(): \t \n
# \v \f \r, the four information separators 0x1c-0x1f, space, NEL, NBSP).
cdef unsigned char _SPACE[256]
cdef int _c
for _c in range(256):
    _SPACE[_c] = chr(_c).isspace()

cdef object _sha256 = hashlib.sha256
cdef object _Validator = httptools.HttpRequestParser
cdef tuple _LLHTTP_REFUSED = (httptools.HttpParserError, httptools.HttpParserUpgrade)
# takedown.net.http's Request type, its field descriptors in order and the
# parser's closed state, taken on first use: that module imports this one,
# so this one cannot import it at its start.
cdef object _Request = None
cdef list _FIELDS = None
cdef PyObject* _slot[12]
cdef object _CLOSED = None


cdef int _load() except -1:
    global _Request, _FIELDS, _CLOSED
    from takedown.net import http
    _FIELDS = [http.Request.__dict__[name] for name in http.Request.__slots__]  # member descriptors
    assert len(_FIELDS) == 12 and all(type(f) is type(_FIELDS[0]) for f in _FIELDS)
    for i in range(12):
        _slot[i] = <PyObject*>_FIELDS[i]
    _CLOSED = http._CLOSED
    _Request = http.Request
    return 0


cdef object _request(object method, object target, object path, object query, object version, object host,
                     object ua, object headers, object body_len, object body_sha256, object body_head,
                     object keep_alive):
    """A Request, as http._RequestBuilder makes it (no __init__, no frozen
    __setattr__), with each slot stored through its member descriptor's C
    setter: a frozen dataclass's own __init__ stores through the same
    descriptors (object.__setattr__)."""
    cdef PyObject* p = (<_TypeSlots*><PyObject*>_Request).tp_alloc(<PyTypeObject*>_Request, 0)
    if p == NULL:
        raise MemoryError()
    req = <object>p
    Py_DECREF(req)  # <object> took a reference of its own
    cdef int (*store)(PyObject*, PyObject*, PyObject*)
    store = (<_TypeSlots*>Py_TYPE(_slot[0])).tp_descr_set
    if (store(_slot[0], p, <PyObject*>method) or store(_slot[1], p, <PyObject*>target)
            or store(_slot[2], p, <PyObject*>path) or store(_slot[3], p, <PyObject*>query)
            or store(_slot[4], p, <PyObject*>version) or store(_slot[5], p, <PyObject*>host)
            or store(_slot[6], p, <PyObject*>ua) or store(_slot[7], p, <PyObject*>headers)
            or store(_slot[8], p, <PyObject*>body_len) or store(_slot[9], p, <PyObject*>body_sha256)
            or store(_slot[10], p, <PyObject*>body_head) or store(_slot[11], p, <PyObject*>keep_alive)):
        raise SystemError("a Request field could not be set")
    return req

cdef str _V11 = "1.1"
cdef str _V10 = "1.0"


cdef inline str _text(const unsigned char* p, Py_ssize_t a, Py_ssize_t b):
    return PyUnicode_DecodeLatin1(<const char*>(p + a), b - a, NULL)


cdef inline Py_ssize_t _find(const unsigned char* p, Py_ssize_t a, Py_ssize_t b, unsigned char c):
    """Index of the first ``c`` in p[a:b], or b."""
    if a >= b:
        return b
    cdef const void* hit = memchr(p + a, c, <size_t>(b - a))
    return b if hit == NULL else <const unsigned char*>hit - p


cdef inline Py_ssize_t _skip(const unsigned char* p, Py_ssize_t i, Py_ssize_t end, unsigned char space):
    """Past the run of whitespace (``space`` 1) or of other bytes (0) at p[i:end]."""
    while i < end and _SPACE[p[i]] == space:
        i += 1
    return i


def request_line(bytes key, Py_ssize_t line_end):
    """http._request_line: (method, target, path, query, version, authority)
    of ``key[:line_end]``, or None when it is not three words ending with
    HTTP/1.1 or HTTP/1.0."""
    return _request_line(key, line_end)


cdef object _request_line(bytes key, Py_ssize_t line_end):
    cdef const unsigned char* p = key
    cdef Py_ssize_t n = len(key)
    cdef Py_ssize_t i = 0, m0, m1, t0, t1, v0, v1, a0, a1, r0, r1, q, h
    if line_end < 0:  # key[:-1]: as the pure code slices (the callers never pass it)
        line_end += n
        if line_end < 0:
            line_end = 0
    elif line_end > n:
        line_end = n
    # Three words separated and surrounded by whitespace, nothing else.
    m0 = _skip(p, 0, line_end, 1)
    m1 = _skip(p, m0, line_end, 0)
    t0 = _skip(p, m1, line_end, 1)
    t1 = _skip(p, t0, line_end, 0)
    v0 = _skip(p, t1, line_end, 1)
    v1 = _skip(p, v0, line_end, 0)
    i = _skip(p, v1, line_end, 1)
    if i != line_end or v1 - v0 != 8 or m1 == m0 or t1 == t0:
        return None
    if (p[v0] != b'H' or p[v0 + 1] != b'T' or p[v0 + 2] != b'T' or p[v0 + 3] != b'P' or p[v0 + 4] != b'/'
            or p[v0 + 5] != b'1' or p[v0 + 6] != b'.'):
        return None
    cdef str version
    if p[v0 + 7] == b'1':
        version = _V11
    elif p[v0 + 7] == b'0':
        version = _V10
    else:
        return None
    cdef str method = _text(p, m0, m1)
    cdef str target = _text(p, t0, t1)
    cdef object authority = None
    cdef str path, query
    if p[t0] == b'/':
        r0 = t0
        r1 = t1
    elif m1 - m0 == 7 and method == "CONNECT":
        return method, target, "", "", version, target
    elif t1 - t0 == 1 and p[t0] == b'*':
        return method, target, "*", "", version, None
    else:
        # absolute-form: scheme "://" authority path-abempty [ "?" query ];
        # without "://" the whole target is the scheme and the rest is empty.
        a0 = t1
        i = t0
        while i + 2 < t1:
            if p[i] == b':' and p[i + 1] == b'/' and p[i + 2] == b'/':
                a0 = i + 3
                break
            i += 1
        a1 = a0
        while a1 < t1 and p[a1] != b'/' and p[a1] != b'?' and p[a1] != b'#':
            a1 += 1
        i = a1
        while i > a0 and p[i - 1] != b'@':  # the userinfo is dropped
            i -= 1
        if i < a1:
            authority = _text(p, i, a1)
        r0 = a1
        r1 = t1
    # rest = target[r0:r1], "/" in front when it does not start with one.
    h = _find(p, r0, r1, b'#')
    q = _find(p, r0, h, b'?')
    if r0 == t0 and q == t1:
        path = target  # no query, no fragment: the target is the path
        query = ""
    else:
        path = _text(p, r0, q)
        query = _text(p, q + 1, h) if q < h else ""
    if r0 != t0 and (r0 == r1 or p[r0] != b'/'):
        path = "/" + path
    return method, target, path, query, version, authority


cdef Py_ssize_t _head_end(const unsigned char* p, Py_ssize_t limit, Py_ssize_t* line_end):
    """Where the first CRLF CRLF within p[:limit] starts (-1: none), and in
    ``line_end`` where the first CRLF starts (as bytes.find finds them)."""
    cdef Py_ssize_t i = 0
    cdef const void* hit
    line_end[0] = -1
    while i + 3 < limit:
        hit = memchr(p + i, b'\r', <size_t>(limit - 3 - i))
        if hit == NULL:
            return -1
        i = <const unsigned char*>hit - p
        if p[i + 1] == b'\n':
            if line_end[0] < 0:
                line_end[0] = i
            if p[i + 2] == b'\r' and p[i + 3] == b'\n':
                return i
        i += 1
    return -1


cdef bint _accepts(caches, bytes section, bint reusable) except -1:
    """ParserCaches.accepts, inline."""
    try:
        caches._validator.feed_data(section)
    except _LLHTTP_REFUSED:
        caches._validator = _Validator(object())
        return False
    if not reusable:
        caches._validator = _Validator(object())
    return True


def feed_whole(parser, bytes data):
    """RequestParser.feed for one whole request whose header section, or
    whose header lines, the parser's caches know (the parser is at the start
    of a message with nothing buffered: the caller checks): the list of that
    one request, or None when the read is anything else; then nothing was
    changed and the pure code parses it."""
    cdef const unsigned char* p = data
    cdef Py_ssize_t n = len(data)
    cdef Py_ssize_t limit = parser.max_header_bytes
    cdef Py_ssize_t end, hend, line_end, length, nheaders
    cdef bint keep_alive
    cdef PyObject* found
    cdef tuple known, line
    if n == 0 or p[0] == b'\r' or p[0] == b'\n':
        return None
    end = _head_end(p, n if n < limit else limit, &line_end)
    if end < 0:
        return None
    if _Request is None:
        _load()
    hend = end + 4
    key = data if hend == n else data[:hend]
    found = PyDict_GetItem(parser._known, key)
    if found != NULL:
        # The whole section is known: llhttp accepted these very bytes.
        # (request, fields, nheaders, length, expect): http._Known, always five
        known = <tuple>found
        req = known[0]
        fields = known[1]
        length = known[3]
        if known[2] > parser.max_headers:
            return None
        keep_alive = req.keep_alive
        if not length:
            if hend != n:
                return None
        elif hend + length != n or length > parser.max_body_bytes:
            return None
        else:
            req = _body_request(parser, data, hend, length, fields, keep_alive)
        if not keep_alive:
            parser._state = _CLOSED
        return [req]
    caches = parser.caches
    lines_key = key[line_end:]
    found = PyDict_GetItem(caches.lines, lines_key)
    if found == NULL:
        return None
    lines = <object>found
    nheaders = lines.nheaders
    if nheaders > parser.max_headers:
        return None
    got = _request_line(key, line_end)
    if got is None:
        return None
    line = <tuple>got  # (method, target, path, query, version, authority)
    method = line[0]
    target = line[1]
    path = line[2]
    query = line[3]
    version = line[4]
    authority = line[5]
    found = PyDict_GetItem(lines.keep, version)
    if found == NULL:
        return None
    keep_alive = <object>found
    length = lines.length
    if length > parser.max_body_bytes or hend + length != n:
        return None
    # llhttp validates the whole message (one request, its body counted):
    # its parser ends at the start of the next one, reusable on keep-alive.
    if not _accepts(caches, data, keep_alive):
        return None  # the pure code asks again (a new validator: the same answer), then parses
    host = lines.host if authority is None else authority
    parser._llhttp_body = False
    if length:
        expect = lines.expect and version == _V11
        fields = (method, target, path, query, version, host, lines.ua, lines.headers)
        if caches.admit(key):
            caches.remember(key, (_request(method, target, path, query, version, host, lines.ua, lines.headers,
                                           0, None, b"", keep_alive), fields, nheaders, length, expect))
        req = _body_request(parser, data, hend, length, fields, keep_alive)
    else:
        req = _request(method, target, path, query, version, host, lines.ua, lines.headers,
                       0, None, b"", keep_alive)
        if caches.admit(key):
            caches.remember(key, (req, None, nheaders, 0, False))
    if not keep_alive:
        parser._state = _CLOSED
    return [req]


cdef object _body_request(parser, bytes data, Py_ssize_t hend, Py_ssize_t length, tuple fields, bint keep_alive):
    """The request of a whole body data[hend:hend + length] (the end of data)."""
    body = data[hend:]
    cdef Py_ssize_t head = parser.body_head_bytes
    # fields: (method, target, path, query, version, host, ua, headers)
    return _request(fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6], fields[7], length,
                    _sha256(body).hexdigest(), body if length <= head else body[:head], keep_alive)
