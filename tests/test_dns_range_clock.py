"""Range mode for DNS: the emulated clock travels in EDNS(0) option 65423 (8 bytes,
big-endian microseconds since 1970, the encoding of the PROXY v2 clock TLV) and
stamps the query's event, only from the networks of ``[dns] emulated_clock``
(weeks pass in minutes on the range; nobody else can move a real operation's
clock). Rate limiting keeps the wall clock."""

from __future__ import annotations

import struct
import time
from datetime import date, datetime, timezone
from pathlib import Path

import dns.edns
import dns.message
import pytest

from takedown.dns import wire
from takedown.dns.policy import Policy
from takedown.dns.rrl import RateLimiter
from takedown.errors import OperationError
from takedown.net.proxy import encode_clock
from takedown.operation import load_operation, summarize
from takedown.store import reader

from dns_helpers import Server, logged_responder, make_operation, query, tcp, udp

EXAMPLE = "examples/operation.toml"
SEIZED = "christmas-ecard-online.example"  # waledac, examples/waledac-domains.txt
EMULATED = datetime(2011, 3, 16, 12, 30, 15, 250000, tzinfo=timezone.utc).timestamp()  # Rustock's takedown


def clock_option(unix_time: float) -> dns.edns.GenericOption:
    return dns.edns.GenericOption(wire.EDNS_TAKEDOWN_CLOCK, encode_clock(unix_time))


def clock_query(name: str = SEIZED, unix_time: float = EMULATED, **kw) -> bytes:
    return dns.message.make_query(name, "A", use_edns=0, options=[clock_option(unix_time)], **kw).to_wire()


# ---------------------------------------------------------------- wire


def test_option_code_is_local_experimental():
    assert 65001 <= wire.EDNS_TAKEDOWN_CLOCK == 65423 <= 65534


def test_parse_clock_option():
    q = wire.parse_query(clock_query())
    assert q.edns.clock == EMULATED
    assert q.edns_error is None
    # raw bytes, as the task states the encoding
    micros = int(EMULATED * 1_000_000)
    raw = dns.edns.GenericOption(65423, struct.pack("!Q", micros))
    q = wire.parse_query(dns.message.make_query(SEIZED, "A", use_edns=0, options=[raw]).to_wire())
    assert q.edns.clock == micros / 1e6


def test_clock_next_to_other_options():
    ecs = dns.edns.ECSOption("198.51.100.0", 24)
    q = wire.parse_query(
        dns.message.make_query(SEIZED, "A", use_edns=0, options=[ecs, clock_option(EMULATED)]).to_wire())
    assert (q.edns.ecs, q.edns.clock) == ("198.51.100.0/24", EMULATED)


@pytest.mark.parametrize("value", [b"", b"\x00" * 7, b"\x00" * 9, struct.pack("!Q", 2**64 - 1)],
                         ids=["empty", "7-bytes", "9-bytes", "after-year-9999"])
def test_malformed_clock_is_absent_not_an_error(value):
    opt = dns.edns.GenericOption(wire.EDNS_TAKEDOWN_CLOCK, value)
    q = wire.parse_query(dns.message.make_query(SEIZED, "A", use_edns=0, options=[opt]).to_wire())
    assert q.edns is not None and q.edns.clock is None and q.edns_error is None


def test_no_clock_option():
    assert wire.parse_query(dns.message.make_query(SEIZED, "A", use_edns=0).to_wire()).edns.clock is None
    assert wire.parse_query(dns.message.make_query(SEIZED, "A").to_wire()).edns is None


# ---------------------------------------------------------------- responder


@pytest.fixture(scope="module")
def policy():
    return Policy(load_operation(EXAMPLE), serial=2024010101)


def make_responder(policy, networks=("127.0.0.0/8", "::1"), rrl=None):
    return logged_responder(policy, rrl=rrl, emulated_clock=networks)


def ask(r, data: bytes, src: str = "127.0.0.1", transport: str = "udp"):
    out = r.respond(data, src, 5353, transport, "127.0.0.1", 53, time.time())
    return dns.message.from_wire(out) if out is not None else None


