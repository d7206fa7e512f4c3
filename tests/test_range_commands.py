"""The range obeys commands (issue 17 point 7): its bots read what the sinkhole
answers, plain and inside TLS; a bot told to stop never checks in (nor looks
its names up) again, a notice is only recorded; the truth keeps what was
received, the report counts the ``command`` events the sinkhole stored, and
the comparison holds one against the other.

The sinkhole here is a small fake on 127.0.0.1 (DNS echo, HTTP, TLS through
a memory BIO, raw TCP): it reads each connection's PROXY v2 header and its
emulated clock, frames the pipelined requests and answers each with a
family's command body when the test's policy says so, else an empty 200."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from takedown.analytics.report import build_report
from takedown.events import COMMAND_ROW
from takedown.net.certs import self_signed_context
from takedown.net.proxy import parse_proxy
from takedown.operation import load_operation
from takedown.range import compare, families, schedule
from takedown.range.demo import write_operation
from takedown.range.families.base import command_body
from takedown.range.obey import Commands, commands_in, responses
from takedown.range.population import build
from takedown.range.run import bound, run_range, targets
from takedown.store.segments import SegmentWriter

START = date(2026, 3, 16)  # a Monday
DAYS = 14
MIX = {"zeus": 0.35, "conficker": 0.25, "locky": 0.2, "gafgyt": 0.2}
STOP_FROM = datetime(2026, 3, 23, tzinfo=UTC).timestamp()  # day 7, 00:00Z: week 2026-W13
NOTICE_FROM = datetime(2026, 3, 19, tzinfo=UTC).timestamp()  # day 3


def _response(body: bytes, close: bool) -> bytes:
    conn = b"close" if close else b"keep-alive"
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n"
            b"Connection: %s\r\n\r\n" % (len(body), conn)) + body


# -- framing -----------------------------------------------------------------


def test_commands_are_whole_bodies_of_framed_responses():
    stop, notice = command_body("zeus", "stop"), command_body("zeus", "notice")
    bodies = Commands({"stop": stop, "notice": notice})
    assert bodies.needles == (b"takedown-range/1",)  # one search for what both bodies start with
    data = (b"HTTP/1.1 100 Continue\r\n\r\n" + _response(stop, False) + _response(b"", False)
            + _response(notice, False) + _response(stop, True))
    assert responses(data) == [stop, b"", notice, stop]
    assert commands_in(data, bodies) == {"stop": 2, "notice": 1}
    # a body that only contains a command, a command's text in a header: no command
    assert commands_in(_response(b"x" + stop, False) + _response(stop + b"x", True), bodies) == {}
    header = b"HTTP/1.1 200 OK\r\nX-Note: " + stop.strip() + b"\r\nContent-Length: 0\r\n\r\n"
    assert commands_in(header, Commands({"stop": stop.strip()})) == {}
    # bodies with no common start: each is searched for
    other = Commands({"stop": b"\x01\x02", "go": b"\x03"})
    assert other.needles == (b"\x01\x02", b"\x03")
    assert commands_in(_response(b"\x03", False) + _response(b"\x01\x02", True), other) == {"go": 1, "stop": 1}
    # a truncated last response is not counted; a body to the close is
    assert commands_in(_response(stop, False)[:-3], bodies) == {}
    assert commands_in(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + stop, bodies) == {"stop": 1}
    # the body of a 204 is none: what follows is the next response
    assert commands_in(b"HTTP/1.1 204 No Content\r\n\r\n" + _response(stop, True), bodies) == {"stop": 1}
    # framing stops at what it cannot frame (chunked, garbage), keeping what came before
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    assert commands_in(_response(stop, False) + chunked + _response(stop, True), bodies) == {"stop": 1}
    assert commands_in(b"garbage\r\n\r\n" + _response(stop, True), bodies) == {}


# -- the fake sinkhole --------------------------------------------------------


class _Http(asyncio.Protocol):
    """One connection of the fake: PROXY v2 header, then (TLS through a memory
    BIO, or plain) pipelined requests, each answered as the policy says."""

    def __init__(self, fake: "FakeSinkhole", tls: bool):
        self.fake, self.tls = fake, tls
        self.raw = bytearray()
        self.app = bytearray()
        self.clock = None
        self.sslobj = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        if self.clock is None:
            self.raw += data
            got = parse_proxy(self.raw)
            if got is None:
                return
            header, used = got
            self.clock = header.clock
            data = bytes(self.raw[used:])
            if self.tls:
                self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
                self.sslobj = self.fake.ctx.wrap_bio(self.inc, self.out, server_side=True)
        if self.sslobj is not None:
            self.inc.write(data)
            data = b""
            try:
                self.sslobj.do_handshake()
                while True:
                    data += self.sslobj.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                pass
            self._flush()
        self.app += data
        self._answer()

    def _flush(self):
        out = self.out.read()
        if out:
            self.transport.write(out)

    def _send(self, data: bytes):
        if self.sslobj is None:
            self.transport.write(data)
        else:
            self.sslobj.write(data)
            self._flush()

    def _answer(self):
        while True:
            end = self.app.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.app[:end]).decode("latin-1").lower()
            length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                           if line.startswith("content-length:")), 0)
            if len(self.app) < end + 4 + length:
                return
            del self.app[:end + 4 + length]
            path = head.split(" ", 2)[1]
            family = self.fake.by_path[path]
            close = "connection: close" in head
            command = self.fake.policy(family, self.clock)
            body = b"" if command is None else families.get(family).commands[command]
            if command is not None:
                self.fake.sent[(family, command)] += 1
            self._send(_response(body, close))
            if close:
                self.transport.close()
                return


class _Echo(asyncio.DatagramProtocol):
    """The fake's DNS: every query comes back (the range matches answers by ID)."""

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)


