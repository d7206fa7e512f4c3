"""Issue 18: the Parquet events stay exactly as they are, whichever path wrote them.

One real ``takedown serve`` (loopback high ports) runs twice on the same
operation: once with the compiled twins (``takedown.accel``, hot_paths.txt)
and once with ``TAKEDOWN_PURE=1``. Each is fed the same traffic: DNS (zone
answers, NXDOMAINs, a blocklist sinkhole, seized names, REFUSED, EDNS with
client subnet and the DO bit, TCP, malformed packets), HTTP (repeats on a
keep-alive connection, a unique id per request, POST bodies matched by a
fingerprint rule, ``Connection: close``, pipelined requests, bad requests, a
command sent under a ``[case]`` authority), a TLS ClientHello with a request
inside, and raw TCP. Most of it carries the range's emulated clock (the DNS
EDNS option 65423 from ``[dns] emulated_clock`` networks, the PROXY v2 clock
TLV from a trusted peer), so both days land on the same date, and the PROXY
headers give fixed source addresses and ports.

Each server is stopped (SIGTERM: every worker flushes), then the two
datasets are compared: the same partitions; per kind the same Arrow schema
(names, types, nullability, key-value metadata) and Parquet schema, codec,
statistics and dictionary pages in every file; and the same rows as a
multiset once the values that legitimately differ between two runs are
normalised: the wall-clock ``time`` of traffic without an emulated clock
(checked to fall inside its run), the emulated connection clock's elapsed
part (checked to be under a minute), the ephemeral source port of a client
that did not send a PROXY header, and the listeners' own ports (each run has
its own; mapped to the listener's name). Everything else, every column of
every row, must be equal.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
import ssl
import time
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path
from unittest import mock

import dns.edns
import dns.message
import dns.query
import pyarrow.parquet as pq
import pytest

from takedown import accel
from takedown.dns import wire
from takedown.net import proxy as proxy_mod
from takedown.range.families.base import command_body
from harness.peers import free_port

from dns_helpers import Server, make_operation, query
from net_helpers import TRUSTED_SRC, read_response
from test_net_commands_serve import CASE, FROM, UNTIL, _z  # the zeus stop command's authority

EMULATED = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc).timestamp()  # inside the authority's window (CASE)
EMULATED_DATE = date(2026, 3, 4)
CLOCK_NET = "127.0.0.1"  # [dns] emulated_clock: queries from here may carry the clock
WALL_SRC = "127.0.0.3"  # DNS queries from here keep the wall clock (not in emulated_clock)
NET_KINDS = ("http", "tls", "tcp")
KINDS = ("dns", *NET_KINDS, "command")

RULES = f"""\
[[rule]]
name = "paths-post"
family = "pathsfam"
source = "tests/test_paths_parquet.py"
path = "/post.php"
method = "POST"
response = "empty"

[[rule]]
name = "zeus-gate"
family = "zeus"
source = "tests/test_paths_parquet.py"
path = "/zeus.php"

[[command]]
family = "zeus"
name = "stop"
source = "the range's emulated protocol (takedown.range.families.base.command_body)"
body_hex = "{command_body("zeus", "stop").hex(" ")}"
"""


def unbuilt_twins() -> list[str]:
    """The twins of hot_paths.txt that are not built (not importable as an extension)."""
    return [n for n in accel.HOT_PATHS if importlib.util.find_spec(n) is None
            or not str(importlib.util.find_spec(n).origin).endswith((".so", ".pyd"))]


# --------------------------------------------------------------------------- one run


def write_operation(d: Path) -> tuple[Path, dict[str, int]]:
    ports = {k: free_port() for k in NET_KINDS}
    (d / "rules.toml").write_text(RULES)
    net = f"""
