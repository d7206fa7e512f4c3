"""In-process CPU per cache-cold DNS query: the miss path, pure against compiled.

    PYTHONPATH=src python bench/dns_micro.py [--names 200000] [--queries 100000] [--profile] [--what decide]

Builds the cold scenario of bench/dns_bench.py in one process: the zone of
bench/zonegen.py (3322.org-like, with its blocklist) under the benchmark's
operation file, a :class:`Responder` with RRL on and the columnar event
buffer, then feeds distinct plain UDP queries (the names and types of
zonegen's query file, each asked once: every one is an answer-cache miss)
through ``Responder.respond``, the call the UDP server makes per datagram
(takedown.dns.server.DnsShell._drain). Prints CPU microseconds per query for
each path, best of ``--repeat`` passes, each pass on a fresh responder so
every query misses (``cold``), then the same queries again through the same
responder, every one answered from the cache (``hot``), the paths in turn:
``pure`` (as TAKEDOWN_PURE=1), ``wire-only`` (the compiled twin of
takedown.dns.wire, the pure decision), ``decide`` (that and the policy's
compiled ``decide``, takedown.dns._policy_c, every miss through
``Responder._slow``), ``compiled`` (also the compiled common miss,
takedown.dns._responder_c.plain_miss, called from the pure ``respond``) and
``front`` (all of that and the compiled fast path itself,
takedown.dns._responder_c.front, what ``Responder.respond`` is when built).
``--what decide`` times ``Policy.decide`` alone over the same questions, pure
against compiled. ``--profile [PATH]`` prints a cProfile of one cold pass of
PATH (default pure).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import struct
import sys
import tempfile
import time
import types
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import zonegen  # noqa: E402
from dns_bench import OUT_DIR, write_operation  # noqa: E402

from takedown.dns import wire  # noqa: E402
from takedown.dns.policy import Policy  # noqa: E402
from takedown.dns.responder import Responder, respond_pure  # noqa: E402
from takedown.dns.rrl import RateLimiter  # noqa: E402
from takedown.operation import load_operation  # noqa: E402
from takedown.store.dnsbuffer import DnsBuffer  # noqa: E402

_TYPES = {"A": wire.A, "AAAA": wire.AAAA, "MX": wire.MX, "TXT": wire.TXT, "NS": wire.NS}


def distinct_queries(path: Path, limit: int) -> list[bytes]:
    """Plain query packets for the distinct (name, type) pairs of a dnsperf file."""
    seen: set[tuple[str, str]] = set()
    out: list[bytes] = []
    with path.open() as f:
        for line in f:
            name, qtype = line.split()
            if (name, qtype) in seen:
                continue
            seen.add((name, qtype))
            qid = len(out) & 0xFFFF
            out.append(struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + wire.text_to_wire(name)
                       + struct.pack("!HH", _TYPES[qtype], 1))
            if len(out) >= limit:
                break
    return out


def build_policy(names: int, blocklist: int, queries: int) -> tuple[Policy, Path]:
    zdir = zonegen.zone_dir(OUT_DIR / "zones", names, blocklist)
    zonegen.generate(zdir, names, blocklist, queries, quiet=True)
    work = Path(tempfile.mkdtemp(prefix="dns-micro-"))
    op = work / "operation.toml"
    write_operation(op, zone=zdir / zonegen.ZONE_FILE, blocklist=zdir / zonegen.BLOCKLIST_FILE,
                    storage=work / "data", port=5353, rrl="on")
    return Policy(load_operation(op), serial=1), zdir / zonegen.QUERIES_FILE


def one_pass(policy: Policy, queries: list[bytes]) -> tuple[float, Responder]:
    """CPU seconds of one pass of ``queries`` through a fresh responder (all
    misses): process time, not wall time, which on a shared machine counts
    the other jobs' turns on the cores too."""
    r = Responder(policy, DnsBuffer(), rrl=RateLimiter(1_000_000_000, slip=2, window=15))
    r.plain_miss = _miss["fn"]
    return timed_pass(r, queries), r


def timed_pass(r: Responder, queries: list[bytes]) -> float:
    """CPU seconds of one pass of ``queries`` through ``r`` (its ``respond``
    as the path in use has it: the pure method or the compiled front)."""
    respond = types.MethodType(_miss["respond"], r)
    clock = time.time
    t0 = time.process_time()
    for q in queries:
        respond(q, "192.0.2.1", 5353, "udp", "127.0.0.1", 53, clock())
    return time.process_time() - t0


#: The paths compared: name -> (compiled wire functions, compiled decision, compiled miss, compiled front).
PATHS = {"pure": (False, False, False, False), "wire-only": (True, False, False, False),
         "decide": (True, True, False, False), "compiled": (True, True, True, False),
         "front": (True, True, True, True)}
