"""P2P simulation: speed and memory of the engine, and the plain reference beside it.

In one script, on this machine:

- 1,000,000 Waledac bots over 14 simulated days (the Operation b49 plan: poisoning,
  fallback seizure, tier takedown), set-up and run timed separately and together
  (bar: <= 120 s);
- 10,000,000 Waledac bots: peak resident memory of a process that sets them up and
  runs 2 simulated hours (bar: fits in 16 GiB), in a child process so that its
  peak is its own;
- the plain per-node reference (harness.p2p_reference, dicts and loops) and the
  engine on the same 10,000-bot, 2-day scenario (the b49 plan at hour 12), for
  the speed ratio, with the two results' headline numbers side by side.

Usage::

    .venv/bin/python bench/p2p_bench.py [--quick] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "RESULTS.md"
sys.path.insert(0, str(BENCH_DIR.parent / "src"))
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))  # harness.p2p_reference

from takedown.p2p.engine import Simulation  # noqa: E402
from takedown.p2p.scenario import SHIPPED, load_scenario  # noqa: E402
from results import write_section  # noqa: E402

B49 = SHIPPED / "waledac-b49.toml"


def timed_run(bots: int, days: float) -> dict:
    sc = load_scenario(B49).replace(bots=bots, days=days)
    t = time.perf_counter()
    sim = Simulation(sc)
    setup = time.perf_counter() - t
    res = sim.run()
    total = time.perf_counter() - t
    s = res.summary()
    return {"bots": bots, "days": days, "setup_s": setup, "run_s": res.wall_seconds, "total_s": total,
            "arrays_bytes": res.memory_bytes, "exchanges": sum(r["exchanges"] for r in res.rows),
            "commandable": s["final"]["commandable"], "sinkholed": s["final"]["sinkholed"],
            "seen_share": s["final"]["seen_share"], "time_to_90_hours": s["time_to_90_hours"]}


def memory_child(bots: int, hours: float) -> dict:
    """Run in a fresh interpreter; returns its peak RSS."""
    code = ("import json, sys; sys.path.insert(0, %r)\n"
            "from bench_p2p_child import child; print(json.dumps(child(%d, %r)))") % (str(BENCH_DIR), bots, hours)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONPATH": str(BENCH_DIR.parent / "src")})
    return json.loads(p.stdout.strip().splitlines()[-1])


def reference_side_by_side(bots: int, days: float) -> dict:
    from harness import p2p_reference as reference

    # the takedown moved to hour 12 so that both runs spend most of their time after it
    sc = reference.speed_scenario("waledac-b49", bots=bots, days=days, at_hour=12)
    Simulation(sc.replace(days=0.1)).run()  # compiled code loaded before timing
    t = time.perf_counter()
    eng = Simulation(sc).run().summary()
    eng_s = time.perf_counter() - t
    t = time.perf_counter()
    ref = reference.run(sc).summary()
    ref_s = time.perf_counter() - t
    keys = ("commandable", "sinkholed", "seen_share")
    return {"bots": bots, "days": days, "engine_s": eng_s, "reference_s": ref_s,
            "engine": {k: eng["final"][k] for k in keys}, "reference": {k: ref["final"][k] for k in keys}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run); RESULTS.md untouched")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    big, days, mem_bots, ref_bots = (20_000, 2, 100_000, 1_000) if a.quick else (1_000_000, 14, 10_000_000, 10_000)

    timed_run(2_000, 0.5)  # compile (or load the cache) outside the timings
    print(f"engine: {big:,} Waledac bots x {days} days ...", flush=True)
    run = timed_run(big, days)
    print(json.dumps(run), flush=True)
    print(f"memory: {mem_bots:,} bots ...", flush=True)
    mem = memory_child(mem_bots, 2)
    print(json.dumps(mem), flush=True)
    print(f"reference vs engine: {ref_bots:,} bots x 2 days ...", flush=True)
    ref = reference_side_by_side(ref_bots, 2)
    print(json.dumps(ref), flush=True)

    gib = mem["peak_rss_bytes"] / 2**30
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "?")
    text = "\n".join([
        "## P2P simulation: 1,000,000 bots x 14 days, 10,000,000 bots' memory, the reference",
        "",
        f"Command: `.venv/bin/python bench/p2p_bench.py`; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; "
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}; scenario waledac-b49 "
        "(poisoning + fallback seizure + tier takedown at hour 48).",
        "",
        f"- {run['bots']:,} bots x {run['days']} days: **{run['total_s']:.1f} s** (set-up {run['setup_s']:.1f} s, "
        f"run {run['run_s']:.1f} s; {run['exchanges']:,} peer exchanges) "
        f"(bar <= 120 s: {'PASS' if run['total_s'] <= 120 else 'FAIL'}); final commandable "
        f"{run['commandable']:.3f}, sinkholed {run['sinkholed']:.3f}, seen {run['seen_share']:.3f}",
        f"- {mem['bots']:,} bots (set up, then {mem['hours']:g} simulated hours): peak resident memory "
        f"**{gib:.2f} GiB** (bar <= 16 GiB: {'PASS' if gib <= 16 else 'FAIL'}); engine arrays "
        f"{mem['arrays_bytes'] / 2**30:.2f} GiB; set-up {mem['setup_s']:.1f} s",
        f"- plain reference (harness.p2p_reference) vs engine, {ref['bots']:,} bots x {ref['days']} days, same "
        f"scenario (waledac-b49 with the plan at hour 12): reference {ref['reference_s']:.1f} s, engine {ref['engine_s']:.2f} s: the engine is "
        f"**{ref['reference_s'] / ref['engine_s']:,.0f}x** faster; final (engine / reference): "
        + ", ".join(f"{k} {ref['engine'][k]:.3f} / {ref['reference'][k]:.3f}" for k in ref["engine"]),
        "",
    ])
    print(text)
    if not (a.no_write or a.quick):
        write_section("p2p", text)
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
