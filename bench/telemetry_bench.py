"""Reports over 100,000,000 bot check-ins: takedown's query vs a hand-written DuckDB query.

The dataset is synthetic but shaped like the Rustock sinkhole's: a bot
population whose countries follow Rustock's first week at the sinkhole (US
55.8, FR 13.7, TR 13.4, CA 11.4, IN 7.3, BR 7.1 ... CN 0.42, CL 0.50, DK 0.53,
NO 0.58 million hits; the rest spread over the other countries), each bot an
IPv4 address drawn from its country's real allocations (the GeoLite2 country
ranges shipped in geoip2fast, weighted by size), bots cleaned up over eight
weeks (about 1.6 million active in week 1, 0.7 million in week 8, as in
Microsoft's report), repeat visits drawn uniformly among the bots still
infected each day. It is written as the operation's dataset: one Parquet file
per day under ``events/kind=http/date=...``, with the columns and encodings
the sensors write.

Timed, in the same process, each run on a warm page cache (one untimed run
first), medians of R runs:

- ``ours``: what ``takedown report`` runs for weekly unique IPs by country:
  ``open_dataset`` (distinct addresses of the period, enriched with
  takedown.enrich, joined) and the query over the ``checkins`` view;
- ``hand``: one hand-written DuckDB query over the same files, joined to an
  address -> country table that it is *given* (built outside the timing): the
  least a person could write.

The ratio ours/hand is the bar (<= 1.3x). The full ``build_report`` is timed
too, for information.

Usage::

    .venv/bin/python bench/telemetry_bench.py                 # 100M events (~2 GB of disk)
    .venv/bin/python bench/telemetry_bench.py --events 2000000 --reps 1   # smoke
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"
BAR = 1.3
START = date(2026, 3, 16)  # a Monday: ISO weeks line up with the eight weeks
DAYS = 56

from takedown.range.population import addresses, ip_strings  # noqa: E402
from results import dataset_options, machine, save_run, scratch  # noqa: E402

def population(bots: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(IPv4 addresses as uint32, cleanup day) of ``bots`` distinct infected hosts
    (the range's address draw: takedown.range.population.addresses)."""
    ips, _cc = addresses(bots, rng, other_countries=None)  # the rest over every country, as measured
    # cleanup: ~44% of week 1's bots gone by week 8 (Rustock: 1.6M -> 0.7M)
    cleaned = (rng.exponential(DAYS / 0.85, size=ips.size)).astype(np.int64) + 1
    return ips, cleaned


def write_dataset(storage: Path, events: int, bots: int, seed: int) -> dict:
    from takedown.events import dictionary_columns, schema, statistics_columns

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    ips, cleaned = population(bots, rng)
    names = ip_strings(ips)
    sch = schema("http")
    per_day = events // DAYS
    written = 0
    order = np.argsort(cleaned)  # bots sorted by cleanup day: the alive ones are a suffix
    cleaned_sorted = cleaned[order]
    consts = {"operation": "bench", "sensor": "sinkhole-1", "transport": "tcp", "dst_ip": "192.0.2.80",
              "rule": "zeus-gate-post", "family": "zeus", "method": "POST", "host": "c2.example",
              "path": "/gate.php", "response": "notice"}
    for d in range(DAYS):
        n = per_day + (events - per_day * DAYS if d == DAYS - 1 else 0)
        first_alive = np.searchsorted(cleaned_sorted, d, side="right")
        alive = order[first_alive:]
        who = alive[rng.integers(0, alive.size, size=n)]
        day = START + timedelta(days=d)
        base = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1_000_000)
        micros = np.sort(base + rng.integers(0, 86_400_000_000, size=n))
        zeros = pa.array(np.zeros(n, dtype=np.int32))
        cols = []
        for f in sch:
            name = f.name
            if name == "time":
                cols.append(pa.array(micros, pa.timestamp("us", tz="UTC")))
            elif name == "src_ip":
                cols.append(pa.DictionaryArray.from_arrays(pa.array(who.astype(np.int32)), names))
            elif name in consts:
                cols.append(pa.DictionaryArray.from_arrays(zeros, pa.array([consts[name]])))
            elif name == "src_port":
                cols.append(pa.array(rng.integers(1024, 65536, size=n, dtype=np.int32)))
            elif name == "dst_port":
                cols.append(pa.array(np.full(n, 80, dtype=np.int32)))
            elif name == "worker":
                cols.append(pa.array(np.zeros(n, dtype=np.int16)))
            elif name == "status":
                cols.append(pa.array(np.full(n, 200, dtype=np.int16)))
            else:
                cols.append(pa.nulls(n, f.type))
        table = pa.Table.from_arrays(cols, names=[f.name for f in sch])
        out = storage / "events" / "kind=http" / f"date={day.isoformat()}"
        out.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(out / f"bench-{d:03d}.parquet", table.schema, compression="zstd",
                              use_dictionary=dictionary_columns("http"),
                              write_statistics=statistics_columns("http"), store_schema=False) as w:
            w.write_table(table)
        written += n
    size = sum(p.stat().st_size for p in storage.rglob("*.parquet"))
    return {"events": written, "bots": int(ips.size), "days": DAYS, "seconds": time.perf_counter() - t0,
            "bytes": size}