# the compiled miss of the path in use (Responder.plain_miss), and its respond
_miss = {"fn": None, "respond": respond_pure}


def use(path: str, policy: Policy) -> None:
    """Point takedown.dns.wire's hot functions and ``policy.decide`` at one
    implementation (``wire-only``: the compiled wire twin, the pure decision)."""
    fast_wire, fast_decide, fast_miss, fast_front = PATHS[path]
    if fast_wire:
        from takedown.dns import _wire_c as impl  # noqa: PLC0415 - only when built
    else:
        impl = wire._PURE
    for fn in wire.ACCELERATED:
        setattr(wire, fn, getattr(impl, fn))
    policy.__dict__.pop("decide", None)  # Policy's pure methods
    policy.__dict__.pop("limit_name", None)
    if fast_decide:
        from takedown.dns import _policy_c  # noqa: PLC0415 - only when built

        decider = _policy_c.Decider(policy)
        policy.decide, policy.limit_name = decider.decide, decider.limit_name
    _miss["fn"] = None
    _miss["respond"] = respond_pure
    if fast_miss:
        from takedown.dns import _responder_c  # noqa: PLC0415 - only when built

        _miss["fn"] = _responder_c.plain_miss
        if fast_front:
            _miss["respond"] = _responder_c.front


def questions(queries: list[bytes]) -> list[tuple[bytes, int]]:
    """(lowercased wire name, type) of each plain query: what the responder passes to ``decide``."""
    out = []
    for q in queries:
        name, end = wire.read_name(q, 12)
        out.append((name.lower(), (q[end] << 8) | q[end + 1]))
    return out


def decide_pass(policy: Policy, asked: list[tuple[bytes, int]]) -> float:
    """CPU seconds of ``policy.decide`` over every question once."""
    decide = policy.decide
    t0 = time.process_time()
    for qn, qtype in asked:
        decide(qn, qtype, False)
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--names", type=int, default=200_000, help="zone size (the issue's run: 3,000,000)")
    ap.add_argument("--blocklist", type=int, default=5_000)
    ap.add_argument("--queries", type=int, default=100_000, help="distinct queries per pass")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profile", nargs="?", const="pure", choices=tuple(PATHS),
                    help="print a cProfile of one pass of this path (default pure)")
    ap.add_argument("--what", choices=("respond", "decide"), default="respond",
                    help="the whole miss (Responder.respond) or only the decision (Policy.decide)")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    policy, qfile = build_policy(a.names, a.blocklist, a.queries * 2)
    queries = distinct_queries(qfile, a.queries)
    print(f"zone {a.names} names, blocklist {a.blocklist}, {len(queries)} distinct queries "
          f"(setup {time.perf_counter() - t0:.1f} s)")
    paths = ["pure"]
    try:
        use("compiled", policy)
        paths += ["wire-only", "decide", "compiled", "front"] if a.what == "respond" else ["compiled"]
    except ImportError:
        print("compiled twins not built: pure path only")
    if a.profile:
        use(a.profile, policy)
        prof = cProfile.Profile()
        prof.enable()
        one_pass(policy, queries)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    asked = questions(queries)
    # Round robin, one pass of each path in turn: on a shared machine the
    # load drifts, and it should drift under every path alike.
    best = dict.fromkeys(paths, float("inf"))
    for rep in range(a.repeat + 1):
        for p in paths:
            use(p, policy)
            if a.what == "decide":
                took = decide_pass(policy, asked)
            elif rep == 0:  # the first round warms the interpreter and the caches
                one_pass(policy, queries[: len(queries) // 10])
                continue
            else:
                took = one_pass(policy, queries)[0]
            if rep:
                best[p] = min(best[p], took)
    # Then the hot passes, in rounds of their own: a cold pass right after a
    # hot one measured ~1 us slower (the heap the hot pass left behind).
    hot = dict.fromkeys(paths, float("inf"))  # the second pass through the same responder: all cached
    for _rep in range(a.repeat if a.what == "respond" else 0):
        for p in paths:
            use(p, policy)
            r = one_pass(policy, queries)[1]
            hot[p] = min(hot[p], timed_pass(r, queries))
            del r
    load = os.getloadavg()[0]
    for p in paths:
        print(f"{a.what} {p:9s} {best[p] / len(queries) * 1e6:.2f} us/query (best of {a.repeat}, round robin; "
              f"load {load:.2f})")
    if a.what == "respond":
        for p in paths:
            print(f"hot     {p:9s} {hot[p] / len(queries) * 1e6:.2f} us/query (the same queries again, all "
                  f"cached; best of {a.repeat})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
