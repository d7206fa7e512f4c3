"""The per-connection path made cheaper (issue 18, docs/performance.md "Per
connection: accept, PROXY, close") does what it did: the same bytes, the
same events, the same closes, limits and PROXY trust.

- :func:`takedown.net.proxy.not_a_header`, which lets a connection's first
  bytes skip the PROXY parser, agrees with :func:`parse_proxy` on every input;
- :meth:`HttpConnection.receive`, which answers a connection's first request
  from the request cache without the general path, gives the commands and
  leaves the state of the general path it replaced (kept here as the
  reference), on random sequences of connections, requests, PROXY headers,
  chunkings and clocks;
- the asyncio shell (``_Protocol``) logs per connection what the sans-I/O
  connection returns, and leaves no reference cycle behind a connection
  (the cyclic GC ran every ~190 connections per check-in before);
- with real sockets on uvloop (IPv4 and IPv6 loopback), one check-in per
  connection is answered and logged with each client's own address and port.

The code here is pure Python on both paths (no compiled twin: see the
performance notes), so ``make test`` running it with and without
``TAKEDOWN_PURE=1`` checks it beside whichever twins the rest of the path
uses.
"""

from __future__ import annotations

import gc
import socket
import threading
from contextlib import contextmanager
from types import SimpleNamespace
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from takedown.events import CheckinConn
from takedown.net import proxy as proxy_mod
from takedown.net import responses as responses_mod
from takedown.net.connection import (
    Answer, Close, Connection, HttpConnection, ListenerState, Record, Send,
)
from takedown.net.fingerprints import RuleSet
from takedown.net.responses import ResponsePolicy
from takedown.operation import Listener
from test_net_connection import FakeTransport

T0 = 1_700_000_000.25
DST = ("127.0.0.1", 80)
TRUSTED = "127.0.0.2"
UNTRUSTED = "192.0.2.7"
RULES = RuleSet.loads('[[rule]]\nname = "gate"\nfamily = "testfam"\nsource = "t"\npath = "/gate.php"\n'
                      'method = "POST"\n')
GET_CLOSE = b"GET /gate.php HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n"
GET = b"GET /gate.php HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
GATE = b"POST /gate.php HTTP/1.1\r\nHost: c2.example\r\nContent-Length: 5\r\n\r\nid=42"
PUT = b"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"
BAD = b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"
PROXY_V1 = proxy_mod.build_v1(("198.51.100.4", 5555), ("203.0.113.9", 80))
PROXY_V2 = proxy_mod.build_v2("2001:db8::4", 6666, "2001:db8::9", 80, [proxy_mod.clock_tlv(T0 - 86400)])
PROXY_LOCAL = proxy_mod.build_v2(None, None, None, None)
PROXY_BAD = b"PROXY TCP4 300.1.1.1 1.1.1.1 1 2\r\n"
PIECES = [GET_CLOSE, GET, GATE, PUT, BAD, PROXY_V1, PROXY_V2, PROXY_LOCAL, PROXY_BAD, b"\r\n", b"P", b"garbage"]


@contextmanager
def one_second():
    """The responses' clock held still: their Date header (built once a
    second from the real clock) is then the same for both sides compared."""
    with mock.patch.object(responses_mod, "time", SimpleNamespace(time=lambda: T0)):
        yield


# -- the PROXY shortcut ------------------------------------------------------------


def _decided_not_proxy(data: bytes) -> bool:
    try:
        return proxy_mod.parse_proxy(data) == (None, 0)
    except proxy_mod.ProxyError:
        return False


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.binary(max_size=40),
    st.sampled_from([PROXY_V1, PROXY_V2, PROXY_LOCAL, PROXY_BAD, GET, GATE, PUT]).flatmap(
        lambda h: st.integers(0, len(h)).map(lambda n: h[:n])),  # every prefix of a real header
    st.tuples(st.sampled_from([b"P", b"PR", b"PROX", b"PROXY", b"\r", b"\r\n\r\n\x00", b"POS"]),
              st.binary(max_size=16)).map(b"".join),
))
def test_not_a_header_agrees_with_parse_proxy(data):
    assert proxy_mod.not_a_header(data) is _decided_not_proxy(data)