[http]
listen = ["127.0.0.1:{ports['http']}"]
trusted_proxies = ["{TRUSTED_SRC}/32"]
emulated_clock = true
requests_per_connection = 50
[tls]
listen = ["127.0.0.1:{ports['tls']}"]
handshake = true
response = "empty"
trusted_proxies = ["{TRUSTED_SRC}/32"]
emulated_clock = true
[tcp]
listen = ["127.0.0.1:{ports['tcp']}"]
capture_bytes = 16
trusted_proxies = ["{TRUSTED_SRC}/32"]
emulated_clock = true
[notice]
operator = "Paths CERT"
[fingerprints]
rules = "rules.toml"
""" + CASE.format(start=_z(FROM), end=_z(UNTIL))
    op = make_operation(d, name="paths", sensor="paths", flush_interval=0.3, extra_toml=net)
    text = op.read_text()
    listen = 'listen = ["127.0.0.1:5353"]'
    assert listen in text
    op.write_text(text.replace(listen, f'{listen}\nemulated_clock = ["{CLOCK_NET}/32"]'))
    return op, ports


def run_day(d: Path, pure: bool) -> dict:
    """Serve the operation in ``d`` on one path, feed it the traffic, stop it."""
    op, ports = write_operation(d)
    env = {"TAKEDOWN_PURE": "1"} if pure else {}
    with mock.patch.dict(os.environ, env):
        if not pure:
            os.environ.pop("TAKEDOWN_PURE", None)
        srv = Server.start(op, workers=1, wait="log")
    try:
        ports["dns"] = srv.port
        t0 = time.time()
        sent = feed(ports)
        t1 = time.time()
        assert srv.stop() == 0, srv.stderr()
    finally:
        srv.kill()
    err = srv.stderr()
    assert "Traceback" not in err, err
    return {"dir": d / "data" / "events", "ports": ports, "wall": (t0 - 1, t1 + 1), "sent": sent, "stderr": err}


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    missing = unbuilt_twins()
    if missing:  # make test never gets here: scripts/bootstrap --test fails when a twin did not build
        pytest.skip(f"the compiled twins are not built ({', '.join(missing)}): "
                    "python setup.py build_ext --inplace (docs/performance.md#building)")
    return {
        "compiled": run_day(tmp_path_factory.mktemp("compiled"), pure=False),
        "pure": run_day(tmp_path_factory.mktemp("pure"), pure=True),
    }


# --------------------------------------------------------------------------- the traffic


def clocked(name: str, rdtype: str, i: int, **kw) -> dns.message.Message:
    """A query with EDNS and the emulated clock (one second per query: each
    row's time is its own)."""
    opts = [dns.edns.GenericOption(wire.EDNS_TAKEDOWN_CLOCK, proxy_mod.encode_clock(EMULATED + i))]
    return query(name, rdtype, edns=0, options=opts + kw.pop("options", []), **kw)


MALFORMED = [
    b"\x12",  # shorter than a header
    b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00",  # a question announced, none there
    b"\x12\x35\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x04",  # a label cut short
    b"\x12\x36\x80\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x00\x00\x01\x00\x01",  # a response (QR set)
    b"\x12\x37\x20\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x04" b"3322\x03org\x00\x00\x06\x00\x01",  # NOTIFY
    b"\x12\x38\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01\x03www\x04" b"3322\x03org\x00\x00\x01\x00\x01"
    b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x05\xff\x8f\x00\x01\x00",  # an OPT whose option overruns
]


def feed_dns(port: int) -> dict[str, int]:
    """DNS, answered and stored; returns counts of what was sent."""
    n = Counter()
    i = 0

    def ask(q, *, transport="udp", source=CLOCK_NET):
        nonlocal i
        i += 1
        if transport == "udp":
            r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3, source=source, ignore_unexpected=True)
        else:
            r = dns.query.tcp(q, "127.0.0.1", port=port, timeout=3, source=source)
        n[transport] += 1
        return r

    names = [("www.3322.org", "A"), ("www.3322.org", "AAAA"), ("3322.org", "MX"), ("3322.org", "TXT"),
             ("ftp.3322.org", "A"), ("blog.3322.org", "A"), ("pcbot.3322.org", "A"), ("update-srv.3322.org", "AAAA"),
             ("christmas-ecard-online.example", "A"), ("www.christmas-ecard-online.example", "NS"),
             ("example.com", "A"), ("3322.org", "SOA")]
    for name, rdtype in names:
        ask(clocked(name, rdtype, i))
    for k in range(25):  # distinct names, most of them NXDOMAIN (a random-subdomain flood)
        r = ask(clocked(f"nx{k:03d}-{k * 7919 % 1000:03d}.3322.org", "A", i))
        assert r.rcode() == 3
    for _ in range(10):  # repeats, the same second of the emulated clock
        ask(clocked("www.3322.org", "A", 0))
    ask(clocked("WwW.3322.ORG", "A", i))  # letter case kept in the question, folded in the event
    ask(clocked("pcbot.3322.org", "A", i, options=[dns.edns.ECSOption("198.51.100.0", 24)]))
    ask(clocked("www.3322.org", "A", i, do=True))
    for name in ("www.3322.org", "christmas-ecard-online.example", "nx-tcp.3322.org"):
        ask(clocked(name, "A", i), transport="tcp")
    for name in ("www.3322.org", "pcbot.3322.org", "example.com"):  # wall clock: no EDNS, or not a clock network
        ask(query(name, "A", edns=False))
        ask(clocked(name, "A", i), source=WALL_SRC)
    for data in MALFORMED:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((WALL_SRC, 0))
            s.settimeout(0.5)
            s.sendto(data, ("127.0.0.1", port))
            try:
                s.recv(4096)
            except TimeoutError:
                pass
        n["malformed"] += 1
    return dict(n)


