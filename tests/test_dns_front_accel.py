"""The compiled front (takedown.dns._responder_c.front) against the pure
``Responder.respond`` (issue 18, docs/performance.md "The front compiled").

Two responders over one policy in one process are given the same packets,
one answered by the pure method (``takedown.dns.responder.respond_pure``),
one by the compiled front: the responses must be the same bytes, the events
the same rows (and the same Parquet table across event-buffer generations),
the RRL counters and tables the same, and the answer caches the same
entries. Both have the same miss (the compiled ``plain_miss``, or none: every
miss through ``_slow``), so the front is the only difference. Then the
server around it: the UDP batch loop calls the front's C function directly,
TCP calls ``Responder.respond``, and both answer as the pure method does.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import struct
import subprocess
import sys
import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from differential import cases as C
from differential.conftest import write_operation
from takedown.dns import responder as responder_mod
from takedown.dns import wire
from takedown.dns.policy import Policy
from takedown.dns.responder import Responder, respond_pure
from takedown.dns.rrl import RateLimiter
from takedown.operation import load_operation
from takedown.store.dnsbuffer import DnsBuffer
from test_dns_miss_accel import _query, _variants
from test_dns_responder_accel import dns_sockets
from test_dns_responder_accel import zonegen_case  # noqa: F401 - the fixture: bench/dns_micro.py's scenario, small

try:
    from takedown.dns import _responder_c
except ImportError:
    _responder_c = None

try:
    from takedown.dns import _udp_c
except ImportError:
    _udp_c = None

pytestmark = pytest.mark.skipif(_responder_c is None, reason="_responder_c not built")

NOW = 1_700_000_000.25
KW = {"operation": "op", "sensor": "s", "worker": 0}
_ENTRY_FIELDS = tuple(f for f in responder_mod._Entry.__slots__ if f != "gen")
RRL = {"responses_per_second": 1, "nxdomains_per_second": 3, "errors_per_second": 2, "slip": 2}
# the listeners a query may come to: each change of listener re-keys the event
LISTENERS = (("127.0.0.1", 53), ("127.0.0.1", 53), ("::1", 5353), ("127.0.0.2", 53))
MISSES = ["compiled", None]


@pytest.fixture(scope="module")
def differential_policy(tmp_path_factory):
    op = write_operation(tmp_path_factory.mktemp("front-accel"), "127.0.0.1", 53)
    return Policy(load_operation(op), serial=7)


def _miss(which):
    return _responder_c.plain_miss if which == "compiled" else None


def _entries(r: Responder) -> dict[bytes, tuple]:
    return {k: tuple(getattr(e, f) for f in _ENTRY_FIELDS) + (e.gen is r.events.gen,) for k, e in r.cache.items()}


def _batches_equal(pure: Responder, fast: Responder) -> int:
    """Take both event buffers' batches; the same rows and the same table. The events taken."""
    a, b = pure.events.take(), fast.events.take()
    if a is None:
        assert b is None
        return 0
    assert pure.events.rows(a) == fast.events.rows(b)
    ta, tb = pure.events.to_table(a, **KW), fast.events.to_table(b, **KW)
    assert ta.schema == tb.schema and ta.equals(tb)
    return len(a[0])


def _same(policy, packets, *, repeat=2, transports=("udp", "tcp"), rrl=RRL, miss="compiled",
          max_templates=None, take_every=0, **kw) -> tuple[Responder, Responder]:
    """Every packet ``repeat`` times over each transport to both responders: all equal."""
    pair = []
    for _ in range(2):
        buf = DnsBuffer() if max_templates is None else DnsBuffer(max_templates=max_templates)
        r = Responder(policy, buf, rrl=RateLimiter(**rrl) if rrl else None, **kw)
        r.plain_miss = _miss(miss)
        pair.append(r)
    pure, fast = pair
    n = taken = 0
    gens = {id(fast.events.gen)}
    for transport in transports:
        for i, data in enumerate(packets):
            dst_ip, dst_port = LISTENERS[i % len(LISTENERS)]
            for _ in range(repeat):  # a miss, then the cached answer
                args = (data, f"192.0.2.{i % 5}", 1024 + i % 50_000, transport, dst_ip, dst_port, NOW + i / 8)
                a = respond_pure(pure, *args)
                b = _responder_c.front(fast, *args)
                assert a == b, f"{transport} packet {i}: {data!r}"
                n += 1
                if take_every and n % take_every == 0:
                    taken += _batches_equal(pure, fast)
                    gens.add(id(fast.events.gen))
    assert pure.events.rows() == fast.events.rows()
    assert taken + len(fast.events) == n  # one event per query
    assert _entries(pure) == _entries(fast)
    assert pure._nx == fast._nx
    if rrl:
        assert pure.rrl.counters() == fast.rrl.counters()  # the limiter's verdicts, counted
        assert pure.rrl.table == fast.rrl.table
    fast.gens = len(gens)
    return pure, fast