def test_not_a_header_examples():
    assert proxy_mod.not_a_header(GET) and proxy_mod.not_a_header(GATE) and proxy_mod.not_a_header(b"\n")
    for data in (b"", b"P", b"PROXY", PROXY_V1, PROXY_V2, PROXY_LOCAL, PROXY_BAD, b"\r\n\r\n"):
        assert not proxy_mod.not_a_header(data), data


# -- HttpConnection.receive against the general path it short-cuts -----------------


def reference_receive(conn: HttpConnection, data: bytes, now: float):
    """HttpConnection.receive as it was before the first-request shortcut:
    the general path until the connection is past its preamble (once it is,
    ``fast``, the receive is the same as before: the request cache first)."""
    if conn.fast:
        return HttpConnection.receive(conn, data, now)
    out = Connection.receive(conn, data, now)
    conn.fast = not (conn.preamble or conn.midway or conn.done)
    return out


def _state(**kw) -> ListenerState:
    lst = Listener(kind="http", listen=("127.0.0.1:80",), response="empty", trusted_proxies=(f"{TRUSTED}/32",),
                   **kw)
    return ListenerState(lst, rules=RULES, policy=ResponsePolicy())


def _norm(cmds, conn) -> list:
    out = []
    for c in cmds:
        if isinstance(c, Answer):
            out.append(("answer", c.out, c.checkin, c.close, conn.origin, conn.shift))
        elif isinstance(c, Record):
            out.append(("record", c.kind, c.time, c.checkin, conn.origin))
        elif isinstance(c, Send):
            out.append(("send", c.data))
        elif isinstance(c, Close):
            out.append(("close",))
        else:
            raise AssertionError(c)
    return out


def _conn_state(conn: HttpConnection) -> tuple:
    return (conn.served, conn.done, conn.fast, conn.preamble, conn.midway, conn.buf, conn.deadline, conn.src,
            conn.origin, conn.peer_ip, conn.shift, conn.refused, conn.counted)


_chunked = st.lists(st.sampled_from(PIECES), min_size=1, max_size=4).flatmap(
    lambda parts: st.lists(st.integers(0, len(b"".join(parts))), max_size=3).map(
        lambda cuts: _split(b"".join(parts), cuts)))


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    at = sorted(set(cuts) | {0, len(data)})
    return [data[a:b] for a, b in zip(at, at[1:])] or [data]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    conns=st.lists(st.tuples(st.sampled_from([TRUSTED, UNTRUSTED]), _chunked, st.booleans(),
                             st.floats(0, 0.7)), min_size=1, max_size=8),
    limits=st.fixed_dictionaries({"requests_per_connection": st.integers(1, 3),
                                  "max_connections_per_source": st.integers(1, 3),
                                  "emulated_clock": st.booleans()}),
)
def test_first_request_shortcut_gives_the_general_paths_commands(conns, limits):
    """Two listeners alike, connections alike: one driven by
    HttpConnection.receive, one by the reference; every command and the
    connection's state after each read are equal, and so are the listeners'
    per-source counts. Some connections stay open (the per-source limit
    refuses the next), time advances across whole seconds (the cache's
    lifetime)."""
    with one_second():
        _compare(conns, limits)


