"""DNS throughput and CPU per answered query: takedown's sinkhole vs BIND 9 and NSD.

Every server serves the same generated 3322.org-like zone (bench/zonegen.py,
100,000 names) on 127.0.0.1, one worker each, pinned to one core; dnsperf
(one thread) runs pinned to the other core. For each run the server's CPU
time (utime+stime of its whole process tree, /proc/<pid>/stat) is read before
and after; CPU per answered query = CPU seconds / queries completed.

- ours: ``takedown serve OPFILE --dns 127.0.0.1:PORT --workers 1``, query
  logging ON (every query is an event written to Parquet under the
  operation's storage); the Parquet rows are counted afterwards with DuckDB.
- bind: BIND 9 with ``querylog yes`` to a file.
- nsd: NSD 4 (it has no per-query log).

After a warm-up (one pass over the query file, so that our server's answer
cache is full), runs are interleaved (ours, bind, nsd, ours, bind, nsd, ...) so
that drift in the machine (other jobs, thermal, page cache) hits every server
alike, repeated R times; medians are quoted. Two load settings:

- ``saturated``: no rate limit, ``-c 10 -q 200``: the server core is the
  bottleneck when the server is slower than dnsperf (about 150-170k qps here).
- ``paced``: ``-Q 20000``: the same offered rate for every server, well below
  saturation: CPU per query when not overloaded (less batching, more wake-ups).

Usage::

    .venv/bin/python bench/dns_bench.py             # full: 10 s x 5 reps
    .venv/bin/python bench/dns_bench.py --quick     # smoke: 3 s x 2 reps
    .venv/bin/python bench/dns_bench.py --servers bind,nsd --seconds 5
    .venv/bin/python bench/dns_bench.py --names 3000000 --blocklist 70000 \
        --only saturated --reps 3 --warmup 1 --continue-queries   # cache-cold

Writes ``bench/out/dns-<timestamp>.json`` with every raw number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
VENV_BIN = Path(sys.executable).parent  # the venv the bench runs in
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))  # harness.peers

import zonegen  # noqa: E402

SERVERS = ("ours", "ours-pure", "bind", "nsd")
# ours-pure: the same server with TAKEDOWN_PURE=1 (the pure-Python hot paths), in the same run
LABELS = {
    "ours": "takedown (Parquet query log)",
    "ours-pure": "takedown, pure Python paths",
    "bind": "BIND 9 (querylog yes)",
    "nsd": "NSD 4 (no query log)",
}
SERVER_CPU = 1  # core the servers are pinned to
CLIENT_CPU = 0  # core dnsperf (and this script) run on
WARMUP_PASS_LIMIT = 60.0  # seconds: bound of the warm-up pass over the query file
BAR_RATIO_VS_BIND = 0.7  # ours CPU/query <= 0.7 x BIND's (the issue's bar)

# The sinkhole part of the operation file (the issue's example).
OPERATION_TEMPLATE = """\
# written by bench/dns_bench.py
[operation]
name = "bench"
storage = "{storage}"

[service]
allow_root = true

[sinkhole]
ipv4 = ["192.0.2.53"]
ipv6 = ["2001:db8::53"]
ttl = 300
soa_email = "hostmaster.sinkhole.example"
nameservers = {{ "ns1.sinkhole.example" = "192.0.2.1", "ns2.sinkhole.example" = "192.0.2.2" }}

[[zones]]
origin = "3322.org"
file = "{zone}"
blocklist = "{blocklist}"
family = "nitol"

[dns]
listen = ["127.0.0.1:{port}"]
workers = 1

[dns.rrl]
{rrl}