# --------------------------------------------------------------------------- selection


def test_the_front_is_respond_when_built():
    if os.environ.get("TAKEDOWN_PURE") != "1":
        assert Responder.respond is _responder_c.front
    code = ("from takedown.dns import responder as m; "
            "print(m.Responder.respond is m.respond_pure, m.Responder.respond.__name__)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for pure, expect in (("1", "True respond"), ("0", "False front")):
        out = subprocess.run([sys.executable, "-c", code], env={**env, "TAKEDOWN_PURE": pure},
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expect


# --------------------------------------------------------------------------- in process, pure against compiled


@pytest.mark.parametrize("miss", MISSES)
@pytest.mark.parametrize("max_udp", [512, 1232])
def test_differential_cases_agree(differential_policy, miss, max_udp):
    cases = list(C.all_cases()) + list(C.shapes_cases()) + list(C.chains_cases())
    _pure, fast = _same(differential_policy, [c.wire() for c in cases], miss=miss, max_udp_payload=max_udp)
    assert fast.cache
    outcomes = {row[-1] for row in fast.events.rows()}
    assert {"answer", "rrl-slip", "rrl-drop", "formerr"} <= outcomes


@pytest.mark.parametrize("miss", MISSES)
def test_edns_sizes_and_truncation_agree(differential_policy, miss):
    """Every differential question plain and with EDNS sizes 100-4096, DO or
    not, in upper case, under a 512-octet server limit and a 1232 one: the
    answers larger than the UDP limit go to ``_slow`` and come back truncated."""
    seen = set()
    packets = []
    for c in list(C.all_cases()) + list(C.shapes_cases()):
        try:
            q = wire._PURE.parse_query(c.wire())
        except wire.WireError:
            continue
        if (q.qname.lower(), q.qtype, q.qclass) not in seen:
            seen.add((q.qname.lower(), q.qtype, q.qclass))
            packets += _variants(c.wire())
    for max_udp in (512, 1232):
        _pure, fast = _same(differential_policy, packets, miss=miss, rrl=None, max_udp_payload=max_udp)
        assert "truncated" in {row[-1] for row in fast.events.rows()}


def test_cold_zonegen_run_with_slips_and_drops_agrees(zonegen_case):
    policy, packets = zonegen_case
    _pure, fast = _same(policy, packets, transports=("udp",))
    outcomes = {row[-1] for row in fast.events.rows()}
    assert {"answer", "rrl-slip", "rrl-drop"} <= outcomes


@pytest.mark.parametrize("miss", MISSES)
def test_event_buffer_generations_agree(zonegen_case, miss):
    """The buffer starts a new generation at a take past ``max_templates``:
    every cached entry's answer record is registered again (``e.gen``)."""
    policy, packets = zonegen_case
    _pure, fast = _same(policy, packets[:600], miss=miss, rrl=None, max_templates=40, take_every=97)
    assert fast.gens > 5


def test_a_subclass_keeps_its_own_record(differential_policy):
    """The front logs through ``_record`` of a subclass that has its own."""
    seen = []

    class Spy(Responder):
        def _record(self, e, *args):
            seen.append(e.qname)
            return super()._record(e, *args)

    r = Spy(differential_policy, DnsBuffer())
    data = _query(wire.text_to_wire("www.3322.org"), wire.A)
    out = r.respond(data, "192.0.2.1", 1, "udp", "127.0.0.1", 53, NOW)
    assert out is not None and seen == ["www.3322.org"] and len(r.events) == 1


def _outcome(fn, *args):
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - the same failure is the point
        return type(e), str(e)


def test_packets_not_bytes_take_the_pure_method(differential_policy):
    """What is not a bytes object goes to the pure method, with its result or its error."""
    pure, fast = (Responder(differential_policy, DnsBuffer()) for _ in range(2))
    data = _query(wire.text_to_wire("www.3322.org"), wire.A)
    short = data[:11]
    outcomes = []
    for packet in (bytearray(data), memoryview(data), bytearray(short), memoryview(short)):
        args = (packet, "192.0.2.1", 1, "udp", "127.0.0.1", 53, NOW)
        outcomes.append(_outcome(_responder_c.front, fast, *args))
        assert outcomes[-1] == _outcome(respond_pure, pure, *args)
    assert outcomes[0][0] is TypeError  # (bytearray is unhashable: the cache key)
    assert pure.events.rows() == fast.events.rows()


# --------------------------------------------------------------------------- random and malformed packets

# (64 octets and more is not a label: 0x40 is another label type; the letters' ASCII neighbours: not folded)
_LABELS = st.sampled_from([b"www", b"WwW", b"mail", b"*", b"3322", b"org", b"ORG", b"shapes", b"example", b"chains",
                           b"sub", b"ns1", b"a", b"x-y", b"_tcp", b"\xff\x00", b"seized", b"A" * 63,
                           b"b" * 64, b"c" * 200, b"@AZ[`az{"])
_SUFFIXES = ["3322.org", "shapes.example", "chains.example", "seized.example", "", "org"]
_TYPES = [wire.A, wire.AAAA, wire.MX, wire.NS, wire.TXT, wire.SOA, wire.CNAME, wire.DS, wire.ANY, wire.AXFR, wire.IXFR,
          wire.DNSKEY, 99, 65535]


@st.composite
def _names(draw) -> bytes:
    labels = draw(st.lists(st.one_of(_LABELS, st.binary(min_size=1, max_size=63)), min_size=0, max_size=6))
    name = b"".join(bytes([len(x)]) + x for x in labels)
    suffix = draw(st.sampled_from(_SUFFIXES))
    if suffix:
        name += wire.text_to_wire(suffix)[:-1]
    end = draw(st.sampled_from([b"\x00", b"\x00", b"\x00", b"\xc0\x0c", b"\x40", b"\x7f", b"\x3f"]))
    return name + end  # the root, a compression pointer, a label over 63 octets, one cut short


@st.composite
def _opt(draw) -> bytes:
    """An OPT record: the fast path's shape (root owner, version 0, no options) or nearly."""
    owner = draw(st.sampled_from([b"\x00", b"\x00", b"\x00", b"\x01a\x00", b"\xc0\x0c"]))
    size = draw(st.integers(0, 65535))
    ext = draw(st.sampled_from([0, 0, 0x8000, 0x00018000, 0x01000000, 0x7FFF]))  # DO, ext-rcode, version 1
    options = draw(st.sampled_from([b"", b"", b"", b"\x00\x0a\x00\x08" + b"c" * 8,  # a cookie
                                    b"\x00\x08\x00\x04\x00\x01\x00\x00"]))  # ECS
    rdlen = len(options) if draw(st.booleans()) else draw(st.integers(0, 20))
    return owner + struct.pack("!HHIH", wire.OPT, size, ext, rdlen) + options


@st.composite
def _packets(draw) -> bytes:
    name = draw(_names())
    qtype = draw(st.sampled_from(_TYPES))
    qclass = draw(st.sampled_from([1, 1, 1, 3, 255, 254, 4]))
    flags = draw(st.one_of(st.integers(0, 0x07FF), st.integers(0, 0xFFFF)))  # QR, TC, opcodes, rcode bits
    counts = draw(st.sampled_from([(1, 0, 0, 0), (1, 0, 0, 1), (1, 0, 0, 1), (2, 0, 0, 0), (1, 1, 0, 0),
                                   (1, 0, 1, 0), (0, 0, 0, 0), (1, 0, 0, 2), (1, 0, 0, 257)]))
    out = struct.pack("!HHHHHH", draw(st.integers(0, 0xFFFF)), flags, *counts) + name + struct.pack("!HH", qtype,
                                                                                                     qclass)
    if counts[0] == 2 and draw(st.booleans()):
        out += name + struct.pack("!HH", qtype, qclass)
    if counts[3]:
        out += draw(_opt())
    mutation = draw(st.sampled_from(["none", "none", "none", "cut", "flip", "junk"]))
    if mutation == "cut":
        out = out[: draw(st.integers(0, len(out)))]
    elif mutation == "flip":
        at = draw(st.integers(0, len(out) - 1))
        out = out[:at] + bytes([draw(st.integers(0, 255))]) + out[at + 1:]
    elif mutation == "junk":
        out += draw(st.binary(min_size=1, max_size=8))
    return out


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_packets(), min_size=1, max_size=6), st.sampled_from(MISSES), st.sampled_from([512, 1232]))
def test_random_and_malformed_packets_agree(differential_policy, packets, miss, max_udp):
    _same(differential_policy, packets, miss=miss, max_udp_payload=max_udp)