def _compare(conns, limits) -> None:
    new, ref = _state(**limits), _state(**limits)
    now = T0
    open_ = []
    for i, (src, chunks, stays_open, step) in enumerate(conns):
        a = new.connect((src, 40000 + i), DST, now)
        b = ref.connect((src, 40000 + i), DST, now)
        assert _conn_state(a) == _conn_state(b)
        for chunk in chunks:
            now += step / 3
            got, want = a.receive(chunk, now), reference_receive(b, chunk, now)
            assert _norm(got, a) == _norm(want, b)
            assert _conn_state(a) == _conn_state(b)
        if stays_open:
            open_.append((a, b))
        else:
            assert _norm(a.closed(now), a) == _norm(b.closed(now), b)
        assert new.per_source == ref.per_source
    for a, b in open_:
        assert _norm(a.timeout(now + 60), a) == _norm(b.timeout(now + 60), b)
        assert _norm(a.closed(now + 60), a) == _norm(b.closed(now + 60), b)
    assert new.per_source == ref.per_source == {}
    assert new.cache.entries.keys() == ref.cache.entries.keys()


def test_untrusted_proxy_header_is_still_refused_on_a_first_read():
    st_ = _state()
    c = st_.connect((UNTRUSTED, 1), DST, T0)
    cmds = c.receive(PROXY_V1 + GET_CLOSE, T0)
    assert [type(x) for x in cmds] == [Record, Close] and cmds[0].checkin.response == "proxy-refused"
    assert st_.counters.proxy_refused == 1 and c.src == (UNTRUSTED, 1)
    # a cached answer does not let a PROXY header through either
    warm = st_.connect((UNTRUSTED, 2), DST, T0)
    warm.receive(GET_CLOSE, T0)
    assert GET_CLOSE in st_.cache.entries
    c2 = st_.connect((UNTRUSTED, 3), DST, T0)
    assert c2.receive(PROXY_V1 + GET_CLOSE, T0)[0].checkin.response == "proxy-refused"


def test_a_repeat_on_a_new_connection_is_answered_from_the_cache_without_a_session():
    st_ = _state()
    first = st_.connect((UNTRUSTED, 1), DST, T0)
    (answer, close) = first.receive(GET_CLOSE, T0)
    assert isinstance(answer, Answer) and isinstance(close, Close) and first.session is not None
    again = st_.connect((UNTRUSTED, 2), DST, T0 + 0.1)
    assert again.receive(GET_CLOSE, T0 + 0.1) is answer.commands
    assert again.session is None and again.done and again.served == 1 and not again.preamble
    assert again.closed(T0 + 0.1) == [] and first.closed(T0 + 0.1) == [] and st_.per_source == {}


# -- the shell --------------------------------------------------------------------


@pytest.fixture
def sensor(tmp_path, monkeypatch):
    from net_helpers import operation_text

    from takedown.net import server as S
    from takedown.net.answers import load_answers
    from takedown.operation import load_operation

    monkeypatch.chdir(tmp_path)
    (tmp_path / "op.toml").write_text(operation_text(5353, "perconn", '[http]\nlisten = ["127.0.0.1:8080"]\n'
                                                     'response = "empty"\nmax_connections_per_source = 2\n'
                                                     f'trusted_proxies = ["{TRUSTED}/32"]\n'))
    op = load_operation(tmp_path / "op.toml")
    sensor = S.NetSensor(op, 0, "test", load_answers(op))
    sensor.states.append(sensor._state(op.http, sensor.answers, None))
    return sensor


def _events(buf) -> list[tuple]:
    return [(t, buf.conns[k >> 32], buf.templates[k & 0xFFFFFFFF]) for t, k in zip(buf.times, buf.keys)]