[events]
flush_interval = {flush_interval}
"""
# RRL bookkeeping on for every query (an account per name and type, as BIND
# keys them), at BIND's highest rate: the one-source client asks each name a
# few times a second. NXDOMAIN and errors share one account per zone or
# source, so they are left unlimited (0) rather than throttle the client.
RRL_ON = ("enabled = true\nresponses_per_second = {rps}\nreferrals_per_second = {rps}\n"
          "nodata_per_second = {rps}\nnxdomains_per_second = 0\nerrors_per_second = 0")
RRL_OFF = "enabled = false"


# --------------------------------------------------------------------------- machine


def _cmd_out(argv: list[str]) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (r.stdout + r.stderr).strip()


def _program(name: str) -> str | None:
    p = shutil.which(name)
    if p:
        return p
    for d in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        if os.access(f"{d}/{name}", os.X_OK):
            return f"{d}/{name}"
    return None


def machine_info() -> dict:
    """What the figures were measured on (quoted in RESULTS.md)."""
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    dnsperf_v = re.search(r"Version\s+(\S+)", _cmd_out(["dnsperf", "-h"]))
    named = _program("named")
    nsd = _program("nsd")
    named_v = _cmd_out([named, "-v"]).replace(" <id:>", "") if named else ""
    nsd_v = _cmd_out([nsd, "-v"]).splitlines()[0] if nsd else ""
    try:
        import takedown

        ours_v = takedown.__version__
    except Exception:  # noqa: BLE001 - informational only
        ours_v = "?"
    commit = _cmd_out(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"])
    # "+dirty": the package's source differs from the commit (edits or new files under src/).
    dirty = bool(_cmd_out(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"]))
    try:
        import uvloop

        uvloop_v = uvloop.__version__
    except Exception:  # noqa: BLE001
        uvloop_v = "?"
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "mem_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "uvloop": uvloop_v,
        "dnsperf": dnsperf_v.group(1) if dnsperf_v else "?",
        "bind": named_v,
        "nsd": nsd_v,
        "takedown": ours_v,
        "commit": commit + ("+dirty" if dirty else ""),
    }


# --------------------------------------------------------------------------- /proc


def pin(pids: list[int], cpu: int) -> list[int]:
    """Pin every thread of every process in ``pids`` to ``cpu`` (what
    ``taskset -a -p -c CPU PID`` does). Returns the thread ids pinned.
    Threads and processes created later inherit the affinity."""
    done = []
    for pid in pids:
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(tid, {cpu})
                done.append(tid)
            except OSError:
                pass
    return done


def affinity_of(pids: list[int]) -> set[str]:
    """The distinct Cpus_allowed_list values of every thread (a check of pin())."""
    out = set()
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
                    if line.startswith("Cpus_allowed_list:"):
                        out.add(line.split(":", 1)[1].strip())
            except OSError:
                pass
    return out


_CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (a scan of /proc/*/stat parent ids)."""
    parent: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(raw[raw.rfind(")") + 2 :].split()[1])
        parent.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p not in out and os.path.exists(f"/proc/{p}"):
            out.append(p)
            todo.extend(parent.get(p, ()))
    return out


def cpu_seconds_tree(pid: int) -> float:
    """utime+stime+cutime+cstime of ``pid`` and all its live descendants, in
    seconds: the same sum as ``Peer.cpu_seconds()``, for any pid."""
    ticks = 0
    for p in process_tree(pid):
        try:
            raw = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        f = raw[raw.rfind(")") + 2 :].split()
        ticks += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return ticks / _CLK_TCK


