"""The range: check-ins per second into a real sinkhole, all of them stored.

In one script, on this machine, against one ``takedown serve`` (the demo
operation: DNS, HTTP, TLS, TCP listeners in range mode, 2 workers) on
loopback:

- the demo's run (``takedown demo`` defaults: 50,000 bots, 8 emulated weeks):
  check-ins per second over the whole range (DNS and planning included),
  client and server CPU, then the events stored per kind counted from the
  storage against what was sent (bar: >= 20,000 check-ins/s, all stored), and
  the report's differences from the truth;
- beside it, the same client and sinkhole with one check-in per connection
  (every session cut to one plain HTTP request, no DNS): what keep-alive
  sessions buy.

Usage::

    .venv/bin/python bench/range_bench.py [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "src"))

from takedown.range import demo as demo_mod  # noqa: E402
from takedown.range import schedule  # noqa: E402
from takedown.range.population import build  # noqa: E402
from takedown.range.run import FAMILY_MIX, endpoints, targets  # noqa: E402
from takedown.range.sender import Sender, Stats  # noqa: E402
from takedown.store.reader import count_events  # noqa: E402
from results import write_section  # noqa: E402

BAR = 20_000


def stored(storage: Path) -> dict:
    return {k: count_events(storage, k) for k in ("http", "tls", "tcp", "dns")}


def full_demo(out: Path, bots: int, weeks: int) -> dict:
    c0 = time.process_time()
    ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = demo_mod.run_demo(out, bots=bots, weeks=weeks)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    st = r.range.stats
    kept = stored(out / "data")
    return {
        "bots": bots, "weeks": weeks, "sessions": st.sessions, "checkins": st.checkins,
        "failed_sessions": st.failed_sessions, "queries": st.queries, "answered": st.answered,
        "range_s": r.timings["range"], "total_s": r.timings["total"], "report_s": r.timings["report"],
        "rate": st.checkins / r.timings["range"],
        "client_cpu_s": time.process_time() - c0,
        "server_cpu_s": (ch.ru_utime + ch.ru_stime) - (ch0.ru_utime + ch0.ru_stime),
        "stored": kept, "stored_checkins": kept["http"] + kept["tls"] + kept["tcp"],
        "differences": len(r.differences),
    }


def one_per_connection(out: Path, bots: int, days: int) -> dict:
    """The demo operation served again; each planned session cut to one plain HTTP check-in."""
    import asyncio

    import uvloop

    from takedown.operation import load_operation

    demo_mod._wipe(out)
    start = demo_mod.default_start(weeks=1)
    op_path = demo_mod.write_operation(out, start, days)
    op = load_operation(op_path)
    log = out / "serve.log"
    ready = out / "serve.ready.json"
    with open(log, "wb") as f:
        proc = subprocess.Popen(demo_mod._takedown_command() + ["serve", str(op_path), "--ready-file", str(ready)],
                                stdout=f, stderr=subprocess.STDOUT, cwd=out)
    try:
        op = demo_mod.bound(op, demo_mod._wait_ready(proc, ready, log))
        pop = build(bots, 1, families={"zeus": 1.0})
        tg = targets(op)
        res = schedule.resolvers_of(pop)
        ends = replace(endpoints(op), dns=None)
        plans = []
        for d in range(days):
            day = schedule.plan_day(pop, tg, start, d, 1, res)
            n = len(day)
            plans.append(replace(day, checkins=np.ones(n, np.int64), tls=np.zeros(n, bool),
                                 q_resolver=np.zeros(0, np.int64), q_time=np.zeros(0), q_name=[]))
        stats = Stats()

        async def main():
            s = Sender(pop, ends)
            for day in plans:
                await s.send_day(day, stats)
            s.close()

        t = time.perf_counter()
        uvloop.run(main())
        wall = time.perf_counter() - t
    finally:
        demo_mod.stop_server(proc)
    kept = stored(out / "data")
    return {"bots": bots, "days": days, "checkins": stats.checkins, "failed_sessions": stats.failed_sessions,
            "wall_s": wall, "rate": stats.checkins / wall, "stored_checkins": kept["http"]}


def machine() -> dict:
    import uvloop

    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    mem = next(int(ln.split()[1]) for ln in open("/proc/meminfo") if ln.startswith("MemTotal")) / 2**20
    commit = subprocess.run(["git", "-C", str(BENCH_DIR), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    return {"date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"), "nproc": os.cpu_count(),
            "cpu_model": cpu, "mem_gib": round(mem, 1), "kernel": platform.release(),
            "python": platform.python_version(), "uvloop": uvloop.__version__, "commit": commit}


def render(full: dict, base: dict, m: dict, command: str) -> str:
    ok = full["rate"] >= BAR and full["stored_checkins"] == full["checkins"] and full["failed_sessions"] == 0
    s = full["stored"]
    return "\n".join([
        "## Range: check-ins per second into the sinkhole, all stored",
        "",
        f"- command: `{command}`",
        f"- date: {m['date_utc']}; machine: {m['nproc']} CPUs, {m['cpu_model']}, {m['mem_gib']} GiB; "
        f"kernel {m['kernel']}; Python {m['python']}, uvloop {m['uvloop']}, commit {m['commit']}",
        "- one `takedown serve` (the demo operation, 2 workers) and the range (one process) share the 2 CPUs",
        "",
        "| run | check-ins | check-ins/s | vs bar (20,000/s) | stored | failed sessions |",
        "|---|---:|---:|---:|---:|---:|",
        f"| demo: {full['bots']:,} bots x {full['weeks']} weeks, keep-alive sessions (+ {full['queries']:,} DNS queries) "
        f"| {full['checkins']:,} | {full['rate']:,.0f} | {full['rate'] / BAR:.2f}x | {full['stored_checkins']:,} "
        f"| {full['failed_sessions']} |",
        f"| same client and sinkhole, one check-in per connection, no DNS ({base['bots']:,} bots x {base['days']} days) "
        f"| {base['checkins']:,} | {base['rate']:,.0f} | {base['rate'] / BAR:.2f}x | {base['stored_checkins']:,} "
        f"| {base['failed_sessions']} |",
        "",
        f"- demo range {full['range_s']:.1f} s (report {full['report_s']:.1f} s, whole demo {full['total_s']:.1f} s); "
        f"CPU: range client {full['client_cpu_s']:.0f} s, sinkhole {full['server_cpu_s']:.0f} s",
        f"- stored by kind: http {s['http']:,}, tls {s['tls']:,}, tcp {s['tcp']:,}, dns {s['dns']:,} "
        f"(sent: {full['checkins']:,} check-ins, {full['queries']:,} queries, {full['answered']:,} answered)",
        f"- report vs truth: {full['differences']} differences",
        f"- keep-alive sessions vs one check-in per connection: {full['rate'] / base['rate']:.2f}x the check-ins/s",
        f"- bar (>= 20,000 check-ins/s, all stored): **{'PASS' if ok else 'FAIL'}**",
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5,000 bots, 1 week (smoke run; RESULTS.md untouched)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    bots, weeks = (5_000, 1) if a.quick else (50_000, 8)
    out = BENCH_DIR / "out" / "range"
    out.mkdir(parents=True, exist_ok=True)
    m = machine()
    full = full_demo(out / "demo", bots, weeks)
    print(json.dumps(full, indent=1))
    base = one_per_connection(out / "one-per-connection", 20_000 if not a.quick else 2_000, 7)
    print(json.dumps(base, indent=1))
    (out / "range.json").write_text(json.dumps({"machine": m, "demo": full, "one_per_connection": base}, indent=1))
    text = render(full, base, m, ".venv/bin/python bench/range_bench.py" + (" --quick" if a.quick else ""))
    print(text)
    if not a.quick and not a.no_write:
        write_section("range", text)


if __name__ == "__main__":
    main()
