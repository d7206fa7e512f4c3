"""``takedown tracker check``: the decision alone, then the probes against
servers this test starts on loopback (a DNS server answering 127.0.0.x,
an HTTP server, a port that accepts and never answers, a closed port), the
rate and concurrency bounds by counting, the store glue against a stand-in
of the store's API, and the command's refusal to run without a resolver."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import ssl
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from takedown.errors import TrackerError
from takedown.tracker import check as chk
from takedown.tracker.check import Attempt, CheckConfig, Checker, Resolution, TokenBucket, decide
from takedown.tracker.indicator import Indicator

ROOT = Path(__file__).resolve().parents[1]
TAKEDOWN = str(Path(sys.executable).with_name("takedown"))
AT = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
SINK = "127.0.0.53"


def ind(value: str, status: str = "unknown", **kw) -> Indicator:
    return Indicator.new(value, "zeus", status=status, **kw)


# -- the decision, pure ---------------------------------------------------------------


def test_decide_online_offline_and_reasons():
    r = decide(ind("c2.example"), AT, Resolution("c2.example", ("127.0.0.9",)),
               [Attempt("127.0.0.9", 443, "refused"), Attempt("127.0.0.9", 80, "open")])
    assert (r.online, r.status, r.address, r.alarm) == (True, "online", "127.0.0.9", False)
    assert r.reason == "tcp connect 127.0.0.9:80 open"
    r = decide(ind("c2.example", "online"), AT, Resolution("c2.example", ("127.0.0.9",)),
               [Attempt("127.0.0.9", 443, "refused")])
    assert (r.online, r.status, r.reason) == (False, "offline", "tcp connect 127.0.0.9:443 refused")
    r = decide(ind("gone.example", "online"), AT, Resolution("gone.example", (), "NXDOMAIN"), [])
    assert (r.online, r.status, r.reason, r.address) == (False, "offline", "dns gone.example: NXDOMAIN", None)
    r = decide(ind("[2001:db8::1]:8080"), AT, None, [Attempt("2001:db8::1", 8080, "timeout")],
               timed_out="tcp connect [2001:db8::1]:8080")
    assert r.reason == ("tcp connect [2001:db8::1]:8080 timeout; timeout during tcp connect [2001:db8::1]:8080")


def test_decide_urls_need_an_http_answer():
    url = "http://c2.example/gate.php"
    found = Resolution("c2.example", ("127.0.0.9",))
    r = decide(ind(url), AT, found, [Attempt("127.0.0.9", 80, "open", http_status=404)], url=url)
    assert (r.online, r.status, r.http_status) == (True, "online", 404)
    assert r.reason == f"http GET {url} at 127.0.0.9:80: 404"
    r = decide(ind(url), AT, found, [Attempt("127.0.0.9", 80, "open", http_error="not an HTTP response")], url=url)
    assert (r.online, r.status) == (False, "offline")
    assert r.reason == f"http GET {url} at 127.0.0.9:80: not an HTTP response"


def test_decide_sinkhole_and_seizures():
    sink = frozenset({SINK})
    to_sink = Resolution("c2.example", (SINK,))
    r = decide(ind("c2.example", "online"), AT, to_sink, [], sink)
    assert (r.online, r.status, r.address, r.alarm) == (False, "sinkholed", SINK, False)
    assert r.reason == f"resolves to the sinkhole {SINK}"
    # a seized name pointing at the sinkhole is what a seizure that holds looks like
    assert decide(ind("c2.example", "seized"), AT, to_sink, [], sink).status == "seized"
    # an IP that is the sinkhole's own
    assert decide(ind(f"{SINK}:80"), AT, None, [Attempt(SINK, 80, "open")], sink).status == "sinkholed"

    elsewhere = Resolution("c2.example", ("127.0.0.9",))
    r = decide(ind("c2.example", "seized"), AT, elsewhere, [Attempt("127.0.0.9", 443, "open")], sink)
    assert (r.alarm, r.online, r.status) == (True, True, "online")
    assert r.reason.startswith("seized but resolves to 127.0.0.9, not the sinkhole: the seizure did not hold")
    r = decide(ind("c2.example", "sinkholed"), AT, elsewhere, [Attempt("127.0.0.9", 443, "refused")], sink)
    assert (r.alarm, r.online, r.status) == (True, False, "offline")
    # gone is not a failed seizure: the status stays
    r = decide(ind("c2.example", "seized"), AT, Resolution("c2.example", (), "NXDOMAIN"), [], sink)
    assert (r.alarm, r.status) == (False, "seized")
    # without sinkhole addresses the check cannot tell: status kept, no alarm
    r = decide(ind("c2.example", "seized"), AT, elsewhere, [Attempt("127.0.0.9", 443, "open")])
    assert (r.alarm, r.online, r.status) == (False, True, "seized")
    assert r.reason.endswith("(no sinkhole addresses to compare: status kept)")


def test_targets():
    t = chk.targets(ind("c2.example"))
    assert (t.host, t.is_ip, t.ports, t.url) == ("c2.example", False, (443, 80), None)
    assert chk.targets(ind("c2.example"), (8080,)).ports == (8080,)
    t = chk.targets(ind("192.0.2.1:8443"))
    assert (t.host, t.is_ip, t.ports) == ("192.0.2.1", True, (8443,))
    t = chk.targets(ind("https://User@C2.example:8443/a/gate.php?x=1#frag"))
    assert (t.host, t.ports, t.scheme, t.request_target, t.host_header) == (
        "c2.example", (8443,), "https", "/a/gate.php?x=1", "c2.example:8443")
    t = chk.targets(ind("http://[2001:db8::1]/x"))
    assert (t.host, t.is_ip, t.ports, t.host_header) == ("2001:db8::1", True, (80,), "[2001:db8::1]")


def test_is_due():
    stale = timedelta(hours=1)
    assert chk.is_due(ind("a.example"), AT, stale)
    assert chk.is_due(ind("a.example", last_checked=AT - timedelta(hours=2)), AT, stale)
    assert not chk.is_due(ind("a.example", last_checked=AT - timedelta(minutes=59)), AT, stale)
    assert not chk.is_due(ind("a.example", last_checked=AT - stale), AT, stale)  # as select(stale_before=)


@pytest.mark.parametrize("text,expect", [
    ("30m", timedelta(minutes=30)), ("6h", timedelta(hours=6)), ("2d", timedelta(days=2)),
    ("1h30m", timedelta(minutes=90)), ("1w", timedelta(days=7)), ("0s", timedelta(0)),
])
def test_parse_duration(text, expect):
    assert chk.parse_duration(text) == expect


@pytest.mark.parametrize("text", ["", "h", "5", "5x", "1h 30", "-1h"])
def test_parse_duration_rejects(text):
    with pytest.raises(TrackerError, match="--stale-after: .* is not a duration"):
        chk.parse_duration(text)


def test_parse_rate_and_resolver():
    assert chk.parse_rate("10/s") == 10 and chk.parse_rate("120/m") == 2 and chk.parse_rate("2.5") == 2.5
    for bad in ("0", "fast", "-1/s", "10/d"):
        with pytest.raises(TrackerError, match="--rate"):
            chk.parse_rate(bad)
    assert chk.parse_resolver("127.0.0.1") == ("127.0.0.1", 53)
    assert chk.parse_resolver("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert chk.parse_resolver("[::1]:5353") == ("::1", 5353)
    assert chk.parse_resolver("::1") == ("::1", 53)
    for bad, msg in ((None, "--resolver is required"), ("", "--resolver is required"),
                     ("dns.google", "not an IP address"), ("127.0.0.1:0", "port"), ("[::1", "ADDR")):
        with pytest.raises(TrackerError, match=msg):
            chk.parse_resolver(bad)


def test_config_bounds():
    for kw, msg in (({"rate": 0}, "--rate"), ({"concurrency": 0}, "--concurrency"),
                    ({"timeout": 0}, "--timeout"), ({"ports": (0,)}, "--port"),
                    ({"user_agent": "x\r\nX-Injected: 1"}, "--user-agent")):
        with pytest.raises(TrackerError, match=msg):
            CheckConfig(("127.0.0.1", 53), **kw)


# -- the token bucket, counted against a fake clock -----------------------------------


def test_token_bucket_bounds_starts():
    clock = [0.0]

    async def sleep(d: float) -> None:
        clock[0] += d

    async def go() -> list[float]:
        bucket = TokenBucket(5.0, burst=3, clock=lambda: clock[0], sleep=sleep)
        starts = []
        for _ in range(23):
            await bucket.acquire()
            starts.append(clock[0])
        return starts

    starts = asyncio.run(go())
    # at any moment t, at most burst + rate * t starts so far
    for i, t in enumerate(starts):
        assert i + 1 <= 3 + 5.0 * t + 1e-9, (i, t)
    assert starts[:3] == [0.0, 0.0, 0.0]
    assert starts[-1] == pytest.approx((23 - 3) / 5.0)


# -- the probes, against loopback servers ---------------------------------------------


class Loopback:
    """A DNS server (names -> A addresses, NXDOMAIN otherwise), an HTTP
    server (200 for /gate.php, 404 else), a port that accepts and never
    answers (counting connections open at once) and a closed port, on one
    event loop in a thread, all on 127.0.0.1."""

    def __init__(self, names: dict[str, list[str]], tls: "ssl.SSLContext | None" = None) -> None:
        self.names = names
        self.tls = tls
        self.sni: list[str | None] = []
        if tls is not None:
            tls.sni_callback = lambda sock, name, ctx: self.sni.append(name)
        self.queries: list[tuple[str, str]] = []
        self.requests: list[bytes] = []
        self.hanging_now = self.hanging_max = self.hanging_total = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.dns_port, self.http_port, self.hang_port, self.junk_port, self.https_port = self._call(self._start())
        with socket.socket() as s:  # bound, never listening: connects are refused
            s.bind(("127.0.0.1", 0))
            self.closed_port = s.getsockname()[1]

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    async def _start(self):
        outer = self

        class Dns(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                q = dns.message.from_wire(data)
                question = q.question[0]
                name = question.name.to_text(omit_final_dot=True).lower()
                outer.queries.append((name, dns.rdatatype.to_text(question.rdtype)))
                r = dns.message.make_response(q)
                if name not in outer.names:
                    r.set_rcode(dns.rcode.NXDOMAIN)
                else:
                    rdtype = dns.rdatatype.to_text(question.rdtype)
                    found = [a for a in outer.names[name] if (":" in a) == (rdtype == "AAAA")]
                    if found and rdtype in ("A", "AAAA"):
                        r.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", rdtype, found))
                self.transport.sendto(r.to_wire(), addr)

        async def http(reader, writer):
            head = await reader.readuntil(b"\r\n\r\n")
            self.requests.append(head)
            ok = head.startswith(b"GET /gate.php ")
            body = b"ok" if ok else b"no"
            writer.write(b"HTTP/1.1 " + (b"200 OK" if ok else b"404 Not Found")
                         + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\n" + body)
            await writer.drain()
            writer.close()

        async def hang(reader, writer):
            self.hanging_now += 1
            self.hanging_total += 1
            self.hanging_max = max(self.hanging_max, self.hanging_now)
            try:
                await reader.read()  # until the client gives up and closes
            finally:
                self.hanging_now -= 1
                writer.close()

        async def junk(reader, writer):  # another protocol's banner, then close
            writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
            await writer.drain()
            writer.close()

        transport, _ = await self.loop.create_datagram_endpoint(Dns, local_addr=("127.0.0.1", 0))
        self.servers = [await asyncio.start_server(http, "127.0.0.1", 0),
                        await asyncio.start_server(hang, "127.0.0.1", 0),
                        await asyncio.start_server(junk, "127.0.0.1", 0)]
        if self.tls is not None:
            self.servers.append(await asyncio.start_server(http, "127.0.0.1", 0, ssl=self.tls))
        ports = [s.sockets[0].getsockname()[1] for s in self.servers]
        self.servers.append(transport)
        return transport.get_extra_info("sockname")[1], *ports, *([None] if self.tls is None else [])

    def close(self) -> None:
        async def stop():
            for s in self.servers:
                s.close()
        self._call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def net(tmp_path):
    from takedown.net.certs import self_signed_context

    lo = Loopback({"c2.example": ["127.0.0.1"], "sunk.example": [SINK], "multi.example": ["127.0.0.1"]},
                  tls=self_signed_context(tmp_path / "cert"))
    yield lo
    lo.close()


def config(net: Loopback, **kw) -> CheckConfig:
    kw.setdefault("timeout", 3.0)
    return CheckConfig(("127.0.0.1", net.dns_port), rate=kw.pop("rate", 1000.0), sinkhole=frozenset({SINK}), **kw)


def check_all(cfg: CheckConfig, indicators: list[Indicator]) -> tuple[dict[str, chk.CheckResult], Checker]:
    results: dict[str, chk.CheckResult] = {}
    checker = Checker(cfg)
    n = asyncio.run(checker.run(indicators, lambda r: results.__setitem__(r.value, r)))
    assert n == len(indicators) == len(results)
    return results, checker


def test_check_against_loopback(net):
    url = f"http://c2.example:{net.http_port}/gate.php"
    missing = f"http://c2.example:{net.http_port}/other"
    odd = f"http://c2.example:{net.http_port}/pánel gate.php"  # as a feed may write it
    cfg = config(net, ports=(net.closed_port, net.http_port))
    indicators = [ind("c2.example"), ind("gone.example", "online"), ind("sunk.example", "online"),
                  ind(f"127.0.0.1:{net.closed_port}", "online"), ind(url), ind(missing),
                  ind("multi.example", "seized"), ind(odd)]
    results, _ = check_all(cfg, indicators)

    r = results["c2.example"]  # the closed port first, then the open one
    assert (r.online, r.status, r.address) == (True, "online", "127.0.0.1")
    assert r.reason == f"tcp connect 127.0.0.1:{net.http_port} open"
    assert [a["outcome"] for a in r.detail["attempts"]] == ["refused", "open"]
    r = results["gone.example"]
    assert (r.online, r.status, r.reason) == (False, "offline", "dns gone.example: NXDOMAIN")
    r = results["sunk.example"]
    assert (r.online, r.status, r.address) == (False, "sinkholed", SINK)
    assert r.detail["attempts"] == []  # the sinkhole is not probed
    r = results[f"127.0.0.1:{net.closed_port}"]
    assert (r.online, r.status, r.reason) == (False, "offline", f"tcp connect 127.0.0.1:{net.closed_port} refused")
    r = results[url]
    assert (r.online, r.status, r.http_status) == (True, "online", 200)
    assert r.reason == f"http GET {url} at 127.0.0.1:{net.http_port}: 200"
    r = results[missing]
    assert (r.online, r.http_status) == (True, 404)  # any HTTP answer: the server is up
    assert results[odd].http_status == 404
    r = results["multi.example"]
    assert r.alarm and r.status == "online" and "the seizure did not hold" in r.reason

    gets = [h for h in net.requests if h.startswith(b"GET ")]
    # the GET does not name the tool: a browser's User-Agent
    assert all(f"User-Agent: {chk.DEFAULT_USER_AGENT}".encode() in h and b"takedown" not in h.lower() for h in gets)
    assert sorted(h.split(b"\r\n")[0] for h in gets) == [
        b"GET /gate.php HTTP/1.1", b"GET /other HTTP/1.1", b"GET /p%C3%A1nel%20gate.php HTTP/1.1"]
    assert all(f"Host: c2.example:{net.http_port}".encode() in h for h in gets)
    # every name was asked of the configured resolver, A and AAAA, and only names were
    asked = set(net.queries)
    for name in ("c2.example", "gone.example", "sunk.example", "multi.example"):
        assert {(name, "A"), (name, "AAAA")} <= asked
    assert {n for n, _ in asked} == {"c2.example", "gone.example", "sunk.example", "multi.example"}


def test_ipv6_from_aaaa(net):
    from dns_helpers import ipv6_loopback_available

    if not ipv6_loopback_available():
        pytest.skip("no IPv6 loopback on this machine")

    async def listen():
        return await asyncio.start_server(lambda r, w: w.close(), "::1", 0)

    server = net._call(listen())
    port = server.sockets[0].getsockname()[1]
    net.names["v6.example"] = ["::1"]
    try:
        results, _ = check_all(config(net, ports=(port,)), [ind("v6.example"), ind(f"[::1]:{net.closed_port}")])
    finally:
        net.loop.call_soon_threadsafe(server.close)
    r = results["v6.example"]
    assert (r.online, r.address, r.reason) == (True, "::1", f"tcp connect [::1]:{port} open")
    assert r.detail["addresses"] == ["::1"]
    r = results[f"[::1]:{net.closed_port}"]
    assert (r.online, r.reason) == (False, f"tcp connect [::1]:{net.closed_port} refused")


def test_https_url_with_a_self_signed_certificate(net):
    url = f"https://c2.example:{net.https_port}/gate.php"
    results, _ = check_all(config(net), [ind(url)])
    r = results[url]
    assert (r.online, r.status, r.http_status) == (True, "online", 200), r.reason
    assert r.reason == f"http GET {url} at 127.0.0.1:{net.https_port}: 200"
    assert net.sni == ["c2.example"]
    # a port that answers something else: no TLS, no HTTP, offline
    junk_tls, junk_http = f"https://c2.example:{net.junk_port}/", f"http://c2.example:{net.junk_port}/"
    results, _ = check_all(config(net), [ind(junk_tls), ind(junk_http)])
    assert (results[junk_tls].online, results[junk_tls].status) == (False, "offline")
    assert results[junk_tls].reason.startswith(f"http GET {junk_tls} at 127.0.0.1:{net.junk_port}: TLS handshake failed")
    assert (results[junk_http].online, results[junk_http].reason) == (
        False, f"http GET {junk_http} at 127.0.0.1:{net.junk_port}: not an HTTP response")
    # a port that accepts and never answers: the handshake times out
    silent = f"https://127.0.0.1:{net.hang_port}/"
    r = check_all(config(net, timeout=0.5), [ind(silent)])[0][silent]
    assert (r.online, r.reason) == (False, f"http GET {silent} at 127.0.0.1:{net.hang_port}: no TLS handshake in "
                                           f"0.5 s; timeout during http GET 127.0.0.1:{net.hang_port}")


def test_timeout_with_a_server_that_never_answers(net):
    url = f"http://127.0.0.1:{net.hang_port}/gate.php"
    t0 = time.monotonic()
    results, _ = check_all(config(net, timeout=0.5), [ind(url, "online")])
    took = time.monotonic() - t0
    r = results[url]
    assert (r.online, r.status) == (False, "offline")
    assert r.reason == (f"http GET {url} at 127.0.0.1:{net.hang_port}: no answer in 0.5 s; "
                        f"timeout during http GET 127.0.0.1:{net.hang_port}")
    assert took < 10  # bounded by the timeout, not by the server
    assert net.hanging_total == 1


def test_concurrency_is_bounded(net):
    urls = [ind(f"http://127.0.0.1:{net.hang_port}/c{i}") for i in range(9)]
    results, checker = check_all(config(net, concurrency=3, timeout=0.6), urls)
    assert all(not r.online for r in results.values())
    assert net.hanging_total == 9
    assert 2 <= net.hanging_max <= 3  # never more than the semaphore's 3 (all 3 at once unless very slow)
    assert checker.max_in_flight <= 3


def test_rate_is_bounded(net):
    # 8 targets at 20/s, burst 1: the last may start no sooner than 7/20 s after the first
    targets = [ind(f"127.0.0.1:{net.closed_port}") for _ in range(1)] + \
              [ind(f"127.0.0.{i}:{net.closed_port}") for i in range(2, 9)]
    t0 = time.monotonic()
    results, _ = check_all(config(net, rate=20.0), targets)
    assert time.monotonic() - t0 >= 7 / 20 - 0.02
    assert len(results) == 8


def test_resolver_timeout_is_offline(net):
    # a resolver that never answers: a bound UDP socket nobody reads
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mute:
        mute.bind(("127.0.0.1", 0))
        cfg = CheckConfig(("127.0.0.1", mute.getsockname()[1]), timeout=0.5)
        results, _ = check_all(cfg, [ind("c2.example", "online")])
    r = results["c2.example"]
    assert (r.online, r.status) == (False, "offline")
    assert "c2.example" in r.reason and ("no answer" in r.reason or "timeout" in r.reason)


# -- the store glue, against a stand-in with the store's API ---------------------------


class FakeTracker:
    """Only what check_store calls of takedown.tracker.store.Tracker."""

    def __init__(self, indicators: list[Indicator]) -> None:
        self.indicators = indicators
        self.recorded: list[tuple[str, dict]] = []

    def select(self, *, family=None, status=None, kind=None, stale_before=None):
        for i in self.indicators:
            if (family is None or i.family == family) and (
                    stale_before is None or i.last_checked is None or i.last_checked < stale_before):
                yield i

    def record_check(self, value, *, at, online, reason="", address=None, status=None, by="check", detail=None):
        self.recorded.append((value, {"at": at, "online": online, "reason": reason, "address": address,
                                      "status": status, "detail": detail}))


def test_check_store_records_due_indicators(net):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    fresh = ind("c2.example", last_checked=now - timedelta(minutes=5))
    stale = ind(f"127.0.0.1:{net.closed_port}", "online", last_checked=now - timedelta(hours=2))
    never = ind("sunk.example")
    other = Indicator.new("gone.example", "emotet")
    tracker = FakeTracker([fresh, stale, never, other])
    seen = []
    n = chk.check_store(tracker, config(net), now=now, stale_after=timedelta(hours=1), family="zeus",
                        on_result=seen.append)
    assert n == 2
    got = dict(tracker.recorded)
    assert set(got) == {stale.value, never.value} == {r.value for r in seen}
    assert got[stale.value]["status"] == "offline" and got[stale.value]["online"] is False
    assert got[stale.value]["reason"] == f"tcp connect 127.0.0.1:{net.closed_port} refused"
    assert got[never.value]["status"] == "sinkholed" and got[never.value]["address"] == SINK
    assert all(v["at"] >= now for v in got.values())
    assert got[stale.value]["detail"]["attempts"] == [
        {"address": "127.0.0.1", "port": net.closed_port, "outcome": "refused"}]


def test_check_store_through_the_store(net, tmp_path):
    """The glue against the real store (SQLite; the store's tracker_url
    fixture adds PostgreSQL once both are merged)."""
    from takedown.tracker import store
    tracker = store.Tracker.open(f"sqlite:///{tmp_path / 'tracker.sqlite'}", enricher=False)
    try:
        tracker.add([ind("c2.example", "online"), ind("sunk.example"), ind("multi.example", "seized")],
                    by="test")
        alarms = []
        n = chk.check_store(tracker, config(net, ports=(net.http_port,)), now=datetime.now(timezone.utc),
                            stale_after=timedelta(hours=1), on_result=lambda r: r.alarm and alarms.append(r.value))
        assert n == 3 and alarms == ["multi.example"]
        assert tracker.get("c2.example").status == "online" and tracker.get("c2.example").last_checked
        assert tracker.get("sunk.example").status == "sinkholed"
        last = tracker.history("multi.example")[-1]
        assert (last.old, last.new, last.by) == ("seized", "online", "check")
        assert "the seizure did not hold" in last.reason and last.detail["alarm"] is True
        # checked just now: nothing is due
        assert chk.check_store(tracker, config(net), now=datetime.now(timezone.utc),
                               stale_after=timedelta(hours=1)) == 0
    finally:
        tracker.close()


# -- the command ------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TAKEDOWN, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("args,starts", [
    ((), "Error: --resolver is required"),
    (("--resolver", "dns.google"), "Error: --resolver: 'dns.google' is not an IP address"),
    (("--resolver", "127.0.0.1:5353", "--stale-after", "soon"), "Error: --stale-after: 'soon' is not a duration"),
    (("--resolver", "127.0.0.1:5353", "--rate", "0/s"), "Error: --rate: '0/s' is not a positive rate"),
    (("--resolver", "127.0.0.1:5353", "--concurrency", "0"), "Error: --concurrency: 0 is not 1 or more"),
    (("--resolver", "127.0.0.1:5353", "--only", "loopback"), "Error: --only: 'loopback' is not a network"),
])
def test_command_refuses_bad_options(args, starts):
    p = run("tracker", "check", *args)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert len(p.stderr.splitlines()) == 1 and p.stderr.startswith(starts), p.stderr
    assert "Traceback" not in p.stderr


def test_command_through_the_store(net, tmp_path):
    """``takedown tracker check`` end to end: the operation's sinkhole, an
    ALERT for a seizure that did not hold, the figures, the store updated."""
    from takedown.tracker import store
    from dns_helpers import SINK_V4, make_operation

    op = make_operation(tmp_path / "op")
    net.names["op-sunk.example"] = [SINK_V4]
    url = f"sqlite:///{tmp_path / 'tracker.sqlite'}"
    with store.Tracker.open(url, enricher=False) as tracker:
        tracker.add([ind("c2.example"), ind("op-sunk.example", "online"), ind("multi.example", "seized"),
                     Indicator.new("gone.example", "emotet")], by="test")
    p = run("tracker", "check", "--db", url, "--operation", str(op), "--resolver", f"127.0.0.1:{net.dns_port}",
            "--port", str(net.http_port), "--family", "zeus", "--timeout", "3", "--only", "127.0.0.0/8")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["checked 3 indicator(s): online 2, sinkholed 1",
                                     "1 seizure(s) did not hold: multi.example"]
    assert p.stderr.startswith("ALERT multi.example: seized but resolves to 127.0.0.1, not the sinkhole"), p.stderr
    with store.Tracker.open(url, enricher=False) as tracker:
        assert {i.value: i.status for i in tracker.select()} == {
            "c2.example": "online", "op-sunk.example": "sinkholed", "multi.example": "online",
            "gone.example": "unknown"}
        assert tracker.get("gone.example").last_checked is None  # another family: not checked


def test_addresses_outside_only_are_never_connected(net):
    """``CheckConfig.only`` (the CLI's --only): a name resolving outside the
    allowed networks is recorded as such and never connected to."""
    import ipaddress

    cfg = config(net, ports=(net.http_port,))
    allowed = dataclasses.replace(cfg, only=(ipaddress.ip_network("127.0.0.0/8"),))
    denied = dataclasses.replace(cfg, only=(ipaddress.ip_network("10.0.0.0/8"),))
    before = len(net.requests)
    results, _ = check_all(denied, [ind("c2.example"), ind(f"127.0.0.1:{net.http_port}", "online")])
    for r in results.values():
        assert (r.online, r.status) == (False, "offline")
        assert [a["outcome"] for a in r.detail["attempts"]] == ["not allowed"]
    assert len(net.requests) == before
    results, _ = check_all(allowed, [ind("c2.example")])
    assert results["c2.example"].online
