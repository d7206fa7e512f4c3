"""Enrichment lookups per second: takedown.enrich against geoip2fast's own
lookup and against maxminddb, on the same 1,000,000 addresses, in one run.

The addresses are ``takedown.enrich.sample.addresses(1_000_000, seed=20240618)``,
the sample tests/test_enrich.py checks against geoip2fast: mostly uniform
IPv4, network edges, private IPv4, ~7% IPv6, ~1% strings that are not
addresses, shuffled.

- ``ours``: ``Enricher.default().lookup(array)`` on a pyarrow string array,
  parsing included, all three columns (cc, asn, as_name); median of 5 after
  one untimed run. Also from a Python list (the conversion to Arrow included).
- ``geoip2fast``: ``GeoIP2Fast(geoip2fast_data_file="geoip2fast-ipv6.dat.gz")``
  and ``g.lookup(ip).country_code`` per address, over all 1,000,000 (country
  only).
- ``maxminddb``: ``maxminddb.open_database(path)`` (the C extension when
  installed) and ``reader.get(ip)`` per address (ValueError caught for the
  strings that are not addresses). The .mmdb is *our conversion*: the
  geoip2fast country networks written with mmdb_writer (cached in bench/out).

Bar: ours >= 20x geoip2fast's per-address lookup. Writes its section of
bench/RESULTS.md between ``<!-- bench:enrich:begin -->`` and
``<!-- bench:enrich:end -->`` (appended if absent) unless --no-write, and
the raw figures to bench/out/enrich-YYYYmmdd-HHMMSS.json.

Usage: ``.venv/bin/python bench/enrich_bench.py [--no-write]``
"""

from __future__ import annotations

import argparse
import collections
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
from results import write_section  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "RESULTS.md"
OUT = BENCH_DIR / "out"
BAR = 20.0
N, SEED = 1_000_000, 20240618


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    import maxminddb
    import pyarrow

    return {"nproc": len(os.sched_getaffinity(0)), "cpu": model, "python": platform.python_version(),
            "numpy": np.__version__, "pyarrow": pyarrow.__version__, "maxminddb": maxminddb.__version__,
            "loadavg_start": os.getloadavg()}


def cpu_snapshot() -> tuple[float, float, float]:
    """(busy, total) CPU seconds of the whole machine from /proc/stat, and
    this process's own CPU seconds: their difference over the run is what
    other work took."""
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    total = sum(fields[:8])
    own = os.times()
    return (total - idle) / tick, total / tick, own.user + own.system


