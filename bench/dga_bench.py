"""DGA forecasts and `match`: one year of every shipped family.

In one process, on this machine:

- forecast: every family's names for every period of one year (default
  parameters, or each known real-world parameter set), serially, timed per
  family;
- match index: `takedown.dga.match.build_index` over the same year (all
  families, their known parameter sets; generation in worker processes, one
  per CPU), then the time per look-up over 20,000 names (half generated, half
  not);
- the plain alternative: for one name, generate the year of every family and
  search the lists (what a script without an index does for each name).

Bars (issue 5): a look-up <= 1 ms after the index is built; one year of all
families indexed in <= 60 s.

Usage::

    .venv/bin/python bench/dga_bench.py [--year 2026] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "RESULTS.md"
sys.path.insert(0, str(BENCH_DIR.parent / "src"))

from takedown.dga.forecast import forecast  # noqa: E402
from takedown.dga.match import build_index, param_sets  # noqa: E402
from takedown.dga.registry import families  # noqa: E402
from results import write_section  # noqa: E402


def year_of_everything(first: date, last: date) -> tuple[dict[str, float], int, list[str]]:
    times, total, sample = {}, 0, []
    for fam in families():
        t = time.perf_counter()
        n = 0
        for params in param_sets(fam):
            for p in forecast(fam, first, last, params):
                n += len(p.names)
                if len(sample) < 10_000 and p.names:
                    sample.append(p.names[len(sample) % len(p.names)])
        times[fam.name] = time.perf_counter() - t
        total += n
    return times, total, sample


def plain_search(name: str, first: date, last: date) -> list[str]:
    hits = []
    for fam in families():
        for params in param_sets(fam):
            for p in forecast(fam, first, last, params):
                if name in p.names:
                    hits.append(f"{fam.name} {p.start}")
    return hits


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--year", type=int, default=2026)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    first, last = date(a.year, 1, 1), date(a.year, 12, 31)
    fams = families()
    print(f"{len(fams)} families, {first}..{last}", flush=True)

    t = time.perf_counter()
    ftimes, fnames, sample = year_of_everything(first, last)
    forecast_s = time.perf_counter() - t
    print(f"forecast: {fnames:,} names in {forecast_s:.1f} s", flush=True)

    t = time.perf_counter()
    idx = build_index(fams, first, last)
    build_s = time.perf_counter() - t
    print(f"index: {len(idx):,} distinct names in {build_s:.1f} s", flush=True)

    rnd = random.Random(5)
    misses = [f"{''.join(rnd.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(12))}.com" for _ in range(10_000)]
    queries = sample[:10_000] + misses
    rnd.shuffle(queries)
    per = []
    found = 0
    for _ in range(3):
        t = time.perf_counter()
        found = sum(1 for q in queries if idx.lookup(q))
        per.append((time.perf_counter() - t) / len(queries))
    lookup_us = statistics.median(per) * 1e6
    print(f"lookup: {lookup_us:.2f} us per name ({found:,} of {len(queries):,} found)", flush=True)

    target = sample[len(sample) // 2]
    t = time.perf_counter()
    hits = plain_search(target, first, last)
    plain_s = time.perf_counter() - t
    print(f"plain generate-and-search for one name: {plain_s:.1f} s ({len(hits)} hits)", flush=True)

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), "?")
    slow = sorted(ftimes.items(), key=lambda kv: -kv[1])[:6]
    text = "\n".join([
        "## DGA: forecasts and match over one year of every family",
        "",
        f"Command: `.venv/bin/python bench/dga_bench.py --year {a.year}`; "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}.",
        "",
        f"- {len(fams)} families, {first}..{last}, each with its known parameter sets (defaults when none; "
        f"{', '.join(idx.skipped) or 'none skipped'})",
        f"- forecast, serial, one process: {fnames:,} names in {forecast_s:.1f} s; slowest: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in slow),
        f"- match index (`build_index`, generation in {os.cpu_count()} worker processes): "
        f"{len(idx):,} distinct names in **{build_s:.1f} s** (bar <= 60 s: {'PASS' if build_s <= 60 else 'FAIL'})",
        f"- look-up after the index is built: **{lookup_us:.2f} us** per name, median of 3 passes over "
        f"{len(queries):,} names, half of them generated (bar <= 1 ms: {'PASS' if lookup_us <= 1000 else 'FAIL'})",
        f"- the plain way, generating the year of every family and searching the lists, for one name: "
        f"{plain_s:.1f} s, i.e. {plain_s * 1e6 / lookup_us:,.0f}x a look-up "
        f"(the index pays for itself from the second name)",
        "",
    ])
    if not a.no_write:
        write_section("dga", text)
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