def core_times() -> dict[int, list[int]]:
    """Per-core /proc/stat ticks: user nice system idle iowait irq softirq steal."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            parts = line.split()
            out[int(parts[0][3:])] = [int(x) for x in parts[1:9]]
    return out


def core_usage(before: dict[int, list[int]], after: dict[int, list[int]], cpu: int) -> dict:
    """Busy/softirq shares of one core between two core_times() readings."""
    if cpu not in before or cpu not in after:
        return {}
    d = [a - b for a, b in zip(after[cpu], before[cpu])]
    total = sum(d) or 1
    user, nice, system, idle, iowait, irq, softirq, steal = d
    return {
        "busy_pct": round(100 * (total - idle - iowait) / total, 1),
        "softirq_pct": round(100 * softirq / total, 1),
        "steal_pct": round(100 * steal / total, 1),
        "busy_seconds": (total - idle - iowait) / _CLK_TCK,
    }


def tree_memory(pids: list[int]) -> dict:
    """Summed VmRSS/VmHWM (KiB) over processes, and PSS where readable (KiB)."""
    rss = hwm = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm += int(line.split()[1])
        except OSError:
            continue
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return {"rss_kib": rss, "hwm_kib": hwm, "pss_kib": pss, "processes": len(pids)}


# --------------------------------------------------------------------------- dnsperf


@dataclass(frozen=True)
class Setting:
    name: str
    clients: int = 10
    outstanding: int = 200
    rate: int | None = None  # dnsperf -Q
    timeout: float = 2.0  # dnsperf -t

    def args(self) -> list[str]:
        a = ["-c", str(self.clients), "-q", str(self.outstanding), "-t", f"{self.timeout:g}"]
        if self.rate:
            a += ["-Q", str(self.rate)]
        return a


def dnsperf_argv(port: int, queries: Path, seconds: float, setting: Setting,
                 passes: int | None = None) -> list[str]:
    """``passes``: stop after that many passes over the file (``-n``), or at
    ``seconds``, whichever comes first."""
    argv = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries),
            "-l", f"{seconds:g}", "-T", "1", *setting.args()]
    if passes:
        argv += ["-n", str(passes)]
    if os.cpu_count() and os.cpu_count() > CLIENT_CPU:
        argv = ["taskset", "-c", str(CLIENT_CPU), *argv]
    return argv


_NUM = r"([0-9.]+)"


def parse_dnsperf(text: str) -> dict:
    """The statistics block of dnsperf 2.x output."""

    def num(label: str) -> float | None:
        m = re.search(rf"{label}:\s+{_NUM}", text)
        return float(m.group(1)) if m else None

    rcodes = {}
    m = re.search(r"Response codes:\s+(.*)", text)
    if m:
        for code, n in re.findall(r"([A-Z]+) (\d+) \(", m.group(1)):
            rcodes[code] = int(n)
    lat = re.search(rf"Average Latency \(s\):\s+{_NUM} \(min {_NUM}, max {_NUM}\)", text)
    return {
        "sent": int(num("Queries sent") or 0),
        "completed": int(num("Queries completed") or 0),
        "lost": int(num("Queries lost") or 0),
        "run_seconds": num(r"Run time \(s\)") or 0.0,
        "qps": num("Queries per second") or 0.0,
        "latency_avg_ms": round(float(lat.group(1)) * 1000, 3) if lat else None,
        "latency_max_ms": round(float(lat.group(3)) * 1000, 3) if lat else None,
        "rcodes": rcodes,
        "timeouts_logged": text.count("[Timeout]"),
    }


def run_dnsperf(argv: list[str], seconds: float) -> tuple[dict, str]:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60,
                       stdin=subprocess.DEVNULL)
    out = r.stdout + r.stderr
    if r.returncode != 0 or "Statistics:" not in out:
        raise RuntimeError(f"dnsperf failed ({' '.join(argv)}): exit {r.returncode}\n{out[-2000:]}")
    return parse_dnsperf(out), out


# --------------------------------------------------------------------------- servers


@dataclass
class Target:
    name: str  # ours | bind | nsd
    peer: object  # harness.peers.Peer
    port: int
    workdir: Path
    storage: Path | None = None  # ours: the Parquet dataset
    notes: list[str] = field(default_factory=list)
    start_seconds: float = 0.0
    offset: int = 0  # continue mode: the query-file line this server's next run starts at

    def cpu(self) -> float:
        return self.peer.cpu_seconds()

    def pids(self) -> list[int]:
        return self.peer.pids()

    def stop(self) -> None:
        self.peer.stop()


def write_operation(
    path: Path, *, zone: Path, blocklist: Path, storage: Path, port: int,
    rrl: str = "on", rrl_rps: int = 1000, flush_interval: float = 1.0,
) -> None:
    rrl_text = RRL_ON.format(rps=rrl_rps) if rrl == "on" else RRL_OFF
    path.write_text(OPERATION_TEMPLATE.format(
        storage=storage, zone=zone, blocklist=blocklist, port=port, rrl=rrl_text,
        flush_interval=flush_interval,
    ))


def prepare_operation(workdir: Path, zone_dir: Path, port: int, rrl: str,
                      flush_interval: float = 1.0) -> tuple[Path, Path, list[str]]:
    """Write the operation file for our server, validating it with
    takedown.operation.load_operation when that exists. If the validator
    refuses the huge RRL rate (its range is BIND's, 1..1000 responses/s per
    prefix, which would throttle a single-source benchmark), fall back to RRL
    off and say so. Returns (opfile, storage, notes)."""
    notes: list[str] = []
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "data"
    op = workdir / "operation.toml"
    zone, bl = zone_dir / zonegen.ZONE_FILE, zone_dir / zonegen.BLOCKLIST_FILE
    write_operation(op, zone=zone, blocklist=bl, storage=storage, port=port, rrl=rrl,
                    flush_interval=flush_interval)
    try:
        from takedown.operation import load_operation
    except ImportError:
        return op, storage, notes
    try:
        load_operation(op)
    except Exception as e:  # noqa: BLE001 - OperationError, reported
        msg = str(e)
        if rrl == "on" and "responses_per_second" in msg:
            notes.append(
                f"RRL off: the operation validator refuses responses_per_second={1000} "
                f"({msg.splitlines()[0]}); any rate it accepts would throttle the one-source client"
            )
            write_operation(op, zone=zone, blocklist=bl, storage=storage, port=port, rrl="off",
                            flush_interval=flush_interval)
            load_operation(op)
        else:
            raise
    return op, storage, notes


def start_ours(zone_dir: Path, workdir: Path, *, rrl: str = "on", pin_cpu: int | None = SERVER_CPU,
               timeout: float = 120.0, flush_interval: float = 1.0, pure: bool = False) -> Target:
    from harness import peers

    workdir.mkdir(parents=True, exist_ok=True)
    port = peers.free_port()
    op, storage, notes = prepare_operation(workdir, zone_dir, port, rrl, flush_interval)
    exe = VENV_BIN / "takedown"
    if not exe.exists():
        raise RuntimeError(f"{exe} not found (pip install -e . in the venv)")
    argv = [str(exe), "serve", str(op), "--dns", f"127.0.0.1:{port}", "--workers", "1"]
    if pin_cpu is not None:
        argv = ["taskset", "-c", str(pin_cpu), *argv]
    env = {**os.environ, "TAKEDOWN_PURE": "1"} if pure else {k: v for k, v in os.environ.items() if k != "TAKEDOWN_PURE"}
    name = "ours-pure" if pure else "ours"
    if pure:
        argv = ["env", "TAKEDOWN_PURE=1", *argv]  # as recorded in the command line
    out = open(workdir / "takedown.stdout", "wb")
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env)
    finally:
        out.close()
    peer = peers.Peer(name=name, proc=proc, host="127.0.0.1", port=port, workdir=workdir,
                      logs=[workdir / "takedown.stdout"])
    try:
        peers.wait_ready("127.0.0.1", port, "www.3322.org", timeout, proc=proc)
    except Exception as e:
        peer.stop()
        raise RuntimeError(f"takedown serve did not answer: {e}\n{' '.join(argv)}\n"
                           f"{peer.describe_logs()}") from None
    t = Target(name, peer, port, workdir, storage=storage, notes=notes,
               start_seconds=time.perf_counter() - t0)
    t.notes.insert(0, "command: " + " ".join(argv))
    t.notes.append(hot_paths_line(workdir / "takedown.stdout"))
    return t


def hot_paths_line(stdout: Path) -> str:
    """The ``takedown: hot paths: ...`` line serve printed at start (which path ran)."""
    try:
        for line in stdout.read_text(errors="replace").splitlines():
            if "hot paths:" in line:
                return line.strip()
    except OSError:
        pass
    return "hot paths: (serve printed no line)"


# BIND with the same rate limiting as ours (RRL_ON), for a like-for-like run
# (--bind-rrl same): both servers keep an account per name and type.
BIND_RRL = {"responses-per-second": 1000, "referrals-per-second": 1000, "nodata-per-second": 1000,
            "nxdomains-per-second": 0, "errors-per-second": 0}


def start_peer(name: str, zone_dir: Path, workdir: Path, *, pin_cpu: int | None = SERVER_CPU,
               timeout: float = 120.0, rate_limit: dict | None = None) -> Target:
    from harness import peers

    workdir.mkdir(parents=True, exist_ok=True)
    port = peers.free_port()
    zones = {"3322.org": zone_dir / zonegen.ZONE_FILE}
    start = {"bind": peers.start_bind, "nsd": peers.start_nsd}[name]
    t0 = time.perf_counter()
    extra = {"rate_limit": rate_limit} if name == "bind" and rate_limit else {}
    peer = start(zones, host="127.0.0.1", port=port, workdir=workdir, threads=1,
                 query_log=(name == "bind"), timeout=timeout, **extra)
    t = Target(name, peer, port, workdir, start_seconds=time.perf_counter() - t0)
    if pin_cpu is not None:
        pin(peer.pids(), pin_cpu)
    t.notes.append("command: " + " ".join(peer.proc.args))
    return t


# --------------------------------------------------------------------------- Parquet check


def parquet_rows(storage: Path) -> int:
    """Rows of DNS events in the dataset (0 while there is none)."""
    files = list((storage / "events").glob("kind=dns/**/*.parquet")) if storage else []
    if not files:
        return 0
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        glob = str(storage / "events" / "kind=dns" / "**" / "*.parquet")
        return int(con.execute(
            "SELECT count(*) FROM read_parquet(?, hive_partitioning = true)", [glob]
        ).fetchone()[0])
    finally:
        con.close()


def settled_rows(storage: Path, wait: float, limit: float = 15.0) -> int:
    """Parquet row count once it stops growing (the writer flushes every
    flush_interval): read after ``wait`` s, then every 0.5 s until two equal."""
    time.sleep(wait)
    last = parquet_rows(storage)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = parquet_rows(storage)
        if now == last:
            return now
        last = now
    return last


# --------------------------------------------------------------------------- the benchmark


def median(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


class QueryFile:
    """The query file, or in *continue* mode a copy rotated so that each
    server's run starts where its previous one stopped (dnsperf always starts
    at the first line). Continue mode keeps a cache-cold run cold: every run
    sends queries the server has not seen recently."""

    def __init__(self, path: Path, workdir: Path, continue_: bool):
        self.path, self.workdir, self.continue_ = path, workdir, continue_
        self.lines = path.read_bytes().splitlines(keepends=True) if continue_ else []

    def for_run(self, t: Target) -> Path:
        if not self.continue_ or not self.lines:
            return self.path
        off = t.offset % len(self.lines)
        out = self.workdir / f"queries-{t.name}.txt"
        with open(out, "wb") as f:
            f.writelines(self.lines[off:])
            f.writelines(self.lines[:off])
        return out

    def advance(self, t: Target, sent: int) -> None:
        if self.continue_ and self.lines:
            t.offset = (t.offset + sent) % len(self.lines)


def one_run(t: Target, setting: Setting, qf: QueryFile, seconds: float, settle: float) -> dict:
    start_line = t.offset
    queries = qf.for_run(t)
    if t.storage is not None:
        rows0 = settled_rows(t.storage, 0.0)
    cpu0, cores0, w0 = t.cpu(), core_times(), time.monotonic()
    argv = dnsperf_argv(t.port, queries, seconds, setting)
    stats, _ = run_dnsperf(argv, seconds)
    qf.advance(t, stats["sent"])
    w_run = time.monotonic() - w0
    # Keep the window open until the server has written out the run's last
    # events (ours flushes every flush_interval); same wait for every server.
    time.sleep(settle)
    cpu1, cores1, w1 = t.cpu(), core_times(), time.monotonic()
    cpu = cpu1 - cpu0
    done = stats["completed"]
    rec = {
        "server": t.name,
        "setting": setting.name,
        "command": " ".join(argv),
        "query_file_offset": start_line,
        **stats,
        "server_cpu_seconds": round(cpu, 3),
        "cpu_us_per_query": round(cpu / done * 1e6, 3) if done else None,
        "server_cpu_pct": round(100 * cpu / stats["run_seconds"], 1) if stats["run_seconds"] else None,
        "window_seconds": round(w1 - w0, 3),
        "dnsperf_wall_seconds": round(w_run, 3),
        "server_core": core_usage(cores0, cores1, SERVER_CPU),
        "client_core": core_usage(cores0, cores1, CLIENT_CPU),
    }
    sc = rec["server_core"]
    if sc:
        # CPU on the server's core not charged to the server: other processes
        # of the machine (and interrupts), over the same window.
        rec["server_core_other_pct"] = round(
            100 * max(0.0, sc["busy_seconds"] - cpu) / (w1 - w0), 1)
    if t.storage is not None:
        rows1 = settled_rows(t.storage, 0.0)
        rec["parquet_rows"] = rows1 - rows0
    return rec


def summarize(runs: list[dict], servers: list[str], settings: list[Setting]) -> dict:
    out: dict = {}
    for s in settings:
        out[s.name] = {}
        for name in servers:
            rs = [r for r in runs if r["server"] == name and r["setting"] == s.name]
            if not rs:
                continue
            med = {
                "runs": len(rs),
                "qps": median([r["qps"] for r in rs]),
                "cpu_us_per_query": median([r["cpu_us_per_query"] for r in rs]),
                "server_cpu_pct": median([r["server_cpu_pct"] for r in rs]),
                "lost_pct": median([100 * r["lost"] / r["sent"] if r["sent"] else 0 for r in rs]),
                "latency_avg_ms": median([r["latency_avg_ms"] for r in rs]),
                "server_core_other_pct": median([r.get("server_core_other_pct") for r in rs]),
                "cpu_us_per_query_min": min(r["cpu_us_per_query"] or 0 for r in rs),
                "cpu_us_per_query_max": max(r["cpu_us_per_query"] or 0 for r in rs),
                "completed_total": sum(r["completed"] for r in rs),
            }
            codes: dict[str, int] = {}
            for r in rs:
                for k, v in r["rcodes"].items():
                    codes[k] = codes.get(k, 0) + v
            total = sum(codes.values()) or 1
            med["rcodes_pct"] = {k: round(100 * v / total, 2) for k, v in sorted(codes.items())}
            if any("parquet_rows" in r for r in rs):
                med["parquet_rows_total"] = sum(r.get("parquet_rows", 0) for r in rs)
            # Saturated runs: the server core should be full. If the server and
            # the other processes on its core left it idle, the client (dnsperf,
            # the loopback path) was the limit; if other processes took a share
            # of it, qps is understated (CPU per query much less so).
            if s.rate is None and med["server_cpu_pct"] is not None:
                other = med["server_core_other_pct"] or 0.0
                if med["server_cpu_pct"] + other < 90:
                    med["client_bound"] = True
            if (med["server_core_other_pct"] or 0.0) > 10:
                med["contended"] = True
            if med["lost_pct"] > 1.0:
                med["lossy"] = True  # the server dropped or failed queries: figures not valid
            out[s.name][name] = med
        ratios = {}
        cq = {n: v["cpu_us_per_query"] for n, v in out[s.name].items()}
        if cq.get("ours") and cq.get("bind"):
            ratios["ours_vs_bind"] = round(cq["ours"] / cq["bind"], 3)
        if cq.get("ours") and cq.get("nsd"):
            ratios["ours_vs_nsd"] = round(cq["ours"] / cq["nsd"], 3)
        if cq.get("nsd") and cq.get("bind"):
            ratios["nsd_vs_bind"] = round(cq["nsd"] / cq["bind"], 3)
        for peer in ("bind", "nsd", "ours"):
            if cq.get("ours-pure") and cq.get(peer):
                ratios[f"ours-pure_vs_{peer}"] = round(cq["ours-pure"] / cq[peer], 3)
        # Paired: each repetition's ours/BIND ratio (adjacent runs, same machine
        # state), then the median of those.
        for a, b in (("ours", "bind"), ("ours", "nsd"), ("ours-pure", "bind"), ("ours-pure", "nsd")):
            pa = {r["rep"]: r["cpu_us_per_query"] for r in runs
                  if r["server"] == a and r["setting"] == s.name and r["cpu_us_per_query"]}
            pb = {r["rep"]: r["cpu_us_per_query"] for r in runs
                  if r["server"] == b and r["setting"] == s.name and r["cpu_us_per_query"]}
            paired = [pa[k] / pb[k] for k in pa if k in pb]
            if paired:
                ratios[f"{a}_vs_{b}_paired"] = round(statistics.median(paired), 3)
        out[s.name]["ratios"] = ratios
    return out


def print_table(summary: dict, file=sys.stdout) -> None:
    hdr = f"{'setting':<10} {'server':<30} {'qps':>9} {'CPU us/q':>9} {'CPU%':>6} {'lost%':>6} {'lat ms':>7} {'other%':>6}"
    print(hdr, file=file)
    print("-" * len(hdr), file=file)
    for setting, per in summary.items():
        for name, m in per.items():
            if name == "ratios":
                continue
            flag = " client-bound" if m.get("client_bound") else ""
            flag += " contended" if m.get("contended") else ""
            flag += " LOSSY" if m.get("lossy") else ""
            print(
                f"{setting:<10} {LABELS.get(name, name):<30} {m['qps']:>9,.0f} "
                f"{m['cpu_us_per_query'] or 0:>9.2f} {m['server_cpu_pct'] or 0:>6.1f} "
                f"{m['lost_pct']:>6.2f} {m['latency_avg_ms'] or 0:>7.3f} "
                f"{m['server_core_other_pct'] or 0:>6.1f}{flag}",
                file=file,
            )
        r = per.get("ratios") or {}
        if r:
            print(f"{'':<10} ratios CPU/query: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items()),
                  file=file)


def bench(
    *,
    servers: list[str],
    seconds: float,
    reps: int,
    warmup: float,
    settings: list[Setting],
    names: int = 100_000,
    blocklist: int = 5_000,
    rrl: str = "on",
    bind_rrl: str = "off",
    keep: bool = False,
    settle: float = 2.0,
    continue_queries: bool = False,
    warmup_pass: bool = True,
    log=print,
) -> dict:
    """Run the whole DNS benchmark; return the result dict (also saved as JSON)."""
    if (os.cpu_count() or 1) < 2:
        log("warning: fewer than 2 CPUs: server and client cannot be pinned apart")
    try:
        os.sched_setaffinity(0, {CLIENT_CPU})  # this script (and DuckDB) stay off the server core
    except OSError:
        pass
    zone_dir = zonegen.zone_dir(OUT_DIR / "zones", names, blocklist)
    manifest = zonegen.generate(zone_dir, names, blocklist, zonegen.default_queries(names))
    queries = zone_dir / zonegen.QUERIES_FILE
    tmp = Path(tempfile.mkdtemp(prefix="takedown-dnsbench-"))
    log(f"dns_bench: zone {zone_dir} ({names:,} names), workdir {tmp}")
    targets: dict[str, Target] = {}
    errors: dict[str, str] = {}
    runs: list[dict] = []
    t_start = time.monotonic()
    try:
        for name in servers:
            try:
                if name in ("ours", "ours-pure"):
                    targets[name] = start_ours(zone_dir, tmp / name, rrl=rrl, timeout=300,
                                               pure=(name == "ours-pure"))
                else:
                    targets[name] = start_peer(name, zone_dir, tmp / name, timeout=300,
                                               rate_limit=BIND_RRL if bind_rrl == "same" else None)
                t = targets[name]
                log(f"  started {name} on 127.0.0.1:{t.port} in {t.start_seconds:.1f} s, "
                    f"pids {t.pids()}, affinity {sorted(affinity_of(t.pids()))}")
                for n in t.notes[1:]:
                    log(f"  note: {n}")
            except Exception as e:  # noqa: BLE001 - report and go on with the others
                errors[name] = str(e)
                log(f"  {name}: could not start: {str(e).splitlines()[0]}")
        active = [n for n in servers if n in targets]
        if not active:
            raise RuntimeError("no server started: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
        # Warm-up: a short run each (caches, branch predictors, first Parquet file).
        # Warm-up: one whole pass over the query file (bounded by WARMUP_PASS_LIMIT
        # seconds), so that our server's answer cache holds every query of the
        # file before measuring, as it would after minutes of real traffic; or,
        # with warmup_pass=False (the cache-cold run), `warmup` seconds.
        qf = QueryFile(queries, tmp, continue_queries)
        for name in active:
            t = targets[name]
            if warmup_pass:
                argv = dnsperf_argv(t.port, qf.for_run(t), WARMUP_PASS_LIMIT, settings[0], passes=1)
                st, _ = run_dnsperf(argv, WARMUP_PASS_LIMIT)
            else:
                st, _ = run_dnsperf(dnsperf_argv(t.port, qf.for_run(t), warmup, settings[0]), warmup)
            qf.advance(t, st["sent"])
            log(f"  warm-up {name}: {st['sent']:,} queries, {st['qps']:,.0f} qps")
        for rep in range(reps):
            for s in settings:
                for name in active:
                    t = targets[name]
                    if not t.peer.alive():
                        errors.setdefault(name, "server exited during the benchmark")
                        continue
                    rec = one_run(t, s, qf, seconds, settle)
                    rec["rep"] = rep
                    runs.append(rec)
                    extra = f", parquet rows {rec['parquet_rows']:,}" if "parquet_rows" in rec else ""
                    log(f"  rep {rep + 1}/{reps} {s.name:<9} {name:<4}: {rec['qps']:>9,.0f} qps, "
                        f"{rec['cpu_us_per_query'] or 0:6.2f} us/q, CPU {rec['server_cpu_pct'] or 0:5.1f}%, "
                        f"lost {rec['lost']}, other on core {SERVER_CPU} "
                        f"{rec.get('server_core_other_pct', 0):.1f}%{extra}")
        memory = {n: tree_memory(targets[n].pids()) for n in active}
        log_problems = {n: scan_log(targets[n]) for n in active}
    finally:
        for t in targets.values():
            try:
                t.stop()
            except Exception:  # noqa: BLE001
                pass
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    summary = summarize(runs, [n for n in servers if n in targets], settings)
    result = {
        "benchmark": "dns",
        "machine": machine_info(),
        "params": {
            "servers": servers, "seconds": seconds, "reps": reps, "warmup": warmup,
            "settle": settle, "server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU,
            "continue_queries": continue_queries, "warmup_pass": warmup_pass,
            "settings": [s.__dict__ for s in settings], "rrl": rrl, "bind_rrl": bind_rrl,
            "zone": {"dir": str(zone_dir), **manifest["counts"]},
            "query_mix": manifest["query_mix"],
        },
        "commands": {
            name: {"server": t.notes[0].removeprefix("command: "),
                   "pinned": "taskset" if name.startswith("ours") else f"sched_setaffinity(CPU {SERVER_CPU}) "
                             "on every thread after start",
                   "dnsperf": {s.name: " ".join(dnsperf_argv(t.port, queries, seconds, s))
                               for s in settings}}
            for name, t in targets.items()
        },
        "notes": {name: t.notes[1:] for name, t in targets.items() if t.notes[1:]},
        "errors": errors,
        "memory_kib_after": memory if runs else {},
        "server_log_problems": {n: v for n, v in (log_problems if runs else {}).items() if v["count"]},
        "summary": summary,
        "runs": runs,
        "elapsed_seconds": round(time.monotonic() - t_start, 1),
    }
    sat = summary.get("saturated", {})
    bar = sat.get("ratios", {}).get("ours_vs_bind")
    invalid = [f"{n} lost {sat[n]['lost_pct']:.1f}% of its queries"
               for n in ("ours", "bind") if n in sat and sat[n].get("lossy")]
    result["bar"] = {
        "ours_vs_bind_cpu_per_query": bar,
        "limit": BAR_RATIO_VS_BIND,
        "pass": (bar <= BAR_RATIO_VS_BIND) if bar is not None and not invalid else None,
        "invalid": "; ".join(invalid) or None,
    }
    return result


_PROBLEM = re.compile(r"internal error|Traceback|\bERROR\b|exception", re.IGNORECASE)


def scan_log(t: Target) -> dict:
    """Error lines in a server's own output (ours: internal errors answering)."""
    count, first = 0, None
    for p in t.peer.logs[:1]:
        try:
            with open(p, errors="replace") as f:
                for line in f:
                    if _PROBLEM.search(line):
                        count += 1
                        first = first or line.strip()[:300]
        except OSError:
            pass
    return {"count": count, "first": first}


