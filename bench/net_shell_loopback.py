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

Usage::

    PYTHONPATH=src:tests .venv/bin/python bench/net_shell_loopback.py [--n 20000]
    TAKEDOWN_PURE=1 PYTHONPATH=src:tests .venv/bin/python bench/net_shell_loopback.py
"""

from __future__ import annotations

import argparse
import asyncio
import resource
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000, help="connections (one check-in each)")
    args = ap.parse_args()
    import uvloop

    from takedown.accel import notice

    user, system = uvloop.run(serve(args.n))
    print(f"path: {notice()}")
    print(f"server CPU per connection (one unique check-in, Connection: close): {user + system:.1f} us "
          f"(user {user:.1f}, system {system:.1f})")


if __name__ == "__main__":
    main()