class FakeSinkhole:
    def __init__(self, cert_dir):
        self.ctx = self_signed_context(cert_dir)
        self.by_path = {families.get(f).path: f for f in families.names() if families.get(f).transport == "http"}
        self.policy = lambda family, clock: None
        self.sent: Counter = Counter()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.ready = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> dict:
        loop = asyncio.get_running_loop()
        self.servers = [
            await loop.create_server(lambda: _Http(self, False), "127.0.0.1", 0),
            await loop.create_server(lambda: _Http(self, True), "127.0.0.1", 0),
            await loop.create_server(asyncio.Protocol, "127.0.0.1", 0),  # raw TCP: read, close at EOF
        ]
        self.udp, _ = await loop.create_datagram_endpoint(_Echo, local_addr=("127.0.0.1", 0))
        self.udp.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        ports = [s.sockets[0].getsockname()[1] for s in self.servers]
        return {"dns": [f"127.0.0.1:{self.udp.get_extra_info('sockname')[1]}"],
                **{k: [f"127.0.0.1:{p}"] for k, p in zip(("http", "tls", "tcp"), ports)}}

    def close(self):
        async def stop():
            for s in self.servers:
                s.close()
            self.udp.close()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    f = FakeSinkhole(tmp_path_factory.mktemp("certs"))
    yield f
    f.close()


@pytest.fixture(scope="module")
def op(tmp_path_factory, fake):
    d = tmp_path_factory.mktemp("op")
    return bound(load_operation(write_operation(d, START, DAYS)), fake.ready)


def _run(fake, op, tmp_path_factory, policy):
    fake.policy, fake.sent = policy, Counter()
    out = tmp_path_factory.mktemp("truth")
    result = run_range(op, bots=400, start=START, days=DAYS, seed=3, mix=MIX, truth_dir=out, concurrency=32)
    return result, out, Counter(fake.sent)


@pytest.fixture(scope="module")
def runs(fake, op, tmp_path_factory):
    """The same range twice: the sinkhole answering nothing but empty 200s,
    then answering zeus check-ins with stop from day 7 and conficker's with
    notice from day 3."""

    def told(family, clock):
        if family == "zeus" and clock >= STOP_FROM:
            return "stop"
        if family == "conficker" and clock >= NOTICE_FROM:
            return "notice"
        return None

    with pytest.MonkeyPatch.context() as mp:
        # the zone's ordinary users' lookups are not what is tested here, and their bursts
        # (the range keeps 256 queries in flight) overflow the fake's one UDP socket
        mp.setattr(schedule, "PASSTHROUGH_PER_DAY", 0)
        return _run(fake, op, tmp_path_factory, lambda f, c: None), _run(fake, op, tmp_path_factory, told)


def _sessions(out, pop_family):
    t = pq.read_table(out / "sessions.parquet").to_pydict()
    rows = [(b, tm.timestamp(), c, tls) for b, tm, c, tls in zip(t["bot"], t["time"], t["checkins"], t["tls"])]
    return {f: sorted(r for r in rows if pop_family[r[0]] == f) for f in MIX}


