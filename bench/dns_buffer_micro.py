"""In-process CPU of the DNS event buffer's answer records on a cache-cold flood.

    PYTHONPATH=src python bench/dns_buffer_micro.py [--answers 200000] [--repeat 5]

On a cache-cold flood every query is a new answer: the responder registers
its record in the event buffer (takedown.store.dnsbuffer.DnsBuffer) and logs
one event with it; at the flush the buffer converts the new records to Arrow
and builds the batch's table. This times both halves for N distinct answers
(names and rules of a random-subdomain flood under a few zones, one event
each), two ways in the same process, round robin, best of ``--repeat``:

  old  the tuple registry (tests/dns_buffer_reference.py: main before
       DnsBuffer.fresh): ``template((qname, qtype, rcode, rule, family,
       None, "answer"))`` (a 7-tuple, a dictionary look-up and insertion),
       the flush's ``records_to_struct`` over the tuples, the tally's loop
  new  ``DnsBuffer.fresh(qname, qtype, rcode, rule, family)`` (five items
       appended to a flat list), one ``pa.array`` per field at the flush

Prints CPU (process time) nanoseconds per answer: registering (the
responder's call, with the event's three appends), the flush (``take`` and
``to_table``), and both.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from dns_buffer_reference import TupleBuffer  # noqa: E402

from takedown.store.dnsbuffer import DnsBuffer  # noqa: E402

KW = {"operation": "bench", "sensor": "ns1", "worker": 0}


def answers(n: int, seed: int = 1) -> list[tuple]:
    """(qname, qtype, rcode, rule, family) of ``n`` distinct flood answers."""
    rng = random.Random(seed)
    zones = [("3322.org", "zone:3322.org:pass", None), ("seized.example", "domain:waledac", "waledac"),
             ("dga.example", "dga:rustock", "rustock")]
    out = []
    for i in range(n):
        zone, rule, family = zones[i % 3]
        label = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
        out.append((f"{label}{i}.{zone}", rng.choice((1, 1, 1, 28)), 3 if i % 3 == 0 else 0, rule, family))
    return out


def one_pass(cls, recs: list[tuple]) -> tuple[float, float]:
    """CPU seconds to register ``recs`` (one event each), then to flush them."""
    buf = cls()
    fresh = buf.fresh
    tappend, sappend, kappend = buf.times.append, buf.srcs.append, buf.keys.append
    lk = buf.listener("udp", "127.0.0.1", 53)
    now = 1_714_564_800.0
    t0 = time.process_time()
    for qname, qtype, rcode, rule, family in recs:  # what Responder._record does on a miss
        tk = fresh(qname, qtype, rcode, rule, family)
        tappend(now)
        sappend("192.0.2.1")
        kappend(tk | lk | 5353)
    t1 = time.process_time()
    table = buf.to_table(buf.take(), **KW)
    t2 = time.process_time()
    assert table.num_rows == len(recs)
    return t1 - t0, t2 - t1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--answers", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args(argv)
    recs = answers(a.answers)
    paths = {"old": TupleBuffer, "new": DnsBuffer}
    best = {p: [float("inf")] * 3 for p in paths}
    for rep in range(a.repeat + 1):  # round robin; the first round warms up
        for p, cls in paths.items():
            reg, flush = one_pass(cls, recs if rep else recs[: len(recs) // 10])
            if rep:
                b = best[p]
                b[0], b[1], b[2] = min(b[0], reg), min(b[1], flush), min(b[2], reg + flush)
    n = len(recs)
    for p, (reg, flush, both) in best.items():
        print(f"{p}: register {reg / n * 1e9:6.0f} ns  flush {flush / n * 1e9:6.0f} ns  "
              f"both {both / n * 1e9:6.0f} ns per answer (best of {a.repeat}, {n} answers; "
              f"load {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
