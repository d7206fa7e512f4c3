"""The tracker's RPZ at scale: takedown writes a 1,000,000-name response
policy zone, BIND 9 and Unbound load it (their own load time, for the record).

- export: ``takedown.tracker.formats.export("rpz", ...)`` of N generated
  indicators (domains; one in ten ``seized``, pointed at a sinkhole address,
  the rest NXDOMAIN; one in twenty an IP, an ``rpz-ip`` trigger), streamed
  from a generator as the store streams them: seconds, zone size and the
  exporting process's peak RSS (ru_maxrss) growth;
- ``named-checkzone`` of that zone, timed apart;
- each resolver (``harness.peers``: forwarding only to an NSD on loopback that
  serves a one-name root zone): from its process start (/proc/<pid>/stat
  starttime) until the last name of the zone comes back rewritten (polled
  every 50 ms), and its peak resident set (VmHWM) then.

Usage::

    .venv/bin/python bench/rpz_load_bench.py                   # 1,000,000 names, BIND and Unbound
    .venv/bin/python bench/rpz_load_bench.py --names 20000 --no-write   # a smoke run
    .venv/bin/python bench/rpz_load_bench.py --resolvers bind,unbound,kresd
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "src"))
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))  # harness.peers

import dns.rcode  # noqa: E402

import results  # noqa: E402
from dns_bench import tree_memory  # noqa: E402
from harness import peers  # noqa: E402
from takedown.tracker.formats import ExportContext, export, get  # noqa: E402
from takedown.tracker.indicator import Indicator  # noqa: E402
from zone_load import _start_uptime, _uptime  # noqa: E402

ORIGIN = "rpz.takedown"
SINK4 = "192.0.2.53"
LABELS = {"bind": "BIND 9", "unbound": "Unbound", "kresd": "Knot Resolver"}


def indicators(n: int):
    """N indicators, streamed; the last one is a domain (the probe)."""
    for i in range(n):
        status = "seized" if i % 10 == 0 else "online"
        if i % 20 == 7 and i != n - 1:
            yield Indicator(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "ip", "bench", status=status, id=i + 1)
        else:
            yield Indicator(f"cc{i:07d}.bench-{i % 97}.example", "domain", "bench", status=status, id=i + 1)


def probe_name(n: int) -> str:
    return f"cc{n - 1:07d}.bench-{(n - 1) % 97}.example"


def write_zone(n: int, path: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    count = export(get("rpz"), indicators(n), ExportContext(now=datetime.now(timezone.utc), serial=1,
                                                            sinkhole_v4=SINK4), path)
    seconds = time.perf_counter() - t
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return {"indicators": count, "seconds": round(seconds, 2), "per_second": round(count / seconds),
            "bytes": path.stat().st_size, "peak_rss_growth_kib": grew}


def check_zone(path: Path) -> float:
    t = time.perf_counter()
    subprocess.run(["named-checkzone", "-q", "-i", "local", ORIGIN, str(path)], check=True)
    return round(time.perf_counter() - t, 2)


def load(which: str, zone: Path, n: int, upstream: tuple[str, int], workdir: Path, timeout: float) -> dict:
    port = peers.free_port()
    kwargs = {"upstream": upstream, "port": port, "workdir": workdir / which, "timeout": timeout}
    if which == "bind":
        peer = peers.start_bind_rpz(ORIGIN, zone, check=False, **kwargs)
    elif which == "unbound":
        peer = peers.start_unbound(ORIGIN, zone, **kwargs)
    else:
        peer = peers.start_kresd(zone, **kwargs)
    try:
        started = _start_uptime(peer.proc.pid)
        # the probe is the zone's last indicator, rewritten to NXDOMAIN: the whole zone is in
        peers.wait_answer(peer.host, peer.port, probe_name(n), lambda r: r.rcode() == dns.rcode.NXDOMAIN,
                          timeout=timeout)
        ready = _uptime() - started
        mem = tree_memory(peer.pids())
        return {"ready_seconds": round(ready, 2), "hwm_kib": mem["hwm_kib"], "rss_kib": mem["rss_kib"],
                "cpu_seconds": round(peer.cpu_seconds(), 2)}
    finally:
        peer.stop()


def run(names: int, resolvers: list[str], timeout: float, log=print) -> dict:
    with tempfile.TemporaryDirectory(prefix="takedown-rpz-bench-") as tmp:
        d = Path(tmp)
        zone = d / "rpz.zone"
        w = write_zone(names, zone)
        log(f"export: {w['indicators']:,} indicators in {w['seconds']:.1f} s ({w['per_second']:,}/s), "
            f"{w['bytes'] / 2**20:.0f} MiB, peak RSS +{w['peak_rss_growth_kib'] / 1024:.0f} MiB")
        check = check_zone(zone)
        log(f"named-checkzone: {check:.1f} s")
        (d / "root.zone").write_text(". 3600 SOA ns.root. h.root. 1 3600 600 86400 300\n. 3600 NS ns.root.\n"
                                     "ns.root. 3600 A 127.0.0.1\n")
        loads = {}
        with peers.start_nsd({".": d / "root.zone"}, port=peers.free_port(), workdir=d / "nsd") as nsd:
            for which in resolvers:
                loads[which] = load(which, zone, names, (nsd.host, nsd.port), d, timeout)
                log(f"{LABELS[which]}: rewriting after {loads[which]['ready_seconds']:.1f} s, "
                    f"VmHWM {loads[which]['hwm_kib'] / 1024:.0f} MiB")
    return {"names": names, "export": w, "named_checkzone_seconds": check, "load": loads,
            "machine": results.machine()}


def render(r: dict, command: str) -> str:
    m, w = r["machine"], r["export"]
    lines = [
        f"## Tracker RPZ: {r['names']:,} indicators exported and loaded by resolvers",
        "",
        f"Command: `{command}`; {m['date']}; {m['nproc']} CPUs, {m['cpu']}, {m['mem_gib']} GiB; "
        f"Python {m['python']}.",
        "",
        f"- export (`takedown.tracker.formats.rpz`, streamed, deduplicated through SQLite): "
        f"{w['seconds']:.1f} s ({w['per_second']:,} indicators/s), {w['bytes'] / 2**20:.0f} MiB, "
        f"peak RSS growth {w['peak_rss_growth_kib'] / 1024:.0f} MiB (bar: <= 30 s)",
        f"- `named-checkzone`: {r['named_checkzone_seconds']:.1f} s",
        "",
        "| resolver | process start -> zone in force (s) | VmHWM (MiB) | CPU (s) |",
        "|---|---:|---:|---:|",
    ]
    for which, x in r["load"].items():
        lines.append(f"| {LABELS[which]} | {x['ready_seconds']:.1f} | {x['hwm_kib'] / 1024:.0f} | "
                     f"{x['cpu_seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--names", type=int, default=1_000_000)
    ap.add_argument("--resolvers", default="bind,unbound", help="of bind,unbound,kresd")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds a resolver may take to load")
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    a = ap.parse_args(argv)
    resolvers = [x.strip() for x in a.resolvers.split(",") if x.strip()]
    unknown = [x for x in resolvers if x not in LABELS]
    if unknown:
        ap.error(f"--resolvers: unknown {', '.join(unknown)} (of {', '.join(LABELS)})")
    r = run(a.names, resolvers, a.timeout)
    out = BENCH_DIR / "out" / f"rpzload-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(r, indent=2))
    print(f"raw: {out}")
    if not a.no_write:
        command = "python bench/rpz_load_bench.py " + " ".join(sys.argv[1:] if argv is None else argv)
        results.write_section("rpzload", render(r, command.strip()))
        print(f"rewrote {results.RESULTS} (rpzload)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
