"""The responder's miss path around the decision (issue 18): its event, RRL key and cache.

A miss now logs its event as the fast path does (the answer's record
registered once, three numbers appended), keys RRL from the query name's
text it already made (shared accounts' keys made once), opens a new RRL
account inline, and stops caching a zone's NXDOMAIN answers past a bound. Each
is held here to the behaviour it replaced, with each implementation of
takedown.dns.wire (pure and compiled) in one process: the same response
bytes, the same events (rows and the Parquet table), the same RRL keys and
verdicts.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import sys
from pathlib import Path

import pytest

from differential import cases as C
from differential.conftest import write_operation
from dns_helpers import logged_responder
from takedown.dns import responder as responder_mod
from takedown.dns import wire
from takedown.dns.policy import Policy
from takedown.dns.responder import Responder
from takedown.dns.rrl import ERROR_KEY, ERRORS, NODATA, NXDOMAINS, REFERRALS, RESPONSES, RateLimiter
from takedown.dns.wire import NOERROR, NS, NXDOMAIN
from takedown.operation import load_operation
from takedown.store.dnsbuffer import DnsBuffer

try:
    from takedown.dns import _wire_c
except ImportError:
    _wire_c = None

REPO = Path(__file__).resolve().parent.parent
NOW = 1_700_000_000.25
KW = {"operation": "op", "sensor": "s", "worker": 0}
IMPLS = ["pure", pytest.param("compiled", marks=pytest.mark.skipif(_wire_c is None, reason="_wire_c not built"))]


def _use(monkeypatch, impl: str) -> None:
    mod = wire._PURE if impl == "pure" else _wire_c
    for name in wire.ACCELERATED:
        monkeypatch.setattr(wire, name, getattr(mod, name))


class _RowResponder(Responder):
    """The miss path's logging before this change: a 13-field row through ``add_row``."""

    def _record(self, e, at, transport, src_ip, src_port, dst_ip, dst_port):
        self.log((at, transport, src_ip, src_port, dst_ip, dst_port, e.qname, e.qtype, e.rcode, e.rule,
                  e.family, None, "answer"))


def _old_rrl_key(policy: Policy, qn: bytes, qtype: int, res) -> tuple[int, str]:
    """The RRL key as it was made before (every name through name_to_text)."""
    text = wire._PURE.name_to_text
    if res.rcode == NXDOMAIN:
        owner = res.authority[0][0][0] if res.authority else qn
        return NXDOMAINS, "X" + text(owner)
    if res.rcode != NOERROR:
        return ERRORS, ERROR_KEY
    if res.answer:
        return RESPONSES, f"R{text(policy.limit_name(qn))}/{qtype}"
    if not res.aa and res.authority:
        owner, rec = res.authority[0][0]
        if wire.rec_type(rec) == NS:
            return REFERRALS, "F" + text(owner)
    return NODATA, "D" + text(policy.limit_name(qn))


