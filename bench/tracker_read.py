"""The tracker's ways in, without the store: reading 1,000,000 indicators
from each importable format, and counting the sinkhole's events per tracked
domain (``tracker sync --from-events``).

- **read**: for each format (``feodo-csv``, ``feodo-json``, ``threatfox-csv``,
  ``urlhaus-csv``, ``plain``, ``jsonl``) a file of N entries made here
  (documentation addresses, ``.example`` names; seeded, so the same N gives
  the same files), read whole with :func:`takedown.tracker.ingest.check_file`
  (the first pass of an import: every row parsed and checked) in a child
  process: indicators per second and the child's peak RSS. ``jsonl`` is
  written with the format's own writer first (its time is reported too).
  An import is two such passes plus the store's writes: the store's
  benchmark measures the whole.
- **sightings**: T tracked domains and E DNS events (a tenth of them for
  tracked names or names below them) written with the segment writer;
  :func:`takedown.tracker.sync.sightings` over them: seconds and peak RSS.

Writes its section of bench/RESULTS.md between ``<!-- bench:tracker-read:begin -->``
and ``<!-- bench:tracker-read:end -->`` unless ``--no-write``.

Usage: ``PYTHONPATH=src:tests .venv/bin/python bench/tracker_read.py [--n N] [--tracked T] [--events E] [--no-write]``
(smoke: ``--n 20000 --tracked 20000 --events 200000 --no-write``, a few seconds).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from results import machine, write_section

BENCH_DIR = Path(__file__).resolve().parent
FORMATS = ("feodo-csv", "feodo-json", "threatfox-csv", "urlhaus-csv", "plain", "jsonl")
NETS = ("192.0.2", "198.51.100", "203.0.113")
FAMILIES = ("Dridex", "Emotet", "QakBot", "ZeuS", "Cobalt Strike")
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _ip(i: int) -> str:
    # documentation /24s are small: the port keeps the values distinct
    return f"{NETS[i % 3]}.{i // 3 % 254 + 1}"


def _port(i: int) -> int:
    return 1024 + i // 762 % 60000


def _when(rnd: random.Random) -> str:
    return (T0 + timedelta(seconds=rnd.randrange(30 * 86400))).strftime("%Y-%m-%d %H:%M:%S")


def _write(path: Path, header: str, line, n: int, footer: str = "") -> None:
    with open(path, "w") as f:
        f.write(header)
        f.writelines(line(i) for i in range(n))
        f.write(footer)


def make_files(d: Path, n: int, seed: int = 15) -> dict[str, Path]:
    rnd = random.Random(seed)
    paths = {f: d / f"input.{f}" for f in FORMATS if f != "jsonl"}
    status = ("online", "offline")
    _write(paths["feodo-csv"], '# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)\n#\n'
           '"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"\n',
           lambda i: f'"{_when(rnd)}","{_ip(i)}","{_port(i)}","{status[i % 2]}","2026-12-0{i % 4 + 1}",'
                     f'"{FAMILIES[i % 4]}"\n', n)
    _write(paths["feodo-json"], "[\n",
           lambda i: ("  " if i == 0 else ", ") + json.dumps({
               "ip_address": _ip(i), "port": _port(i), "status": status[i % 2],
               "hostname": f"host{i}.hosting.example", "as_number": 64500 + i % 10, "as_name": "EXAMPLE",
               "country": "FR", "first_seen": _when(rnd), "last_online": "2026-12-01",
               "malware": FAMILIES[i % 4]}) + "\n", n, "]\n")

    def threatfox(i: int) -> str:
        value, t = ((f"{_ip(i)}:{_port(i)}", "ip:port"), (f"c2-{i}.example", "domain"),
                    (f"http://c2-{i}.example/gate.php", "url"))[i % 3]
        return (f'"{_when(rnd)}", "{i}", "{value}", "{t}", "botnet_cc", "win.x", "None", '
                f'"{FAMILIES[i % 5]}", "", "{i % 101}", "None", "c2,tag{i % 7}", "0", "bench"\n')

    _write(paths["threatfox-csv"], '# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware",'
           '"malware_alias","malware_printable","last_seen_utc","confidence_level","reference","tags","anonymous",'
           '"reporter"\n', threatfox, n)
    _write(paths["urlhaus-csv"], "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n",
           lambda i: f'"{i}","{_when(rnd)}","http://dl-{i}.example/x{i}.exe","{status[i % 2]}","",'
                     f'"malware_download","exe,tag{i % 9}","https://urlhaus.abuse.ch/url/{i}/","bench"\n', n)
    _write(paths["plain"], "# bench list\n",
           lambda i: (f"c2-{i}.example", f"{_ip(i)}:{_port(i)}", f"http://c2-{i}.example/g")[i % 3] + "\n", n)
    return paths


def child_read(fmt: str, path: str) -> dict:
    from takedown.tracker.ingest import check_file

    t = time.perf_counter()
    result = check_file(fmt, Path(path))
    secs = time.perf_counter() - t
    return {"format": fmt, "indicators": result.count, "seconds": secs,
            "per_second": result.count / secs if secs else None,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child_write_jsonl(src: str, out: str) -> dict:
    from takedown.tracker import formats
    from takedown.tracker.formats import ExportContext, export
    from takedown.tracker.ingest import read_file

    t = time.perf_counter()
    n = export(formats.get("jsonl"), read_file("threatfox-csv", Path(src)), ExportContext(now=T0), Path(out))
    return {"format": "jsonl (threatfox-csv read + jsonl written)", "indicators": n,
            "seconds": time.perf_counter() - t,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child_sightings(storage: str, tracked: int) -> dict:
    from takedown.tracker.indicator import Indicator
    from takedown.tracker.sync import sightings

    inds = (Indicator(f"c2-{i}.example", "domain", "zeus", "online") for i in range(tracked))
    t = time.perf_counter()
    found = sum(1 for _ in sightings(Path(storage), inds, None, None))
    return {"tracked": tracked, "sighted": found, "seconds": time.perf_counter() - t,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def write_events(storage: Path, tracked: int, events: int, seed: int = 15) -> None:
    from takedown.events import DNS_ROW
    from takedown.store.segments import SegmentWriter

    rnd = random.Random(seed)
    day = datetime(2026, 12, 1, tzinfo=timezone.utc).timestamp()
    w = SegmentWriter(storage, "dns", operation="bench", sensor="s", worker=0, fsync=False)
    for i in range(events):
        k = rnd.randrange(tracked)
        name = (f"c2-{k}.example", f"www.c2-{k}.example")[i % 2] if i % 10 == 0 else f"clean-{i}.example"
        values = {"time": day + i * 86400 / events, "transport": "udp", "src_ip": _ip(i), "src_port": 1024,
                  "dst_ip": "192.0.2.53", "dst_port": 53, "qname": name, "qtype": 1, "rcode": 0,
                  "rule": "domain:zeus" if i % 10 == 0 else "none",
                  "family": None, "ecs": None, "response": "answer"}
        w.rows.append(tuple(values[c] for c in DNS_ROW))
        if len(w.rows) >= 100_000:
            w.flush()
    w.close()


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--tracked", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--child", nargs="+")
    a = ap.parse_args()
    if a.child:
        what, *rest = a.child
        fn = {"read": child_read, "jsonl": child_write_jsonl, "sightings": child_sightings}[what]
        print(json.dumps(fn(*rest) if what != "sightings" else fn(rest[0], int(rest[1]))))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as tmp:
        d = Path(tmp)
        t = time.perf_counter()
        paths = make_files(d, a.n)
        print(f"made {len(paths)} files of {a.n:,} entries in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        jsonl = d / "input.jsonl"
        rows.append(_child("jsonl", str(paths["threatfox-csv"]), str(jsonl)))
        paths["jsonl"] = jsonl
        for fmt in FORMATS:
            rows.append(_child("read", fmt, str(paths[fmt])))
            print(rows[-1], file=sys.stderr)
        storage = d / "storage"
        write_events(storage, a.tracked, a.events)
        sight = _child("sightings", str(storage), str(a.tracked))
        print(sight, file=sys.stderr)
    m = machine()
    lines = ["### Tracker: reading the importable formats, counting events per tracked domain",
             "", f"{m['date']}; {m['nproc']} CPUs, {m['cpu']}; Python {m['python']}, DuckDB {m['duckdb']}; "
             f"`bench/tracker_read.py --n {a.n} --tracked {a.tracked} --events {a.events}`", "",
             "| format | indicators | seconds | indicators/s | peak RSS (MB) |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        rate = r["indicators"] / r["seconds"] if r["seconds"] else 0
        lines.append(f"| {r['format']} | {r['indicators']:,} | {r['seconds']:.1f} | {rate:,.0f} | "
                     f"{r['peak_rss_mb']:,.0f} |")
    lines += ["", f"sightings: {sight['tracked']:,} tracked domains, {a.events:,} DNS events, "
              f"{sight['sighted']:,} sighted in {sight['seconds']:.1f} s, peak RSS {sight['peak_rss_mb']:,.0f} MB"]
    text = "\n".join(lines)
    print(text)
    if not a.no_write:
        write_section("tracker-read", text)


if __name__ == "__main__":
    main()