def test_stopped_bots_stop_after_their_first_checkin_in_the_window(runs):
    (base, base_out, base_sent), (obey, obey_out, sent) = runs
    assert base_sent == Counter() and base.counts["commands"] == {
        "total_events": 0, "by_command": [], "weeks": [], "stopped": {}}
    fam = obey.truth.pop.family
    before, after = _sessions(base_out, fam), _sessions(obey_out, fam)
    # other families: every session as without commands (a notice changes nothing)
    for f in ("conficker", "locky", "gafgyt"):
        assert after[f] == before[f] and len(before[f]) > 50, f
    # zeus: the sessions before the window, then each bot's first session in it, then nothing
    first_in_window: dict = {}
    for r in before["zeus"]:
        if r[1] >= STOP_FROM:
            first_in_window.setdefault(r[0], r)
    expect = sorted([r for r in before["zeus"] if r[1] < STOP_FROM] + list(first_in_window.values()))
    assert after["zeus"] == expect and len(first_in_window) > 20
    assert len(after["zeus"]) < len(before["zeus"]) - 20
    # some stops came inside TLS
    assert any(r[3] for r in first_in_window.values())

    c = obey.counts["commands"]
    notices = [r for r in before["conficker"] if r[1] >= NOTICE_FROM]
    assert c["by_command"] == [
        {"family": "conficker", "command": "notice", "unique_ips": len({r[0] for r in notices}),
         "events": sum(r[2] for r in notices)},
        {"family": "zeus", "command": "stop", "unique_ips": len(first_in_window),
         "events": sum(r[2] for r in first_in_window.values())},
    ]
    # what the sinkhole sent is what the bots received
    assert c["total_events"] == sum(sent.values()) == obey.stats.commands
    assert sent == {("zeus", "stop"): c["by_command"][1]["events"], ("conficker", "notice"): c["by_command"][0]["events"]}
    assert c["stopped"] == {"zeus": len(first_in_window)}
    assert {w["week"] for w in c["weeks"] if w["command"] == "stop"} == {"2026-W13"}
    assert sum(w["events"] for w in c["weeks"]) == c["total_events"]
    # the check-in counts are still what was sent
    assert obey.counts["total_events"] == obey.stats.checkins and obey.stats.failed_sessions == 0
    assert obey.stats.answered == obey.stats.queries > 100 and obey.stats.errors == []
    assert obey.counts["families"]["locky"] == base.counts["families"]["locky"]
    assert obey.counts["families"]["zeus"][1] < base.counts["families"]["zeus"][1]


def test_the_truth_keeps_what_was_received(runs):
    _, (obey, out, _) = runs
    t = pq.read_table(out / "commands.parquet").to_pydict()
    assert set(t) == {"bot", "time", "command", "count"}
    fam = obey.truth.pop.family
    stops = [(b, tm) for b, tm, c in zip(t["bot"], t["time"], t["command"]) if c == "stop"]
    assert stops and all(fam[b] == "zeus" and tm.timestamp() >= STOP_FROM for b, tm in stops)
    assert len({b for b, _ in stops}) == len(stops)  # a bot is told to stop once: it never came back
    assert sum(t["count"]) == obey.counts["commands"]["total_events"]
    saved = json.loads((out / "truth.json").read_text())
    assert saved["commands"] == obey.counts["commands"]


def test_a_stopped_bot_is_left_out_of_the_plan_and_no_one_else(tmp_path):
    op = load_operation(write_operation(tmp_path, START, 7))
    pop = build(3000, 3, families={"zeus": 0.5, "conficker": 0.5})
    tg, res = targets(op), schedule.resolvers_of(pop)
    zeus = pop.family == "zeus"
    free = schedule.plan_day(pop, tg, START, 2, 9, res)
    none = schedule.plan_day(pop, tg, START, 2, 9, res, np.zeros(len(pop), bool))
    told = schedule.plan_day(pop, tg, START, 2, 9, res, zeus)
    assert (none.bot == free.bot).all() and none.q_name == free.q_name
    keep = ~zeus[free.bot]
    assert (told.bot == free.bot[keep]).all() and (told.time == free.time[keep]).all()
    assert (told.checkins == free.checkins[keep]).all() and told.host == [h for h, k in zip(free.host, keep) if k]
    # no stopped bot looks its seized name up: only the DGA name and the zone's ordinary names are asked for
    seized = set(tg.seized)
    assert seized & set(free.q_name) and not seized & set(told.q_name)
    assert set(told.q_name) - set(tg.passthrough) == {tg.dga["conficker"](START + timedelta(2))[0]}


def test_every_http_family_obeys_and_tcp_families_do_not():
    for name in families.names():
        b = families.get(name)
        if b.transport == "http":
            assert b.commands == {"stop": command_body(name, "stop"), "notice": command_body(name, "notice")}
        else:
            assert b.commands == {} and "No commands" in __import__(
                f"takedown.range.families.{name}", fromlist=["x"]).__doc__


# -- the report's commands and the comparison ---------------------------------


class NoEnricher:
    """No country or AS for anyone (the range's addresses need none here)."""

    def lookup(self, ips):
        n = len(ips)
        return pa.table({"cc": pa.nulls(n, pa.string()), "asn": pa.nulls(n, pa.int64()),
                         "as_name": pa.nulls(n, pa.string())})


