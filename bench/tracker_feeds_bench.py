"""Tracker feed exports: time and peak memory of each of abuse.ch CSV/JSON,
plain lists, STIX 2.1, MISP and Atom for a million indicators.

Each format runs in a fresh child process (so its peak resident memory is
its own), writing through ``takedown.tracker.formats.export`` (atomic, as
``takedown tracker export`` does) from a synthetic stream of indicators:
40% address:port, 10% bare addresses (a tenth of them IPv6), 30% domains,
20% URLs, over 12 families and every status. The stream is generated, not
read from the store: the store's own read rate is measured with the import
(issue 15's store benchmark); this one measures the writers.

Bar (issue 15): every export of 1M indicators <= 30 s.

Usage::

    .venv/bin/python bench/tracker_feeds_bench.py [--count 1000000] [--formats stix,misp] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "src"))

from takedown.tracker.formats import ExportContext, export, get  # noqa: E402
from takedown.tracker.indicator import STATUSES, Change, Indicator  # noqa: E402
from results import machine, write_section  # noqa: E402

FORMATS = ("feodo-csv", "feodo-json", "threatfox-csv", "plain", "plain:ip", "stix", "misp",
           "atom")  # fmt: skip
FAMILIES = ("ZeuS", "Emotet", "QakBot", "TrickBot", "Dridex", "IcedID", "Pushdo", "Cutwail", "Necurs", "Conficker",
            "Locky", "Rustock")  # fmt: skip
NOW = datetime(2026, 12, 4, tzinfo=timezone.utc)
ATOM_CHANGES = 500  # the latest changes a feed carries


def stream(n: int) -> Iterator[Indicator]:
    t0 = NOW - timedelta(days=365)
    for i in range(n):
        r = i % 10
        if r < 4:
            value, kind = f"{100 + i % 100}.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}:{(443, 8080, 447)[i % 3]}", "ip"
        elif r == 4:
            value, kind = (f"2001:db8:{i >> 16:x}::{i & 0xffff:x}" if i % 100 < 10
                           else f"{10 + i % 100}.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"), "ip"  # fmt: skip
        elif r < 8:
            value, kind = f"c{i:07d}.cc{i % 97}.example", "domain"
        else:
            value, kind = f"http://u{i}.gate.example/panel/gate.php?bot={i}", "url"
        seen = t0 + timedelta(seconds=i * 31 % (365 * 86400))
        yield Indicator(value, kind, FAMILIES[i % len(FAMILIES)], status=STATUSES[i % len(STATUSES)],
                        first_seen=seen, last_seen=NOW, last_online=NOW - timedelta(days=i % 30),
                        asn=64496 + i % 16, as_name=f"AS-{i % 16}", country=("DE", "US", "RU", "NL")[i % 4],
                        source="bench", confidence=i % 101, tags=("bench",), id=i + 1)  # fmt: skip


def child(spec: str, n: int, out: Path) -> dict:
    name, _, kind = spec.partition(":")
    params = {"kind": kind} if kind else {}
    changes = [Change(f"c{i:07d}.cc{i % 97}.example", NOW - timedelta(minutes=i), "online", "sinkholed", "bench")
               for i in range(ATOM_CHANGES)]  # fmt: skip
    ctx = ExportContext(now=NOW, changes=changes, params=params)
    t, cpu = time.perf_counter(), time.process_time()
    count = export(get(name), stream(n), ctx, out)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    size = sum(p.stat().st_size for p in out.rglob("*")) if out.is_dir() else out.stat().st_size
    return {"format": spec, "written": count, "seconds": seconds, "cpu_seconds": cpu, "bytes": size,
            "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--no-write", action="store_true", help="print, do not update RESULTS.md")
    ap.add_argument("--child", nargs=2, metavar=("FORMAT", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.count, Path(args.child[1]))))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="takedown-feedsbench-") as tmp:
        for spec in args.formats.split(","):
            out = Path(tmp) / spec.replace(":", "-")
            done = subprocess.run([sys.executable, __file__, "--count", str(args.count), "--child", spec, str(out)],
                                  capture_output=True, text=True, check=True)  # fmt: skip
            row = json.loads(done.stdout)
            rows.append(row)
            print(f"{spec:18} {row['written']:>9,} written  {row['seconds']:7.1f} s ({row['cpu_seconds']:.1f} s CPU)  "
                  f"{row['bytes'] / 1e6:8.1f} MB out  peak RSS {row['peak_rss'] / 2**20:7.0f} MiB", flush=True)
    m = machine()
    lines = [
        "## Tracker feed exports",
        "",
        f"Command: `.venv/bin/python bench/tracker_feeds_bench.py --count {args.count}`.",
        "",
        f"- date: {m['date']}; machine: {m['nproc']} CPUs, {m['cpu']}, {m['mem_gib']} GiB; "
        f"kernel {m['kernel']}; Python {m['python']}",
        f"- {args.count:,} synthetic indicators streamed to each writer in a fresh process; "
        f"Atom carries the latest {ATOM_CHANGES} changes.",
        "- bar: every export of 1M indicators <= 30 s (for another count: the same rate).",
        "",
        "| format | written | seconds | CPU seconds | output MB | peak RSS MiB | bar (30 s per 1M) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ok = "pass" if r["seconds"] <= 30 * args.count / 1_000_000 else "FAIL"  # wall time: what a user waits
        lines.append(f"| {r['format']} | {r['written']:,} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | "
                     f"{r['bytes'] / 1e6:.1f} | "
                     f"{r['peak_rss'] / 2**20:.0f} | {ok} |")  # fmt: skip
    text = "\n".join(lines)
    if args.no_write:
        print(text)
    else:
        write_section("tracker-feeds", text)


if __name__ == "__main__":
    main()
