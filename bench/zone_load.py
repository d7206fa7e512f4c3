"""Load time and memory of a 3,000,000-name zone with a 70,000-name blocklist.

For takedown's server (``takedown serve``, one worker):

- ``ready_seconds``: from the process start (its fork, /proc/<pid>/stat
  starttime) until it answers a UDP query (peers.wait_ready, polled every
  50 ms): the whole start-up, Python imports, zone and blocklist parse, index,
  socket bind;
- ``peak_rss``: VmHWM (peak resident set) summed over the server's process
  tree, read after a short query burst, i.e. while serving with query
  logging on; also VmRSS and PSS at that moment (PSS does not double-count
  pages shared between a parent and forked workers).

In-process (a fresh ``python``): ``Policy(load_operation(op))`` of
``takedown.dns.policy``, the compile step ``serve`` runs, timed, with the
process's peak RSS (ru_maxrss).

For context, NSD 4 (and BIND 9 with ``--bind``) loading the same zone:
``ready_seconds`` likewise from their daemon's process start to the first
answer (the peers module checks the zone with nsd-checkzone/named-checkzone
*before* starting the daemon; that check is reported apart).

Usage::

    .venv/bin/python bench/zone_load.py            # ours + NSD
    .venv/bin/python bench/zone_load.py --bind     # and BIND
    .venv/bin/python bench/zone_load.py --names 300000 --blocklist 7000   # smaller
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))  # harness.peers

import dns_bench  # noqa: E402
import zonegen  # noqa: E402

LOAD_LABELS = {"ours": "takedown (Parquet query log)", "bind": "BIND 9", "nsd": "NSD 4"}
BAR_SECONDS = 60.0
BAR_RSS_GIB = 4.0
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def _start_uptime(pid: int) -> float:
    """Seconds since boot at which ``pid`` started (/proc/<pid>/stat field 22)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    return int(raw[raw.rfind(")") + 2 :].split()[19]) / _CLK_TCK


class MemorySampler:
    """Samples the summed RSS of a process tree every ``interval`` seconds in
    a thread, keeping the maximum (catches a peak spread over several
    processes that VmHWM, per process, cannot sum in time)."""

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval = pid, interval
        self.max_rss_kib = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            m = dns_bench.tree_memory(dns_bench.process_tree(self.pid))
            self.max_rss_kib = max(self.max_rss_kib, m["rss_kib"])
            self._stop.wait(self.interval)


def _burst(port: int, queries: Path, seconds: float) -> dict:
    """A short dnsperf run: the server must answer from the big zone."""
    argv = dns_bench.dnsperf_argv(port, queries, seconds, dns_bench.Setting("burst"))
    stats, _ = dns_bench.run_dnsperf(argv, seconds)
    return {k: stats[k] for k in ("completed", "lost", "qps", "rcodes")}


def measure_ours(zone_dir: Path, workdir: Path, burst: float, log=print) -> dict:
    from harness import peers

    workdir.mkdir(parents=True, exist_ok=True)
    port = peers.free_port()
    op, storage, notes = dns_bench.prepare_operation(workdir, zone_dir, port, "on")
    exe = dns_bench.VENV_BIN / "takedown"
    argv = [str(exe), "serve", str(op), "--dns", f"127.0.0.1:{port}", "--workers", "1"]
    out = open(workdir / "takedown.stdout", "wb")
    try:
        proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        out.close()
    peer = peers.Peer(name="ours", proc=proc, host="127.0.0.1", port=port, workdir=workdir,
                      logs=[workdir / "takedown.stdout"])
    try:
        started = _start_uptime(proc.pid)
        with MemorySampler(proc.pid) as sampler:
            peers.wait_ready("127.0.0.1", port, "www.3322.org", 600, proc=proc)
            ready = _uptime() - started
            log(f"  ours: answering after {ready:.1f} s")
            cpu_load = peer.cpu_seconds()
            b = _burst(port, zone_dir / zonegen.QUERIES_FILE, burst) if burst else {}
            time.sleep(1.5)  # let the last events flush
        mem = dns_bench.tree_memory(peer.pids())
        res = {
            "command": " ".join(argv),
            "ready_seconds": round(ready, 2),
            "cpu_seconds_to_ready": round(cpu_load, 2),
            "peak_rss_kib": max(mem["hwm_kib"], sampler.max_rss_kib),
            "hwm_kib": mem["hwm_kib"],
            "rss_kib": mem["rss_kib"],
            "pss_kib": mem["pss_kib"],
            "processes": mem["processes"],
            "burst": b,
            "notes": notes,
            "log": (workdir / "takedown.stdout").read_text(errors="replace")[-2000:],
        }
        if storage is not None and b:
            res["parquet_rows"] = dns_bench.settled_rows(storage, 0.0)
        return res
    finally:
        peer.stop()