def save(result: dict, prefix: str) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def default_settings(rate: int) -> list[Setting]:
    return [Setting("saturated"), Setting("paced", rate=rate)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--servers", default=",".join(SERVERS), help="comma list of ours,bind,nsd")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    ap.add_argument("--reps", type=int, default=5, help="repetitions of each (server, setting)")
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds of warm-up per server (default: one pass over the query file)")
    ap.add_argument("--rate", type=int, default=20_000, help="offered qps of the paced setting")
    ap.add_argument("--only", choices=("saturated", "paced"), help="run one setting only")
    ap.add_argument("--bind-rrl", choices=("same", "off"), default="off",
                    help="BIND with the same rate-limit as ours (same) or none (off, the default: the bar's run)")
    ap.add_argument("--rrl", choices=("on", "off"), default="on",
                    help="our server's RRL (on: bookkeeping on every query, limit never reached)")
    ap.add_argument("--names", type=int, default=100_000, help="zone size (names)")
    ap.add_argument("--blocklist", type=int, default=5_000, help="blocklist size (names)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 s x 2 reps, 1 s warm-up")
    ap.add_argument("--keep", action="store_true", help="keep the servers' work directories")
    ap.add_argument("--continue-queries", action="store_true",
                    help="each run starts in the query file where the server's previous run "
                         "stopped (keeps a cache-cold run cold; run.py uses it for the 3M zone)")
    a = ap.parse_args(argv)
    if a.quick:
        a.seconds, a.reps = 3.0, 2
    servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    bad = [s for s in servers if s not in SERVERS]
    if bad:
        ap.error(f"unknown server(s) {bad}; choose from {SERVERS}")
    settings = [s for s in default_settings(a.rate) if a.only in (None, s.name)]
    result = bench(servers=servers, seconds=a.seconds, reps=a.reps, warmup=a.warmup or 0.0,
                   warmup_pass=a.warmup is None,
                   settings=settings, names=a.names, blocklist=a.blocklist, rrl=a.rrl, bind_rrl=a.bind_rrl, keep=a.keep,
                   continue_queries=a.continue_queries)
    result["quick"] = a.quick
    print()
    print_table(result["summary"])
    path = save(result, "dns")
    print(f"\nraw numbers: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
