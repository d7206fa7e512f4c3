"""Micro-benchmark of the network sinkhole's per-request Python cost, in process.

Drives one HTTP connection without a socket: the asyncio shell's protocol
object (takedown.net.server._Protocol) with a fake transport whose write()
only counts, and the sans-I/O Connection alone (takedown.net.connection),
on:

- ``hit``: the same keep-alive request again and again (wrk's GET of
  bench/http_bench.py): the request-cache fast path;
- ``miss``: a new request line each time (a bot id in the query): parse
  (known header lines), match, render, record;
- ``close`` (shell only): a connection per request (``Connection: close``):
  accept, the request (a repeat of one seen before), connection lost;
- ``unique``: bench/http_bench.py's ``unique`` load (wrk's unique.lua): a
  bot-like POST check-in with its own id in the query and in the body, so
  neither the request cache nor the parser's known-sections cache hits;
- ``unique close`` (shell only): the same, one connection per check-in;
- ``bot``: a ZeuS-style bot's round on a connection of its own: GET
  config.bin (the same for every bot: the request cache) and its own POST
  gate.php check-in (both matched by the shipped rules), then close;
- ``parse ...``: takedown.net.http's RequestParser alone on the same
  requests (``hit``: a known header section; ``miss`` and ``unique``: known
  header lines under a new request line; ``unique close``: a new parser per
  check-in), sharing one ParserCaches as a listener's connections do: the
  part of each case the compiled request parser
  (takedown/net/_http_c.pyx) works on.

Run under ``TAKEDOWN_PURE=1`` for the pure-Python path; ``--compare`` runs
the script twice (pure, then compiled if built) and prints both side by
side. ``--profile CASE`` prints a cProfile of one case instead. ``--cpu``
times with the process's CPU time instead of the wall clock (on a shared
machine, time spent waiting for a core is then not counted).

Every request is logged into the real check-in buffer (emptied between
repeats, as the writer's flush does). Prints microseconds per request
(best of the repeats).

Usage::

    PYTHONPATH=src:tests .venv/bin/python bench/net_conn_micro.py [--n 200000] [--compare]
    PYTHONPATH=src:tests .venv/bin/python bench/net_conn_micro.py --profile "unique connection"
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from net_helpers import operation_text  # noqa: E402

from takedown.operation import load_operation  # noqa: E402

REQ = b"GET /gate.php HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
CLOSE_REQ = b"GET /gate.php HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n"
# bench/http_bench.py's BOT_HEADERS and unique.lua's body, as wrk.format writes them
UNIQUE_HEAD = (b"Host: 127.0.0.1:8080\r\nUser-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)\r\n"
               b"Accept: */*\r\nContent-Type: application/x-www-form-urlencoded\r\nCache-Control: no-cache\r\n")


def unique_request(i: int, close: bool = False) -> bytes:
    """A check-in of unique.lua: the bot id in the query and in the body."""
    body = b"id=%016X&os=5.1.2600&ver=2.0.8.9&cpu=2&av=none&bits=32" % i
    return (b"POST /gate.php?id=%016X HTTP/1.1\r\n" % i + UNIQUE_HEAD
            + (b"Connection: close\r\n" if close else b"") + b"Content-Length: %d\r\n\r\n" % len(body) + body)


class FakeTransport:
    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1

    def get_extra_info(self, name: str):
        return ("192.0.2.9", 40000) if name == "peername" else None

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def make_sensor(name: str, http: str = ""):
    """(operation, NetSensor) of an HTTP sinkhole on 127.0.0.1:8080 answering
    ``empty``, in a new temporary directory (its storage); ``http``: more
    lines of its ``[http]`` table."""
    from takedown.net import server as S
    from takedown.net.answers import load_answers

    d = Path(tempfile.mkdtemp(prefix=f"net-{name}-"))
    (d / "op.toml").write_text(operation_text(5353, name, '[http]\nlisten = ["127.0.0.1:8080"]\n'
                                              'response = "empty"\n' + http))
    os.chdir(d)
    op = load_operation(d / "op.toml")
    return op, S.NetSensor(op, 0, name, load_answers(op))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="requests per repeat (hit); miss uses n/4")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--compare", action="store_true", help="run pure and compiled, print both")
    ap.add_argument("--profile", metavar="CASE", help="cProfile one case (e.g. 'unique connection')")
    ap.add_argument("--cpu", action="store_true",
                    help="time with this process's CPU time (a shared machine: waiting for the core is not counted)")
    args = ap.parse_args()
    if args.compare:
        compare(args)
        return

    from takedown.net import server as S

    op, sensor = make_sensor("micro", "requests_per_connection = 1000000000\n")
    sensor.states.append(sensor._state(op.http, sensor.answers, None))
    buf = sensor.writers["http"].checkins
    n = args.n
    # A new id range for every run (the warm-up, each repeat, a profile): an
    # id of an earlier run could still be in the request cache (until the
    # next second) or the parser's admission set.
    runs = args.repeat + 2
    per = n // 4
    misses = [[b"GET /gate.php?id=%d HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n" % i
               for i in range(k * per, (k + 1) * per)] for k in range(runs)]

    def shell():
        p = S._Protocol(sensor, 0, ("127.0.0.1", 8080))
        p.connection_made(FakeTransport())
        return p

    def conn():
        return sensor.states[0].connect(("192.0.2.9", 40000), ("127.0.0.1", 8080), time.time())

    results = {}

    p = shell()
    p.data_received(REQ)
    p.data_received(REQ)

    def hits(f):
        def run():
            for _ in range(n):
                f(REQ)
        return run

    hit_shell = hits(p.data_received)

    c = conn()
    c.receive(REQ, time.time())
    c.receive(REQ, time.time())

    def hit_conn():
        f = c.receive
        t = time.time
        for _ in range(n):
            f(REQ, t())

    def on_shell(lists):
        it = iter(lists)

        def run():
            f = shell().data_received
            for r in next(it):
                f(r)
        return run

    def on_conn(lists):
        it = iter(lists)

        def run():
            f = conn().receive
            t = time.time
            for r in next(it):
                f(r, t())
        return run

    def close_shell():
        for _ in range(n // 4):
            q = shell()
            q.data_received(CLOSE_REQ)
            q.connection_lost(None)

    # (ids: 0x1000000000 and up, so that no unique request is a miss request's id)
    uniques = [[unique_request(i + 2**36) for i in range(k * per, (k + 1) * per)] for k in range(runs)]
    closes = iter([[unique_request(i + 2**37, close=True) for i in range(k * per, (k + 1) * per)]
                   for k in range(runs)])

    def unique_close_shell():
        for r in next(closes):
            q = shell()
            q.data_received(r)
            q.connection_lost(None)

    from takedown.net.http import ParserCaches, RequestParser

    parser_caches = ParserCaches()
    hp = RequestParser(caches=parser_caches)
    hp.feed(REQ)
    hp.feed(REQ)

    hit_parse = hits(hp.feed)

    def on_parser(lists):
        it = iter(lists)

        def run():
            f = RequestParser(caches=parser_caches).feed
            for r in next(it):
                f(r)
        return run

    parse_closes = iter([[unique_request(i + 2**40, close=True) for i in range(k * per, (k + 1) * per)]
                         for k in range(runs)])

    def unique_close_parse():
        for r in next(parse_closes):
            RequestParser(caches=parser_caches).feed(r)

    parse_misses = [[r.replace(b"?id=", b"?pid=") for r in rs] for rs in misses]
    parse_uniques = [[unique_request(i + 2**41) for i in range(k * per, (k + 1) * per)] for k in range(runs)]

    # a ZeuS-style bot's round (the shipped rules' zeus-config-download and
    # zeus-gate-post): GET config.bin (the same for every bot), then its own
    # POST gate.php check-in, on one keep-alive connection per bot
    bots_shell, bots_conn = (iter([[unique_request(i + base) for i in range(k * per, (k + 1) * per)]
                                   for k in range(runs)]) for base in (2**38, 2**39))
    config = b"GET /files/config.bin HTTP/1.1\r\n" + UNIQUE_HEAD + b"\r\n"

    def bot_shell():
        for r in next(bots_shell):
            q = shell()
            q.data_received(config)
            q.data_received(r)
            q.connection_lost(None)

    def bot_conn():
        t = time.time
        for r in next(bots_conn):
            c = conn()
            c.receive(config, t())
            c.receive(r, t())
            c.closed(t())

    cases = (("hit shell", hit_shell, n), ("hit connection", hit_conn, n),
             ("miss shell", on_shell(misses), per), ("miss connection", on_conn(misses), per),
             ("close shell", close_shell, n // 4), ("unique shell", on_shell(uniques), per),
             ("unique connection", on_conn(uniques), per),
             ("unique close shell", unique_close_shell, per),
             ("parse hit", hit_parse, n), ("parse miss", on_parser(parse_misses), per),
             ("parse unique", on_parser(parse_uniques), per), ("parse unique close", unique_close_parse, per),
             ("bot shell", bot_shell, 2 * per), ("bot connection", bot_conn, 2 * per))
    if args.profile:
        fn = dict((c[0], c[1]) for c in cases)[args.profile]
        fn()
        buf.take()
        prof = cProfile.Profile()
        prof.runcall(fn)
        pstats.Stats(prof).sort_stats("tottime").print_stats(18)
        return
    from takedown.accel import notice

    print(f"path: {notice()}")
    for name, fn, count in cases:
        fn()  # warm up
        best = min(timeit.repeat(fn, setup=buf.take, number=1, repeat=args.repeat,
                                 timer=time.process_time if args.cpu else time.perf_counter))
        results[name] = best / count * 1e6
        print(f"{name:20s} {results[name]:6.3f} us/request")


def compare(args) -> None:
    """This script under TAKEDOWN_PURE=1 and without, side by side."""
    runs = {}
    for label, pure in (("pure", "1"), ("compiled", "")):
        env = dict(os.environ, TAKEDOWN_PURE=pure)
        out = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--repeat", str(args.repeat)]
                             + (["--cpu"] if args.cpu else []),
                             env=env, check=True, capture_output=True, text=True).stdout
        runs[label] = dict(_parse(line) for line in out.splitlines() if line.endswith("us/request"))
        print(f"{label}: {out.splitlines()[0]}")
    print(f"{'case':20s} {'pure':>8s} {'compiled':>9s}  (us/request)")
    for name, us in runs["pure"].items():
        print(f"{name:20s} {us:8.3f} {runs['compiled'][name]:9.3f}")


def _parse(line: str) -> tuple[str, float]:
    head, us = line.rsplit(None, 2)[:2]
    return head.strip(), float(us)


if __name__ == "__main__":
    main()