def test_shell_logs_per_connection_what_the_connection_returns(sensor, monkeypatch):
    """Connections through the shell (a fake transport, a fake clock) against
    the same inputs on a sans-I/O connection of a twin listener: the same
    bytes written, the same closes and aborts, the same events (time,
    connection record, request record)."""
    from takedown.net import server as S

    clock = [T0]
    monkeypatch.setattr(S, "_time", lambda: clock[0])
    monkeypatch.setattr(responses_mod, "time", SimpleNamespace(time=lambda: T0))
    twin = ListenerState(sensor.op.http, rules=sensor.answers.rules, policy=sensor.answers.responses.get("http"))
    buf = sensor.writers["http"].checkins
    cases = [(UNTRUSTED, [GET_CLOSE]), (UNTRUSTED, [GET_CLOSE]), (UNTRUSTED, [GATE, GATE]),
             ("192.0.2.8", [GET, GET_CLOSE]), (TRUSTED, [PROXY_V1 + GET_CLOSE]), (TRUSTED, [PROXY_V1[:7], PROXY_V1[7:], GET]),
             ("192.0.2.9", [PROXY_V1 + GET_CLOSE]), ("192.0.2.10", [BAD]), ("192.0.2.11", [b"P", b"UT / HTTP/1.1\r\n\r\n"])]
    want_events = []
    for i, (ip, chunks) in enumerate(cases):
        peer = (ip, 50000 + i)
        p = S._Protocol(sensor, 0, ("127.0.0.1", 8080))
        t = FakeTransport(peer)
        p.connection_made(t)
        c = twin.connect(peer, ("127.0.0.1", 8080), clock[0])
        sent, closed = [], False
        for chunk in chunks:
            clock[0] += 0.01
            if not t.closing:
                p.data_received(chunk)
            for cmd in c.receive(chunk, clock[0]):
                if isinstance(cmd, Answer):
                    want_events.append((clock[0] + c.shift, c.origin, cmd.checkin))
                    sent.append(cmd.out)
                elif isinstance(cmd, Record):
                    want_events.append((cmd.time, c.origin, cmd.checkin))
                elif isinstance(cmd, Send):
                    sent.append(cmd.data)
                elif isinstance(cmd, Close):
                    closed = True
        assert (t.out, t.closing) == (sent, closed), (ip, chunks)
        p.connection_lost(None)
        c.closed(clock[0])
    assert _events(buf) == want_events
    assert sensor.per_source == {} and not sensor.protocols
    # the PROXY header from the trusted peer became the source; the untrusted one was refused
    origins = {e[1] for e in want_events}
    assert CheckinConn("tcp", "198.51.100.4", 5555, "127.0.0.1", 8080, TRUSTED) in origins
    assert [e[2].response for e in want_events if e[1].src_ip == "192.0.2.9"] == ["proxy-refused"]


def test_shell_refuses_over_the_per_source_limit_and_counts_back(sensor):
    from takedown.net import server as S

    held = []
    for port in (1, 2, 3):
        p = S._Protocol(sensor, 0, ("127.0.0.1", 8080))
        t = FakeTransport((UNTRUSTED, port))
        p.connection_made(t)
        held.append((p, t))
    assert [t.aborted for _, t in held] == [False, False, True]
    assert sensor.per_source == {UNTRUSTED: 2} and len(sensor.protocols) == 2
    for p, _ in held:
        p.connection_lost(None)
    assert sensor.per_source == {} and not sensor.protocols


def test_the_sweep_closes_a_connection_past_its_deadline(sensor, monkeypatch):
    from takedown.net import server as S

    clock = [T0]
    monkeypatch.setattr(S, "_time", lambda: clock[0])
    p = S._Protocol(sensor, 0, ("127.0.0.1", 8080))
    t = FakeTransport((UNTRUSTED, 9))
    p.connection_made(t)
    p.data_received(GET_CLOSE[:20])  # a request started, never finished
    sensor._loop = type("L", (), {"call_later": staticmethod(lambda *a: None)})()
    clock[0] += sensor.op.http.request_timeout + 1
    sensor._sweep()
    assert t.closing
    buf = sensor.writers["http"].checkins
    assert [e[2].response for e in _events(buf)] == ["timeout"]