def test_trusted_source_sets_the_event_time(policy):
    r = make_responder(policy)
    for src, transport in (("127.0.0.1", "udp"), ("127.9.9.9", "tcp"), ("::1", "udp")):
        resp = ask(r, clock_query(), src, transport)
        assert resp.rcode() == 0 and resp.answer  # answered as usual (sunk)
        row = r.buffer.rows()[-1]
        assert row[0] == EMULATED, src
        assert (row[1], row[2], row[6], row[9], row[12]) == (transport, src, SEIZED, "domain:waledac", "answer")
    # the answer is the one a query without the option gets (the option is not echoed)
    plain = ask(r, dns.message.make_query(SEIZED, "A", use_edns=0).to_wire())
    assert [str(x) for x in resp.answer] == [str(x) for x in plain.answer]
    assert not resp.options


def test_untrusted_source_clock_is_ignored(policy):
    r = make_responder(policy)
    for src in ("192.0.2.7", "2001:db8::7", "::ffff:127.0.0.1", ""):
        before = time.time()
        assert ask(r, clock_query(), src).rcode() == 0
        assert before <= r.buffer.rows()[-1][0] <= time.time(), src


def test_clock_ignored_when_off(policy):
    r = make_responder(policy, networks=())
    before = time.time()
    ask(r, clock_query())
    assert before <= r.buffer.rows()[-1][0] <= time.time()


def test_no_option_real_time(policy):
    r = make_responder(policy)
    before = time.time()
    for q in (dns.message.make_query(SEIZED, "A"), dns.message.make_query(SEIZED, "A", use_edns=0)):
        for _ in range(2):  # the second is served from the answer cache (fast path)
            ask(r, q.to_wire())
            assert before <= r.buffer.rows()[-1][0] <= time.time()
    assert not r._clock_trust  # no membership test without a clock option


def test_malformed_clock_real_time(policy):
    r = make_responder(policy)
    before = time.time()
    opt = dns.edns.GenericOption(wire.EDNS_TAKEDOWN_CLOCK, b"\x01\x02\x03")
    assert ask(r, dns.message.make_query(SEIZED, "A", use_edns=0, options=[opt]).to_wire()).rcode() == 0
    assert before <= r.buffer.rows()[-1][0] <= time.time()


def test_trust_decision_cached_per_source(policy):
    r = make_responder(policy)
    ask(r, clock_query(), "127.0.0.1")
    ask(r, clock_query(), "127.0.0.1")
    ask(r, clock_query(), "192.0.2.1")
    assert r._clock_trust == {"127.0.0.1": True, "192.0.2.1": False}
    r.trust_clock(())  # a reload that turns range mode off
    before = time.time()
    ask(r, clock_query(), "127.0.0.1")
    assert before <= r.buffer.rows()[-1][0]


def test_rrl_keeps_the_wall_clock(policy):
    """Emulated times far apart must not refill a source's credit: 3 answers a
    second, then rate limited, however much emulated time passes; the limited
    events still carry the emulated time."""
    rrl = RateLimiter(3, slip=2, window=1)
    r = make_responder(policy, rrl=rrl)
    day = 86400.0
    for i in range(8):
        ask(r, clock_query(unix_time=EMULATED + i * 7 * day), "127.0.0.1")
    outcomes = [row[12] for row in r.buffer.rows()]
    assert outcomes[:3] == ["answer"] * 3
    assert set(outcomes[3:]) <= {"rrl-slip", "rrl-drop"} and len(outcomes) == 8
    assert [row[0] for row in r.buffer.rows()] == [EMULATED + i * 7 * day for i in range(8)]


# ---------------------------------------------------------------- operation file

OP = """\
[operation]
name = "t"
storage = "data"

[sinkhole]
ipv4 = ["192.0.2.53"]
ttl = 300
soa_email = "hostmaster.sinkhole.example"
nameservers = { "ns1.sinkhole.example" = "192.0.2.1" }

[dns]
listen = ["127.0.0.1:5353"]
{clock}
"""