def write_mmdb(path: Path) -> tuple[Path, float, int]:
    """The shipped geoip2fast country networks as a MaxMind DB (our conversion)."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPNetwork, IPSet

    from takedown.enrich.ranges import v6_to_ints
    from takedown.enrich.shipped import GEOIP2FAST_PRIVATE_IDS, geoip2fast_networks

    f4, l4, ids4, f6, l6, ids6, names, _ = geoip2fast_networks()
    by_cc: dict[str, list] = collections.defaultdict(list)
    for firsts, lasts, ids, bits in ((f4.tolist(), l4.tolist(), ids4.tolist(), 32), (
            v6_to_ints(f6), v6_to_ints(l6), ids6.tolist(), 128)):
        for a, b, i in zip(firsts, lasts, ids):
            if i < GEOIP2FAST_PRIVATE_IDS:
                continue  # private/reserved: no record, as in GeoLite2
            plen = bits - (b - a + 1).bit_length() + 1
            if a & ((1 << (bits - plen)) - 1):
                raise SystemExit(f"geoip2fast network {a}/{plen} is not aligned; cannot write it as a CIDR")
            by_cc[str(names[i]).split(":", 1)[0]].append(IPNetwork((a, plen), version=4 if bits == 32 else 6))
    t = time.perf_counter()
    w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="takedown-bench-GeoLite2-Country-from-geoip2fast",
                   description="geoip2fast GeoLite2 Country networks converted by bench/enrich_bench.py")
    count = 0
    for cc, nets in sorted(by_cc.items()):
        w.insert_network(IPSet(nets), {"country": {"iso_code": cc}})
        count += len(nets)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    w.to_db_file(str(tmp))
    os.replace(tmp, path)
    return path, time.perf_counter() - t, count


def time_ours(enricher, arr: pa.Array, ips: list[str]) -> dict:
    enricher.lookup(arr)  # untimed: first-touch page faults, caches
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        table = enricher.lookup(arr)
        runs.append(time.perf_counter() - t)
    t = time.perf_counter()
    enricher.lookup(ips)
    from_list = time.perf_counter() - t
    med = statistics.median(runs)
    return {"runs_s": runs, "median_s": med, "per_s": len(arr) / med, "best_per_s": len(arr) / min(runs),
            "from_list_s": from_list, "from_list_per_s": len(ips) / from_list, "table": table}


def time_geoip2fast(ips: list[str]) -> dict:
    saved = dict(os.environ)  # importing geoip2fast sets PYTHONWARNINGS/PYTHONIOENCODING
    from geoip2fast import GeoIP2Fast

    os.environ.clear()
    os.environ.update(saved)
    g = GeoIP2Fast(geoip2fast_data_file="geoip2fast-ipv6.dat.gz")
    lookup = g.lookup
    t = time.perf_counter()
    codes = [lookup(ip).country_code for ip in ips]
    dt = time.perf_counter() - t
    return {"s": dt, "per_s": len(ips) / dt, "codes": codes}


def time_maxminddb(path: Path, ips: list[str]) -> dict:
    import maxminddb

    reader = maxminddb.open_database(str(path))
    get = reader.get

    def one(ip):
        try:
            return get(ip)
        except ValueError:  # not an address
            return None

    t = time.perf_counter()
    recs = [one(ip) for ip in ips]
    dt = time.perf_counter() - t
    return {"s": dt, "per_s": len(ips) / dt, "records": recs, "extension": type(reader).__module__}


def agreement(ours_cc: list, ips: list[str], theirs: list, key) -> tuple[int, int]:
    """Rows where ours equals theirs (IPv4-mapped rows left out: no alias in
    geoip2fast's integer space nor in our written .mmdb)."""
    same = total = 0
    for ip, a, b in zip(ips, ours_cc, theirs):
        if ip[:7].lower() == "::ffff:":
            continue
        total += 1
        same += a == key(b)
    return same, total


def section(m: dict, r: dict) -> str:
    ours, g, mm = r["ours"], r["geoip2fast"], r["maxminddb"]
    verdict = "PASS" if r["ratio_geoip2fast"] >= BAR else "FAIL"
    other = r["other_cpu_share"]
    busy = (f" Other work on the machine during the run: {100 * other:.0f}% of its CPU time"
            + (" (busy: the figures are less reliable)." if other > 0.10 else " (quiet)."))
    return "\n".join([
        "## Enrichment lookups (bench/enrich_bench.py)",
        "",
        f"Command: `.venv/bin/python bench/enrich_bench.py`, {r['date']}. Machine: {m['nproc']} CPUs ({m['cpu']}), "
        f"Python {m['python']}, numpy {m['numpy']}, pyarrow {m['pyarrow']}, maxminddb {m['maxminddb']} "
        f"({mm['extension']}).{busy}",
        "",
        f"Same {N:,} addresses for all three (`takedown.enrich.sample.addresses(seed={SEED})`: uniform IPv4, "
        "network edges, private IPv4, ~7% IPv6, ~1% non-addresses), one process, one run.",
        "",
        "| lookup | what it returns | addresses/s | ours is |",
        "|---|---|---:|---:|",
        f"| ours: `Enricher.default().lookup(pyarrow array)`, parse included, median of 5 | cc, asn, as_name "
        f"| {ours['per_s']:,.0f} | |",
        f"| ours from a Python list (conversion to Arrow included) | cc, asn, as_name | {ours['from_list_per_s']:,.0f} | |",
        f"| geoip2fast 1.2.2 `lookup(ip).country_code`, per address, all {N:,} | cc | {g['per_s']:,.0f} "
        f"| **{r['ratio_geoip2fast']:.1f}x** |",
        f"| maxminddb `Reader.get(ip)`, per address, all {N:,} | cc record | {mm['per_s']:,.0f} "
        f"| {r['ratio_maxminddb']:.1f}x |",
        "",
        f"The .mmdb for maxminddb is our conversion of the geoip2fast GeoLite2 Country networks "
        f"with mmdb_writer ({r['mmdb_networks']:,} networks in the written tree). Answers agree: ours = geoip2fast on "
        f"{r['agree_g2f'][0]:,} of {r['agree_g2f'][1]:,} rows, ours = maxminddb on {r['agree_mm'][0]:,} of "
        f"{r['agree_mm'][1]:,} (IPv4-mapped rows left out: both others look those up in IPv6 space). "
        f"`Enricher.default()` loaded in {r['load_s']:.2f} s.",
        "",
        f"Bar: ours >= {BAR:g}x geoip2fast's per-address lookup: {r['ratio_geoip2fast']:.1f}x -> **{verdict}**.",
    ])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    a = ap.parse_args()
    sys.path.insert(0, str(BENCH_DIR.parent / "src"))
    from takedown.enrich import Enricher, sample

    m = machine()
    cpu0 = cpu_snapshot()
    print(f"machine: {m['nproc']} CPUs, {m['cpu']}, Python {m['python']}, load {m['loadavg_start']}", flush=True)
    t = time.perf_counter()
    enricher = Enricher.default()
    load_s = time.perf_counter() - t
    arr = sample.addresses(N, seed=SEED)
    ips = arr.to_pylist()

    mmdb_path = OUT / f"enrich-geoip2fast-{importlib.metadata.version('geoip2fast')}-country.mmdb"
    if not mmdb_path.exists():
        print("writing the .mmdb with mmdb_writer (once; cached in bench/out) ...", flush=True)
        _, secs, inserted = write_mmdb(mmdb_path)
        print(f"  {inserted:,} networks in {secs:.0f} s", flush=True)

    ours = time_ours(enricher, arr, ips)
    print(f"ours: {ours['per_s']:,.0f}/s (median of 5; best {ours['best_per_s']:,.0f}/s), "
          f"from a list {ours['from_list_per_s']:,.0f}/s", flush=True)
    g = time_geoip2fast(ips)
    print(f"geoip2fast: {g['per_s']:,.0f}/s", flush=True)
    mm = time_maxminddb(mmdb_path, ips)
    print(f"maxminddb: {mm['per_s']:,.0f}/s", flush=True)

    cc = ours["table"].column("cc").to_pylist()
    agree_g2f = agreement(cc, ips, g["codes"], lambda c: None if c in ("", "--") else c)
    agree_mm = agreement(cc, ips, mm["records"], lambda rec: rec["country"]["iso_code"] if rec else None)
    r = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_s": load_s,
        "ours": {k: v for k, v in ours.items() if k != "table"},
        "geoip2fast": {k: v for k, v in g.items() if k != "codes"},
        "maxminddb": {k: v for k, v in mm.items() if k != "records"},
        "ratio_geoip2fast": ours["per_s"] / g["per_s"],
        "ratio_maxminddb": ours["per_s"] / mm["per_s"],
        "agree_g2f": agree_g2f, "agree_mm": agree_mm,
        "mmdb": str(mmdb_path), "mmdb_networks": _count_networks(mmdb_path),
        "loadavg_end": os.getloadavg(),
    }
    cpu1 = cpu_snapshot()
    total = cpu1[1] - cpu0[1]
    r["other_cpu_share"] = max(0.0, (cpu1[0] - cpu0[0]) - (cpu1[2] - cpu0[2])) / total if total > 0 else 0.0
    print(f"other work on the machine: {100 * r['other_cpu_share']:.0f}% of its CPU time")
    print(f"ours/geoip2fast {r['ratio_geoip2fast']:.1f}x, ours/maxminddb {r['ratio_maxminddb']:.1f}x; "
          f"agree: geoip2fast {agree_g2f[0]}/{agree_g2f[1]}, maxminddb {agree_mm[0]}/{agree_mm[1]}")
    print(f"bar: ours >= {BAR:g}x geoip2fast -> {'PASS' if r['ratio_geoip2fast'] >= BAR else 'FAIL'}")
    OUT.mkdir(parents=True, exist_ok=True)
    raw = OUT / f"enrich-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}.json"
    raw.write_text(json.dumps({"machine": m, **r}, indent=2, default=str))
    print(f"raw: {raw}")
    if not a.no_write:
        write_section("enrich", section(m, r))
        print(f"rewrote {RESULTS} (enrich)")
    return 0


def _count_networks(path: Path) -> int:
    import maxminddb

    with maxminddb.open_database(str(path)) as reader:
        return sum(1 for _ in reader)


if __name__ == "__main__":
    sys.exit(main())