def proxied(port: int, claimed: str, cport: int, payload: bytes, *, i: int, half_close: bool = False) -> bytes:
    """One connection from the trusted peer: a PROXY v2 header with the
    emulated clock, then ``payload`` (then EOF with ``half_close``);
    everything read until the server closes."""
    header = proxy_mod.build_v2(claimed, cport, "192.0.2.53", 80, [proxy_mod.clock_tlv(EMULATED + 60 * i)])
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(TRUSTED_SRC, 0)) as s:
        s.sendall(header + payload)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def get(path: str, *, close: bool = False, ua: str = "paths-bot/1.0", extra: str = "") -> bytes:
    conn = "Connection: close\r\n" if close else ""
    return f"GET {path} HTTP/1.1\r\nHost: c2.example\r\nUser-Agent: {ua}\r\n{extra}{conn}\r\n".encode()


def post(path: str, body: bytes, *, close: bool = False) -> bytes:
    conn = "Connection: close\r\n" if close else ""
    return (f"POST {path} HTTP/1.1\r\nHost: c2.example\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(body)}\r\n{conn}\r\n").encode() + body


def feed_net(ports: dict[str, int]) -> dict[str, int]:
    """HTTP, TLS and raw TCP; returns the check-ins and commands expected."""
    http, c = ports["http"], 0
    # repeats on one keep-alive connection (the request cache's path), then close
    out = proxied(http, "198.51.100.10", 40001, get("/gate.php?id=same") * 6 + get("/gate.php?id=same", close=True),
                  i=1)
    assert out.count(b"HTTP/1.1 200") == 7
    c += 7
    # a unique id per request, keep-alive
    out = proxied(http, "198.51.100.11", 40002,
                  b"".join(get(f"/gate.php?id={k:04x}{k * 31337 % 65536:04x}") for k in range(12))
                  + get("/gate.php?id=last", close=True), i=2)
    assert out.count(b"HTTP/1.1 200") == 13
    c += 13
    # a check-in per connection (Connection: close), each from its own bot
    for k in range(8):
        out = proxied(http, f"198.51.100.{20 + k}", 41000 + k, get(f"/cfg.bin?bot={k}", close=True), i=3 + k)
        assert out.startswith(b"HTTP/1.1 200")
        c += 1
    # POST bodies matched by a fingerprint rule, and one not matched
    bodies = [b"\x01\x02secret", bytes(range(256)) * 3, b"", b"a=1&b=2"]
    out = proxied(http, "198.51.100.40", 42000,
                  b"".join(post("/post.php", b) for b in bodies) + post("/other.php", b"x" * 100, close=True), i=12)
    assert out.count(b"HTTP/1.1 200") == 5
    c += 5
    # pipelined in one write, HTTP/1.0, a query string and odd headers
    out = proxied(http, "198.51.100.41", 42001,
                  get("/p/1?a=b&c=d", extra="Accept-Language: ja,en;q=0.5\r\n") + get("/p/2", ua="")
                  + b"GET /old HTTP/1.0\r\n\r\n", i=13)
    assert out.count(b" 200 ") == 3
    c += 3
    # bad requests
    for k, bad in enumerate((b"GARBAGE \x00\x01 NOT HTTP\r\n\r\n", b"GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n")):
        out = proxied(http, "198.51.100.50", 43000 + k, bad, i=14 + k)
        assert out.startswith(b"HTTP/1.1 400")
        c += 1
    # a command under the case's authority (the emulated clock is inside its window)
    out = proxied(http, "198.51.100.60", 44000, get("/zeus.php?bot=1", close=True), i=20)
    assert out.endswith(command_body("zeus", "stop"))
    command_sha256 = hashlib.sha256(out).hexdigest()  # its Date header is the run's own
    c += 1
    # a client without a PROXY header: the wall clock and its own source port
    with socket.create_connection(("127.0.0.1", http), timeout=5) as s:
        s.sendall(get("/direct", close=True))
        assert read_response(s).startswith(b"HTTP/1.1 200")
    c += 1

    # TLS: a ClientHello with SNI and ALPN, then a request inside
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    header = proxy_mod.build_v2("198.51.100.70", 45000, "192.0.2.53", 443, [proxy_mod.clock_tlv(EMULATED + 3600)])
    with socket.create_connection(("127.0.0.1", ports["tls"]), timeout=5, source_address=(TRUSTED_SRC, 0)) as raw:
        raw.sendall(header)
        with ctx.wrap_socket(raw, server_hostname="c2.example") as s:
            s.sendall(get("/tls/gate.php?id=7", close=True))
            assert read_response(s).startswith(b"HTTP/1.1 200")
    c += 1  # the request inside is an http event (with the SNI); the handshake a tls one

    # raw TCP: first bytes captured (16), the length counted
    for k, payload in enumerate((b"\x16\x03\x01garbage-after-a-record-header", b"PING\r\n", bytes(range(40)))):
        proxied(ports["tcp"], "198.51.100.80", 46000 + k, payload, i=30 + k, half_close=True)
    return {"http": c, "tls": 1, "tcp": 3, "command": 1, "command_sha256": command_sha256}