def test_no_reference_cycle_per_connection(sensor, monkeypatch):
    """A connection per check-in (a repeat answered from the cache, a POST
    matching a rule, a new request line each time, refused over the
    per-source limit) leaves no cyclic garbage: its objects go by reference
    counting, and the connections do not make the cyclic GC run. (A
    malformed request still does: the parser keeps its HttpError, whose
    traceback holds the parser's and the session's frames; see
    docs/performance.md.)"""
    from takedown.net import server as S

    # one second throughout (the responses, the request cache's lifetime): a
    # new second builds new responses and parses a cached request again
    monkeypatch.setattr(responses_mod, "time", SimpleNamespace(time=lambda: T0))
    monkeypatch.setattr(S, "_time", lambda: T0)

    def one(i: int, data: bytes) -> None:
        p = S._Protocol(sensor, 0, ("127.0.0.1", 8080))
        p.connection_made(FakeTransport((f"192.0.2.{i % 200}", 1000 + i)))
        p.data_received(data)
        p.connection_lost(None)

    # warm: the request cache, the parser caches (llhttp's callback parser,
    # made once per header section not seen before, is a cycle of its own)
    # (a header section is admitted on its second sight)
    for i in range(3):
        for data in (GET_CLOSE, GATE, b"GET /warm=%d HTTP/1.1\r\nHost: a\r\n\r\n" % i):
            one(i, data)
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        for i in range(300):
            one(i, (GET_CLOSE, GATE, b"GET /id=%d HTTP/1.1\r\nHost: a\r\n\r\n" % i)[i % 3])
        held = []
        for port in range(3):  # over the limit of 2: the third is refused
            p = S._Protocol(sensor, 0, ("127.0.0.1", 8080))
            p.connection_made(FakeTransport((UNTRUSTED, port)))
            held.append(p)
        for p in held:
            p.connection_lost(None)
        del held, p
        assert gc.collect() == 0
    finally:
        if was:
            gc.enable()


# -- real sockets -------------------------------------------------------------------


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_a_checkin_per_connection_over_real_sockets(sensor, family):
    """The shell on uvloop: a check-in per connection, repeated (answered
    from the request cache after the first) and unique; every one answered
    and closed by the server, each logged with its client's address and
    port (IPv6 peers give a 4-tuple peer name)."""
    uvloop = pytest.importorskip("uvloop")
    if family == "ipv6" and not _ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    host, af = ("127.0.0.1", socket.AF_INET) if family == "ipv4" else ("::1", socket.AF_INET6)
    sock = socket.socket(af)
    sock.bind((host, 0))
    sock.listen(128)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    loop = uvloop.new_event_loop()
    ready = threading.Event()
    results: list[tuple[tuple, bytes]] = []

    def clients():
        ready.wait(10)
        reqs = [GET_CLOSE] * 6 + [b"GET /gate.php?id=%d HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" % i
                                  for i in range(4)]
        for r in reqs:
            with socket.create_connection((host, port), timeout=5) as c:
                c.sendall(r)
                got = b""
                while chunk := c.recv(65536):
                    got += chunk
                results.append((c.getsockname()[:2], got))
        loop.call_soon_threadsafe(loop.stop)

    sensor.states.clear()  # start() makes the state of each socket it serves

    async def start():
        await sensor.start(loop, [(sensor.op.http, "127.0.0.1", 8080, sock)])
        ready.set()

    th = threading.Thread(target=clients)
    th.start()
    try:
        loop.run_until_complete(start())
        loop.run_forever()
        th.join(30)
        loop.run_until_complete(sensor.stop())
    finally:
        loop.close()
        sock.close()
    assert len(results) == 10
    assert all(got.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close" in got for _, got in results)
    # sensor.stop() flushed the buffer to Parquet: read it back
    import duckdb

    rows = duckdb.connect().execute(
        "select src_ip, src_port, path, query from read_parquet('data/events/kind=http/**/*.parquet',"
        " hive_partitioning=true, union_by_name=true) order by time").fetchall()
    assert sorted((r[0], r[1]) for r in rows) == sorted(addr for addr, _ in results)
    assert [r[3] for r in rows].count(None) == 6 and all(r[2] == "/gate.php" for r in rows)
    assert sensor.per_source == {} and not sensor.protocols