def _command_row(t: float, ip: str, family: str, command: str, authority: str) -> tuple:
    row = dict.fromkeys(COMMAND_ROW)
    row.update(time=t, transport="tcp", src_ip=ip, src_port=40000, dst_ip="192.0.2.53", dst_port=80,
               rule=f"{family}-gate-post", family=family, method="POST", host="c2.example", path="/gate.php",
               status=200, response="command", authority=authority, command=command,
               command_sha256="ab" * 32)
    return tuple(row[k] for k in COMMAND_ROW)


def test_report_commands_section_and_comparison(tmp_path, runs):
    _, (obey, out, _) = runs
    storage = tmp_path / "data"
    w = SegmentWriter(storage, "command", operation="op", sensor="s1", worker=0, fsync=False)
    # the truth's received commands, as a sinkhole would have stored them (one event per response)
    t = pq.read_table(out / "commands.parquet").to_pydict()
    ips = obey.truth.pop.ip_strings()
    fam = obey.truth.pop.family
    for b, tm, c, n in zip(t["bot"], t["time"], t["command"], t["count"]):
        for k in range(n):
            auth = "stop-zeus" if c == "stop" else "notify-users"
            w.rows.append(_command_row(tm.timestamp() + k * 0.001, ips[b], str(fam[b]), c, auth))
    w.flush()
    w.close()

    rep = build_report(storage, tmp_path / "report", enricher=NoEnricher(), date_from=START,
                       date_to=START + timedelta(DAYS - 1))
    s = rep.summary["commands"]
    truth = obey.counts["commands"]
    assert s["by_command"] == truth["by_command"] and s["weeks"] == truth["weeks"]
    assert s["total_events"] == truth["total_events"]
    stop = next(r for r in s["sent"] if r["command"] == "stop")
    first = min(tm for tm, c in zip(t["time"], t["command"]) if c == "stop")
    assert stop["authority"] == "stop-zeus" and stop["family"] == "zeus"
    assert stop["first"] == first.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert json.loads((rep.out / "summary.json").read_text())["commands"] == s
    html = (rep.out / "index.html").read_text()
    assert "Commands sent under the court's authority" in html and "stop-zeus" in html
    assert f"<td>{first:%Y-%m-%d %H:%M:%S}</td>" in html  # to the second on the page
    assert (rep.out / "commands.csv").read_text().splitlines()[0] == \
        "family,command,authority,unique_ips,events,first,last"
    # the same view answers takedown events sql
    import io

    from takedown.analytics.sql import run_sql

    buf = io.BytesIO()
    run_sql(storage, "SELECT authority, count(*) AS n FROM commands GROUP BY ALL ORDER BY ALL", fmt="csv",
            enricher=NoEnricher, stdout=buf)
    assert buf.getvalue().decode().split() == [
        '"authority","n"', f'"notify-users",{s["by_command"][0]["events"]}', f'"stop-zeus",{stop["events"]}']
    # the comparison: no difference for the commands; one injected is found
    diffs = compare.differences(rep.summary, obey.counts)
    assert not [d for d in diffs if d.startswith("commands")]
    bad = json.loads(json.dumps(rep.summary))
    bad["commands"]["weeks"][0]["events"] += 1
    bad["commands"]["by_command"] = bad["commands"]["by_command"][:1]
    got = [d for d in compare.differences(bad, obey.counts) if d.startswith("commands")]
    assert len(got) == 2 and any("report None" in d for d in got)


def test_no_command_events_leave_the_report_as_it_was(tmp_path):
    rep = build_report(tmp_path / "empty", tmp_path / "r", enricher=NoEnricher(), date_from=START, date_to=START)
    assert rep.summary["commands"] == {"total_events": 0, "sent": [], "by_command": [], "weeks": []}
    assert "Commands sent" not in (rep.out / "index.html").read_text()
    assert (rep.out / "commands.csv").read_text().strip() == "family,command,authority,unique_ips,events,first,last"


def test_the_range_says_what_its_bots_received(runs, capsys):
    from takedown.cli import _print_range

    (base, _, _), (obey, _, _) = runs
    _print_range(base)
    assert "received:" not in capsys.readouterr().out  # no command: the output is as before
    _print_range(obey)
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("received: ")]
    c = obey.counts["commands"]
    zeus = c["by_command"][1]
    assert line == (f"received: {c['total_events']:,} commands (conficker notice {c['by_command'][0]['events']:,} "
                    f"to {c['by_command'][0]['unique_ips']:,} bots, zeus stop {zeus['events']:,} to "
                    f"{zeus['unique_ips']:,} bots); bots stopped: zeus {c['stopped']['zeus']:,}")