def feed(ports: dict[str, int]) -> dict[str, int]:
    return {"dns": feed_dns(ports["dns"]), **feed_net(ports)}


# --------------------------------------------------------------------------- reading and normalising


def files(day: dict, kind: str) -> list[Path]:
    return sorted((day["dir"] / f"kind={kind}").glob("date=*/*.parquet"))


def file_format(path: Path) -> tuple:
    """What a file's format says, beside its rows: the Arrow schema with its
    metadata, the Parquet schema, and per column the codec, statistics and
    dictionary page."""
    pf = pq.ParquetFile(path)
    arrow = pf.schema_arrow
    meta = pf.metadata
    cols = []
    for rg in range(meta.num_row_groups):
        for j in range(meta.num_columns):
            cc = meta.row_group(rg).column(j)
            cols.append((cc.path_in_schema, cc.compression, cc.is_stats_set, cc.has_dictionary_page))
    return (arrow.to_string(show_field_metadata=True, show_schema_metadata=True),
            tuple((f.name, str(f.type), f.nullable) for f in arrow),
            tuple(sorted((k, v) for k, v in (arrow.metadata or {}).items() if k != b"ARROW:schema")),
            str(pf.schema).split("\n", 1)[1], tuple(sorted(set(cols))))  # without the object's address


def normalised_rows(day: dict, kind: str) -> list[tuple]:
    """Every row of ``kind`` with what legitimately differs between two runs
    normalised, sorted (a multiset as a list)."""
    port_names = {p: k for k, p in day["ports"].items()}
    lo, hi = day["wall"]
    out = []
    for f in files(day, kind):
        partition = f.parent.name
        for row in pq.read_table(f).to_pylist():
            t = row["time"].timestamp()
            if lo <= t <= hi:
                row["time"] = "wall clock"
                assert partition == f"date={datetime.fromtimestamp(t, timezone.utc).date()}", (f, row)
            elif kind != "dns":
                # a connection's clock runs on from its PROXY header's emulated time
                assert 0 <= (t - EMULATED) % 60 < 30 and t - EMULATED < 7200, row
                row["time"] = f"emulated+{int(t - EMULATED) // 60 * 60}"
                assert partition == f"date={EMULATED_DATE}", (f, row)
            else:  # a query's own emulated time, exact
                assert 0 <= t - EMULATED < 1000, row
                assert partition == f"date={EMULATED_DATE}", (f, row)
            if row["src_ip"].startswith("127."):
                row["src_port"] = "ephemeral"  # a real loopback client: the kernel's choice
            if row["dst_port"] in port_names:
                row["dst_port"] = port_names[row["dst_port"]]
            if kind == "command":  # the bytes sent carry a Date header: the hash of what the client got
                assert row["command_sha256"] == day["sent"]["command_sha256"], row
                row["command_sha256"] = "what the client got"
            out.append(tuple((k, repr(v)) for k, v in row.items()))
    return sorted(out)