def measure_peer(name: str, zone_dir: Path, workdir: Path, burst: float, log=print) -> dict:
    from harness import peers

    port = peers.free_port()
    start = {"bind": peers.start_bind, "nsd": peers.start_nsd}[name]
    t0 = time.monotonic()
    peer = start({"3322.org": zone_dir / zonegen.ZONE_FILE}, host="127.0.0.1", port=port,
                 workdir=workdir, threads=1, query_log=False, timeout=600)
    total = time.monotonic() - t0
    try:
        ready = _uptime() - _start_uptime(peer.proc.pid)
        log(f"  {name}: answering {ready:.1f} s after its start ({total:.1f} s with the zone check)")
        cpu_load = peer.cpu_seconds()
        b = _burst(port, zone_dir / zonegen.QUERIES_FILE, burst) if burst else {}
        mem = dns_bench.tree_memory(peer.pids())
        return {
            "command": " ".join(peer.proc.args),
            "ready_seconds": round(ready, 2),
            "with_zone_check_seconds": round(total, 2),
            "cpu_seconds_to_ready": round(cpu_load, 2),
            "peak_rss_kib": mem["hwm_kib"],
            "hwm_kib": mem["hwm_kib"],
            "rss_kib": mem["rss_kib"],
            "pss_kib": mem["pss_kib"],
            "processes": mem["processes"],
            "burst": b,
        }
    finally:
        peer.stop()


_IN_PROCESS = textwrap.dedent("""
    import json, resource, sys, time
    t0 = time.perf_counter()
    from takedown.operation import load_operation
    from takedown.dns.policy import Policy
    t1 = time.perf_counter()
    op = load_operation(sys.argv[1])
    t2 = time.perf_counter()
    policy = Policy(op)
    t3 = time.perf_counter()
    print(json.dumps({
        "import_seconds": round(t1 - t0, 3),
        "load_operation_seconds": round(t2 - t1, 3),
        "policy_seconds": round(t3 - t2, 3),
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))
""")


def measure_in_process(zone_dir: Path, workdir: Path) -> dict:
    """``Policy(load_operation(op))`` in a fresh interpreter."""
    op, _, _ = dns_bench.prepare_operation(workdir, zone_dir, 5353, "on")
    code = "from takedown.dns.policy import Policy"
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if probe.returncode != 0:
        return {"error": "takedown.dns.policy.Policy not available"}
    r = subprocess.run([sys.executable, "-c", _IN_PROCESS, str(op)], capture_output=True,
                       text=True, timeout=900)
    if r.returncode != 0:
        return {"error": r.stderr.strip()[-1500:]}
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["command"] = f"{Path(sys.executable).name} -c 'Policy(load_operation(OPFILE))'"
    return res