@pytest.fixture(scope="module")
def zonegen_case():
    """A small cache-cold scenario of the benchmark (bench/dns_micro.py's): zonegen zone, distinct queries."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import dns_micro
    finally:
        sys.path.remove(str(REPO / "bench"))
    policy, queries = dns_micro.build_policy(3000, 200, 6000)
    packets = dns_micro.distinct_queries(queries, 3000)
    assert len(packets) > 2000
    return policy, packets


@pytest.fixture(scope="module")
def differential_policy(tmp_path_factory):
    op = write_operation(tmp_path_factory.mktemp("resp-accel"), "127.0.0.1", 53)
    return Policy(load_operation(op), serial=7)


def _run(cls, policy, packets, rrl=None, **kw):
    buf = DnsBuffer()
    r = cls(policy, buf, rrl=RateLimiter(**rrl) if rrl else None, **kw)  # a limiter of its own
    out = []
    for transport in ("udp", "tcp"):
        for i, data in enumerate(packets):
            for _ in range(2):  # a miss, then the cached answer
                out.append(r.respond(data, f"192.0.2.{i % 7}", 1024 + i, transport, "127.0.0.1", 53, NOW + i))
    return out, buf


def _same_events(packets, policy, **kw) -> None:
    new_out, new_buf = _run(Responder, policy, packets, **kw)
    old_out, old_buf = _run(_RowResponder, policy, packets, **kw)
    assert len(new_out) == 4 * len(packets)
    for i, (a, b) in enumerate(zip(old_out, new_out)):
        assert a == b, f"packet {i // 2 % len(packets)}: {packets[i // 2 % len(packets)]!r}"
    rows = new_buf.rows()
    assert len(rows) == 4 * len(packets)  # one event per query, missed or cached
    assert rows == old_buf.rows()
    old_t = old_buf.to_table(old_buf.take(), **KW)
    new_t = new_buf.to_table(new_buf.take(), **KW)
    assert new_t.schema == old_t.schema and new_t.equals(old_t)


@pytest.mark.parametrize("impl", IMPLS)
def test_miss_events_equal_the_row_path_on_a_cold_zonegen_run(monkeypatch, zonegen_case, impl):
    _use(monkeypatch, impl)
    policy, packets = zonegen_case
    # RRL on at a rate a repeated question exceeds: slips and drops take the row path
    _same_events(packets, policy, rrl={"responses_per_second": 1, "nxdomains_per_second": 5, "slip": 2})


@pytest.mark.parametrize("impl", IMPLS)
def test_miss_events_equal_the_row_path_on_the_differential_cases(monkeypatch, differential_policy, impl):
    _use(monkeypatch, impl)
    cases = list(C.all_cases()) + list(C.shapes_cases()) + list(C.chains_cases())
    _same_events([c.wire() for c in cases], differential_policy, max_udp_payload=512)


@pytest.mark.parametrize("impl", IMPLS)
def test_rrl_keys_equal_the_text_formula(monkeypatch, zonegen_case, impl):
    _use(monkeypatch, impl)
    policy, packets = zonegen_case
    r = logged_responder(policy)
    keys = []
    for data in packets:
        r.respond(data, "192.0.2.1", 1, "udp", "127.0.0.1", 53, NOW)
        q = wire._PURE.parse_query(data)
        res, _rule, _fam = r._decide(q, True)
        e = r.cache[data[2 : q.question_end - 4].lower() + data[q.question_end - 4 : q.question_end] + b"N"]
        assert (e.rc, e.rk) == _old_rrl_key(policy, q.qname.lower(), q.qtype, res), data
        keys.append((e.rc, e.rk))
    classes = {rc for rc, _ in keys}
    assert {RESPONSES, NXDOMAINS} <= classes
    # a shared account's key is one object for every answer under it
    nx = [rk for rc, rk in keys if rc == NXDOMAINS]
    assert len(nx) > 10 and len({id(k) for k in nx}) == len(set(nx))


def test_nxdomain_flood_is_answered_but_not_all_cached(monkeypatch, differential_policy):
    monkeypatch.setattr(responder_mod, "_NX_PER_ZONE", 20)
    r = logged_responder(differential_policy)
    fresh = logged_responder(differential_policy)

    def ask(resp, name, qid=1):
        data = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + wire.text_to_wire(name) + struct.pack("!HH", 1, 1)
        return resp.respond(data, "192.0.2.1", 1, "udp", "127.0.0.1", 53, NOW)

    names = [f"flood{i}x.shapes.example" for i in range(60)]
    got = [ask(r, n) for n in names]
    assert all(g is not None and g[3] & 0xF == NXDOMAIN for g in got)
    nx = [e for e in r.cache.values() if e.rc == NXDOMAINS]
    assert len(nx) == 20 and {e.rk for e in nx} == {"Xshapes.example"}
    # past the bound: the same bytes, asked again (a miss again) or of a fresh responder
    assert ask(r, names[-1], 9) == ask(fresh, names[-1], 9)
    rows = r.buffer.rows()
    assert len(rows) == 61 and {row[8] for row in rows} == {NXDOMAIN} and rows[-1][6] == names[-1]
    # another zone's NXDOMAINs and the positive answers are still cached during the flood
    assert ask(r, "nope-nope.chains.example")[3] & 0xF == NXDOMAIN
    assert ask(r, "www.3322.org")[3] & 0xF == 0
    assert sorted(e.qname for e in r.cache.values() if e.rk != "Xshapes.example") == ["nope-nope.chains.example",
                                                                                       "www.3322.org"]
    # a reload starts the count afresh
    r.set_policy(differential_policy)
    ask(r, names[0])
    assert [e.qname for e in r.cache.values()] == [names[0]]


def _limiter_pair(**kw):
    fast = RateLimiter(**kw)
    slow = RateLimiter(**kw)
    return fast, slow


@pytest.mark.parametrize("seed", range(6))
def test_new_accounts_inline_equal_the_full_check(seed):
    """The fast check's inline new account against the method path, on random traffic."""
    rnd = random.Random(seed)
    kw = dict(responses_per_second=rnd.choice([1, 3, 20]), nodata_per_second=rnd.choice([0, 2]),
              nxdomains_per_second=rnd.choice([1, 5]), errors_per_second=rnd.choice([0, 4]), slip=rnd.choice([0, 2]),
              window=rnd.choice([1, 5]), max_table=rnd.choice([16, 64, 100_000]), exempt=["10.9.0.0/16"])
    fast, slow = _limiter_pair(**kw)
    t = 5000.0 + rnd.random()
    fast.check("192.0.2.1", ERRORS, ERROR_KEY, t)  # fix the epoch (the fast closure from here)
    slow.check("192.0.2.1", ERRORS, ERROR_KEY, t)
    slow.check = slow._check  # every decision through _debit
    ips = [f"192.0.{rnd.randrange(4)}.{rnd.randrange(1, 5)}" for _ in range(12)] + ["10.9.1.1", "2001:db8::1"]
    for _ in range(3000):
        t += rnd.choice([0.0, 0.001, 0.02, 0.3, 2.0])
        ip = rnd.choice(ips)
        cls = rnd.choice([RESPONSES, NODATA, NXDOMAINS, ERRORS, REFERRALS])
        key = f"{cls}k{rnd.randrange(40)}"  # a class of its own, as the responder's keys are
        assert fast.check(ip, cls, key, t) == slow.check(ip, cls, key, t)
    assert fast.table == slow.table
    assert (fast.size, fast.allowed, fast.limited, fast.exempted, fast.evicted) == (
        slow.size, slow.allowed, slow.limited, slow.exempted, slow.evicted)


