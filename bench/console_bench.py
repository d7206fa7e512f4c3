"""The partner portal under load: a partner with ~100,000 infected addresses
in scope over eight weeks of 100M check-ins.

The dataset is telemetry_bench's (``write_dataset``: Rustock's country mix,
real address allocations, cleanup over 56 days). The partner claims the
largest ASes of the dataset (by the shipped enrichment, the console's own)
until ~``--scope-ips`` infected addresses are in scope. The console runs as
``takedown console`` (uvicorn, one process, loopback); the load generator is
an asyncio + httpx client here, logged in as the partner (session cookie) or
signing API requests with the partner's key (HMAC-SHA256 of the body, as
docs/examples/console_client.py does):

- ``/my/figures`` (the weekly figures with the country/AS/family tables),
- ``/my/ips?page=N`` (N drawn over every page, 50 addresses a page),
- the API's ``ips/query`` over the eight weeks, ``page=N`` likewise.

Each is measured twice:

- *cold*: ``--cold`` requests one at a time, each after a summary file the
  page reads changed (its time touched: what a rebuilt file or the live
  day's refresh does to the console's remembered answers; the files are not
  rebuilt), so that nothing remembered from an earlier answer helps: the
  first request of a partner's visit;
- *warm*: ``--requests`` requests, ``--concurrency`` in flight, after one
  cold request: paging and reloading.

The hosts summary (:mod:`takedown.console.hosts`: day, week and span files)
is built before the timing (what the first request of each closed day pays,
reported apart). With ``--dir`` and ``--keep`` the dataset and the summary
stay on disk and a later run reuses them.

Usage::

    .venv/bin/python bench/console_bench.py                         # 100M events (~1.2 GB)
    .venv/bin/python bench/console_bench.py --dir /tmp/consolebench --keep   # reusable
    .venv/bin/python bench/console_bench.py --events 5000000 --requests 50   # smoke
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO / "tests"))  # console_helpers: the tests' operation file

from results import dataset_options, machine, save_run, scratch  # noqa: E402
from telemetry_bench import DAYS, START, write_dataset  # noqa: E402

GOALS = {"/my/figures": 1.0, "/my/ips": 0.3, "api ips/query": 0.3}  # p99, seconds (issue 16)
PASSWORD = "bench password 2011 console"
PARTNER = "ISP-BENCH"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def choose_asns(storage: Path, target: int) -> tuple[list[int], int]:
    """The largest ASes of the dataset until ``target`` distinct addresses."""
    import duckdb
    import pyarrow.compute as pc

    from takedown.enrich.choice import make_enricher

    glob = str(storage / "events" / "kind=http" / "*" / "*.parquet")
    ips = duckdb.sql(f"SELECT DISTINCT src_ip AS ip FROM read_parquet('{glob}')").to_arrow_table().column("ip")
    asn = make_enricher().lookup(ips.combine_chunks()).column("asn")
    vc = pc.value_counts(asn.drop_null()).to_pylist()
    vc.sort(key=lambda r: -r["counts"])
    chosen, total = [], 0
    for r in vc:
        if total >= target:
            break
        if total + r["counts"] > target * 1.1:
            continue  # too large: keep near the target
        chosen.append(int(r["values"]))
        total += r["counts"]
    return chosen, total


def setup(directory: Path, asns: list[int]) -> tuple[Path, str, str]:
    """The operation (its storage: ``directory/data``, the tests' operation file), the partner
    (made once: a kept directory has it already) and a new API key: (operation file, key id, secret)."""
    from console_helpers import write_operation

    from takedown.console import apikeys
    from takedown.console.context import build
    from takedown.console.store import ConsoleError
    from takedown.operation import load_operation

    path = write_operation(directory, "consolebench")
    ctx = build(load_operation(path))
    s = ctx.store
    try:
        pid = s.partner(PARTNER).id
    except ConsoleError:
        pid = s.add_partner(PARTNER, "isp", "abuse@isp.example", by="bench")
        s.add_user("isp", PASSWORD, role="partner", partner_id=pid, must_change=False, by="bench")
        for a in asns:
            s.add_claim(pid, "asn", str(a), by="bench", status="approved")
    key, secret = apikeys.create(s, ctx.secret, pid, "bench", by="bench")
    return path, key.key_id, secret


class Client:
    """One page kind's requests: ``send(client, i)`` makes the i-th request; ``files``
    and ``then``: the summary files it reads (``then``: made of ``files``)."""

    def __init__(self, name: str, send, files: list[Path], then: list[Path] = ()):
        self.name, self.send, self.files, self.then = name, send, files, then


def page_client(path_of) -> callable:
    async def send(c, i):
        return await c.get(path_of(i))
    return send


def api_client(key: str, secret: str, params_of) -> callable:
    async def send(c, i):
        body = json.dumps({"apikey": key, "timestamp": int(time.time()), "nonce": secrets.token_hex(8),
                           **params_of(i)}).encode()
        sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return await c.post("/api/ips/query", content=body,
                            headers={"Content-Type": "application/json", "HMAC2": sig})
    return send


async def login(c, username: str = "isp", password: str = PASSWORD) -> None:
    page = await c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = await c.post("/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"})
    assert r.status_code == 303, r.status_code


async def timed(c, send, i: int) -> float:
    t = time.perf_counter()
    r = await send(c, i)
    took = time.perf_counter() - t
    assert r.status_code == 200, (i, r.status_code, r.text[:200])
    return took


async def measure(base: str, send, *, cold: int, warm: int, concurrency: int, touch) -> tuple[list[float], list[float]]:
    """(cold times: each request after ``touch()`` changed the summary; warm times)."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=120) as c:
        await login(c)
        colds = []
        for i in range(cold):
            touch(i)
            colds.append(await timed(c, send, i))
        await timed(c, send, 0)  # the warm series starts from a remembered answer
        warms: list[float] = []
        todo = list(range(warm))

        async def worker():
            while todo:
                warms.append(await timed(c, send, todo.pop()))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return colds, warms


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def stats(xs: list[float]) -> dict:
    return {"n": len(xs), "p50": pct(xs, 0.5), "p99": pct(xs, 0.99), "max": max(xs), "mean": statistics.mean(xs)}


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000_000)
    ap.add_argument("--bots", type=int, default=2_000_000)
    ap.add_argument("--scope-ips", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200, help="warm requests per page kind")
    ap.add_argument("--cold", type=int, default=30, help="cold requests per page kind")
    ap.add_argument("--concurrency", type=int, default=4)
    dataset_options(ap, "the dataset")
    a = ap.parse_args(argv)
    directory = scratch(a, "console")
    storage = directory / "data"
    server = None
    try:
        made = directory / "dataset.json"
        if made.exists() and (storage / "events").is_dir():
            ds = json.loads(made.read_text())
            print(f"reusing {ds['events']:,} events under {storage}", flush=True)
        else:
            print(f"writing {a.events:,} events under {storage} ...", flush=True)
            ds = write_dataset(storage, a.events, a.bots, a.seed)
            made.write_text(json.dumps(ds, default=str))
            print(f"  {ds['events']:,} events in {ds['seconds']:.0f} s", flush=True)
        asns, in_scope = choose_asns(storage, a.scope_ips)
        print(f"  scope: {len(asns)} ASes, {in_scope:,} infected addresses", flush=True)
        port = free_port()
        op_path, key_id, secret = setup(directory, asns)

        from takedown.console import hosts
        from takedown.operation import load_operation

        op = load_operation(op_path)
        t = time.perf_counter()
        hosts.ensure(op, weeks=False)
        days_s = time.perf_counter() - t
        t = time.perf_counter()
        week_files, _live = hosts.ensure(op)
        weeks_s = time.perf_counter() - t
        t = time.perf_counter()
        span_files, _live = hosts.ensure(op, spans=True)
        spans_s = time.perf_counter() - t
        summary = storage / "console" / "hosts"
        size = {k: sum(p.stat().st_size for p in summary.glob(f"{k}=*/*.parquet")) for k in ("date", "week", "weeks")}
        print(f"  hosts summary of {ds['days']} days: days {days_s:.0f} s, {size['date'] / 2**20:.0f} MiB; "
              f"weeks {weeks_s:.0f} s, {size['week'] / 2**20:.0f} MiB; spans {spans_s:.0f} s, "
              f"{size['weeks'] / 2**20:.0f} MiB ({len(week_files)} week files, {len(span_files)} span files "
              "for the whole period)", flush=True)

        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        server = subprocess.Popen([sys.executable, "-c", "import sys; from takedown.cli import main; sys.exit(main())",
                                   "console", "run", str(op_path), "--listen", f"127.0.0.1:{port}"], env=env)
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)

        def toucher(files: list[Path], then: list[Path] = ()):
            def touch(i: int) -> None:
                # a summary file the page reads changes: every remembered answer is void; the
                # span files made of a touched week file are touched after it, so stay fresh
                os.utime(files[i % len(files)])
                for f in then:
                    os.utime(f)
            return touch

        period = {"date_from": START.isoformat(), "date_to": (START + timedelta(days=DAYS - 1)).isoformat()}
        api_files = hosts.ensure(op, START, START + timedelta(days=DAYS - 1), spans=True)[0]
        pages = max(1, -(-in_scope // 50))
        rnd = random.Random(a.seed)
        draws = [rnd.randint(1, pages) for _ in range(a.requests + a.cold + 1)]
        kinds = [
            Client("/my/figures", page_client(lambda i: "/my/figures"), week_files, span_files),
            Client("/my/ips", page_client(lambda i: f"/my/ips?page={draws[i]}"), span_files),
            Client("api ips/query", api_client(key_id, secret, lambda i: {**period, "page": draws[i], "size": 50}),
                   api_files),
        ]
        results = {}
        loads = [load_average()]
        for k in kinds:
            hosts.ensure(op, spans=True)  # the span files rebuilt (untimed) after the week files were touched
            colds, warms = asyncio.run(measure(base, k.send, cold=a.cold, warm=a.requests,
                                               concurrency=a.concurrency, touch=toucher(k.files, k.then)))
            results[k.name] = {"cold": stats(colds), "warm": stats(warms)}
            loads.append(load_average())
            c, w = results[k.name]["cold"], results[k.name]["warm"]
            print(f"  {k.name}: cold p50 {c['p50'] * 1000:.0f} ms, p99 {c['p99'] * 1000:.0f} ms ({c['n']}); "
                  f"warm p50 {w['p50'] * 1000:.0f} ms, p99 {w['p99'] * 1000:.0f} ms ({w['n']}, "
                  f"{a.concurrency} in flight); load {loads[-1]}", flush=True)
        result = {"machine": machine(), "dataset": ds, "asns": len(asns), "in_scope": in_scope,
                  "summary_days_seconds": days_s, "summary_weeks_seconds": weeks_s, "summary_spans_seconds": spans_s,
                  "summary_day_bytes": size["date"], "summary_week_bytes": size["week"],
                  "summary_span_bytes": size["weeks"], "pages": results, "concurrency": a.concurrency, "loads": loads}
        save_run("console", result, render, "console_bench.py", argv, not a.no_write)
        return 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if not a.keep:
            shutil.rmtree(directory, ignore_errors=True)


def render(r: dict, command: str) -> str:
    m, d = r["machine"], r["dataset"]
    lines = [
        "## Console: the partner portal under load",
        "",
        f"Command: `{command}`; date {m['date']}; {m['nproc']} CPUs ({m['cpu']}), {m['mem_gib']} GiB, "
        f"Python {m['python']}, DuckDB {m['duckdb']}, pyarrow {m['pyarrow']}.",
        "",
        f"- dataset: {d['events']:,} check-ins from {d['bots']:,} bots over {d['days']} days "
        "(bench/telemetry_bench.py's generator)",
        f"- the partner: {r['asns']} AS claims, {r['in_scope']:,} infected addresses in scope",
        f"- hosts summary, built before the timing: day files {r['summary_day_bytes'] / 2**20:.0f} MiB, "
        f"week files {r['summary_week_bytes'] / 2**20:.0f} MiB, span files {r['summary_span_bytes'] / 2**20:.0f} MiB "
        f"(this run: {r['summary_days_seconds']:.0f} s, {r['summary_weeks_seconds']:.0f} s and "
        f"{r['summary_spans_seconds']:.0f} s; 0 s: a kept directory had them)",
        f"- `takedown console` (uvicorn, one process) on loopback; asyncio + httpx load generator, logged in "
        f"as the partner, or signing the API's requests with the partner's key",
        f"- load average (1, 5, 15 min) before and after each page kind: {'; '.join(r['loads'])} "
        "(the 2 CPUs are shared with other work)",
        "",
        "Cold: requests one at a time, each after a summary file the page reads changed (its time touched, as a "
        "rebuilt file or the live day's refresh does), so nothing remembered helps: a partner's "
        f"first visit. Warm: after one cold request, {r['concurrency']} in flight, paging and reloading.",
        "",
        "| page | cold n | cold p50 | cold p99 | warm n | warm p50 | warm p99 | goal (p99) | |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, p in r["pages"].items():
        goal = GOALS[name]
        c, w = p["cold"], p["warm"]
        verdict = "PASS" if max(c["p99"], w["p99"]) <= goal else "FAIL"
        q = "?page=N (random N)" if name == "/my/ips" else " page=N (random N)" if name.startswith("api") else ""
        lines.append(f"| `{name}{q}` | {c['n']} | {c['p50'] * 1000:.0f} ms | {c['p99'] * 1000:.0f} ms | {w['n']} | "
                     f"{w['p50'] * 1000:.0f} ms | {w['p99'] * 1000:.0f} ms | {goal * 1000:.0f} ms | **{verdict}** |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
