"""The operators' pages over 100M events: /numbers cold and kept, /events page 1.

The dataset is telemetry_bench's (``write_dataset``: 100M check-ins over 56
days), or an existing one (``--events-dir``: its ``events`` directory is
linked, read only, into this run's storage, e.g. console_bench's kept
dataset). The console runs as ``takedown console`` (uvicorn, one process,
loopback); the load generator is httpx here, logged in as an operator:

- ``/numbers``: the first request starts the report's computation in the
  console's worker thread; *cold* is the time from that request until a
  poll answers with the figures. Then ``--requests`` requests: the kept
  figures (*warm*).
- ``/events`` page 1: no filter, an AS filter (the AS with most events on
  the newest day), a /24 (the one with most events on the newest day);
  ``--requests`` requests each, ``--concurrency`` in flight.

Usage::

    .venv/bin/python bench/console_operator_bench.py                  # 100M events (~1.2 GB)
    .venv/bin/python bench/console_operator_bench.py --events-dir /tmp/x/data/events
    .venv/bin/python bench/console_operator_bench.py --events 5000000 --requests 20   # smoke
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

# console_bench puts src/, bench/ and tests/ on the path (run from bench/, it is importable)
from console_bench import REPO, free_port, login as _login, pct  # noqa: E402, I001
from results import dataset_options, machine, save_run, scratch  # noqa: E402
from telemetry_bench import write_dataset  # noqa: E402

PASSWORD = "bench password 2011 operator"


def newest_day_picks(events: Path) -> tuple[int, str, str]:
    """(the AS with most events on the newest day, the /24 with most events, that day)."""
    import duckdb

    from takedown.enrich.choice import make_enricher

    day = max(p.name for p in events.glob("kind=*/date=*"))
    glob = str(events / "kind=*" / day / "*.parquet")
    t = duckdb.sql(f"SELECT src_ip AS ip, count(*) AS n FROM read_parquet('{glob}') GROUP BY ALL").to_arrow_table()
    asn = make_enricher().lookup(t.column("ip").combine_chunks()).column("asn")
    counts: dict[int, int] = {}
    for a, n in zip(asn.to_pylist(), t.column("n").to_pylist()):
        if a is not None:
            counts[a] = counts.get(a, 0) + n
    nets: dict[str, int] = {}
    for ip, n in zip(t.column("ip").to_pylist(), t.column("n").to_pylist()):
        if ":" not in ip:
            net = ip.rsplit(".", 1)[0] + ".0/24"
            nets[net] = nets.get(net, 0) + n
    return max(counts, key=counts.get), max(nets, key=nets.get), day.removeprefix("date=")


def setup(directory: Path, events: Path | None) -> Path:
    """The operation (storage ``directory/data``), its operator, and the events linked in if given."""
    from console_helpers import write_operation

    from takedown.console.context import build
    from takedown.operation import load_operation

    path = write_operation(directory, "opbench")
    op = load_operation(path)
    if events is not None:
        op.storage.mkdir(parents=True, exist_ok=True)
        (op.storage / "events").symlink_to(events.resolve(), target_is_directory=True)
    build(op).store.add_user("opa", PASSWORD, role="operator", must_change=False, by="bench")
    return path


async def timed(base: str, paths: list[str], concurrency: int, expect: str) -> list[float]:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=600) as c:
        await _login(c, "opa", PASSWORD)
        gate = asyncio.Semaphore(concurrency)  # at most that many requests in flight

        async def one(path: str) -> float:
            async with gate:
                t = time.perf_counter()
                r = await c.get(path)
                took = time.perf_counter() - t
            assert r.status_code == 200 and expect in r.text, (path, r.status_code, r.text[-300:])
            return took

        return list(await asyncio.gather(*(one(p) for p in paths)))


async def numbers_cold(base: str) -> tuple[float, float]:
    """(seconds of the first answer, seconds until a poll shows the figures)."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=600) as c:
        await _login(c, "opa", PASSWORD)
        t = time.perf_counter()
        r = await c.get("/numbers")
        first = time.perf_counter() - t
        while 'id="computing"' in r.text:
            await asyncio.sleep(2)  # the page's htmx poll
            r = await c.get("/numbers", headers={"HX-Request": "true"})
        assert r.status_code == 200 and 'id="total-events"' in r.text, r.text[-500:]
        return first, time.perf_counter() - t