def test_short_and_broken_packets_agree(differential_policy):
    """Every prefix of a few plain and EDNS queries, and each with every byte of its header set high."""
    base = [_query(wire.text_to_wire("www.3322.org"), wire.A),
            _query(wire.text_to_wire("WWW.Shapes.Example"), wire.TXT, edns=1232, do=True),
            _query(wire.text_to_wire("x.seized.example"), wire.AAAA, edns=600)]
    for size in (63, 64, 65, 127, 191, 255):  # a label of 64 octets or more is not a label
        base.append(_query(bytes([size]) + b"x" * size + b"\x043322\x03org\x00", wire.A))
    packets = [b""] + [p[:k] for p in base for k in range(len(p))]
    packets += [p[:k] + b"\xff" + p[k + 1:] for p in base for k in range(len(p))]
    packets += [p[:11] + b"\x01" + p[12:] + b"\x00" + struct.pack("!HHIH", wire.OPT, 1232, 0, 4) + b"\x00\x0a\x00\x00"
                for p in base[:1]]  # an empty cookie option
    _same(differential_policy, packets, repeat=2)


def test_random_floods_agree(differential_policy):
    """Random subdomains under each zone, random case, plain and EDNS: the cold path's own traffic."""
    rnd = random.Random(18)
    packets = []
    for _ in range(1500):
        # (the letters' neighbours in ASCII: only A-Z are folded in the key)
        label = "".join(rnd.choice("abcdefghijABCDEF0123-@Z[`z{") for _ in range(rnd.randint(1, 30)))
        zone = rnd.choice(["3322.org", "shapes.example", "chains.example", "seized.example", "nowhere.test", "ORG"])
        edns = rnd.choice([None, None, 512, 1232, 4096])
        packets.append(_query(wire.text_to_wire(f"{label}.{zone}"), rnd.choice([wire.A, wire.AAAA, wire.TXT, wire.MX]),
                              qid=rnd.randrange(65536), edns=edns, do=rnd.random() < 0.3))
    _same(differential_policy, packets, repeat=1, transports=("udp",))