# --------------------------------------------------------------------------- the UDP shell: pure loop and batch loop

try:
    from takedown.dns import _udp_c
except ImportError:
    _udp_c = None

LOOPS = [False, pytest.param(True, marks=pytest.mark.skipif(_udp_c is None, reason="_udp_c not built"))]


class _Flaky(Responder):
    """A responder with a bug on one query name: the shell must answer the rest."""

    def respond(self, data, *args):
        if b"\x05crash" in data:
            raise RuntimeError("a bug")
        return super().respond(data, *args)


def dns_sockets(family: int, host: str) -> tuple[socket.socket, socket.socket, int]:
    """A server's non-blocking UDP and listening TCP sockets on ``host``, and the UDP port."""
    us = socket.socket(family, socket.SOCK_DGRAM)
    us.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    us.bind((host, 0))
    us.setblocking(False)
    ts = socket.socket(family, socket.SOCK_STREAM)
    ts.bind((host, 0))
    ts.listen()
    ts.setblocking(False)
    return us, ts, us.getsockname()[1]


def _shell_run(policy, packets, batched: bool, client: socket.socket, host: str):
    from takedown.dns.server import DnsShell

    buf = DnsBuffer()
    r = _Flaky(policy, buf, rrl=RateLimiter(3, slip=2))
    loop = asyncio.new_event_loop()
    us, ts, port = dns_sockets(client.family, host)
    said = []
    shell = DnsShell(r, tcp_idle=5.0, say=said.append)
    shell.udp_twin = _udp_c if batched else None  # explicitly, whatever TAKEDOWN_PURE says
    try:
        loop.run_until_complete(shell.start(loop, [(host, port, us, ts)]))
        assert (type(shell._batched.get(us)).__name__ == "Drain") is batched
        for p in packets:  # queued before the loop reads: full batches
            client.sendto(p, (host, port))
        answers = []
        client.settimeout(0.05)
        for _ in range(500):  # until every datagram has its event (the crash has none)
            loop.run_until_complete(asyncio.sleep(0.01))
            if len(buf) >= len(packets) - 1:
                break
        try:
            while True:
                answers.append(client.recv(65535))
        except (socket.timeout, BlockingIOError):
            pass
        loop.run_until_complete(shell.close())
    finally:
        loop.close()
        ts.close()
    # not the time; the server's port (each run has its own) as whether it is this run's
    rows = [row[1:5] + (row[5] == port,) + row[6:] for row in buf.rows()]
    return answers, rows, shell.errors, said


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_batch_loop_answers_and_logs_as_the_pure_loop(differential_policy, host):
    if _udp_c is None:
        pytest.skip("_udp_c not built")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        client = socket.socket(family, socket.SOCK_DGRAM)
        client.bind((host, 0))
    except OSError:
        pytest.skip(f"no {host} here")
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    cases = [c.wire() for c in list(C.all_cases()) + list(C.shapes_cases())]
    crash = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + wire.text_to_wire("crash.3322.org") + struct.pack("!HH", 1, 1)
    # more than a wake-up's batch (256) and a system call's (64); repeats so RRL slips and drops;
    # a datagram longer than the receive buffer, an empty one, junk
    packets = (cases * 3)[:290] + [crash, b"", b"\x00" * 5000, b"\xff" * 13] + cases[:30]
    try:
        pure = _shell_run(differential_policy, packets, False, client, host)
        fast = _shell_run(differential_policy, packets, True, client, host)
    finally:
        client.close()
    assert len(pure[1]) == len(packets) - 1  # every datagram but the crash has its event
    assert pure[2] == fast[2] == 1 and "RuntimeError: a bug" in pure[3][0]
    assert len(pure[0]) > 200
    assert fast[0] == pure[0]
    assert fast[1] == pure[1]
