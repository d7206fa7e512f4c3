"""HTTP check-ins per second and server CPU per request: takedown's sinkhole vs nginx.

Both servers answer every request with the same small response (200, empty
body) on 127.0.0.1, one worker each, pinned to one core; wrk (one thread, 50
connections) runs pinned to the other core. For each run the server's CPU
time (utime+stime of its whole process tree, /proc/<pid>/stat) is read before
and after; CPU per request = CPU seconds / requests wrk counted.

- ours: ``takedown serve OPFILE --workers 1 --http 127.0.0.1:PORT``, event
  logging ON (every request is an event written to Parquet under the
  operation's storage); the Parquet rows are counted afterwards with DuckDB.
- nginx: ``nginx`` in the foreground, ``worker_processes 1``,
  ``return 200 "";``, ``access_log`` ON (combined format, to a file),
  ``keepalive_requests 1000000`` (harness.peers.start_nginx).

Four load settings, each ``wrk -t1 -c50``:

- ``keepalive``: ``GET /gate.php``, keep-alive (the bar);
- ``close``: the same with ``-H 'Connection: close'``: one TCP connection
  per request;
- ``bot``: a bot-like check-in, keep-alive: ``POST /gate.php`` with a few
  headers (User-Agent, Accept, Content-Type, Cache-Control) and a 60-byte
  form body (a wrk Lua script sets a static request: no Lua runs per request).
- ``unique``: the same check-in with a new bot id in the query and the body of
  every request (Lua per request), so that no request repeats another byte
  for byte: the sinkhole's request cache never hits and every request is
  parsed, matched and rendered (the worst case for us; nginx does not care).

After a 2 s warm-up per server, runs are interleaved (ours, nginx, ours,
nginx, ...) and repeated R times; medians are quoted. Then
bench/idle_conns.py holds 10,000 idle connections open to each server and
checks that new check-ins are still answered and logged.

Usage::

    .venv/bin/python bench/http_bench.py             # full: 10 s x 5 reps (~7 min)
    .venv/bin/python bench/http_bench.py --quick     # smoke: 3 s x 2 reps
    .venv/bin/python bench/http_bench.py --servers nginx --only keepalive,close
    .venv/bin/python bench/http_bench.py --idle 0    # skip the idle-connections test

Writes ``bench/out/http-<timestamp>.json`` with every raw number.
"""

from __future__ import annotations

import argparse
import json
import os
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
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "tests"))  # harness.peers

import dns_bench  # noqa: E402  (machine info, pinning, /proc readings)
import idle_conns  # noqa: E402

REPO = dns_bench.REPO
OUT_DIR = dns_bench.OUT_DIR
VENV_BIN = dns_bench.VENV_BIN
SERVER_CPU = dns_bench.SERVER_CPU  # core the servers are pinned to
CLIENT_CPU = dns_bench.CLIENT_CPU  # core wrk (and this script) run on
WRK_DIR = OUT_DIR / "wrk"  # the wrk Lua scripts (written by this module)

SERVERS = ("ours", "ours-pure", "nginx")
# ours-pure: the same server with TAKEDOWN_PURE=1 (the pure-Python hot paths), in the same run
LABELS = {
    "ours": "takedown (Parquet event log)",
    "ours-pure": "takedown, pure Python paths",
    "nginx": "nginx (access log on)",
}
BAR_RATIO_VS_NGINX = 1.0  # ours CPU/request <= 1.0 x nginx's, keep-alive (the bar)
PATH = "/gate.php"
# nginx holds the idle-connections test's 10,000 connections plus wrk's: one
# worker needs that many worker_connections (set for every run, so the
# instance measured is the one that holds them).
NGINX_WORKER_CONNECTIONS = 16384

# The operation file of our server (the example; [http] as the lead
# finalises it).
OPERATION_TEMPLATE = """\
# written by bench/http_bench.py
[operation]
name = "bench"
storage = "{storage}"

[service]
allow_root = true

[sinkhole]
ipv4 = ["192.0.2.53"]
ttl = 300
soa_email = "hostmaster.sinkhole.example"
nameservers = {{ "ns1.sinkhole.example" = "192.0.2.1" }}

[dns]
listen = ["127.0.0.1:{dns_port}"]

[http]
listen = ["127.0.0.1:{port}"]
response = "empty"
# As nginx in this benchmark: keepalive_requests 1000000; a connection that
# sends nothing is closed after 60 s (nginx's client_header_timeout).
requests_per_connection = 1000000
idle_timeout = 60
# The idle-connections test opens 10,000 connections from one address.
max_connections_per_source = {max_per_source}

[events]
flush_interval = {flush_interval}
"""

