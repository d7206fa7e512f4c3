"""A/B: our DNS server from two source trees, side by side, same machine and load.

    .venv/bin/python bench/dns_ab.py --a PATH/TO/OLD/src --b src [--seconds 6] [--reps 6]

Starts ``takedown serve`` twice (one worker each, pinned to CPU 1), each with
``PYTHONPATH`` set to its tree's ``src`` (for example a ``git worktree`` of
an older commit), on the benchmark's 100,000-name zone and query file
(``bench/zonegen.py``; RRL on as in ``bench/dns_bench.py``), and alternates
saturated dnsperf runs (CPU 0) between them, A-B, B-A, ... so drift of the
machine hits both. Prints the worker's CPU microseconds per answered query
of each run and the ratio B/A of the medians: the figure for "this change
costs or saves so much", which the BIND comparison of ``dns_bench.py``
cannot give (BIND's own run-to-run drift is as large as a small change).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import zonegen  # noqa: E402
from dns_bench import write_operation  # noqa: E402  (it also puts tests/ on the path)
from harness.peers import free_port  # noqa: E402


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker(pid: int) -> int:
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(kids[0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="source tree (its src directory) of server A")
    ap.add_argument("--b", required=True, help="source tree (its src directory) of server B")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--reps", type=int, default=6)
    a = ap.parse_args(argv)
    zd = zonegen.zone_dir(BENCH / "out" / "zones", 100_000, 5_000)
    zonegen.generate(zd, 100_000, 5_000, zonegen.default_queries(100_000), quiet=True)  # cached
    queries = zd / zonegen.QUERIES_FILE
    takedown = Path(sys.executable).with_name("takedown")
    procs, ports = {}, {}
    tmp = Path(tempfile.mkdtemp(prefix="takedown-dns-ab-"))
    try:
        for name, src in (("A", a.a), ("B", a.b)):
            d = tmp / name
            d.mkdir()
            ports[name] = free_port()
            write_operation(d / "op.toml", zone=zd / zonegen.ZONE_FILE, blocklist=zd / zonegen.BLOCKLIST_FILE,
                            storage=d / "data", port=ports[name])
            env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()))
            p = subprocess.Popen(["taskset", "-c", "1", str(takedown), "serve", str(d / "op.toml"), "--workers", "1"],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for line in p.stdout:
                if line.startswith("takedown: ready"):
                    break
            else:
                raise SystemExit(f"server {name} did not start")
            procs[name] = p
        time.sleep(1)

        def run(name: str, seconds: float) -> tuple[float, float]:
            w = _worker(procs[name].pid)
            c0 = _cpu_seconds(w)
            out = subprocess.run(
                ["taskset", "-c", "0", "dnsperf", "-s", "127.0.0.1", "-p", str(ports[name]), "-d", str(queries),
                 "-l", str(seconds), "-T", "1", "-c", "10", "-q", "200", "-t", "2"],
                capture_output=True, text=True, check=True).stdout
            used = _cpu_seconds(w) - c0
            n = int(re.search(r"Queries completed:\s+(\d+)", out).group(1))
            return used / n * 1e6, n / seconds

        for name in procs:  # warm-up: every answer cached
            run(name, 3)
        res: dict[str, list[float]] = {"A": [], "B": []}
        for r in range(a.reps):
            for name in ("A", "B") if r % 2 == 0 else ("B", "A"):
                us, qps = run(name, a.seconds)
                res[name].append(us)
                print(f"rep {r + 1} {name}: {us:.2f} us/q, {qps:,.0f} qps", flush=True)
        ma, mb = statistics.median(res["A"]), statistics.median(res["B"])
        print(f"A median {ma:.2f} us/q, B median {mb:.2f} us/q, B/A {mb / ma:.3f}")
    finally:
        for p in procs.values():
            p.terminate()
            p.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