def run(*, names: int = 3_000_000, blocklist: int = 70_000, peers_: tuple[str, ...] = ("nsd",),
        burst: float = 3.0, keep: bool = False, in_process: bool = True, log=print) -> dict:
    zone_dir = zonegen.zone_dir(dns_bench.OUT_DIR / "zones", names, blocklist)
    t0 = time.perf_counter()
    manifest = zonegen.generate(zone_dir, names, blocklist, zonegen.default_queries(names))
    gen = time.perf_counter() - t0
    tmp = Path(tempfile.mkdtemp(prefix="takedown-zoneload-"))
    log(f"zone_load: {names:,} names, blocklist {blocklist:,}, zone {manifest['zone_bytes'] / 2**20:.0f} MiB, "
        f"workdir {tmp}")
    servers: dict[str, dict] = {}
    errors: dict[str, str] = {}
    try:
        try:
            servers["ours"] = measure_ours(zone_dir, tmp / "ours", burst, log)
        except Exception as e:  # noqa: BLE001
            errors["ours"] = str(e)
            log(f"  ours: failed: {str(e).splitlines()[0]}")
        for name in peers_:
            try:
                servers[name] = measure_peer(name, zone_dir, tmp / name, burst, log)
            except Exception as e:  # noqa: BLE001
                errors[name] = str(e)
                log(f"  {name}: failed: {str(e).splitlines()[0]}")
        inproc = measure_in_process(zone_dir, tmp / "inproc") if in_process else None
        if inproc:
            log(f"  in-process Policy(load_operation): {inproc}")
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    ours = servers.get("ours")
    result = {
        "benchmark": "zone_load",
        "machine": dns_bench.machine_info(),
        "params": {"names": names, "blocklist": blocklist, "burst_seconds": burst,
                   "zone": {"dir": str(zone_dir), "bytes": manifest["zone_bytes"], **manifest["counts"]}},
        "generation_seconds": round(gen, 2),
        "generation_reused": bool(manifest.get("reused")),
        "generation_seconds_when_made": manifest.get("generation_seconds"),
        "servers": servers,
        "in_process": inproc,
        "errors": errors,
        "bar": {
            "ready_seconds_limit": BAR_SECONDS,
            "rss_gib_limit": BAR_RSS_GIB,
            "ready_seconds": ours["ready_seconds"] if ours else None,
            "peak_rss_gib": round(ours["peak_rss_kib"] / 2**20, 2) if ours else None,
            "pass": (ours["ready_seconds"] <= BAR_SECONDS and ours["peak_rss_kib"] / 2**20 < BAR_RSS_GIB)
            if ours else None,
        },
    }
    return result


def print_table(result: dict, file=sys.stdout) -> None:
    print(f"{'server':<28} {'ready s':>8} {'CPU s':>7} {'peak RSS MiB':>13} {'PSS MiB':>8} {'burst qps':>10}",
          file=file)
    for name, r in result["servers"].items():
        print(f"{LOAD_LABELS.get(name, name):<28} {r['ready_seconds']:>8.1f} {r['cpu_seconds_to_ready']:>7.1f} "
              f"{r['peak_rss_kib'] / 1024:>13,.0f} {r['pss_kib'] / 1024:>8,.0f} "
              f"{(r.get('burst') or {}).get('qps', 0):>10,.0f}", file=file)
    ip = result.get("in_process")
    if ip and "policy_seconds" in ip:
        print(f"in-process Policy(load_operation): {ip['policy_seconds']:.1f} s, "
              f"max RSS {ip['maxrss_kib'] / 1024:,.0f} MiB", file=file)
    b = result["bar"]
    if b["pass"] is not None:
        print(f"bar: ready <= {b['ready_seconds_limit']:.0f} s and RSS < {b['rss_gib_limit']:.0f} GiB: "
              f"{b['ready_seconds']} s, {b['peak_rss_gib']} GiB -> {'PASS' if b['pass'] else 'FAIL'}",
              file=file)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--names", type=int, default=3_000_000)
    ap.add_argument("--blocklist", type=int, default=70_000)
    ap.add_argument("--bind", action="store_true", help="also measure BIND 9 (slow: ~1-2 min more)")
    ap.add_argument("--no-nsd", action="store_true", help="skip NSD")
    ap.add_argument("--burst", type=float, default=3.0, help="seconds of dnsperf after load (0: none)")
    ap.add_argument("--no-in-process", action="store_true")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args(argv)
    peers_ = tuple(p for p, on in (("nsd", not a.no_nsd), ("bind", a.bind)) if on)
    result = run(names=a.names, blocklist=a.blocklist, peers_=peers_, burst=a.burst, keep=a.keep,
                 in_process=not a.no_in_process)
    print()
    print_table(result)
    path = dns_bench.save(result, "zoneload")
    print(f"\nraw numbers: {path.relative_to(dns_bench.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
