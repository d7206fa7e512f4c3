"""What the HTTP sinkhole costs per connection with a real socket (issue 18).

One NetSensor (takedown.net.server, the asyncio shell) on uvloop, on
127.0.0.1, in this process; a client in another process opens one
connection per check-in, one at a time: connect, a unique check-in
(bench/net_conn_micro.py's ``unique_request`` with ``Connection: close``),
read the answer until the server closes. Prints this process's CPU time
(user + system: the event loop, the kernel's socket work, the shell and the
sans-I/O connection) per connection. Compare with net_conn_micro.py's
``unique close shell`` (the same work without a socket or a loop) to see
what the loop and the kernel cost. Loopback only; nothing else is contacted.

``--wrk SECONDS``: instead, the harness's ``close`` load on a real
``takedown serve`` (bench/http_bench.py's operation, server and wrk
command: ``wrk -t1 -c50 -H 'Connection: close'``, server pinned to CPU 1,
wrk to CPU 0), ours only, a short run for profiling, not a benchmark: the
server's CPU per connection (its process tree, as the harness counts it).
``--perf FILE`` records the server's worker with ``perf record -g``
during that run (read it with ``perf report -i FILE --sort dso,sym``).

Usage::

    PYTHONPATH=src:tests .venv/bin/python bench/net_shell_loopback.py [--n 20000]
    TAKEDOWN_PURE=1 PYTHONPATH=src:tests .venv/bin/python bench/net_shell_loopback.py
    PYTHONPATH=src:tests .venv/bin/python bench/net_shell_loopback.py --wrk 5 [--perf /tmp/close.perf]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

CLIENT = """
import socket, sys
sys.path.insert(0, {here!r})
from net_conn_micro import unique_request
port, n = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(unique_request(i, close=True))
    while s.recv(65536):
        pass
    s.close()
"""


async def serve(n: int) -> tuple[float, float]:
    from net_conn_micro import make_sensor

    op, sensor = make_sensor("loopback")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    sock.setblocking(False)
    port = sock.getsockname()[1]
    await sensor.start(asyncio.get_running_loop(), [(op.http, "127.0.0.1", port, sock)])
    client = await asyncio.create_subprocess_exec(sys.executable, "-c", CLIENT.format(here=str(HERE)),
                                                  str(port), str(n // 10))
    await client.wait()  # warm up: caches, allocator
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    client = await asyncio.create_subprocess_exec(sys.executable, "-c", CLIENT.format(here=str(HERE)),
                                                  str(port), str(n))
    await client.wait()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    await sensor.stop()
    return (r1.ru_utime - r0.ru_utime) / n * 1e6, (r1.ru_stime - r0.ru_stime) / n * 1e6


def wrk_close(seconds: float, perf: str | None, reps: int) -> None:
    """The harness's ``close`` setting against ``takedown serve``, ours only."""
    import tempfile

    import http_bench

    workdir = Path(tempfile.mkdtemp(prefix="takedown-close-"))
    t = http_bench.start_ours(workdir / "ours", pure=os.environ.get("TAKEDOWN_PURE") == "1")
    try:
        setting = http_bench.Setting("close", close=True)
        scripts = http_bench.write_lua_scripts(workdir / "wrk")
        http_bench.run_wrk(http_bench.wrk_argv(t.port, 2, setting, scripts), 2)  # warm up
        for _ in range(reps):
            recorder = None
            if perf:
                # the worker: a child of serve's parent (which only binds and supervises)
                pids = t.pids()
                worker = max((p for p in pids if _stat(p)[1] in pids), key=lambda p: _stat(p)[0])
                recorder = subprocess.Popen(["perf", "record", "-g", "-q", "-o", perf, "-p", str(worker)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rec = http_bench.one_run(t, setting, seconds, 1.5, scripts)
            if recorder is not None:
                recorder.send_signal(signal.SIGINT)
                recorder.wait()
            print(f"close: {rec['rps']:,.0f} connections/s, server CPU {rec['cpu_us_per_request']:.2f} us per "
                  f"connection ({rec['server_cpu_pct']}% of a core), other load on its core "
                  f"{rec.get('server_core_other_pct')}%, load average {os.getloadavg()[0]:.2f}")
        print(f"server: {t.command}")
    finally:
        t.stop()


def _stat(pid: int) -> tuple[int, int]:
    """(utime + stime in clock ticks, without its children; parent's pid) of one process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]), int(fields[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000, help="connections (one check-in each)")
    ap.add_argument("--wrk", type=float, metavar="SECONDS", help="the harness's close load on takedown serve")
    ap.add_argument("--reps", type=int, default=1, help="with --wrk: runs of SECONDS each")
    ap.add_argument("--perf", metavar="FILE", help="with --wrk: perf record -g the worker into FILE")
    args = ap.parse_args()
    if args.wrk:
        from takedown.accel import notice

        print(f"path: {notice()}")
        wrk_close(args.wrk, args.perf, args.reps)
        return
    import uvloop

    from takedown.accel import notice

    user, system = uvloop.run(serve(args.n))
    print(f"path: {notice()}")
    print(f"server CPU per connection (one unique check-in, Connection: close): {user + system:.1f} us "
          f"(user {user:.1f}, system {system:.1f})")


if __name__ == "__main__":
    main()