@contextmanager
def serving(op_path: Path):
    """``takedown console run`` on a free loopback port, stopped at the end: yields its base URL."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    server = subprocess.Popen([sys.executable, "-c", "import sys; from takedown.cli import main; sys.exit(main())",
                               "console", "run", str(op_path), "--listen", f"127.0.0.1:{port}"], env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def stats(times: list[float]) -> dict:
    return {"n": len(times), "p50": pct(times, 0.5), "p99": pct(times, 0.99), "mean": statistics.mean(times)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000_000)
    ap.add_argument("--bots", type=int, default=2_000_000)
    ap.add_argument("--events-dir", type=Path, default=None,
                    help="an existing dataset's events directory (linked, not written)")
    ap.add_argument("--requests", type=int, default=50, help="requests per page kind")
    ap.add_argument("--concurrency", type=int, default=2)
    dataset_options(ap, "the dataset")
    a = ap.parse_args(argv)
    directory = scratch(a, "console-operator")
    try:
        if a.events_dir is None:
            print(f"writing {a.events:,} events under {directory / 'data'} ...", flush=True)
            ds = write_dataset(directory / "data", a.events, a.bots, a.seed)
            events = directory / "data" / "events"
            op_path = setup(directory, None)
        else:
            events = a.events_dir
            ds = {"events": None, "days": len(list(events.glob("kind=*/date=*"))),
                  "bytes": sum(p.stat().st_size for p in events.rglob("*.parquet"))}
            op_path = setup(directory, events)
        from takedown.store.reader import count_events

        ds["events"] = count_events(events.parent)
        asn, net, day = newest_day_picks(events)
        print(f"  {ds['events']:,} events over {ds['days']} days; AS{asn} and {net}: most events on {day}", flush=True)

        with serving(op_path) as base:
            results = measure(base, asn, net, a.requests, a.concurrency)
        result = {"machine": machine(), "dataset": ds, "pages": results, "concurrency": a.concurrency,
                  "events_dir": str(a.events_dir) if a.events_dir else None}
        save_run("console-operator", result, render, "console_operator_bench.py", argv, not a.no_write)
        return 0
    finally:
        if not a.keep:
            shutil.rmtree(directory, ignore_errors=True)


def measure(base: str, asn: int, net: str, requests: int, concurrency: int) -> dict:
    results = {}
    first, cold = asyncio.run(numbers_cold(base))
    results["/numbers"] = {**stats(asyncio.run(timed(base, ["/numbers"] * requests, concurrency,
                                                        'id="total-events"'))),
                           "first_answer": first, "cold": cold}
    print(f"  /numbers: first answer {first * 1000:.0f} ms, figures after {cold:.1f} s; kept: "
          f"p50 {results['/numbers']['p50'] * 1000:.0f} ms, p99 {results['/numbers']['p99'] * 1000:.0f} ms",
          flush=True)
    for name, path in (("/events", "/events"), ("/events?asn=", f"/events?asn=AS{asn}"),
                       ("/events?cidr=", f"/events?cidr={net}")):
        times = asyncio.run(timed(base, [path] * requests, concurrency, 'rel="next"'))
        results[name] = {**stats(times), "path": path}
        print(f"  {path}: p50 {results[name]['p50'] * 1000:.0f} ms, p99 {results[name]['p99'] * 1000:.0f} ms",
              flush=True)
    t = time.perf_counter()
    asyncio.run(timed(base, [f"/events/count?asn=AS{asn}"], 1, 'id="total"'))
    results["count_asn"] = time.perf_counter() - t
    print(f"  /events/count?asn=AS{asn}: {results['count_asn']:.1f} s", flush=True)
    return results


def render(r: dict, command: str) -> str:
    m, d, p = r["machine"], r["dataset"], r["pages"]
    n = p["/numbers"]
    lines = [
        "## Console: operators' pages",
        "",
        f"Command: `{command}`; date {m['date']}; {m['nproc']} CPUs ({m['cpu']}), {m['mem_gib']} GiB, "
        f"Python {m['python']}, DuckDB {m['duckdb']}, pyarrow {m['pyarrow']}.",
        "",
        f"- dataset: {d['events']:,} check-ins over {d['days']} days, {d['bytes'] / 2**30:.2f} GiB of Parquet "
        "(bench/telemetry_bench.py's generator)",
        f"- `takedown console` (uvicorn, one process) on loopback; httpx load generator logged in as an operator, "
        f"{r['concurrency']} requests in flight",
        f"- `/numbers` cold: the first answer (\"computing\") in {n['first_answer'] * 1000:.0f} ms; the figures "
        f"(the whole `takedown report` summary, computed once in the console's worker thread) shown after "
        f"{n['cold']:.0f} s of polling",
        f"- the total of an AS filter (`/events/count`, every day read): {p['count_asn']:.1f} s",
        "",
        "| page | requests | p50 | p99 | mean |",
        "|---|---|---|---|---|",
    ]
    for name in ("/numbers", "/events", "/events?asn=", "/events?cidr="):
        x = p[name]
        label = "`/numbers` (kept figures)" if name == "/numbers" else f"`{x['path']}` (page 1)"
        lines.append(f"| {label} | {x['n']} | {x['p50'] * 1000:.0f} ms | {x['p99'] * 1000:.0f} ms | "
                     f"{x['mean'] * 1000:.0f} ms |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
