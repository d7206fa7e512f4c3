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
machine, time spent waiting for a core is then not counted). ``--gc`` leaves
the cyclic GC on while timing (timeit turns it off) and prints its time per
request too (``gc.callbacks``). ``--flush`` measures instead the check-in
buffer per unique row: the shell's append, the conversion at the flush
(``take`` and ``to_table``) and the Parquet write, for this tree's buffer
and, with ``--old REV``, the buffer of git revision REV (its
takedown/store/checkins.py loaded beside this one) in the same process,
alternating pass by pass.

Every request is logged into the real check-in buffer (emptied between
repeats, as the writer's flush does). Prints microseconds per request
(best of the repeats).

Usage::

    PYTHONPATH=src:tests .venv/bin/python bench/net_conn_micro.py [--n 200000] [--compare]
    PYTHONPATH=src:tests .venv/bin/python bench/net_conn_micro.py --profile "unique connection"
    PYTHONPATH=src:tests .venv/bin/python bench/net_conn_micro.py --flush --old main --cpu
"""

from __future__ import annotations

import argparse
import cProfile
import gc
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
    ap.add_argument("--gc", action="store_true", help="time with the cyclic GC on; print its time per request")
    ap.add_argument("--flush", action="store_true", help="the check-in buffer's append, conversion and write per row")
    ap.add_argument("--old", metavar="REV", help="with --flush: also the buffer of this git revision")
    ap.add_argument("--encodings", action="store_true",
                    help="with --flush: the Parquet write of the never-repeating columns under other encodings")
    ap.add_argument("--cases", metavar="NAMES", help="only these cases (comma-separated names)")
    args = ap.parse_args()
    if args.compare:
        compare(args)
        return
    if args.flush:
        flush_bench(args)
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
    gc_time = [0.0, 0.0]  # total, start of the collection running

    def gc_timer(phase, info):
        if phase == "start":
            gc_time[1] = time.process_time()
        else:
            gc_time[0] += time.process_time() - gc_time[1]

    def setup():
        buf.take()
        if args.gc:
            gc.enable()  # (timeit turns it off; its setup runs after that)

    if args.gc:
        gc.callbacks.append(gc_timer)
    wanted = set(args.cases.split(",")) if args.cases else None
    for name, fn, count in cases:
        if wanted is not None and name not in wanted:
            continue
        fn()  # warm up
        gc_time[0] = 0.0
        best = min(timeit.repeat(fn, setup=setup, number=1, repeat=args.repeat,
                                 timer=time.process_time if args.cpu else time.perf_counter))
        results[name] = best / count * 1e6
        print(f"{name:20s} {results[name]:6.3f} us/request")
        if args.gc:
            print(f"{name:20s} {gc_time[0] / (args.repeat * count) * 1e6:6.3f} us gc/request (mean)")


def flush_bench(args) -> None:
    """Per unique row: the shell's append, the flush's conversion, the Parquet write."""
    import importlib.util

    from takedown.events import checkin_join
    from takedown.store.segments import open_parquet

    op, sensor = make_sensor("flush", "requests_per_connection = 1000000000\n")
    sensor.states.append(sensor._state(op.http, sensor.answers, None))
    n = args.n // 4
    conn = sensor.states[0].connect(("192.0.2.9", 40000), ("127.0.0.1", 8080), time.time())
    parts = []
    for i in range(n):  # the records the session makes for bench/http_bench.py's unique load
        (a,) = [c for c in conn.receive(unique_request(i + 2**42), time.time()) if hasattr(c, "base")]
        parts.append((a.base, a.query, a.body_len, a.body_sha256, a.body_head))
    records = [checkin_join(*p) for p in parts]
    origin = conn.origin
    buffers = {"new": sys.modules["takedown.store.checkins"].CheckinBuffer}
    if args.old:
        src = subprocess.run(["git", "show", f"{args.old}:src/takedown/store/checkins.py"], check=True,
                             capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent).stdout
        spec = importlib.util.spec_from_loader("old_checkins", loader=None)
        old = importlib.util.module_from_spec(spec)
        exec(compile(src, f"{args.old}:checkins.py", "exec"), old.__dict__)
        buffers["old"] = old.CheckinBuffer
    timer = time.process_time if args.cpu else time.perf_counter
    out = Path(tempfile.mkdtemp(prefix="flush-")) / "f.parquet"
    best: dict[tuple[str, str], float] = {}
    for _ in range(args.repeat):
        for label, cls in buffers.items():
            buf = cls("http")
            key = buf.add_conn(origin)
            gc.collect()
            t0 = timer()
            if label == "new":  # the shell's path: the Answer's parts
                add = buf.add_parts
                for p in parts:
                    buf.log(1.8e9, key, add(*p))
            else:  # the old shell's: the record
                add = buf.add_template
                for r in records:
                    buf.log(1.8e9, key, add(r))
            t1 = timer()
            table = buf.to_table(buf.take(), operation="o", sensor="s", worker=0)
            t2 = timer()
            with open_parquet(out, table.schema, "http") as pw:
                pw.write_table(table)
            t3 = timer()
            for what, dt in (("append", t1 - t0), ("to_table", t2 - t1), ("write", t3 - t2), ("total", t3 - t0)):
                k = (label, what)
                best[k] = min(best.get(k, float("inf")), dt / n * 1e6)
    print(f"{n} unique rows a flush, best of {args.repeat}; file {out.stat().st_size / n:.1f} bytes/row")
    print(f"{'':10s} " + " ".join(f"{lb:>8s}" for lb in buffers) + "  (us/row)")
    for what in ("append", "to_table", "write", "total"):
        print(f"{what:10s} " + " ".join(f"{best[(lb, what)]:8.3f}" for lb in buffers))
    if args.encodings:
        write_encodings(table, out, timer, args.repeat, n)


def write_encodings(table, out: Path, timer, repeat: int, n: int) -> None:
    """The Parquet write of one flush's table under the store's options
    (segments.open_parquet: dictionaries only for the kind's dictionary
    columns, zstd) and with other encodings for the columns a bot varies
    (query, body_sha256, body_head) and the headers; alternating pass by
    pass. Bytes and time per row."""
    import pyarrow.parquet as pq

    from takedown.events import dictionary_columns, statistics_columns

    never = ["query", "body_sha256", "body_head"]
    plain = table.cast(table.schema)  # (as written)
    variants = {
        "store": {},
        "delta-len": {"column_encoding": {c: "DELTA_LENGTH_BYTE_ARRAY" for c in never}},
        "delta-len+hdr": {"column_encoding": {c: "DELTA_LENGTH_BYTE_ARRAY" for c in never + ["headers"]}},
        "dict-all": {"use_dictionary": True},
    }
    best = {}
    for _ in range(repeat):
        for name, kw in variants.items():
            opts = {"use_dictionary": dictionary_columns("http"), "compression": "zstd",
                    "write_statistics": statistics_columns("http"), "store_schema": False}
            opts.update(kw)
            t0 = timer()
            with pq.ParquetWriter(out, plain.schema, **opts) as pw:
                pw.write_table(plain)
            dt = timer() - t0
            best[name] = min(best.get(name, float("inf")), dt / n * 1e6)
            size = out.stat().st_size / n
            if not pq.read_table(out).equals(pq.read_table(out)):  # pragma: no cover (readable)
                raise AssertionError(name)
            best[name + " bytes"] = size
    print(f"{'encoding':14s} {'us/row':>7s} {'bytes/row':>9s}")
    for name in variants:
        print(f"{name:14s} {best[name]:7.3f} {best[name + ' bytes']:9.1f}")


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
