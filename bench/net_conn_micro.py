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
  accept, the request (a repeat of one seen before), connection lost.

Every request is logged into the real check-in buffer (emptied between
repeats, as the writer's flush does). Prints microseconds per request
(best of the repeats).

Usage::

    PYTHONPATH=src:tests .venv/bin/python bench/net_conn_micro.py [--n 200000]
"""

from __future__ import annotations

import argparse
import os
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="requests per repeat (hit); miss uses n/4")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    d = Path(tempfile.mkdtemp(prefix="net-micro-"))
    (d / "op.toml").write_text(operation_text(5353, "micro", '[http]\nlisten = ["127.0.0.1:8080"]\n'
                                              'response = "empty"\nrequests_per_connection = 1000000000\n'))
    os.chdir(d)
    op = load_operation(d / "op.toml")

    from takedown.net import server as S

    sensor = S.NetSensor(op, 0, "micro")
    sensor.states.append(sensor._state(op.http, sensor.answers, None))
    buf = sensor.writers["http"].checkins
    n = args.n
    misses = [b"GET /gate.php?id=%d HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n" % i for i in range(n // 4)]

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

    def hit_shell():
        f = p.data_received
        for _ in range(n):
            f(REQ)

    c = conn()
    c.receive(REQ, time.time())
    c.receive(REQ, time.time())

    def hit_conn():
        f = c.receive
        t = time.time
        for _ in range(n):
            f(REQ, t())

    def miss_shell():
        q = shell()
        f = q.data_received
        for r in misses:
            f(r)

    def miss_conn():
        k = conn()
        f = k.receive
        t = time.time
        for r in misses:
            f(r, t())

    def close_shell():
        for _ in range(n // 4):
            q = shell()
            q.data_received(CLOSE_REQ)
            q.connection_lost(None)

    for name, fn, count in (("hit shell", hit_shell, n), ("hit connection", hit_conn, n),
                            ("miss shell", miss_shell, len(misses)), ("miss connection", miss_conn, len(misses)),
                            ("close shell", close_shell, n // 4)):
        fn()  # warm up
        best = min(timeit.repeat(fn, setup=buf.take, number=1, repeat=args.repeat))
        results[name] = best / count * 1e6
        print(f"{name:16s} {results[name]:6.3f} us/request")


if __name__ == "__main__":
    main()