def test_operation_emulated_clock(tmp_path: Path):
    f = tmp_path / "op.toml"
    f.write_text(OP.replace("{clock}", 'emulated_clock = ["127.0.0.0/8", "::1", "192.0.2.9"]'))
    op = load_operation(f)
    assert op.dns.emulated_clock == ("127.0.0.0/8", "::1/128", "192.0.2.9/32")
    s = summarize(op)
    assert s["dns"]["emulated_clock"] == ["127.0.0.0/8", "::1/128", "192.0.2.9/32"]
    assert any(n.startswith("[dns] emulated_clock = 127.0.0.0/8") and "range mode" in n for n in s["notes"])

    f.write_text(OP.replace("{clock}", 'emulated_clock = "::1"'))  # one network without brackets
    assert load_operation(f).dns.emulated_clock == ("::1/128",)

    f.write_text(OP.replace("{clock}", ""))
    op = load_operation(f)
    assert op.dns.emulated_clock == ()
    assert summarize(op)["dns"]["emulated_clock"] == []
    assert not any("emulated_clock" in n for n in summarize(op)["notes"])


@pytest.mark.parametrize("value, line, fragment", [
    ('["127.0.0.0/8", "127.0.0.999"]', 13,
     "dns.emulated_clock[1] must be a network like 127.0.0.0/8 or ::1/128, not '127.0.0.999'"),
    ('[\n  "::1",\n  "localhost",\n]', 15, "dns.emulated_clock[1] must be a network"),
    ("true", 13, "dns.emulated_clock must be a string or an array of strings, not true"),
])
def test_operation_bad_emulated_clock(tmp_path: Path, value, line, fragment):
    f = tmp_path / "op.toml"
    f.write_text(OP.replace("{clock}", f"emulated_clock = {value}"))
    with pytest.raises(OperationError) as info:
        load_operation(str(f))
    msg = str(info.value)
    assert msg.startswith(f"{f}:{line}: "), msg
    assert fragment in msg and "\n" not in msg


# ---------------------------------------------------------------- end to end


def test_served_events_stored_under_the_emulated_day(tmp_path: Path):
    opfile = make_operation(tmp_path, flush_interval=0.2)
    text = opfile.read_text()
    listen = 'listen = ["127.0.0.1:5353"]'
    assert text.count(listen) == 1
    opfile.write_text(text.replace(listen, listen + '\nemulated_clock = ["127.0.0.0/8"]'))

    srv = Server.start(opfile)  # its probes carry no clock: stored under today
    try:
        opts = [clock_option(EMULATED)]
        r1 = udp(query(SEIZED, "A", options=opts), srv.port)
        r2 = udp(query(SEIZED, "A", options=opts), srv.port)  # a cached answer: the same time
        r3 = tcp(query("www.3322.org", "A", options=[clock_option(EMULATED + 3600)]), srv.port)
        assert r1.rcode() == r2.rcode() == r3.rcode() == 0 and r1.answer and r3.answer
        plain_before = time.time()
        udp(query(SEIZED, "A"), srv.port)  # no option: the wall clock
        assert srv.stop() == 0
    finally:
        srv.kill()
    assert "Traceback" not in srv.stderr()

    storage = tmp_path / "data"
    files = reader.event_files(storage, "dns")
    assert any("date=2011-03-16" in str(f) for f in files)
    con = reader.connect(storage, "dns")
    rows = con.execute(
        "SELECT epoch_us(time), date, transport, qname, src_ip FROM events WHERE date < DATE '2012-01-01' "
        "ORDER BY time").fetchall()
    micros = round(EMULATED * 1e6)
    assert rows == [
        (micros, date(2011, 3, 16), "udp", SEIZED, "127.0.0.1"),
        (micros, date(2011, 3, 16), "udp", SEIZED, "127.0.0.1"),
        (micros + 3600 * 10**6, date(2011, 3, 16), "tcp", "www.3322.org", "127.0.0.1"),
    ]
    [(plain_time,)] = con.execute(
        "SELECT epoch_us(time) FROM events WHERE qname = ? AND date >= DATE '2012-01-01' "
        "ORDER BY time DESC LIMIT 1", [SEIZED]).fetchall()
    assert plain_before - 5 < plain_time / 1e6 < time.time() + 5
