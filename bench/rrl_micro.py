"""In-process cost of Responder.respond() with response rate limiting on.

    PYTHONPATH=src python bench/rrl_micro.py [--names 10000] [--repeat 5]
    PYTHONPATH=src python bench/rrl_micro.py --check [--names 200000] [--repeat 5]
    PYTHONPATH=src python bench/rrl_micro.py --cold [--names 50000] [--repeat 5]

``--check`` times ``RateLimiter.check`` alone, the pure closure against the
compiled twin (takedown.dns._rrl_c) in the same run, round robin, CPU time:
``new`` (a distinct key per call: every distinct name of a cache-cold
flood opens an account), ``existing`` (10,000 short-form accounts in credit,
asked in turn), ``nolimit`` (a class whose rate is 0). ``--cold`` runs
bench/dns_micro.py's cache-cold pass (its ``compiled`` path, 200,000-name
zone, ``--names`` distinct queries) with the limiter's check pure and
compiled in turn, in the same process.

Cases (UDP, plain queries, answers already cached, so this is the fast path):
  same       one name asked again and again from one source
  distinct   10,000 different names of a zone, cycled, from one source
             (one RRL account per name: the table lookups of a real mix)
  off        the same name with RRL off (the floor)
The limiter's rate is set far above the query rate so every response is
allowed (the path a benchmark's answered queries take). Prints microseconds
per respond() call, best of --repeat runs. Works against older trees whose
respond() has no ``now`` parameter (for before/after figures).
"""

from __future__ import annotations

import argparse
import inspect
import struct
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from takedown.dns import wire  # noqa: E402
from takedown.dns.policy import Policy  # noqa: E402
from takedown.dns.responder import Responder  # noqa: E402
from takedown.dns.rrl import RateLimiter  # noqa: E402
from takedown.operation import load_operation  # noqa: E402

try:  # the columnar event buffer (2026-12-04); older trees took list.append
    from takedown.store.dnsbuffer import DnsBuffer  # noqa: E402
except ImportError:
    def DnsBuffer():  # noqa: N802
        return [].append


def zone_text(n: int) -> str:
    lines = ["$ORIGIN rrl.test.", "$TTL 300", "@ IN SOA ns1 hostmaster 1 3600 600 86400 300", "@ IN NS ns1",
             "ns1 IN A 192.0.2.10", "www IN A 192.0.2.11"]
    lines += [f"n{i} IN A 198.51.{100 + i // 250}.{i % 250 + 1}" for i in range(n)]
    return "\n".join(lines) + "\n"


def wq(name: str, qid: int) -> bytes:
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + wire.text_to_wire(name) + struct.pack("!HH", 1, 1)


def limiter():
    params = inspect.signature(RateLimiter.__init__).parameters
    if "referrals_per_second" in params:
        return RateLimiter(1_000_000_000, slip=2, window=15)
    return RateLimiter(1_000_000_000, 2, 15, 24, 56)


def check_pass(twin, case: str, keys: list[str]) -> float:
    """CPU nanoseconds per ``check`` of one ``case`` (see the docstring) with ``twin`` (None: the pure closure)."""
    from takedown.dns.rrl import NODATA, RESPONSES

    rl = RateLimiter(1_000_000_000, nodata_per_second=0, slip=2, window=15)
    rl.twin = twin
    rl.check("192.0.2.1", RESPONSES, "warm", 1000.0)  # fixes the epoch, picks the check
    check = rl.check
    asked = keys
    if case == "existing":
        for k in keys[:10_000]:
            check("192.0.2.1", RESPONSES, k, 1000.5)
        asked = keys[:10_000] * (len(keys) // 10_000 or 1)
    cls = NODATA if case == "nolimit" else RESPONSES
    now = 1001.0
    t0 = time.process_time()
    for k in asked:
        check("192.0.2.1", cls, k, now)
    return (time.process_time() - t0) / len(asked) * 1e9


def check_main(a) -> None:
    import os

    twin = RateLimiter.twin
    if twin is None:
        print("the compiled twin (takedown.dns._rrl_c) is not built or TAKEDOWN_PURE=1: pure only")
    impls = {"pure": None, "compiled": twin} if twin is not None else {"pure": None}
    keys = [f"n{i}.rrl.test/1" for i in range(a.names)]
    for case in ("new", "existing", "nolimit"):
        best = dict.fromkeys(impls, float("inf"))
        for _ in range(a.repeat):
            for name, impl in impls.items():
                best[name] = min(best[name], check_pass(impl, case, keys))
        figures = "  ".join(f"{name} {ns:6.0f} ns" for name, ns in best.items())
        print(f"check {case:9s} {figures}  (best of {a.repeat}, {len(keys)} keys; load {os.getloadavg()[0]:.2f})")


def cold_main(a) -> None:
    import os

    sys.path.insert(0, str(REPO / "bench"))
    import dns_micro  # noqa: PLC0415 - only for --cold

    twin = RateLimiter.twin
    policy, qfile = dns_micro.build_policy(200_000, 5_000, 2 * a.names)
    queries = dns_micro.distinct_queries(qfile, a.names)
    dns_micro.use("compiled", policy)
    impls = {"pure": None, "compiled": twin} if twin is not None else {"pure": None}
    best = dict.fromkeys(impls, float("inf"))
    for rep in range(a.repeat + 1):  # round robin, each first in turn; the first round warms up
        for name, impl in sorted(impls.items(), reverse=bool(rep % 2)):
            RateLimiter.twin = impl
            took = dns_micro.one_pass(policy, queries)[0]
            if rep:
                best[name] = min(best[name], took)
    RateLimiter.twin = twin
    for name, took in best.items():
        print(f"cold pass, RRL check {name:8s} {took / len(queries) * 1e6:.2f} us/query "
              f"(best of {a.repeat}, {len(queries)} distinct queries; load {os.getloadavg()[0]:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--names", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--check", action="store_true", help="RateLimiter.check alone, pure against compiled")
    ap.add_argument("--cold", action="store_true", help="the DNS cache-cold pass, RRL check pure against compiled")
    a = ap.parse_args()
    if a.check:
        check_main(a)
        return
    if a.cold:
        cold_main(a)
        return
    from dns_helpers import make_operation

    d = Path(tempfile.mkdtemp(prefix="rrl-micro-"))
    op = make_operation(d, extra_zones={"rrl.test": zone_text(a.names)})
    policy = Policy(load_operation(op), serial=1)
    takes_now = "now" in inspect.signature(Responder.respond).parameters
    same = [wq("www.rrl.test", i) for i in range(a.names)]
    distinct = [wq(f"n{i}.rrl.test", i) for i in range(a.names)]

    def run(queries, rrl) -> float:
        r = Responder(policy, DnsBuffer(), rrl=rrl)
        respond = r.respond
        best = float("inf")
        for _ in range(a.repeat + 1):  # the first pass fills the caches
            t0 = time.perf_counter()
            if takes_now:
                now = time.time
                for q in queries:
                    respond(q, "192.0.2.1", 5353, "udp", "127.0.0.1", 53, now())
            else:
                for q in queries:
                    respond(q, "192.0.2.1", 5353, "udp", "127.0.0.1", 53)
            best = min(best, time.perf_counter() - t0)
        return best / len(queries) * 1e6

    print(f"respond() takes now: {takes_now}")
    print(f"same      {run(same, limiter()):.3f} us/query (RRL on)")
    print(f"distinct  {run(distinct, limiter()):.3f} us/query (RRL on, {a.names} names)")
    print(f"off       {run(same, None):.3f} us/query (RRL off)")


if __name__ == "__main__":
    main()
