"""The sinkhole's connection logic without sockets (takedown.net.connection):
bytes and an injected clock in, commands out."""

from __future__ import annotations

import ssl
from dataclasses import replace

import pytest

from takedown.events import Checkin, CheckinConn
from takedown.net import proxy as proxy_mod
from takedown.net.certs import self_signed_context
from takedown.net.connection import (
    CLOSE, CONTINUE, Answer, Close, Connection, HttpConnection, ListenerState, Record, Send, TcpConnection,
    TlsConnection,
)
from takedown.net.fingerprints import RuleSet
from takedown.net.http import ParserCaches
from takedown.net.responses import ResponsePolicy
from takedown.operation import Listener

T0 = 1_700_000_000.25  # the injected clock: a quarter past a whole second
SRC = ("192.0.2.7", 40000)
DST = ("127.0.0.1", 80)
RULES = RuleSet.loads(
    '[[rule]]\nname = "gate"\nfamily = "testfam"\nsource = "tests/test_net_connection.py"\n'
    'path = "/gate.php"\nmethod = "POST"\n'
)
GET = b"GET /hello?x=1 HTTP/1.1\r\nHost: C2.Example:8080\r\nUser-Agent: Bot/1.0\r\n\r\n"
GATE = b"POST /gate.php HTTP/1.1\r\nHost: c2.example\r\nContent-Length: 5\r\n\r\nid=42"


def listener(kind: str = "http", **kw) -> Listener:
    return Listener(kind=kind, listen=("127.0.0.1:80",), **{"response": "empty", **kw})


def state(kind: str = "http", ctx: ssl.SSLContext | None = None, **kw) -> ListenerState:
    return ListenerState(listener(kind, **kw), rules=RULES, policy=ResponsePolicy(), ssl_context=ctx)