# The bot-like check-in (`bot` setting): a static request, so wrk builds it
# once (no Lua per request). The body looks like a bot's registration POST.
BOT_HEADERS = {
    "User-Agent": "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)",
    "Accept": "*/*",
    "Content-Type": "application/x-www-form-urlencoded",
    "Cache-Control": "no-cache",
}
BOT_BODY = "id=4F2A9C1D7E3B05A1&os=5.1.2600&ver=2.0.8.9&cpu=2&av=none&bits=32"

# done(): wrk's own summary as one JSON line (requests, errors, latency
# percentiles), parsed instead of the human-readable text.
REPORT_LUA = """\
-- written by bench/http_bench.py: prints wrk's summary as one JSON line
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, '
    .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, '
    .. '"lat_mean_us": %.1f, "lat_p50_us": %d, "lat_p90_us": %d, "lat_p99_us": %d, "lat_max_us": %d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


def _lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bot_lua() -> str:
    lines = ["-- written by bench/http_bench.py: a bot-like check-in (static request)",
             'wrk.method = "POST"', f"wrk.body = {_lua_string(BOT_BODY)}"]
    lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in BOT_HEADERS.items()]
    return "\n".join(lines) + "\n" + REPORT_LUA


def unique_lua() -> str:
    """Bot-like check-ins that all differ: a new bot id in the query and the
    body of every request (Lua per request, on wrk's core), so no request is
    a byte-for-byte repeat and every one takes the server's full parse path."""
    head = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in BOT_HEADERS.items())
    rest = BOT_BODY.split("&", 1)[1]
    return (
        "-- written by bench/http_bench.py: bot-like check-ins, every request distinct\n"
        f"local headers = {{{head}}}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        '  local id = string.format("%016X", n)\n'
        f'  return wrk.format("POST", "{PATH}?id=" .. id, headers, "id=" .. id .. "&{rest}")\n'
        "end\n" + REPORT_LUA
    )


def write_lua_scripts(directory: Path = WRK_DIR) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    out = {"report": directory / "report.lua", "bot": directory / "checkin.lua",
           "unique": directory / "unique.lua"}
    for key, text in (("report", REPORT_LUA), ("bot", bot_lua()), ("unique", unique_lua())):
        if not out[key].exists() or out[key].read_text() != text:
            out[key].write_text(text)
    return out


# --------------------------------------------------------------------------- wrk


@dataclass(frozen=True)
class Setting:
    name: str
    connections: int = 50
    close: bool = False  # -H 'Connection: close'
    bot: bool = False  # the bot-like POST (Lua script)
    unique: bool = False  # bot-like POSTs, every one distinct (no repeat for the request cache)

    def describe(self) -> str:
        what = ("bot-like POST check-ins, each with its own id (all distinct)" if self.unique
                else "bot-like POST check-in" if self.bot else f"GET {PATH}")
        return f"{what}, {'Connection: close' if self.close else 'keep-alive'}, `-t1 -c{self.connections}`"


def default_settings() -> list[Setting]:
    return [Setting("keepalive"), Setting("close", close=True), Setting("bot", bot=True),
            Setting("unique", unique=True)]


def wrk_argv(port: int, seconds: float, setting: Setting, scripts: dict[str, Path],
             path: str = PATH) -> list[str]:
    argv = ["wrk", "-t1", f"-c{setting.connections}", f"-d{seconds:g}s", "--timeout", "2s",
            "-s", str(scripts["unique" if setting.unique else "bot" if setting.bot else "report"])]
    if setting.close:
        argv += ["-H", "Connection: close"]
    argv.append(f"http://127.0.0.1:{port}{path}")
    if (os.cpu_count() or 1) > CLIENT_CPU:
        argv = ["taskset", "-c", str(CLIENT_CPU), *argv]
    return argv


