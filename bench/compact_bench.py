"""Compaction of one busy day: 86,400 one-second segments (two workers' worth).

The day is what two sensor workers write in a day of steady check-ins: each
worker one segment a second, 43,200 seconds each (86,400 files), ``--rows``
check-ins per segment, from a population of ``--bots`` addresses. Each
segment is written as the SegmentWriter writes it: the real schema
(``takedown.events.rows_to_table`` over check-in rows), the store's Parquet
options (``takedown.store.segments.open_parquet``) and file names, under
``events/kind=http/date=D/``.

Timed, on a warm page cache (one untimed run first), medians of R runs:

- ``weekly report query``: what ``takedown report`` runs for the weekly
  unique IPs: ``open_dataset`` for the ISO week of the day (distinct
  addresses enriched with takedown.enrich, views) and ``queries.weeks``;
- ``events count``: ``takedown.store.reader.count_events`` (footers);

before and after ``takedown.store.compact.compact_day`` on the day (timed
once, in a process of its own, with the CLI's settings: DuckDB 2 threads, 1 GB memory). The answers
must be equal before and after.

Usage::

    .venv/bin/python bench/compact_bench.py              # 86,400 segments of 50 rows
    .venv/bin/python bench/compact_bench.py --segments 2000 --reps 1 --no-write   # smoke
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DAY = date(2026, 3, 17)  # a Tuesday of ISO week 2026-W12

from results import dataset_options, machine, scratch, write_section  # noqa: E402


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def write_day(storage: Path, segments: int, rows: int, bots: int, seed: int) -> dict:
    """``segments`` one-second segments of ``rows`` check-ins, half per worker."""
    from takedown.events import CHECKIN_ROW, rows_to_table, schema
    from takedown.store.segments import open_parquet

    rnd = np.random.default_rng(seed)
    population = rnd.integers(0x0B000000, 0xDF000000, bots, dtype=np.uint32)
    ips = [f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}" for a in population.tolist()]
    directory = storage / "events" / "kind=http" / f"date={DAY.isoformat()}"
    directory.mkdir(parents=True, exist_ok=True)
    t_day = datetime(DAY.year, DAY.month, DAY.day, tzinfo=timezone.utc).timestamp()
    base = {c: None for c in CHECKIN_ROW}
    base.update(transport="tcp", src_port=40000, dst_ip="203.0.113.80", dst_port=80, rule="gate-v1",
                family="rustock", method="POST", host="c2.example", path="/gate.php", status=200,
                response="notice", body_len=0)
    t0 = time.perf_counter()
    per_worker = segments // 2
    chunk = 3600  # segments converted at once (one hour of one worker)
    pid = os.getpid()
    written = 0
    for worker in range(2):
        for first in range(0, per_worker, chunk):
            n_seg = min(chunk, per_worker - first)
            picks = rnd.integers(0, bots, n_seg * rows).tolist()
            offsets = rnd.random(n_seg * rows).tolist()
            tuples = []
            for k in range(n_seg * rows):
                second = first + k // rows
                row = dict(base, time=t_day + worker * 0.5 + second * 2 + offsets[k], src_ip=ips[picks[k]])
                tuples.append(tuple(row[c] for c in CHECKIN_ROW))
            table = rows_to_table("http", tuples, operation="bench", sensor="sensor1", worker=worker).cast(
                schema("http"))
            for s in range(n_seg):
                seq = first + s + 1
                unixms = int((t_day + worker * 0.5 + (first + s) * 2 + 1) * 1000)
                name = f"sensor1-w{worker}-{pid}-{seq:08d}-{unixms}.parquet"
                with open_parquet(directory / name, table.schema, "http") as pw:
                    pw.write_table(table.slice(s * rows, rows))
                written += 1
            print(f"  worker {worker}: {first + n_seg:,}/{per_worker:,} segments", flush=True)
    return {"segments": written, "events": written * rows, "rows_per_segment": rows, "bots": bots,
            "seconds": time.perf_counter() - t0}


def files_and_bytes(storage: Path) -> tuple[int, int]:
    files = list((storage / "events").glob("kind=*/date=*/*.parquet"))
    return len(files), sum(f.stat().st_size for f in files)


def weekly(storage: Path, enricher) -> list[dict]:
    from takedown.analytics import queries
    from takedown.analytics.dataset import open_dataset

    monday = DAY - timedelta(days=DAY.weekday())
    sunday = monday + timedelta(days=6)
    con = open_dataset(storage, enricher=enricher, date_from=monday, date_to=sunday)
    try:
        queries.make_calendar(con, monday, sunday)
        return queries.weeks(con)
    finally:
        con.close()


def measure(storage: Path, enricher, reps: int) -> dict:
    from takedown.store.reader import count_events

    weekly(storage, enricher)  # warm the page cache
    out: dict = {"weekly": [], "count": []}
    for _ in range(reps):
        t, answer = timed(weekly, storage, enricher)
        out["weekly"].append(t)
        t, n = timed(count_events, storage)
        out["count"].append(t)
    out["answer"], out["events"] = answer, n
    out["files"], out["bytes"] = files_and_bytes(storage)
    return out


_CHILD = """
import json, resource, sys, time
from datetime import date
from pathlib import Path
from takedown.store.compact import compact_day
t = time.perf_counter()
c = compact_day(Path(sys.argv[1]), "http", date.fromisoformat(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - t, "files_before": c.files_before, "files_after": c.files_after,
                  "rows": c.rows, "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def compact_in_child(storage: Path) -> dict:
    """compact_day in a fresh process, as the CLI and the server run it: its time and peak memory alone."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(storage), DAY.isoformat()], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def _times(xs: list[float]) -> str:
    digits = 2 if min(xs) >= 0.1 else 4
    return f"{statistics.median(xs):.{digits}f} s (of {', '.join(f'{x:.{digits}f}' for x in xs)})"


def render(r: dict, command: str) -> str:
    m, d, b, a, c = r["machine"], r["dataset"], r["before"], r["after"], r["compaction"]
    wb, wa = statistics.median(b["weekly"]), statistics.median(a["weekly"])
    cb, ca = statistics.median(b["count"]), statistics.median(a["count"])
    return "\n".join([
        "## Compaction: one day of 86,400 one-second segments",
        "",
        f"Command: `{command}`; date {m['date']}; {m['nproc']} CPUs ({m['cpu']}), {m['mem_gib']} GiB, "
        f"kernel {m['kernel']}; Python {m['python']}, DuckDB {m['duckdb']}, pyarrow {m['pyarrow']}. "
        "Other jobs shared the machine.",
        "",
        f"- day: {d['segments']:,} segments (2 workers x {d['segments'] // 2:,} one-second flushes) of "
        f"{d['rows_per_segment']} check-ins each = {d['events']:,} events from {d['bots']:,} addresses, "
        f"written with the segment writer's schema and Parquet options in {d['seconds']:.0f} s",
        f"- compaction (`takedown.store.compact.compact_day`, as `takedown events compact FILE --date "
        f"{DAY.isoformat()}`): **{c['seconds']:.1f} s**, {c['files_before']:,} files -> {c['files_after']} "
        f"({c['rows']:,} rows), in its own process: peak RSS {c['max_rss_mib']:,} MiB",
        f"- answers equal before and after: weekly report {r['same_weekly']}, events count {r['same_count']} "
        f"({a['events']:,})",
        "",
        "| | files | bytes | weekly report query (ISO week of the day), median | `events count`, median |",
        "|---|---:|---:|---:|---:|",
        f"| before (segments) | {b['files']:,} | {b['bytes'] / 2**20:,.1f} MiB | {_times(b['weekly'])} | "
        f"{_times(b['count'])} |",
        f"| after (compacted) | {a['files']:,} | {a['bytes'] / 2**20:,.1f} MiB | {_times(a['weekly'])} | "
        f"{_times(a['count'])} |",
        f"| before / after | {b['files'] / max(a['files'], 1):,.0f}x | {b['bytes'] / max(a['bytes'], 1):.1f}x | "
        f"**{wb / wa:.1f}x** faster | {cb / ca:,.0f}x faster |",
        "",
        "The weekly report query is `takedown.analytics.dataset.open_dataset` (distinct addresses "
        "enriched with the shipped GeoLite2 data) plus `takedown.analytics.queries.weeks` (with its calendar), for the "
        "week of the day, on a warm page cache.",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--segments", type=int, default=86_400)
    ap.add_argument("--rows", type=int, default=50, help="check-ins per segment")
    ap.add_argument("--bots", type=int, default=200_000)
    ap.add_argument("--compaction-only", action="store_true",
                    help="write the day and time its compaction only (prints JSON; RESULTS.md untouched)")
    dataset_options(ap, "the day's data")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    from takedown.enrich.choice import make_enricher

    storage = scratch(a, "compact")
    try:
        print(f"writing {a.segments:,} segments under {storage} ...", flush=True)
        ds = write_day(storage, a.segments, a.rows, a.bots, a.seed)
        if a.compaction_only:
            print(json.dumps({"dataset": ds, "compaction": compact_in_child(storage)}))
            return 0
        enricher = make_enricher()
        before = measure(storage, enricher, a.reps)
        print(f"  before: {before['files']:,} files, weekly {_times(before['weekly'])}, "
              f"count {_times(before['count'])}", flush=True)
        compaction = compact_in_child(storage)
        print(f"  compaction: {compaction['seconds']:.1f} s, {compaction['files_before']:,} -> "
              f"{compaction['files_after']} files", flush=True)
        after = measure(storage, enricher, a.reps)
        print(f"  after: {after['files']:,} files, weekly {_times(after['weekly'])}, "
              f"count {_times(after['count'])}", flush=True)
        result = {"machine": machine(), "dataset": ds, "before": before, "after": after,
                  "compaction": compaction, "same_weekly": before["answer"] == after["answer"],
                  "same_count": before["events"] == after["events"] == ds["events"]}
        out_dir = BENCH_DIR / "out"
        out_dir.mkdir(exist_ok=True)
        saved = out_dir / f"compact-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}.json"
        saved.write_text(json.dumps(result, indent=1, default=str) + "\n")
        command = ".venv/bin/python bench/compact_bench.py" + (f" {' '.join(argv or sys.argv[1:])}"
                                                                 if (argv or sys.argv[1:]) else "")
        text = render(result, command)
        print(text)
        if not a.no_write:
            write_section("compact", text)
        return 0 if result["same_weekly"] and result["same_count"] else 1
    finally:
        if not a.keep:
            shutil.rmtree(storage, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