# --------------------------------------------------------------------------- the server around it

async def _serve(responder, batched, host, udp_packets, tcp_packets):
    from takedown.dns.server import DnsShell

    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    us, ts, port = dns_sockets(family, host)
    shell = DnsShell(responder, tcp_idle=5.0, say=print)
    shell.udp_twin = _udp_c if batched else None
    client = socket.socket(family, socket.SOCK_DGRAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    client.bind((host, 0))
    try:
        await shell.start(loop, [(host, port, us, ts)])
        drain = shell._batched.get(us)
        direct = drain.direct if drain is not None else None
        for p in udp_packets:
            client.sendto(p, (host, port))
        for _ in range(500):
            await asyncio.sleep(0.01)
            if len(responder.events) >= len(udp_packets):
                break
        udp_answers = []
        client.setblocking(False)
        try:
            while True:
                udp_answers.append(client.recv(65535))
        except BlockingIOError:
            pass
        reader, writer = await asyncio.open_connection(host, ts.getsockname()[1])
        tcp_answers = []
        for p in tcp_packets:
            writer.write(len(p).to_bytes(2, "big") + p)
            n = int.from_bytes(await reader.readexactly(2), "big")
            tcp_answers.append(await reader.readexactly(n))
        writer.close()
        await shell.close()
    finally:
        client.close()
        ts.close()
    # not the time, nor the ports (each run has its own client and server)
    rows = [row[1:3] + (row[4], row[5] == port) + row[6:] for row in responder.events.rows()]
    return direct, udp_answers, tcp_answers, rows


@pytest.mark.skipif(_udp_c is None, reason="_udp_c not built")
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_the_batch_loop_calls_the_front_directly_and_answers_as_the_pure_method(differential_policy, host):
    try:
        socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM).bind((host, 0))
    except OSError:
        pytest.skip(f"no {host} here")
    cases = [c.wire() for c in list(C.all_cases()) + list(C.shapes_cases())]
    udp_packets = (cases * 2)[:280] + [b"", b"\xff" * 13]
    tcp_packets = [p for p in cases[:60] if len(p) > 12]
    runs = []
    for front in (False, True):
        r = Responder(differential_policy, DnsBuffer(), rrl=RateLimiter(3, slip=2))
        # for this responder only, whatever TAKEDOWN_PURE says
        r.respond = types.MethodType(_responder_c.front if front else respond_pure, r)
        runs.append(asyncio.run(_serve(r, True, host, udp_packets, tcp_packets)))
    (d0, udp0, tcp0, rows0), (d1, udp1, tcp1, rows1) = runs
    assert (d0, d1) == (False, True)
    assert len(udp0) > 200 and len(tcp0) == len(tcp_packets)
    assert (udp1, tcp1, rows1) == (udp0, tcp0, rows0)
    assert len(rows1) == len(udp_packets) + len(tcp_packets)  # one event per datagram and message