def shell_join(argv: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def parse_wrk(text: str) -> dict:
    m = re.search(r"^WRKJSON (\{.*\})$", text, re.MULTILINE)
    if not m:
        raise ValueError("no WRKJSON line in wrk's output")
    j = json.loads(m.group(1))
    secs = j["duration_us"] / 1e6
    errors = {k: j[k] for k in ("connect", "read", "write", "status", "timeout")}
    return {
        "requests": j["requests"],
        "run_seconds": round(secs, 3),
        "rps": round(j["requests"] / secs, 1) if secs else 0.0,
        "bytes": j["bytes"],
        "errors": errors,
        # status: non-2xx/3xx responses; the others are socket errors
        "error_count": sum(errors.values()),
        "latency_avg_ms": round(j["lat_mean_us"] / 1000, 3),
        "latency_p50_ms": round(j["lat_p50_us"] / 1000, 3),
        "latency_p90_ms": round(j["lat_p90_us"] / 1000, 3),
        "latency_p99_ms": round(j["lat_p99_us"] / 1000, 3),
        "latency_max_ms": round(j["lat_max_us"] / 1000, 3),
    }


def run_wrk(argv: list[str], seconds: float) -> tuple[dict, str]:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, stdin=subprocess.DEVNULL)
    out = r.stdout + r.stderr
    try:
        if r.returncode != 0:
            raise ValueError(f"exit {r.returncode}")
        return parse_wrk(out), out
    except ValueError as e:
        raise RuntimeError(f"wrk failed ({' '.join(argv)}): {e}\n{out[-2000:]}") from None


# --------------------------------------------------------------------------- logs


def parquet_rows(storage: Path | None, kind: str = "http") -> int:
    """Rows of ``kind`` events in the dataset (0 while there is none)."""
    if storage is None or not list((storage / "events").glob(f"kind={kind}/**/*.parquet")):
        return 0
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        glob = str(storage / "events" / f"kind={kind}" / "**" / "*.parquet")
        return int(con.execute(
            "SELECT count(*) FROM read_parquet(?, hive_partitioning = true, union_by_name = true)", [glob]
        ).fetchone()[0])
    finally:
        con.close()


FLUSH_INTERVAL = 1.0  # [events] flush_interval of our server's operation file


def settled(count, wait: float = 0.0, limit: float = 20.0, step: float = FLUSH_INTERVAL + 0.5) -> int:
    """``count()`` once it stops growing: read after ``wait`` s, then every
    ``step`` s until two readings are equal, at most ``limit`` s. ``step``
    must exceed our server's flush interval: two readings closer than that
    can be equal while the next flush is still due."""
    time.sleep(wait)
    last = count()
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        time.sleep(step)
        now = count()
        if now == last:
            return now
        last = now
    return last


def tcp_passive_opens() -> int | None:
    """TCP connections accepted so far by the whole machine (``Tcp:
    PassiveOpens`` of /proc/net/snmp): over a run, a check that the close
    setting really opened one connection per request (a server that ignores
    ``Connection: close`` would leave wrk on its 50 keep-alive connections)."""
    try:
        lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines() if ln.startswith("Tcp:")]
        return int(lines[1][lines[0].index("PassiveOpens")])
    except (OSError, IndexError, ValueError):
        return None


def count_lines(path: Path) -> int:
    n = 0
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                n += chunk.count(b"\n")
    except FileNotFoundError:
        return 0
    return n


# --------------------------------------------------------------------------- servers


