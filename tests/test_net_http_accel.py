"""The compiled twin of takedown.net.http (issue 18) against the pure code.

``takedown.net._http_c.request_line`` splits request lines in C where
``http._request_line`` uses ``decode().split()`` and ``_split_target``.
Both are held to the same result on random and damaged request lines, and
whole :class:`RequestParser` runs are compared in one process, once with
each implementation: random and mutated requests (tests/test_net_http.py's
generator), fed whole and in random pieces, three times over shared caches
(the ordinary path, the known header lines, the known sections), must give
the same requests field by field, the same HttpError status and reason, and
the same pending/closed/expects_continue states after every feed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from takedown.net import http as H
from takedown.net.http import HttpError, ParserCaches, RequestParser
from test_net_http import HEADERS, requests

# Imported explicitly, whatever TAKEDOWN_PURE says: these tests hold the two
# implementations against each other in one process.
try:
    from takedown.net import _http_c
except ImportError:
    _http_c = None

needs_compiled = pytest.mark.skipif(
    _http_c is None, reason="takedown.net._http_c is not built (setup.py build_ext --inplace)"
)
IMPLS = {"pure": H._PURE._request_line, "compiled": _http_c.request_line if _http_c else None}
# What each implementation binds in takedown.net.http.
BINDINGS = {"pure": vars(H._PURE),
            "compiled": {"_request_line": _http_c.request_line, "_feed_whole": _http_c.feed_whole} if _http_c else None}

# Bytes a request line is made of, weighted to the ones the split and the
# target parser look at: every byte str.split() takes for whitespace (NEL,
# NBSP, the information separators), the target's delimiters, the methods.
_SPACES = b" \t\x0b\x0c\r\n\x1c\x1d\x1e\x1f\x85\xa0"
_PIECES = st.sampled_from([b"GET", b"POST", b"CONNECT", b"OPTIONS", b"get", b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.2",
                           b"HTTP/2.0", b"http/1.1", b"HTTP/1.11", b"*", b"/", b"?", b"#", b"@", b":", b"://",
                           b"http://", b"user@", b"x.example", b":8080", b"a=1", b"%20", b"\xe9", b"\x00"])
_LINE = st.lists(st.one_of(_PIECES, st.sampled_from([bytes([c]) for c in _SPACES]), st.binary(max_size=3)),
                 max_size=12).map(b"".join)


@needs_compiled
@settings(max_examples=4000, deadline=None)
@given(_LINE, st.integers(-3, 40))
def test_request_line_random(line, cut):
    key = line + b"\r\nHost: h\r\n\r\n"
    for line_end in (len(line), cut):
        assert _http_c.request_line(key, line_end) == H._PURE._request_line(key, line_end)


@needs_compiled
@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(["GET", "CONNECT", "OPTIONS", "POST"]),
       st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF), min_size=1, max_size=30),
       st.sampled_from(["HTTP/1.1", "HTTP/1.0"]), st.sampled_from([" ", "  ", "\t", "\xa0", " \x85"]))
def test_request_line_well_formed(method, target, version, gap):
    key = f"{method}{gap}{target} {version}".encode("latin-1") + b"\r\n\r\n"
    line_end = key.find(b"\r\n")
    got = _http_c.request_line(key, line_end)
    assert got == H._PURE._request_line(key, line_end)
    if got is not None:  # every field a str (or None), as the pure code makes them
        assert all(type(v) is str for v in got[:5]) and (got[5] is None or type(got[5]) is str)


@pytest.mark.parametrize("target,fields", [
    ("/a/b?c=d#e", ("/a/b", "c=d", None)),
    ("/a", ("/a", "", None)),
    ("*", ("*", "", None)),
    ("http://u:p@x.example:8080/p?q=1#f", ("/p", "q=1", "x.example:8080")),
    ("http://x.example?q", ("/", "q", "x.example")),
    ("http://@/", ("/", "", None)),
    ("noscheme", ("/", "", None)),
    ("c2.example:443", ("/", "", None)),  # not CONNECT: an absolute-form without "://"
])
@pytest.mark.parametrize("impl", ["pure", pytest.param("compiled", marks=needs_compiled)])
def test_request_line_targets(impl, target, fields):
    key = f"GET {target} HTTP/1.1\r\n\r\n".encode()
    assert IMPLS[impl](key, key.find(b"\r\n")) == ("GET", target, *fields[:2], "1.1", fields[2])


def _transcript(impl: str, feeds: list[list[bytes]], **kw) -> list:
    """What a parser does with each connection in ``feeds`` (a list of
    reads each), all sharing one ParserCaches: after every read, the
    requests or the error, and the parser's visible state; at the end,
    what the caches hold."""
    saved = {name: getattr(H, name) for name in H.ACCELERATED}
    for name, value in BINDINGS[impl].items():
        setattr(H, name, value)
    try:
        caches = ParserCaches()
        out = []
        for reads in feeds:
            p = RequestParser(caches=caches, **kw)
            for data in reads + [b"GET / HTTP/1.1\r\n\r\n"]:  # and one more read after it all
                try:
                    got = ("ok", p.feed(data))
                except HttpError as e:
                    got = ("error", e.status, e.reason)
                out.append((got, p.pending(), p.closed, p.expects_continue()))
        out.append((caches.known, set(caches.lines), caches.seen))
        return out
    finally:
        for name, value in saved.items():
            setattr(H, name, value)


def _pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    at = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(at, at[1:])]


def _both(feeds, **kw) -> None:
    pure = _transcript("pure", feeds, **kw)
    assert _transcript("compiled", feeds, **kw) == pure


@needs_compiled
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(requests(), min_size=1, max_size=3), st.lists(st.integers(0, 10_000), max_size=8))
def test_parser_random_requests(reqs, cuts):
    data = b"".join(d for d, _ in reqs)
    # Whole, then in random pieces, then byte by byte; each three times so
    # that the known-lines and known-section caches take part.
    feeds = [[data]] * 3 + [_pieces(data, cuts)] * 3 + [[data[i:i + 1] for i in range(len(data))]]
    _both(feeds, body_head_bytes=1000)


@needs_compiled
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.integers(0, 400), st.binary(min_size=1, max_size=3), st.lists(st.integers(0, 10_000), max_size=6))
def test_parser_mutated_requests(req, at, junk, cuts):
    data, _ = req
    mutated = data[:at] + junk + data[at + len(junk):]
    _both([[data], [mutated], [mutated], _pieces(mutated, cuts), [data], [mutated]], max_header_bytes=512,
          max_body_bytes=64)


@needs_compiled
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LINE, st.sampled_from([b"", b"Content-Length: 2\r\n", b"Connection: close\r\n"]), st.binary(max_size=8),
       st.lists(st.integers(0, 10_000), max_size=4))
def test_parser_request_lines_over_known_header_lines(line, extra, tail, cuts):
    """Random request lines on the path where only the request line is new."""
    body = b"ab" if b"Length" in extra else b""
    seeds = [[b"GET /seed%d HTTP/1.1\r\n" % i + HEADERS + extra + b"\r\n" + body] for i in range(2)]
    data = line + b"\r\n" + HEADERS + extra + b"\r\n" + tail
    _both(seeds + [[data], [data], _pieces(data, cuts)])


@needs_compiled
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.lists(st.sampled_from(["1.1", "1.0"]), min_size=3, max_size=8),
       st.sampled_from([b"", b"Expect: 100-continue\r\n", b"Connection: close\r\n"]),
       st.lists(st.integers(0, 10_000), max_size=4))
def test_parser_new_request_lines_over_known_header_lines(req, versions, extra, cuts):
    """A bot's check-ins: the same header lines, a new id in the URL each
    time (and now and then another version), whole and in pieces."""
    data, _ = req
    line_end = data.find(b"\r\n")
    method, target, _version = data[:line_end].split(b" ")
    rest = extra + data[line_end + 2:]
    feeds = []
    for i, version in enumerate(versions):
        line = b"%s %s%sid=%d HTTP/%s" % (method, target, b"&" if b"?" in target else b"?", i, version.encode())
        feeds.append([line + b"\r\n" + rest])
    feeds.append(_pieces(feeds[-1][0], cuts))
    _both(feeds, body_head_bytes=16)


def test_takedown_pure_selects_the_pure_path():
    code = ("from takedown.net import http as H; "
            "print('pure' if H._request_line is H._PURE._request_line and H._feed_whole is None else 'compiled')")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "TAKEDOWN_PURE": "1"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip() == "pure"
    if _http_c is not None:
        env.pop("TAKEDOWN_PURE")
        assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                              check=True).stdout.strip() == "compiled"
