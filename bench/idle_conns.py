"""10,000 idle connections held open must not stop new check-ins.

Opens N TCP connections to an HTTP server on loopback (non-blocking
connects, in batches of at most ``batch``, each batch waited for) and holds
them open without sending a byte. While they are held:

1. the server's CPU is sampled for a quiet second (an idle connection should
   cost nothing while idle), and its open descriptors are counted (did it
   accept them all, or are they waiting in the listen queue?);
2. C check-ins are made one after the other, each on a new connection (a
   bot-like ``POST /gate.php`` with ``Connection: close``): every one must get
   a complete ``200`` response within 5 s; latency = connect to last byte;
3. optionally a short wrk burst (keep-alive, ``-t1 -c50``) measures requests/s
   with the idle connections still held;
4. the requests the server logged are counted (a callable: Parquet rows for
   takedown, access-log lines for nginx) and compared with those answered;
5. the idle connections are checked: how many the server closed meanwhile.

The function :func:`measure` does this against any ``host:port`` (a pytest
test can call it with small numbers); :func:`run` starts the server first
(takedown or nginx, via bench/http_bench.py) and stops it afterwards.

Usage::

    .venv/bin/python bench/idle_conns.py --server nginx             # 10,000 idle, 1,000 check-ins
    .venv/bin/python bench/idle_conns.py --server ours --idle 2000 --checkins 100
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent

CHECKIN_TIMEOUT = 5.0  # seconds for one check-in (connect to last byte)
CHECKIN_BODY = b"id=4F2A9C1D7E3B05A1&os=5.1.2600&ver=2.0.8.9&cpu=2&av=none&bits=32"


def raise_nofile(needed: int) -> tuple[int, int]:
    """Raise this process's RLIMIT_NOFILE soft limit to at least ``needed``
    (and the hard limit too when allowed, i.e. as root); return the new
    (soft, hard). Children started afterwards inherit it: start the server
    under test before calling this, so that it runs with its own limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft, hard
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return needed, needed
        except (ValueError, OSError):
            raise RuntimeError(f"RLIMIT_NOFILE hard limit {hard} < {needed} needed, and cannot raise it") from None
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed, hard


def open_idle(host: str, port: int, n: int, *, batch: int = 500, timeout: float = 15.0,
              deadline: float | None = None) -> tuple[list[socket.socket], dict]:
    """Open ``n`` TCP connections (in batches of ``batch`` concurrent
    non-blocking connects, each batch waited for, at most ``timeout`` s);
    return the connected sockets and what happened."""
    held: list[socket.socket] = []
    failed: dict[str, int] = {}
    t0 = time.monotonic()
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    sel = selectors.DefaultSelector()
    try:
        while len(held) < n:
            if deadline is not None and time.monotonic() > deadline:
                failed["overall deadline"] = failed.get("overall deadline", 0) + n - len(held)
                break
            if sum(failed.values()) > max(100, n // 10):
                break  # the server refuses: no point hammering it
            pending = []
            for _ in range(min(batch, n - len(held))):
                s = socket.socket(fam, socket.SOCK_STREAM)
                s.setblocking(False)
                err = s.connect_ex((host, port))
                if err not in (0, errno.EINPROGRESS):
                    name = errno.errorcode.get(err, str(err))
                    failed[name] = failed.get(name, 0) + 1
                    s.close()
                    continue
                pending.append(s)
                sel.register(s, selectors.EVENT_WRITE)
            end = time.monotonic() + timeout
            while pending and time.monotonic() < end:
                for key, _ in sel.select(timeout=max(0.0, end - time.monotonic())):
                    s = key.fileobj
                    sel.unregister(s)
                    pending.remove(s)
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        name = errno.errorcode.get(err, str(err))
                        failed[name] = failed.get(name, 0) + 1
                        s.close()
                    else:
                        held.append(s)
            for s in pending:  # not connected in time
                sel.unregister(s)
                s.close()
                failed["connect timeout"] = failed.get("connect timeout", 0) + 1
    finally:
        sel.close()
    return held, {"opened": len(held), "failed": failed, "seconds": round(time.monotonic() - t0, 3)}


def closed_by_server(socks: list[socket.socket]) -> int:
    """How many of the held sockets the server has closed (or reset) or sent
    something on: readable (EOF, RST or data) while we sent nothing."""
    n = 0
    sel = selectors.DefaultSelector()
    try:
        for i in range(0, len(socks), 1000):
            chunk = socks[i:i + 1000]
            for s in chunk:
                sel.register(s, selectors.EVENT_READ)
            n += len(sel.select(timeout=0))
            for s in chunk:
                sel.unregister(s)
    finally:
        sel.close()
    return n


def checkin_request(host: str, port: int, path: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)\r\n"
        "Accept: */*\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Cache-Control: no-cache\r\n"
        f"Content-Length: {len(CHECKIN_BODY)}\r\n"
        "Connection: close\r\n"
        "\r\n"
    ).encode() + CHECKIN_BODY


