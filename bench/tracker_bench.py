"""The tracker's store: importing 1,000,000 indicators into SQLite and
PostgreSQL, and exporting them in every format (issue 15's goals: an import
of at least 50,000 indicators/s into SQLite, every export of 1M indicators
in 30 s or less).

Each measured step runs in its own child process (this script with
``--child``), so its peak memory is its own: the parent reads the child's
``ru_maxrss`` from ``os.wait4``. The indicators are synthetic and the same
for every run (a seed): 40 % domains, 40 % IPs with a port, 20 % URLs (a
third of them on an IP host), five families, all five statuses, tags. The
import goes through ``Tracker.add`` as ``takedown tracker import`` does
(enrichment of the IPs included; the shipped tables' load is in the time);
each export through ``export_selection`` as ``takedown tracker export``
does, from the same 1M-indicator database. PostgreSQL is a private server
(tests/harness/postgres.py) with its default durability (fsync on).

Usage::

    .venv/bin/python bench/tracker_bench.py                  # 1M, SQLite and PostgreSQL, RESULTS.md
    .venv/bin/python bench/tracker_bench.py --count 50000 --no-write   # smoke run
    .venv/bin/python bench/tracker_bench.py --skip-postgres --formats rpz,csv
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))  # harness.postgres

IMPORT_GOAL = 50_000  # indicators/s into SQLite
EXPORT_GOAL = 30.0  # seconds for each format, 1M indicators
FAMILIES = ("zeus", "feodo", "emotet", "qakbot", "dridex")
STATUSES = ("online", "offline", "sinkholed", "seized", "unknown")
TAGS = ("banker", "p2p", "loader", "c2", "spam")


def synthetic(count: int, seed: int = 2012):
    """``count`` distinct canonical indicators, the same for a given seed.
    Arithmetic rather than a random generator per field: the generator's own
    cost is part of the measured import and is kept small."""
    from takedown.tracker.indicator import Indicator

    t0 = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())
    days = [datetime.fromtimestamp(t0 + d * 86400 + seed % 86400, timezone.utc) for d in range(366)]
    ports = (443, 8080, 447)
    for i in range(count):
        m, f = i % 10, FAMILIES[i % 5]
        a, b, c = (i >> 16) & 255 or 1, (i >> 8) & 255, i & 255
        if m < 4:
            value, kind = f"c{i:07d}.{f}-cnc.example", "domain"
        elif m < 8:
            value, kind = f"{a}.{b}.{c}.{(i * 7 + seed) % 254 + 1}:{ports[i % 3]}", "ip"
        elif m == 8:
            value, kind = f"http://h{i}.example.net/{f}/gate.php", "url"
        else:
            value, kind = f"http://{a}.{b}.{c}.7:8080/p{i}", "url"
        d = (i * 37 + seed) % 330
        yield Indicator(value, kind, f, STATUSES[(i * 13 + seed) % 5], first_seen=days[d],
                        last_seen=days[d + i % 30], source="bench", confidence=(50, 75, 100)[i % 3],
                        tags=(TAGS[i % 5],) if i % 3 else ())


# --- children ----------------------------------------------------------------

def child_import(url: str, count: int) -> dict:
    from takedown.tracker.store import Tracker

    t, c = time.perf_counter(), time.process_time()
    with Tracker.open(url) as tr:
        r = tr.add(synthetic(count), by="bench")
    s = time.perf_counter() - t
    # CPU time too: on a shared machine the wall time also counts others' work
    return {"seconds": s, "cpu_seconds": time.process_time() - c, "added": r.added, "per_second": count / s}


def child_export(url: str, fmt: str, out: str) -> dict:
    from takedown.tracker.publish import export_selection
    from takedown.tracker.store import Tracker

    t = time.perf_counter()
    with Tracker.open(url, enricher=False) as tr:
        done = export_selection(tr, fmt, Path(out), sinkhole_v4="192.0.2.53", sinkhole_v6="2001:db8::53")
    s = time.perf_counter() - t
    p = Path(out)
    size = sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size
    return {"seconds": s, "count": done.count, "bytes": size}


def measured(*args: str) -> dict:
    """Run this script as a child with ``args``; its JSON result and peak RSS."""
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child {' '.join(args)} failed (exit {proc.returncode})")
    r = json.loads(out.strip().splitlines()[-1])
    r["peak_rss_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
    return r


# --- the run -------------------------------------------------------------------

def run(count: int, formats_: list[str], postgres: bool, workdir: Path) -> dict:
    from harness import postgres as pg

    results: dict = {"count": count, "databases": {}}
    servers = []
    try:
        dbs = [("sqlite", f"sqlite:///{workdir / 'tracker.sqlite'}")]
        if postgres:
            server = pg.start_postgres(durable=True)
            servers.append(server)
            dbs.append(("postgresql", server.create_database("bench")))
        for name, url in dbs:
            print(f"== {name}: import {count:,} indicators", flush=True)
            r = {"import": measured("import", url, str(count)), "exports": {}}
            print(f"   {r['import']['seconds']:.1f} s ({r['import']['cpu_seconds']:.1f} s CPU), "
                  f"{r['import']['per_second']:,.0f}/s, "
                  f"peak {r['import']['peak_rss_mib']:,.0f} MiB", flush=True)
            for fmt in formats_:
                out = workdir / f"export-{name}-{fmt}"
                e = measured("export", url, fmt, str(out))
                r["exports"][fmt] = e
                print(f"   export {fmt}: {e['seconds']:.1f} s, {e['count']:,} indicators, "
                      f"{e['bytes'] / 2**20:,.1f} MiB, peak {e['peak_rss_mib']:,.0f} MiB", flush=True)
            results["databases"][name] = r
    finally:
        for s in servers:
            s.stop()
    return results


def render(r: dict, command: str) -> str:
    from results import machine

    m = machine()
    judged = r["count"] >= 1_000_000  # the goals are for a million; a smaller run is a smoke test
    lines = ["## Tracker: import and export of the C&C tracker's store", "",
             f"`{command}`: {r['count']:,} synthetic indicators (bench/tracker_bench.py). "
             f"Goals (judged at 1,000,000): import >= {IMPORT_GOAL:,}/s into SQLite, each export <= {EXPORT_GOAL:g} s.", "",
             f"- {m['date']}; {m['nproc']} CPUs, {m['cpu']}, {m['mem_gib']} GiB; Python {m['python']}", "",
             "| database | step | time (s) | rate or size | peak RSS (MiB) | goal |", "|---|---|---|---|---|---|"]
    for name, d in r["databases"].items():
        i = d["import"]
        goal = ("pass" if i["per_second"] >= IMPORT_GOAL else "FAIL") if name == "sqlite" and judged else "-"
        lines.append(f"| {name} | import | {i['seconds']:.1f} ({i['cpu_seconds']:.1f} CPU) | {i['per_second']:,.0f}/s | "
                     f"{i['peak_rss_mib']:,.0f} | {goal} |")
        for fmt, e in d["exports"].items():
            ok = ("pass" if e["seconds"] <= EXPORT_GOAL else "FAIL") if judged else "-"
            lines.append(f"| {name} | export {fmt} | {e['seconds']:.1f} | {e['bytes'] / 2**20:,.1f} MiB | "
                         f"{e['peak_rss_mib']:,.0f} | {ok} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        step, *rest = argv[1:]
        r = child_import(rest[0], int(rest[1])) if step == "import" else child_export(*rest)
        print(json.dumps(r))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--formats", default="", help="comma-separated; default: every writable format")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    ap.add_argument("--keep", type=Path, default=None, help="work in this directory and keep it")
    a = ap.parse_args(argv)
    from takedown.tracker import formats

    fmts = [f for f in a.formats.split(",") if f] or formats.names(writable=True)
    workdir = a.keep or Path(tempfile.mkdtemp(prefix="takedown-tracker-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        r = run(a.count, fmts, not a.skip_postgres, workdir)
    finally:
        if a.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    out = BENCH_DIR / "out" / f"tracker-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(r, indent=2) + "\n")
    command = "python bench/tracker_bench.py " + " ".join(argv) if argv else "python bench/tracker_bench.py"
    text = render(r, command.strip())
    print(text)
    print(f"raw: {out.relative_to(REPO)}")
    if not a.no_write:
        from results import write_section

        write_section("tracker", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