@dataclass
class Target:
    name: str  # ours | nginx
    peer: object  # harness.peers.Peer
    port: int
    workdir: Path
    storage: Path | None = None  # ours: the Parquet dataset
    access_log: Path | None = None  # nginx: its access log
    command: str = ""
    notes: list[str] = field(default_factory=list)
    start_seconds: float = 0.0
    log_lines_counted: int = 0  # nginx: lines already counted (and truncated away)

    def cpu(self) -> float:
        return self.peer.cpu_seconds()

    def pids(self) -> list[int]:
        return self.peer.pids()

    def stop(self) -> None:
        self.peer.stop()

    def logged(self) -> int:
        """Requests logged so far: Parquet rows (ours) or access-log lines (nginx)."""
        if self.storage is not None:
            return parquet_rows(self.storage, "http")
        if self.access_log is not None:
            return self.log_lines_counted + count_lines(self.access_log)
        return 0

    def settled_logged(self, wait: float = 0.0) -> int:
        if self.storage is not None:
            return settled(self.logged, wait)
        return self.logged()  # nginx writes each line before answering

    def trim_log(self) -> None:
        """nginx: count the access log's lines and empty it (nginx appends
        with O_APPEND, so truncation is safe); keeps /tmp small over a run of
        millions of requests."""
        if self.access_log is not None and self.access_log.exists():
            self.log_lines_counted += count_lines(self.access_log)
            os.truncate(self.access_log, 0)