def _complete(data: bytes) -> bool:
    """A whole response is in: headers and Content-Length bytes of body."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(body) >= int(v.strip() or b"0")
    return False  # no length: read until the server closes


def one_checkin(host: str, port: int, request: bytes, timeout: float = CHECKIN_TIMEOUT) -> tuple[int | None, float, str]:
    """One check-in on a new connection; (status or None, seconds, error)."""
    t0 = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(max(0.01, timeout - (time.perf_counter() - t0)))
            s.sendall(request)
            data = b""
            while not _complete(data):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if time.perf_counter() - t0 > timeout:
                    raise TimeoutError("timed out")
    except OSError as e:  # includes timeouts
        return None, time.perf_counter() - t0, type(e).__name__
    dt = time.perf_counter() - t0
    parts = data.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/1.") and parts[1].isdigit():
        return int(parts[1]), dt, ""
    return None, dt, f"bad response {data[:40]!r}"


def _fd_count(pids: list[int]) -> dict:
    total = sockets = 0
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        total += len(fds)
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    sockets += 1
            except OSError:
                pass
    return {"fds": total, "sockets": sockets}


def _nofile_limit(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                v = line.split()[3]
                return None if v == "unlimited" else int(v)
    except (OSError, IndexError, ValueError):
        pass
    return None


def _cpu(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    t = 0
    for pid in pids:
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        f = raw[raw.rfind(")") + 2:].split()
        t += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return t / tick


def _rss_kib(pids: list[int]) -> int:
    rss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
        except OSError:
            pass
    return rss


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def measure(
    host: str,
    port: int,
    *,
    idle: int = 10_000,
    checkins: int = 1_000,
    batch: int = 500,
    path: str = "/gate.php",
    count_logged: Callable[[], int] | None = None,
    server_pids: Callable[[], list[int]] | None = None,
    wrk_seconds: float = 0.0,
    wrk_script: Path | None = None,
    client_cpu: int | None = 0,
    time_limit: float = 120.0,
    log: Callable[[str], None] = lambda s: None,
) -> dict:
    """Hold ``idle`` idle connections to ``host:port`` and make ``checkins``
    check-ins meanwhile; return the figures. ``result["ok"]`` is True when
    all idle connections were opened and stayed open, and every check-in was
    answered 200 (and, with ``count_logged``, logged).

    ``count_logged()``: requests the server has logged so far (called before
    and after; should wait until the count settles). ``server_pids()``: the
    server's processes (CPU, descriptors, memory). ``wrk_seconds`` > 0 adds a
    wrk burst (keep-alive, ``-t1 -c50``, pinned to ``client_cpu``;
    ``wrk_script`` prints its summary, see http_bench.REPORT_LUA). Everything
    is bounded: connects by ``time_limit``, each check-in by 5 s."""
    if not host.startswith("127.") and host != "::1":
        raise ValueError(f"{host}: loopback only")
    t_start = time.monotonic()
    deadline = t_start + time_limit
    pids = server_pids or (lambda: [])
    res: dict = {"host": host, "port": port, "idle_wanted": idle, "checkins_wanted": checkins}
    res["client_nofile"] = raise_nofile(idle + 1024)
    p0 = pids()
    if p0:
        res["server_nofile_limit"] = _nofile_limit(p0[0])
        res["server_fds_before"] = _fd_count(p0)
        res["server_rss_kib_before"] = _rss_kib(p0)
    logged0 = count_logged() if count_logged else None
    held: list[socket.socket] = []
    try:
        held, opened = open_idle(host, port, idle, batch=batch, deadline=deadline)
        res["open"] = opened
        log(f"    opened {opened['opened']:,}/{idle:,} idle connections in {opened['seconds']:.1f} s"
            + (f", failures {opened['failed']}" if opened["failed"] else ""))
        # Give the server a moment to accept what is queued, then look at it.
        t_acc = time.monotonic()
        while p0 and time.monotonic() - t_acc < 10:
            fds = _fd_count(pids())
            if fds["sockets"] >= res["server_fds_before"]["sockets"] + len(held):
                break
            time.sleep(0.1)
        if p0:
            res["accept_wait_seconds"] = round(time.monotonic() - t_acc, 2)
            p = pids()
            res["server_fds_held"] = _fd_count(p)
            res["server_accepted"] = res["server_fds_held"]["sockets"] - res["server_fds_before"]["sockets"]
            c0 = _cpu(p)
            time.sleep(1.0)
            res["server_cpu_pct_while_idle"] = round(100 * (_cpu(pids()) - c0) / 1.0, 1)
            rss = _rss_kib(pids())
            res["server_rss_kib_held"] = rss
            if held:
                res["server_kib_per_idle_conn"] = round((rss - res["server_rss_kib_before"]) / len(held), 2)
        # Check-ins on new connections, one after the other.
        req = checkin_request(host, port, path)
        lat, statuses, errs = [], {}, {}
        t_ci = time.monotonic()
        for _ in range(checkins):
            if time.monotonic() > deadline:
                errs["time limit"] = errs.get("time limit", 0) + 1
                break
            status, dt, err = one_checkin(host, port, req)
            if status is None:
                errs[err] = errs.get(err, 0) + 1
            else:
                statuses[status] = statuses.get(status, 0) + 1
                lat.append(dt)
        answered = statuses.get(200, 0)
        res["checkins"] = {
            "made": sum(statuses.values()) + sum(errs.values()),
            "answered_200": answered,
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "errors": errs,
            "seconds": round(time.monotonic() - t_ci, 3),
            "latency_ms": ({
                "p50": round(1000 * _pct(lat, 0.50), 3),
                "p90": round(1000 * _pct(lat, 0.90), 3),
                "p99": round(1000 * _pct(lat, 0.99), 3),
                "max": round(1000 * max(lat), 3),
                "mean": round(1000 * statistics.fmean(lat), 3),
            } if lat else None),
        }
        ci = res["checkins"]
        log(f"    check-ins: {answered:,}/{checkins:,} answered 200 in {ci['seconds']:.1f} s"
            + (f", latency p50 {ci['latency_ms']['p50']:.2f} ms, p99 {ci['latency_ms']['p99']:.2f} ms, "
               f"max {ci['latency_ms']['max']:.2f} ms" if lat else "")
            + (f", errors {errs}" if errs else ""))
        wrk_answered = 0
        if wrk_seconds > 0 and time.monotonic() + wrk_seconds < deadline:
            argv = ["wrk", "-t1", "-c50", f"-d{wrk_seconds:g}s", "--timeout", "2s"]
            if wrk_script:
                argv += ["-s", str(wrk_script)]
            argv.append(f"http://{host}:{port}{path}")
            if client_cpu is not None and (os.cpu_count() or 1) > client_cpu:
                argv = ["taskset", "-c", str(client_cpu), *argv]
            c0 = _cpu(pids()) if p0 else None
            r = subprocess.run(argv, capture_output=True, text=True, timeout=wrk_seconds + 30,
                               stdin=subprocess.DEVNULL)
            c1 = _cpu(pids()) if p0 else None
            res["wrk"] = {"command": " ".join(argv), "exit": r.returncode}
            try:
                sys.path.insert(0, str(BENCH_DIR))
                import http_bench

                st = http_bench.parse_wrk(r.stdout)
                res["wrk"].update(st)
                wrk_answered = st["requests"]
                if c0 is not None and st["requests"]:
                    res["wrk"]["server_cpu_us_per_request"] = round((c1 - c0) / st["requests"] * 1e6, 3)
                log(f"    wrk burst with the idle connections held: {st['rps']:,.0f} req/s, "
                    f"{st['error_count']} errors")
            except (ValueError, ImportError) as e:
                res["wrk"]["error"] = f"{e}: {(r.stdout + r.stderr)[-500:]}"
        # Logged?
        if count_logged:
            logged = count_logged() - logged0
            expected = answered + wrk_answered
            res["logging"] = {
                "logged": logged,
                "answered": expected,
                # wrk does not count the responses still in flight at its end
                # (at most one per connection), which the server logged.
                "all_logged": logged >= expected and (logged - expected) <= (50 if wrk_answered else 0),
            }
            log(f"    logged {logged:,} of {expected:,} answered")
        res["idle_closed_by_server"] = closed_by_server(held)
        res["idle_still_open"] = len(held) - res["idle_closed_by_server"]
        if p0:
            res["server_fds_after"] = _fd_count(pids())
    finally:
        for s in held:
            s.close()
    res["seconds"] = round(time.monotonic() - t_start, 1)
    ok = (res["open"]["opened"] == idle and res["idle_still_open"] == idle
          and res["checkins"]["answered_200"] == checkins)
    if p0 and "server_accepted" in res:
        ok = ok and res["server_accepted"] >= idle
    if "logging" in res:
        ok = ok and res["logging"]["all_logged"]
    if "wrk" in res:
        ok = ok and res["wrk"].get("error_count", 1) == 0
    res["ok"] = ok
    log(f"    idle connections still open: {res['idle_still_open']:,}/{idle:,}; "
        f"{'OK' if ok else 'NOT OK'} ({res['seconds']:.0f} s)")
    return res


def summary_line(name: str, r: dict) -> str:
    if "error" in r and "checkins" not in r:
        return f"idle {name}: failed: {r['error'].splitlines()[0]}"
    ci = r["checkins"]
    lat = ci["latency_ms"] or {}
    lg = r.get("logging")
    w = r.get("wrk") or {}
    return (f"idle {name}: {r['open']['opened']:,}/{r['idle_wanted']:,} held "
            f"({r.get('server_accepted', '?')} accepted, {r['idle_still_open']:,} still open at the end); "
            f"check-ins {ci['answered_200']:,}/{r['checkins_wanted']:,} answered, "
            f"p50 {lat.get('p50', 0):.2f} ms p99 {lat.get('p99', 0):.2f} ms max {lat.get('max', 0):.2f} ms"
            + (f"; logged {lg['logged']:,}/{lg['answered']:,}" if lg else "")
            + (f"; wrk {w['rps']:,.0f} req/s" if "rps" in w else "")
            + f" -> {'OK' if r['ok'] else 'NOT OK'}")


def run(server: str = "nginx", *, idle: int = 10_000, checkins: int = 1_000, wrk_seconds: float = 3.0,
        workdir: Path | None = None, log: Callable[[str], None] = print) -> dict:
    """Start ``server`` ("ours" or "nginx", pinned to the server core as in
    bench/http_bench.py), run :func:`measure` against it, stop it."""
    import shutil
    import tempfile

    sys.path.insert(0, str(BENCH_DIR))
    import http_bench

    try:
        os.sched_setaffinity(0, {http_bench.CLIENT_CPU})
    except OSError:
        pass
    tmp = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="takedown-idle-"))
    t = http_bench.start(server, tmp / server)
    try:
        scripts = http_bench.write_lua_scripts()
        log(f"idle_conns: {server} on 127.0.0.1:{t.port} ({t.command})")
        r = measure("127.0.0.1", t.port, idle=idle, checkins=checkins, count_logged=t.settled_logged,
                    server_pids=t.pids, wrk_seconds=wrk_seconds, wrk_script=scripts["report"], log=log)
        r["server"] = server
        r["command"] = t.command
        return r
    finally:
        t.stop()
        if not workdir:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", choices=("ours", "nginx"), default="nginx")
    ap.add_argument("--idle", type=int, default=10_000)
    ap.add_argument("--checkins", type=int, default=1_000)
    ap.add_argument("--wrk-seconds", type=float, default=3.0, help="wrk burst while held (0: none)")
    ap.add_argument("--json", action="store_true", help="print the whole result as JSON")
    a = ap.parse_args(argv)
    r = run(a.server, idle=a.idle, checkins=a.checkins, wrk_seconds=a.wrk_seconds)
    if a.json:
        print(json.dumps(r, indent=2))
    print(summary_line(a.server, r))
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