def ours_query(storage: Path, enricher) -> list[tuple]:
    from takedown.analytics.dataset import open_dataset

    con = open_dataset(storage, enricher=enricher)
    return con.execute(
        "SELECT week, cc, count(DISTINCT bot) FROM checkins GROUP BY week, cc ORDER BY week, cc"
    ).fetchall()


def hand_query(storage: Path, ip_cc: pa.Table) -> list[tuple]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("ipcc", ip_cc)
    glob = str(storage / "events" / "kind=http" / "*" / "*.parquet")
    return con.execute(
        f"SELECT strftime(time, '%G-W%V') AS week, i.cc, count(DISTINCT e.src_ip) "
        f"FROM read_parquet('{glob}') e LEFT JOIN ipcc i ON i.ip = e.src_ip "
        f"GROUP BY week, i.cc ORDER BY week, i.cc"
    ).fetchall()


def timed(fn, *args) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def render(r: dict, command: str) -> str:
    m, d = r["machine"], r["dataset"]
    ours, hand, full = r["ours_seconds"], r["hand_seconds"], r["report_seconds"]
    ratio = statistics.median(ours) / statistics.median(hand)
    verdict = "PASS" if ratio <= BAR else "FAIL"
    return "\n".join([
        "## Telemetry: weekly unique IPs by country over 100M events",
        "",
        f"Command: `{command}`; date {m['date']}; {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, "
        f"DuckDB {m['duckdb']}, pyarrow {m['pyarrow']}.",
        "",
        f"- dataset: {d['events']:,} check-ins from {d['bots']:,} bots over {d['days']} days "
        f"(8 ISO weeks), {d['bytes'] / 2**30:.2f} GiB of Parquet, generated in {d['seconds']:.0f} s "
        "(`bench/telemetry_bench.py`: Rustock's week-1 country mix, addresses from GeoLite2 country "
        "ranges, cleanup over the weeks, repeat visits)",
        f"- ours (enrichment of the {r['distinct_ips']:,} distinct addresses included): "
        f"median {statistics.median(ours):.2f} s of {', '.join(f'{x:.2f}' for x in ours)}",
        f"- hand-written DuckDB query (given the address -> country table): "
        f"median {statistics.median(hand):.2f} s of {', '.join(f'{x:.2f}' for x in hand)}",
        f"- same answer: {r['same_answer']} ({r['rows']:,} week x country rows)",
        f"- full `build_report` (every table, charts, HTML), for information: "
        f"{', '.join(f'{x:.1f}' for x in full)} s" if full else "- full report: not run",
        "",
        f"**Bar** (ours <= {BAR}x the hand-written query, same run): {ratio:.2f}x -> **{verdict}**",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000_000)
    ap.add_argument("--bots", type=int, default=2_000_000)
    dataset_options(ap, "the dataset")
    ap.add_argument("--no-report", action="store_true", help="skip the full build_report timing")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    from takedown.enrich.choice import make_enricher

    storage = scratch(a, "telemetry")
    try:
        print(f"writing {a.events:,} events under {storage} ...", flush=True)
        ds = write_dataset(storage, a.events, a.bots, a.seed)
        print(f"  {ds['events']:,} events, {ds['bots']:,} bots, {ds['bytes'] / 2**30:.2f} GiB in {ds['seconds']:.0f} s")
        enricher = make_enricher()
        glob = str(storage / "events" / "kind=http" / "*" / "*.parquet")
        distinct = duckdb.sql(f"SELECT DISTINCT src_ip AS ip FROM read_parquet('{glob}')").to_arrow_table()
        info = enricher.lookup(distinct.column("ip"))
        ip_cc = pa.table({"ip": distinct.column("ip"), "cc": info.column("cc")})
        ours_s, hand_s = [], []
        ours_query(storage, enricher)  # warm the page cache
        for i in range(a.reps):
            t, got_ours = timed(ours_query, storage, enricher)
            ours_s.append(t)
            t, got_hand = timed(hand_query, storage, ip_cc)
            hand_s.append(t)
            print(f"  rep {i + 1}/{a.reps}: ours {ours_s[-1]:.2f} s, hand-written {hand_s[-1]:.2f} s", flush=True)
        report_s = []
        if not a.no_report:
            from takedown.analytics.report import build_report

            out = storage / "report"
            t, _ = timed(lambda: build_report(storage, out, enricher=enricher, operation="bench"))
            report_s.append(t)
            print(f"  build_report: {t:.1f} s")
        result = {"machine": machine(), "dataset": ds, "ours_seconds": ours_s, "hand_seconds": hand_s,
                  "report_seconds": report_s, "distinct_ips": distinct.num_rows,
                  "same_answer": got_ours == got_hand, "rows": len(got_hand)}
        ratio = statistics.median(ours_s) / statistics.median(hand_s)
        print(f"ours/hand-written: {ratio:.2f}x (bar {BAR}x); same answer: {result['same_answer']}")
        save_run("telemetry", result, render, "telemetry_bench.py", argv, not a.no_write)
        return 0
    finally:
        if not a.keep:
            shutil.rmtree(storage, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