def takedown_http_support() -> str | None:
    """None when ``takedown serve`` has ``--http``; else why not."""
    exe = VENV_BIN / "takedown"
    if not exe.exists():
        return f"{exe} not found (pip install -e . in the venv)"
    try:
        r = subprocess.run([str(exe), "serve", "--help"], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"takedown serve --help failed: {e}"
    if "--http" not in r.stdout + r.stderr:
        return "takedown serve has no --http option yet (the HTTP sinkhole has not landed)"
    return None


def write_operation(path: Path, *, storage: Path, port: int, dns_port: int, flush_interval: float = 1.0,
                    max_per_source: int = 20_000) -> None:
    path.write_text(OPERATION_TEMPLATE.format(storage=storage, port=port, dns_port=dns_port,
                                              flush_interval=flush_interval, max_per_source=max_per_source))


def start_ours(workdir: Path, *, pin_cpu: int | None = SERVER_CPU, timeout: float = 60.0,
               flush_interval: float = FLUSH_INTERVAL, pure: bool = False) -> Target:
    from harness import peers

    why = takedown_http_support()
    if why:
        raise RuntimeError(why)
    workdir.mkdir(parents=True, exist_ok=True)
    port, dns_port = peers.free_port(), peers.free_port()
    storage = workdir / "data"
    op = workdir / "operation.toml"
    write_operation(op, storage=storage, port=port, dns_port=dns_port, flush_interval=flush_interval)
    notes: list[str] = []
    try:
        from takedown.operation import load_operation

        loaded = load_operation(op)
        if getattr(loaded, "http", None) is None:
            notes.append("takedown.operation does not read [http] yet: the listen address comes from --http")
    except ImportError:
        pass
    exe = VENV_BIN / "takedown"
    argv = [str(exe), "serve", str(op), "--workers", "1", "--http", f"127.0.0.1:{port}"]
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
        status = peers.wait_http_ready("127.0.0.1", port, PATH, timeout, proc=proc)
    except Exception as e:
        peer.stop()
        raise RuntimeError(f"takedown serve --http did not answer: {e}\n{' '.join(argv)}\n"
                           f"{peer.describe_logs()}") from None
    if status != 200:
        notes.append(f"GET {PATH} answered {status}, not 200")
    notes.append(dns_bench.hot_paths_line(workdir / "takedown.stdout"))
    return Target(name, peer, port, workdir, storage=storage, command=" ".join(argv), notes=notes,
                  start_seconds=time.perf_counter() - t0)


def start_nginx(workdir: Path, *, pin_cpu: int | None = SERVER_CPU, timeout: float = 30.0,
                worker_connections: int = NGINX_WORKER_CONNECTIONS) -> Target:
    from harness import peers

    port = peers.free_port()
    t0 = time.perf_counter()
    peer = peers.start_nginx(port=port, workdir=workdir, workers=1, access_log=True, body="",
                             worker_connections=worker_connections, timeout=timeout)
    if pin_cpu is not None:
        dns_bench.pin(peer.pids(), pin_cpu)
    return Target("nginx", peer, port, peer.workdir, access_log=peer.workdir / "access.log",
                  command=" ".join(peer.proc.args), start_seconds=time.perf_counter() - t0)


def start(name: str, workdir: Path) -> Target:
    if name == "ours-pure":
        return start_ours(workdir, pure=True)
    return {"ours": start_ours, "nginx": start_nginx}[name](workdir)


def response_sample(port: int) -> str:
    """The status line and headers a check-in gets (for RESULTS.md)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return re.sub(r"(?m)^Date: [^\r\n]*", "Date: ...", head)


# --------------------------------------------------------------------------- the benchmark


def _own_cpu() -> tuple[float, float]:
    """CPU seconds of this script, and of its waited-for children (wrk)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def median(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def one_run(t: Target, setting: Setting, seconds: float, settle: float, scripts: dict[str, Path]) -> dict:
    t.trim_log()
    logged0 = t.settled_logged()
    opens0 = tcp_passive_opens()
    own0 = _own_cpu()
    cpu0, cores0, w0 = t.cpu(), dns_bench.core_times(), time.monotonic()
    argv = wrk_argv(t.port, seconds, setting, scripts)
    stats, _ = run_wrk(argv, seconds)
    w_run = time.monotonic() - w0
    opens1 = tcp_passive_opens()
    # Keep the window open until the server has written out the run's last
    # events (ours flushes every flush_interval); same wait for every server.
    time.sleep(settle)
    cpu1, cores1, w1 = t.cpu(), dns_bench.core_times(), time.monotonic()
    own1 = _own_cpu()
    cpu = cpu1 - cpu0
    done = stats["requests"]
    rec = {
        "server": t.name,
        "setting": setting.name,
        "command": shell_join(argv),
        **stats,
        "server_cpu_seconds": round(cpu, 3),
        "cpu_us_per_request": round(cpu / done * 1e6, 3) if done else None,
        "server_cpu_pct": round(100 * cpu / stats["run_seconds"], 1) if stats["run_seconds"] else None,
        "window_seconds": round(w1 - w0, 3),
        "wrk_wall_seconds": round(w_run, 3),
        "server_core": dns_bench.core_usage(cores0, cores1, SERVER_CPU),
        "client_core": dns_bench.core_usage(cores0, cores1, CLIENT_CPU),
    }
    sc = rec["server_core"]
    if sc:
        # CPU on the server's core not charged to the server: other processes
        # of the machine (and interrupts), over the same window.
        rec["server_core_other_pct"] = round(100 * max(0.0, sc["busy_seconds"] - cpu) / (w1 - w0), 1)
    cc = rec["client_core"]
    if cc:
        # The same on wrk's core: CPU not charged to wrk or to this script.
        client = (own1[0] - own0[0]) + (own1[1] - own0[1])
        rec["client_cpu_seconds"] = round(own1[1] - own0[1], 3)  # wrk's
        rec["client_core_other_pct"] = round(100 * max(0.0, cc["busy_seconds"] - client) / (w1 - w0), 1)
    rec["logged"] = t.settled_logged() - logged0
    if opens0 is not None and opens1 is not None:
        rec["tcp_connections"] = opens1 - opens0
    return rec


def summarize(runs: list[dict], servers: list[str], settings: list[Setting]) -> dict:
    out: dict = {}
    for s in settings:
        out[s.name] = {}
        for name in servers:
            rs = [r for r in runs if r["server"] == name and r["setting"] == s.name]
            if not rs:
                continue
            total = sum(r["requests"] for r in rs)
            med = {
                "runs": len(rs),
                "rps": median([r["rps"] for r in rs]),
                "cpu_us_per_request": median([r["cpu_us_per_request"] for r in rs]),
                "cpu_us_per_request_min": min(r["cpu_us_per_request"] or 0 for r in rs),
                "cpu_us_per_request_max": max(r["cpu_us_per_request"] or 0 for r in rs),
                "server_cpu_pct": median([r["server_cpu_pct"] for r in rs]),
                "latency_avg_ms": median([r["latency_avg_ms"] for r in rs]),
                "latency_p99_ms": median([r["latency_p99_ms"] for r in rs]),
                "server_core_other_pct": median([r.get("server_core_other_pct") for r in rs]),
                "client_core_other_pct": median([r.get("client_core_other_pct") for r in rs]),
                "client_cpu_pct": median([100 * r["client_cpu_seconds"] / r["run_seconds"]
                                          for r in rs if r.get("client_cpu_seconds") is not None
                                          and r["run_seconds"]]),
                "requests_total": total,
                "errors_total": sum(r["error_count"] for r in rs),
                "errors_by_kind": {k: sum(r["errors"][k] for r in rs) for k in rs[0]["errors"]},
                "logged_total": sum(r["logged"] for r in rs),
                # wrk stops at its deadline and does not count the responses
                # still in flight then (at most one per connection); the
                # server has answered and logged them.
                "in_flight_bound": sum(r.get("connections", s.connections) for r in rs),
            }
            if all("tcp_connections" in r for r in rs) and total:
                # machine-wide accepted connections per request wrk counted
                med["connections_per_request"] = round(sum(r["tcp_connections"] for r in rs) / total, 4)
            med["error_pct"] = round(100 * med["errors_total"] / max(1, total + med["errors_total"]), 3)
            if med["server_cpu_pct"] is not None:
                other = med["server_core_other_pct"] or 0.0
                if med["server_cpu_pct"] + other < 90:
                    med["client_bound"] = True
            if (med["server_core_other_pct"] or 0.0) > 10:
                med["contended"] = True
            if (med["client_core_other_pct"] or 0.0) > 10:
                med["client_contended"] = True
            if med["error_pct"] > 1.0:
                med["erroneous"] = True  # failed or non-2xx requests: figures not valid
            out[s.name][name] = med
        ratios = {}
        cq = {n: v["cpu_us_per_request"] for n, v in out[s.name].items()}
        for a in ("ours", "ours-pure"):
            if not (cq.get(a) and cq.get("nginx")):
                continue
            ratios[f"{a}_vs_nginx"] = round(cq[a] / cq["nginx"], 3)
            pa = {r["rep"]: r["cpu_us_per_request"] for r in runs
                  if r["server"] == a and r["setting"] == s.name and r["cpu_us_per_request"]}
            pb = {r["rep"]: r["cpu_us_per_request"] for r in runs
                  if r["server"] == "nginx" and r["setting"] == s.name and r["cpu_us_per_request"]}
            paired = [pa[k] / pb[k] for k in pa if k in pb]
            if paired:
                ratios[f"{a}_vs_nginx_paired"] = round(statistics.median(paired), 3)
        out[s.name]["ratios"] = ratios
    return out


def print_table(summary: dict, file=sys.stdout) -> None:
    hdr = (f"{'setting':<10} {'server':<29} {'req/s':>9} {'CPU us/req':>10} {'CPU%':>6} {'err%':>6} "
           f"{'lat ms':>7} {'other%':>6} {'logged/answered':>22}")
    print(hdr, file=file)
    print("-" * len(hdr), file=file)
    for setting, per in summary.items():
        for name, m in per.items():
            if name == "ratios":
                continue
            flag = " client-bound" if m.get("client_bound") else ""
            flag += " contended" if m.get("contended") else ""
            flag += " client-contended" if m.get("client_contended") else ""
            flag += " ERRORS" if m.get("erroneous") else ""
            la = f"{m['logged_total']:,}/{m['requests_total']:,}"
            print(f"{setting:<10} {LABELS.get(name, name):<29} {m['rps']:>9,.0f} "
                  f"{m['cpu_us_per_request'] or 0:>10.2f} {m['server_cpu_pct'] or 0:>6.1f} "
                  f"{m['error_pct']:>6.2f} {m['latency_avg_ms'] or 0:>7.3f} "
                  f"{m['server_core_other_pct'] or 0:>6.1f} {la:>22}{flag}", file=file)
        r = per.get("ratios") or {}
        if r:
            print(f"{'':<10} ratios CPU/request: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items()), file=file)


def machine_info() -> dict:
    m = dns_bench.machine_info()
    nginx = dns_bench._program("nginx")
    nginx_v = re.search(r"nginx/(\S+)", dns_bench._cmd_out([nginx, "-v"])) if nginx else None
    m["nginx"] = nginx_v.group(1) if nginx_v else "?"
    wrk_v = re.search(r"wrk (?:debian/)?(\S+)", dns_bench._cmd_out(["wrk", "-v"]))
    m["wrk"] = wrk_v.group(1) if wrk_v else "?"
    try:
        import httptools

        m["httptools"] = httptools.__version__
    except Exception:  # noqa: BLE001 - informational only
        m["httptools"] = "?"
    return m


def bench(
    *,
    servers: list[str],
    seconds: float,
    reps: int,
    settings: list[Setting],
    warmup: float = 2.0,
    settle: float = 2.0,
    idle: int = 10_000,
    idle_checkins: int = 1_000,
    idle_wrk_seconds: float = 3.0,
    keep: bool = False,
    log=print,
) -> dict:
    """Run the whole HTTP benchmark (and the idle-connections test); return
    the result dict (``save`` writes it as JSON)."""
    if (os.cpu_count() or 1) < 2:
        log("warning: fewer than 2 CPUs: server and client cannot be pinned apart")
    try:
        os.sched_setaffinity(0, {CLIENT_CPU})  # this script (and DuckDB) stay off the server core
    except OSError:
        pass
    scripts = write_lua_scripts()
    tmp = Path(tempfile.mkdtemp(prefix="takedown-httpbench-"))
    log(f"http_bench: workdir {tmp}")
    targets: dict[str, Target] = {}
    errors: dict[str, str] = {}
    runs: list[dict] = []
    idle_results: dict[str, dict] = {}
    responses: dict[str, str] = {}
    t_start = time.monotonic()
    try:
        for name in servers:
            try:
                targets[name] = t = start(name, tmp / name)
                responses[name] = response_sample(t.port)
                log(f"  started {name} on 127.0.0.1:{t.port} in {t.start_seconds:.1f} s, pids {t.pids()}, "
                    f"affinity {sorted(dns_bench.affinity_of(t.pids()))}")
                for n in t.notes:
                    log(f"  note: {n}")
            except Exception as e:  # noqa: BLE001 - report and go on with the others
                errors[name] = str(e)
                log(f"  {name}: could not start: {str(e).splitlines()[0]}")
        active = [n for n in servers if n in targets]
        if not active:
            raise RuntimeError("no server started: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
        for name in active:
            t = targets[name]
            st, _ = run_wrk(wrk_argv(t.port, warmup, settings[0], scripts), warmup)
            log(f"  warm-up {name}: {st['requests']:,} requests, {st['rps']:,.0f} req/s")
        for rep in range(reps):
            for s in settings:
                for name in active:
                    t = targets[name]
                    if not t.peer.alive():
                        errors.setdefault(name, "server exited during the benchmark")
                        continue
                    rec = one_run(t, s, seconds, settle, scripts)
                    rec["rep"] = rep
                    rec["connections"] = s.connections
                    runs.append(rec)
                    log(f"  rep {rep + 1}/{reps} {s.name:<9} {name:<5}: {rec['rps']:>9,.0f} req/s, "
                        f"{rec['cpu_us_per_request'] or 0:6.2f} us/req, CPU {rec['server_cpu_pct'] or 0:5.1f}%, "
                        f"errors {rec['error_count']}, other on core {SERVER_CPU} "
                        f"{rec.get('server_core_other_pct', 0):.1f}%, logged {rec['logged']:,}")
        memory = {n: dns_bench.tree_memory(targets[n].pids()) for n in active}
        if idle:
            for name in active:
                t = targets[name]
                if not t.peer.alive():
                    continue
                t.trim_log()
                log(f"  idle connections: {name}: {idle:,} idle, {idle_checkins:,} check-ins")
                try:
                    idle_results[name] = idle_conns.measure(
                        "127.0.0.1", t.port, idle=idle, checkins=idle_checkins,
                        count_logged=t.settled_logged, server_pids=t.pids,
                        wrk_seconds=idle_wrk_seconds, wrk_script=scripts["report"], log=log)
                except Exception as e:  # noqa: BLE001 - reported
                    idle_results[name] = {"error": str(e)}
                    log(f"  idle connections: {name} failed: {e}")
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
        "benchmark": "http",
        "machine": machine_info(),
        "params": {
            "servers": servers, "seconds": seconds, "reps": reps, "warmup": warmup, "settle": settle,
            "server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU, "path": PATH,
            "settings": [s.__dict__ | {"describe": s.describe()} for s in settings],
            "bot_request": {"method": "POST", "headers": BOT_HEADERS, "body": BOT_BODY},
            "nginx_worker_connections": NGINX_WORKER_CONNECTIONS,
            "idle": idle, "idle_checkins": idle_checkins, "idle_wrk_seconds": idle_wrk_seconds,
        },
        "commands": {
            name: {"server": t.command,
                   "pinned": "taskset" if name.startswith("ours") else f"sched_setaffinity(CPU {SERVER_CPU}) "
                             "on every thread after start",
                   "wrk": {s.name: shell_join(wrk_argv(t.port, seconds, s, scripts)) for s in settings}}
            for name, t in targets.items()
        },
        "responses": responses,
        "notes": {name: t.notes for name, t in targets.items() if t.notes},
        "errors": errors,
        "memory_kib_after": memory if runs else {},
        "server_log_problems": {n: v for n, v in (log_problems if runs else {}).items() if v["count"]},
        "summary": summary,
        "runs": runs,
        "idle": idle_results,
    }
    ka = summary.get("keepalive", {})
    bar = ka.get("ratios", {}).get("ours_vs_nginx")
    invalid = [f"{n} failed {ka[n]['error_pct']:.1f}% of its requests"
               for n in ("ours", "nginx") if n in ka and ka[n].get("erroneous")]
    result["bar"] = {
        "ours_vs_nginx_cpu_per_request": bar,
        "close_ratio": summary.get("close", {}).get("ratios", {}).get("ours_vs_nginx"),
        "limit": BAR_RATIO_VS_NGINX,
        "pass": (bar <= BAR_RATIO_VS_NGINX) if bar is not None and not invalid else None,
        "invalid": "; ".join(invalid) or None,
    }
    ours_idle = idle_results.get("ours")
    result["idle_bar"] = {
        "pass": (None if not ours_idle or "error" in ours_idle and "ok" not in ours_idle
                 else bool(ours_idle.get("ok"))),
    }
    result["elapsed_seconds"] = round(time.monotonic() - t_start, 1)
    return result


_PROBLEM = re.compile(r"internal error|Traceback|\bERROR\b|exception|\[(crit|alert|emerg)\]", re.IGNORECASE)


def scan_log(t: Target) -> dict:
    """Error lines in a server's own output (ours: stdout; nginx: error.log)."""
    count, first = 0, None
    for p in t.peer.logs:
        try:
            with open(p, errors="replace") as f:
                for line in f:
                    if _PROBLEM.search(line):
                        count += 1
                        first = first or line.strip()[:300]
        except OSError:
            pass
    return {"count": count, "first": first}


def save(result: dict, prefix: str = "http") -> Path:
    return dns_bench.save(result, prefix)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--servers", default=",".join(SERVERS), help="comma list of ours,nginx")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    ap.add_argument("--reps", type=int, default=5, help="repetitions of each (server, setting)")
    ap.add_argument("--only", default=None, help="comma list of settings: keepalive,close,bot,unique")
    ap.add_argument("--idle", type=int, default=10_000, help="idle connections to hold (0: skip that test)")
    ap.add_argument("--checkins", type=int, default=1_000, help="check-ins while the idle connections are held")
    ap.add_argument("--quick", action="store_true", help="smoke run: 3 s x 2 reps, 2,000 idle connections")
    ap.add_argument("--keep", action="store_true", help="keep the servers' work directories")
    a = ap.parse_args(argv)
    if a.quick:
        a.seconds, a.reps = 3.0, 2
        a.idle = min(a.idle, 2_000)
        a.checkins = min(a.checkins, 200)
    servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    bad = [s for s in servers if s not in SERVERS]
    if bad:
        ap.error(f"unknown server(s) {bad}; choose from {SERVERS}")
    settings = default_settings()
    if a.only:
        want = {x.strip() for x in a.only.split(",")}
        settings = [s for s in settings if s.name in want]
        if not settings:
            ap.error("--only: choose from keepalive, close, bot, unique")
    result = bench(servers=servers, seconds=a.seconds, reps=a.reps, settings=settings, idle=a.idle,
                   idle_checkins=a.checkins, keep=a.keep)
    result["quick"] = a.quick
    print()
    print_table(result["summary"])
    for name, r in result["idle"].items():
        print(idle_conns.summary_line(name, r))
    path = save(result)
    print(f"\nraw numbers: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