# --------------------------------------------------------------------------- the tests


def test_both_runs_served_their_path(days):
    assert "takedown: hot paths: compiled" in days["compiled"]["stderr"], days["compiled"]["stderr"]
    assert "hot paths: pure Python (slower: TAKEDOWN_PURE=1 chose it)" in days["pure"]["stderr"]
    counts = [{k: v for k, v in days[side]["sent"].items() if k != "command_sha256"} for side in days]
    assert counts[0] == counts[1]


def test_the_same_partitions(days):
    def parts(day):
        return sorted({f"{p.parent.parent.name}/{p.parent.name}" for p in day["dir"].glob("kind=*/date=*/*.parquet")})

    assert parts(days["compiled"]) == parts(days["pure"])
    assert {p.split("/")[0] for p in parts(days["pure"])} == {f"kind={k}" for k in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_schema_and_format(days, kind):
    formats = {}
    for side, day in days.items():
        fs = files(day, kind)
        assert fs, f"{side}: no {kind} files"
        formats[side] = {file_format(f) for f in fs}
        assert len(formats[side]) == 1, f"{side}: {kind} files differ among themselves"
    assert formats["compiled"] == formats["pure"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_rows(days, kind):
    rows = {side: normalised_rows(day, kind) for side, day in days.items()}
    sent = days["pure"]["sent"]
    if kind == "dns":
        answered = sent["dns"]["udp"] + sent["dns"]["tcp"]
        assert answered <= len(rows["pure"]) <= answered + sent["dns"]["malformed"]
    else:
        assert len(rows["pure"]) == sent[kind], rows["pure"][:3]
    only_compiled = Counter(rows["compiled"]) - Counter(rows["pure"])
    only_pure = Counter(rows["pure"]) - Counter(rows["compiled"])
    assert not only_compiled and not only_pure, (
        f"{kind}: {sum(only_compiled.values())} rows only in the compiled day, e.g. {list(only_compiled)[:2]}; "
        f"{sum(only_pure.values())} only in the pure day, e.g. {list(only_pure)[:2]}")


def test_the_rows_are_the_kinds_expected(days):
    """What the comparison compares is the traffic sent: each kind of answer
    is there (on the pure side; the compiled one equals it)."""
    day = days["pure"]

    def col(kind, name):
        return [dict(r)[name] for r in normalised_rows(day, kind)]

    rcodes = Counter(col("dns", "rcode"))
    assert {"'NOERROR'", "'NXDOMAIN'", "'REFUSED'", "'FORMERR'"} <= set(rcodes), rcodes
    assert rcodes["'NXDOMAIN'"] >= 26
    rules = set(col("dns", "rule"))
    assert {"'zone:3322.org:block'", "'zone:3322.org:pass'", "'domain:waledac'"} <= rules, rules
    assert "'198.51.100.0/24'" in col("dns", "ecs")
    assert {"'udp'", "'tcp'"} == set(col("dns", "transport"))
    assert "'wall clock'" in col("dns", "time") and sum(t != "'wall clock'" for t in col("dns", "time")) >= 50
    http = [dict(r) for r in normalised_rows(day, "http")]
    assert {r["status"] for r in http} == {"200", "400"}
    assert {r["family"] for r in http} >= {"'pathsfam'", "'zeus'"}
    assert {r["response"] for r in http} >= {"'notice'", "'empty'", "'command'", "'bad-request'"}
    assert {r["method"] for r in http} >= {"'GET'", "'POST'"}
    assert len({r["query"] for r in http}) >= 20
    (tls,) = [dict(r) for r in normalised_rows(day, "tls")]
    assert tls["sni"] == "'c2.example'" and tls["ja4"] != "None" and tls["response"] == "'handshake'"
    inside = [r for r in http if r["path"] == "'/tls/gate.php'"]
    assert len(inside) == 1 and inside[0]["ja4"] == tls["ja4"] and inside[0]["sni"] == "'c2.example'"
    tcp = [dict(r) for r in normalised_rows(day, "tcp")]
    assert {r["length"] for r in tcp} == {str(len(b"\x16\x03\x01garbage-after-a-record-header")), "6", "40"}
    cmd = [dict(r) for r in normalised_rows(day, "command")]
    assert cmd[0]["authority"] == "'stop-zeus'" and cmd[0]["command"] == "'stop'"