class Run:
    """What a shell would have done with the commands: bytes sent, events
    recorded (kind, time, origin, checkin), closed or not."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.sent: list[bytes] = []
        self.records: list[tuple[str, float, CheckinConn, Checkin]] = []
        self.closed = False

    def __call__(self, cmds, now: float) -> list:
        for c in cmds:
            assert not (self.closed and isinstance(c, (Send, Answer))), "bytes sent after Close"
            if isinstance(c, Answer):
                self.records.append(("http", now + self.conn.shift, self.conn.origin, c.checkin))
                self.sent.append(c.out)
            elif isinstance(c, Record):
                self.records.append((c.kind, c.time, self.conn.origin, c.checkin))
            elif isinstance(c, Send):
                self.sent.append(c.data)
            elif isinstance(c, Close):
                self.closed = True
            else:
                raise AssertionError(c)
        return list(cmds)

    def receive(self, data: bytes, now: float = T0) -> list:
        return self(self.conn.receive(data, now), now)


def connect(st: ListenerState, src=SRC, now: float = T0) -> Run:
    return Run(st.connect(src, DST, now))


# -- HTTP ---------------------------------------------------------------------------


def test_http_request_is_answered_and_recorded():
    st = state(idle_timeout=30.0, request_timeout=10.0)
    r = connect(st)
    assert isinstance(r.conn, HttpConnection) and r.conn.deadline == T0 + 10.0
    r.receive(GET)
    assert len(r.sent) == 1 and r.sent[0].startswith(b"HTTP/1.1 200") and b"Connection: keep-alive" in r.sent[0]
    ((kind, t, origin, rec),) = r.records
    assert (kind, t) == ("http", T0)
    assert origin == CheckinConn("tcp", "192.0.2.7", 40000, "127.0.0.1", 80, None)
    assert rec == Checkin(rule="none", method="GET", host="c2.example", path="/hello", query="x=1",
                          user_agent="Bot/1.0", headers="host: C2.Example:8080\nuser-agent: Bot/1.0",
                          body_len=0, body_head=b"", status=200, response="empty")
    assert not r.closed and r.conn.deadline == T0 + 30.0


def test_rule_match_names_the_family():
    r = connect(state())
    r.receive(GATE)
    rec = r.records[0][3]
    assert (rec.rule, rec.family, rec.body_len, rec.body_head) == ("gate", "testfam", 5, b"id=42")


def test_bad_request_is_recorded_answered_and_closed():
    r = connect(state())
    r.receive(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
    assert r.sent[0].startswith(b"HTTP/1.1 400") and r.closed
    assert (r.records[0][0], r.records[0][3].response, r.records[0][3].status) == ("http", "bad-request", 400)
    assert r.conn.receive(GET, T0) == ()  # nothing more is read


def test_pipelined_requests_answered_in_order():
    r = connect(state())
    r.receive(GET + GATE + GET.replace(b"x=1", b"x=2"))
    assert len(r.sent) == 3 and all(s.startswith(b"HTTP/1.1 200") for s in r.sent)
    assert [x[3].path for x in r.records] == ["/hello", "/gate.php", "/hello"]
    assert [x[3].query for x in r.records] == ["x=1", None, "x=2"]
    assert not r.closed


def test_requests_per_connection():
    r = connect(state(requests_per_connection=2))
    r.receive(GET)
    r.receive(GET)
    assert b"Connection: keep-alive" in r.sent[0] and b"Connection: close" in r.sent[1]
    assert r.closed and len(r.records) == 2
    assert r.conn.receive(GET, T0) == ()


def test_connection_close_request_closes():
    r = connect(state())
    r.receive(GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") + GET)
    assert len(r.sent) == 1 and b"Connection: close" in r.sent[0] and r.closed


def test_silent_policy_records_and_closes_without_an_answer():
    r = connect(state(response="silent"))
    r.receive(GET)
    assert r.sent == [] and r.closed and r.records[0][3].response == "silent" and r.records[0][3].status is None


# -- deadlines -----------------------------------------------------------------------


def test_idle_deadline_closes_without_an_event():
    r = connect(state(idle_timeout=30.0))
    r.receive(GET, T0 + 1)
    assert r.conn.deadline == T0 + 31
    r(r.conn.timeout(T0 + 31.5), T0 + 31.5)
    assert r.closed and len(r.records) == 1


def test_slow_request_deadline_records_a_timeout():
    r = connect(state(request_timeout=10.0, idle_timeout=30.0))
    r.receive(GET[:20], T0 + 2)
    assert r.conn.deadline == T0 + 12 and r.sent == []
    r(r.conn.timeout(T0 + 12.5), T0 + 12.5)
    assert r.closed
    ((kind, t, _, rec),) = r.records
    assert (kind, t, rec.status, rec.response) == ("http", T0 + 12.5, 408, "timeout")
    assert r.conn.timeout(T0 + 13) == []  # once


# -- Expect: 100-continue ----------------------------------------------------------------

BIG = b"a" * 2000
EXPECT = (b"POST /upload HTTP/1.1\r\nHost: c2.example\r\nContent-Length: 2000\r\n"
          b"Expect: 100-continue\r\n\r\n")


def test_expect_100_continue_is_answered_before_the_body():
    r = connect(state())
    r.receive(EXPECT)
    assert r.sent == [CONTINUE] and r.records == []
    r.receive(BIG[:1000])
    assert r.sent == [CONTINUE]  # once
    r.receive(BIG[1000:])
    assert len(r.sent) == 2 and r.sent[1].startswith(b"HTTP/1.1 200")
    ((_, _, _, rec),) = r.records
    assert rec.body_len == 2000 and rec.path == "/upload"


def test_no_100_continue_when_the_body_came_with_it_or_for_http_1_0():
    r = connect(state())
    r.receive(EXPECT + BIG)
    assert len(r.sent) == 1 and r.sent[0].startswith(b"HTTP/1.1 200")
    r = connect(state())
    r.receive(EXPECT.replace(b"HTTP/1.1", b"HTTP/1.0"))
    assert r.sent == []
    r = connect(state(max_body_bytes=1000))  # too big: refused at once, no 100
    r.receive(EXPECT)
    assert len(r.sent) == 1 and r.sent[0].startswith(b"HTTP/1.1 413") and r.closed


# -- the request cache ----------------------------------------------------------------


def test_repeated_request_is_answered_from_the_cache():
    st = state(idle_timeout=30.0)
    r = connect(st)
    first = r.receive(GATE, T0)
    assert len(first) == 1 and isinstance(first[0], Answer)  # put in the cache
    again = r.receive(GATE, T0 + 0.1)
    assert again == [first[0]]  # the same Answer object: no parse, match or render
    assert r.conn.served == 2 and r.conn.deadline == T0 + 30.1
    assert [x[3] for x in r.records] == [first[0].checkin] * 2
    assert [x[1] for x in r.records] == [T0, T0 + 0.1]
    # another connection (another source) gets the same answer, its own origin
    r2 = connect(st, ("192.0.2.8", 1234))
    assert r2.receive(GATE, T0 + 0.2) == [first[0]]  # its first request, too
    assert r2.records[0][2].src_ip == "192.0.2.8"
    # after a PROXY header
    r3 = connect(state(**TRUSTED))
    r3.conn.state.cache.entries.update(st.cache.entries)
    r3.conn.state.cache.until = st.cache.until
    out = r3.receive(proxy_mod.build_v1(("198.51.100.1", 1234), ("192.0.2.53", 80)) + GATE, T0 + 0.3)
    assert out == [first[0]] and r3.records[0][2].src_ip == "198.51.100.1"


def test_cache_entries_expire_at_the_next_second():
    st = state()
    r = connect(st)
    a = r.receive(GATE, T0)[0]
    assert st.cache.get(GATE, T0 + 0.7) is a
    assert st.cache.get(GATE, float(int(T0) + 1)) is None  # the Date header moves on
    b = r.receive(GATE, T0 + 1)[0]
    assert isinstance(b, Answer) and b is not a and len(st.cache.entries) == 1


def test_what_is_not_cached():
    st = state(requests_per_connection=3)
    r = connect(st)
    r.receive(GATE[:30])
    r.receive(GATE[30:])  # a request in two reads
    assert not st.cache.entries
    r.receive(GET + GET)  # two requests in one read
    assert not st.cache.entries
    r.receive(GET)  # the connection's last request (answered 'close')
    assert not st.cache.entries and r.closed
    # a request continuing bytes already received is never taken for a cached one
    r = connect(st)
    r.receive(GATE)
    r.receive(GATE[:12])
    out = r.receive(GATE)
    assert r.sent[-1].startswith(b"HTTP/1.1 4") and not any(isinstance(c, Answer) for c in out)


def test_template_answers_are_not_cached(tmp_path):
    (tmp_path / "page.html").write_text("<p>{{ client_ip }}</p>\n")
    st = ListenerState(listener(response="template", template=tmp_path / "page.html"), rules=RULES,
                       policy=ResponsePolicy(template_file=tmp_path / "page.html"))
    r = connect(st)
    r.receive(GET)
    r.receive(GET)
    assert not st.cache.entries and b"192.0.2.7" in r.sent[1]


def test_last_request_is_not_answered_from_the_cache():
    st = state(requests_per_connection=3)
    r = connect(st)
    for _ in range(3):
        r.receive(GATE)
    assert [b"Connection: close" in s for s in r.sent] == [False, False, True] and r.closed


def test_cached_connection_close_request_closes():
    st = state()
    req = GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    for _ in range(2):
        r = connect(st)
        out = r.receive(req)
        assert isinstance(out[0], Answer) and out[-1] is CLOSE and r.closed
    assert r.conn.receive(req, T0) == ()


def test_parser_caches_belong_to_the_listener():
    st = state()
    assert isinstance(st.parser_caches, ParserCaches)
    for src in (("192.0.2.1", 1), ("192.0.2.2", 2)):
        connect(st, src).receive(GET)
        st.cache.clear()  # parse again
    assert st.parser_caches.known  # the second connection taught the first level
    assert not state().parser_caches.known


# -- PROXY protocol -----------------------------------------------------------------------

TRUSTED = dict(trusted_proxies=("192.0.2.0/24",))


@pytest.mark.parametrize("header", [
    proxy_mod.build_v1(("198.51.100.1", 1234), ("192.0.2.53", 80)),
    proxy_mod.build_v2("198.51.100.1", 1234, "192.0.2.53", 80),
])
def test_proxy_header_from_a_trusted_peer_gives_the_source(header):
    r = connect(state(**TRUSTED))
    r.receive(header[:5])  # in pieces
    r.receive(header[5:] + GET)
    assert r.sent[0].startswith(b"HTTP/1.1 200")
    assert r.records[0][2] == CheckinConn("tcp", "198.51.100.1", 1234, "127.0.0.1", 80, "192.0.2.7")
    assert r.conn.state.counters.proxy_refused == 0


@pytest.mark.parametrize("header", [
    proxy_mod.build_v1(("198.51.100.1", 1234), ("192.0.2.53", 80)),
    proxy_mod.build_v2("198.51.100.1", 1234, "192.0.2.53", 80),
])
@pytest.mark.parametrize("kind", ["http", "tls", "tcp"])
def test_proxy_header_from_an_untrusted_peer_is_refused(header, kind):
    st = state(kind, trusted_proxies=("203.0.113.0/24",))
    r = connect(st)
    r.receive(header + GET)
    assert r.sent == [] and r.closed and st.counters.proxy_refused == 1
    ((k, _, origin, rec),) = r.records
    assert (k, rec.response, origin.src_ip) == (kind, "proxy-refused", "192.0.2.7")


@pytest.mark.parametrize("data", [b"PROXY TCP4 1.2.3 4.5.6.7 1 2\r\n", b"PROXY " + b"x" * 200])
def test_bad_proxy_header_is_refused_even_from_a_trusted_peer(data):
    st = state(**TRUSTED)
    r = connect(st)
    r.receive(data)
    assert r.closed and st.counters.proxy_refused == 1 and r.records[0][3].response == "proxy-refused"


def test_proxy_local_keeps_the_peer():
    r = connect(state(**TRUSTED))
    r.receive(proxy_mod.build_v2(None, None, None, None) + GET)
    assert r.records[0][2].src_ip == "192.0.2.7" and r.records[0][2].peer_ip is None


def test_emulated_clock_from_a_trusted_proxy_header():
    clock = 1_800_000_000.5
    header = proxy_mod.build_v2("198.51.100.1", 1234, "192.0.2.53", 80, [proxy_mod.clock_tlv(clock)])
    r = connect(state(emulated_clock=True, **TRUSTED))
    r.receive(header + GET, T0)
    r.receive(GET, T0 + 2)
    assert [x[1] for x in r.records] == pytest.approx([clock, clock + 2])
    # without emulated_clock the TLV is ignored
    r = connect(state(**TRUSTED))
    r.receive(header + GET, T0)
    assert r.records[0][1] == T0


# -- per-source limits -----------------------------------------------------------------------


def test_per_source_connection_limit():
    st = state(max_connections_per_source=2)
    a, b = st.connect(SRC, DST, T0), st.connect(SRC, DST, T0)
    c = st.connect(SRC, DST, T0)
    assert not a.refused and not b.refused and c.refused
    assert c.receive(GET, T0) == ()
    assert not st.connect(("192.0.2.99", 1), DST, T0).refused  # another source
    a.closed(T0)
    a.closed(T0)  # counted once
    assert st.per_source[SRC[0]] == 1
    assert not st.connect(SRC, DST, T0).refused


# -- TLS ----------------------------------------------------------------------------------


def client_hello(sni: str = "c2.example") -> tuple[ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO, bytes]:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    cin, cout = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = ctx.wrap_bio(cin, cout, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    return client, cin, cout, cout.read()


def test_tls_client_hello_only():
    r = connect(state("tls"))
    assert isinstance(r.conn, TlsConnection)
    _, _, _, hello = client_hello()
    r.receive(hello[:10])
    assert r.records == []
    r.receive(hello[10:])
    assert r.closed and r.sent == []
    ((kind, _, _, rec),) = r.records
    assert kind == "tls" and rec.sni == "c2.example" and rec.host == "c2.example"
    assert rec.response == "close" and rec.length == len(hello) and rec.ja3 and rec.ja4 and rec.tls_version == "1.3"


def test_tls_bad_hello():
    r = connect(state("tls"))
    r.receive(b"\x16\x03\x01\x00\x05hello")
    assert r.closed and r.records[0][3].response == "bad-hello"
    assert r.records[0][3].first_bytes == b"\x16\x03\x01\x00\x05hello"


def test_tls_handshake_and_http_inside(tmp_path):
    ctx = self_signed_context(tmp_path / "tls")
    r = connect(state("tls", ctx=ctx, handshake=True))
    client, cin, cout, hello = client_hello()
    r.receive(hello)
    done = False
    for _ in range(10):
        for data in r.sent:
            cin.write(data)
        r.sent.clear()
        try:
            client.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            pass
        out = cout.read()
        if out:
            r.receive(out)
        if done:
            break
    assert done and not r.closed
    client.write(GATE)
    r.receive(cout.read())
    for data in r.sent:
        cin.write(data)
    answer = b""
    while True:
        try:
            answer += client.read(65536)
        except ssl.SSLWantReadError:
            break
    assert answer.startswith(b"HTTP/1.1 200")
    tls_rec = [x[3] for x in r.records if x[0] == "tls"]
    http_rec = [x[3] for x in r.records if x[0] == "http"]
    assert len(tls_rec) == 1 and tls_rec[0].response == "handshake"
    assert len(http_rec) == 1
    h = http_rec[0]
    assert (h.rule, h.family, h.sni, h.ja3, h.ja4) == ("gate", "testfam", "c2.example", tls_rec[0].ja3, tls_rec[0].ja4)
    assert not r.conn.state.cache.entries  # nothing inside TLS is cached


# -- raw TCP ---------------------------------------------------------------------------


def test_raw_tcp_recorded_at_the_end():
    r = connect(state("tcp", capture_bytes=8, idle_timeout=5.0))
    assert isinstance(r.conn, TcpConnection) and r.conn.deadline == T0 + 5
    r.receive(b"hello ", T0 + 1)
    r.receive(b"world", T0 + 2)
    assert r.records == [] and r.conn.deadline == T0 + 7
    r(r.conn.timeout(T0 + 8), T0 + 8)
    assert r.closed and r.records == []
    r(r.conn.closed(T0 + 8), T0 + 8)
    ((kind, t, _, rec),) = r.records
    assert (kind, t, rec.first_bytes, rec.length) == ("tcp", T0 + 8, b"hello wo", 11)
    assert (rec.response, rec.rule) == ("close", "none")
    assert r.conn.closed(T0 + 9) == []  # once


def test_listener_changes_are_per_state():
    """A state made from another listener (a reload) does not change connections made before."""
    old = state(requests_per_connection=5)
    conn = old.connect(SRC, DST, T0)
    new = ListenerState(replace(old.listener, requests_per_connection=1), rules=RuleSet.empty(),
                        policy=ResponsePolicy(), per_source=old.per_source)
    r = Run(conn)
    r.receive(GATE)
    assert r.records[0][3].rule == "gate" and not r.closed
    r2 = Run(new.connect(("192.0.2.50", 1), DST, T0))
    r2.receive(GATE)
    assert r2.records[0][3].rule == "none" and r2.closed


# -- the asyncio shell, with a fake transport ----------------------------------------------


class FakeTransport:
    def __init__(self, peer=SRC):
        self.peer = peer
        self.out: list[bytes] = []
        self.closing = False
        self.aborted = False

    def get_extra_info(self, name):
        return self.peer if name == "peername" else None

    def write(self, data):
        assert not self.closing
        self.out.append(data)

    def is_closing(self):
        return self.closing

    def close(self):
        self.closing = True

    def abort(self):
        self.closing = self.aborted = True


def test_shell_records(tmp_path, monkeypatch):
    """NetSensor's protocol objects carry out the commands into the check-in
    buffer: one connection record per connection and buffer generation, one
    template per distinct request, one time and key per event."""
    from net_helpers import operation_text

    from takedown.net import server as S
    from takedown.operation import load_operation

    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules.toml").write_text(
        '[[rule]]\nname = "gate"\nfamily = "testfam"\nsource = "x"\npath = "/gate.php"\nmethod = "POST"\n')
    text = operation_text(5353, "shell", '[http]\nlisten = ["127.0.0.1:8080"]\nresponse = "empty"\n'
                          '[fingerprints]\nrules = "rules.toml"\nshipped = false\n')
    (tmp_path / "op.toml").write_text(text)
    op = load_operation(tmp_path / "op.toml")
    from takedown.net.answers import load_answers

    sensor = S.NetSensor(op, 0, "test", load_answers(op))
    sensor.states.append(sensor._state(op.http, sensor.answers, None))  # what start() does per socket
    buf = sensor.writers["http"].checkins

    def accept(peer=SRC):
        p = S._Protocol(sensor, 0, ("127.0.0.1", 8080))
        t = FakeTransport(peer)
        p.connection_made(t)
        return p, t

    old, t_old = accept()
    for _ in range(3):
        old.data_received(GATE)
    assert len(t_old.out) == 3 and all(o.startswith(b"HTTP/1.1 200") for o in t_old.out)
    assert len(buf) == 3 and len(buf.conns) == 1 and len(buf.templates) == 1  # one record, three events
    assert buf.templates[0].rule == "gate" and buf.conns[0].src_ip == SRC[0]
    assert sensor.states[0].cache.entries

    new, t_new = accept(("192.0.2.99", 5))
    new.data_received(GATE)
    assert t_new.out[0].startswith(b"HTTP/1.1 200")
    assert [buf.templates[k & 0xFFFFFFFF].rule for k in buf.keys] == ["gate"] * 4
    assert len(buf.conns) == 2  # one record per connection

    # a flush (new buffer generation) re-registers records and connections
    buf.take()
    old.data_received(GATE)
    assert len(buf) == 1 and len(buf.conns) == 1 and len(buf.templates) == 1
    old.connection_lost(None)
    new.connection_lost(None)
    assert sensor.per_source == {} and not sensor.protocols
