"""``takedown demo`` (``make run``): an emulated takedown, end to end, on loopback.

1. Writes a demo operation into ``out/``: seized ZeuS C&C names, the
   ``3322.org`` zone taken over (its blocklisted names are Mirai CNC names,
   its thousands of other names keep their real answers), Conficker's and
   Locky's DGAs sunk as their names come due, and fingerprint rules that attribute a
   check-in by the sinkholed name it reached; HTTP, TLS and raw TCP
   listeners in range mode, trusting only loopback; and the court case it
   carries out (``[case]``), which authorises the ZeuS stop command from week 5.
2. Starts ``takedown serve`` on free loopback high ports.
3. Runs the range (:mod:`takedown.range.run`): by default 50,000 bots with
   the country mix of Rustock's first week, over the eight full ISO weeks
   before the current one, with progress bars.
4. While the sinkhole still serves, the C&C tracker takes what the
   operation holds, tracks eight emulated C&C servers on loopback and
   checks them and a sample of the held names through the sinkhole's DNS
   (:func:`takedown.range.tracking.hold_and_check`).
5. Stops the sinkhole (it flushes its events), builds the report of
   ``takedown report`` for the emulated period, marks the tracked names
   the bots asked for and writes every tracker export and its statistics
   into ``out/tracker/`` (:func:`takedown.range.tracking.publish`).
   ``takedown demo`` prints the report's summary, the tracker's line, then
   every count that differs from the range's truth and the line
   ``differences from truth: N``.
6. The case (:mod:`takedown.range.democase`): the operation's ``[case]``
   checked (``takedown case check``), its appendix written into
   ``out/case/appendix/``, the seizure verified against a loopback parent
   (:mod:`takedown.range.parent`; the ``.ru`` names are still "not yet"
   delegated to the sinkhole: information, not failure), the closed event
   days compacted and the storage sealed into the evidence chain and verified.
7. Then (unless ``--no-console``) it serves the web console on loopback on
   the demo's data, with an operator and two partners' users whose
   one-time passwords it prints (:mod:`takedown.range.democonsole`), until
   Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from takedown.analytics.report import build_report
from takedown.dga import registry
from takedown.enrich.choice import for_operation
from takedown.errors import RangeError
from takedown.lists import display_path
from takedown.operation import Operation, load_operation
from takedown.range import cnc, compare, democase, tracking
from takedown.range.run import FAMILY_MIX, MAX_DAYS, RangeResult, bound, check_seed, run_range

#: Marks a directory as the demo's own, so a rerun may wipe it.
MARKER = ".takedown-demo"
ZEUS_NAMES = 40
ZONE_NAMES = 3000
MIRAI_NAMES = 24
#: DGA families the demo operation sinks (each with bots in the range).
DGA_FAMILIES = ("conficker", "locky")


@dataclass(frozen=True)
class DemoResult:
    range: RangeResult
    summary: dict
    differences: list[str]
    report: Path
    timings: dict
    tracker: tracking.Figures | None  # None: run without the tracker
    operation: Operation | None = None  # the demo operation (its storage holds the events)
    case: democase.CaseFigures | None = None  # the case's steps after the report


def check_args(weeks: int, seed: int) -> None:
    """The demo's numbers, checked before anything starts."""
    if not 1 <= weeks <= MAX_DAYS // 7:
        raise RangeError(f"--weeks must be between 1 and {MAX_DAYS // 7}, got {weeks}")
    check_seed(seed)


def default_start(today: date | None = None, weeks: int = 8) -> date:
    """The Monday ``weeks`` full ISO weeks before the current week."""
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=today.weekday()) - timedelta(weeks=weeks)


def _label(rng, n: int) -> str:
    return "".join(chr(97 + int(c)) for c in rng.integers(0, 26, n))


def write_operation(out: Path, start: date, days: int, case: bool = True) -> Path:
    """The demo operation and its files under ``out``; returns the operation
    file. ``case=False`` leaves out the court case and its stop command (tests
    that declare their own)."""
    import numpy as np


    rng = np.random.default_rng(2011)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by takedown demo; the next run wipes this directory\n")
    tlds = ["com", "net", "biz", "ru", "info"]
    zeus = sorted({f"{_label(rng, int(rng.integers(7, 13)))}.{tlds[i % 5]}" for i in range(ZEUS_NAMES)})
    (out / "zeus-domains.txt").write_text(
        "# ZeuS C&C names seized by court order (demo: generated names)\n" + "\n".join(zeus) + "\n")
    hosts = sorted({_label(rng, int(rng.integers(4, 11))) for _ in range(ZONE_NAMES)})
    mirai = sorted({_label(rng, 9) + "cnc" for _ in range(MIRAI_NAMES)} - set(hosts))
    lines = ["$ORIGIN 3322.org.", "$TTL 3600",
             "@ IN SOA ns1.3322.org. hostmaster.3322.org. 2012091101 3600 900 604800 300",
             "@ IN NS ns1.3322.org.", "@ IN NS ns2.3322.org.",
             "ns1 IN A 198.51.100.1", "ns2 IN A 198.51.100.2"]
    for i, h in enumerate(hosts + mirai):
        lines.append(f"{h} IN A 203.0.113.{i % 250 + 1}")
    (out / "3322.org.zone").write_text("\n".join(lines) + "\n")
    (out / "3322-blocklist.txt").write_text(
        "# Mirai CNC names in the dynamic-DNS zone (demo: generated names)\n"
        + "\n".join(f"{m}.3322.org" for m in mirai) + "\n")
    rules = ["# Demo rules: attribute a check-in by the sinkholed name it reached."]
    for fam in DGA_FAMILIES:
        gen = registry.get(fam)
        names = sorted({n for d in range(days) for n in gen.generate(start + timedelta(d))})
        rules.append(f'''
[[rule]]
name = "{fam}-dga-host"
family = "{fam}"
protocol = "http"
confidence = "high"
source = "takedown dga forecast {fam}: the names the operation's [[dga]] entry sinks for the demo period"
host = [{", ".join(f'"{n}"' for n in names)}]''')
    seized = ", ".join(f'"{n}"' for n in zeus)
    # the stop command under the case's authority (issue 17), once the rules loader takes [[command]]
    command = democase.command_rules() if case else ""
    (out / "rules.toml").write_text("\n".join(rules) + f'''

[[rule]]
name = "zeus-seized-sni"
family = "zeus"
protocol = "tls"
confidence = "high"
source = "the operation's seized ZeuS names (zeus-domains.txt)"
sni = [{seized}]
''' + command)
    dns = http = tls = tcp = 0  # the kernel picks free ports; the server reports them (--ready-file)
    days_after = (datetime.now(UTC).date() - start).days + 7
    dga = "\n".join(f'[[dga]]\nfamily = "{f}"\ndays_before = 3\ndays_after = {days_after}\n' for f in DGA_FAMILIES)
    op = out / "operation.toml"
    op.write_text(f'''# Written by `takedown demo`: an emulated takedown on loopback (range mode).
[operation]
name = "demo"
storage = "data"

[service]
allow_root = true                  # a rehearsal on loopback runs as whoever starts it (docs/deploy.md)

[sinkhole]
ipv4 = ["192.0.2.53"]
ttl = 21600                        # six hours: the emulated resolvers cache answers that long
soa_email = "hostmaster.sinkhole.example"
nameservers = {{ "ns1.sinkhole.example" = "192.0.2.1", "ns2.sinkhole.example" = "192.0.2.2" }}

[[domains]]
family = "zeus"
file = "zeus-domains.txt"

[[zones]]
origin = "3322.org"
file = "3322.org.zone"
blocklist = "3322-blocklist.txt"
family = "mirai"

{dga}

[dns]
listen = ["127.0.0.1:{dns}"]
workers = 2
emulated_clock = ["127.0.0.0/8"]   # range mode: the range's resolvers carry the emulated clock
rrl = {{ enabled = false }}        # every range query must be answered and counted

[http]
listen = ["127.0.0.1:{http}"]
response = "notice"
trusted_proxies = ["127.0.0.0/8"]
emulated_clock = true

[tls]
listen = ["127.0.0.1:{tls}"]
handshake = true
trusted_proxies = ["127.0.0.0/8"]
emulated_clock = true

[tcp]
listen = ["127.0.0.1:{tcp}"]
trusted_proxies = ["127.0.0.0/8"]
emulated_clock = true

[fingerprints]
rules = "rules.toml"
''' + (democase.case_section(start, "zeus-domains.txt", len(zeus)) if case else ""))
    return op


def _wipe(out: Path) -> None:
    if not out.exists():
        return
    if not (out / MARKER).exists() and any(out.iterdir()):
        raise RangeError(f"{out}: not empty and not a demo directory; choose another --out")
    shutil.rmtree(out)


def _takedown_command() -> list[str]:
    script = Path(sys.executable).with_name("takedown")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from takedown.cli import main; main()"]


def _wait_ready(proc: subprocess.Popen, ready: Path, log: Path, timeout: float = 60.0) -> dict:
    """The server's ready file: written once every worker serves, with the
    addresses it bound (the demo asks for port 0 everywhere)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise RangeError(f"the sinkhole exited at start: {tail[0]}")
        try:
            return json.loads(ready.read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
    raise RangeError(f"the sinkhole did not start serving within {timeout:.0f} s (log: {log})")


def stop_server(proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """SIGINT, as Ctrl-C: the server flushes its events and exits."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RangeError("the sinkhole did not stop within a minute; events may be missing") from None
    if proc.returncode not in (0, -signal.SIGINT, 130):
        raise RangeError(f"the sinkhole exited with status {proc.returncode}")


def run_demo(out: Path, *, bots: int = 50_000, weeks: int = 8, seed: int = 1, start: date | None = None,
             on_stage=None, on_day=None, tracker: bool = True) -> DemoResult:
    """The whole demo; ``on_stage(text)`` as each stage begins, ``on_day(day, stats)`` per emulated day.
    ``tracker=False`` leaves the tracker out (tests of the range and the
    report, whose fixed past weeks would make the operation hold a year of
    DGA names today)."""

    def stage(text: str) -> None:
        if on_stage is not None:
            on_stage(text)

    check_args(weeks, seed)
    timings = {"tracker": 0.0}
    checked = figures = None
    t0 = time.monotonic()
    start = start or default_start(weeks=weeks)
    days = weeks * 7
    out = out.resolve()  # the server runs in it: its own paths must not depend on our cwd
    try:
        _wipe(out)
        op_path = write_operation(out, start, days)
    except OSError as e:
        raise RangeError(f"{display_path(out)}: cannot write the demo there: {e.strerror}") from None
    op = load_operation(op_path)
    stage(f"wrote the demo operation {display_path(op_path)}: {len(op.domains)} seized list, zone "
          f"{', '.join(z.origin for z in op.zones)}, DGA {', '.join(g.family for g in op.dga)}")
    log = out / "serve.log"
    ready_path = out / "serve.ready.json"
    with open(log, "wb") as f:
        proc = subprocess.Popen(_takedown_command() + ["serve", str(op_path), "--ready-file", str(ready_path)],
                                stdout=f, stderr=subprocess.STDOUT,
                                cwd=out, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        op = bound(op, _wait_ready(proc, ready_path, log))
        stage(f"sinkhole up on loopback: dns {op.dns.listen[0]}, http {op.http.listen[0]}, "
              f"tls {op.tls.listen[0]}, tcp {op.tcp.listen[0]} (log {display_path(log)})")
        timings["setup"] = time.monotonic() - t0
        t1 = time.monotonic()
        enricher = for_operation(op)
        stage(f"range: {bots:,} bots, {weeks} emulated weeks from {start.isoformat()}")
        result = run_range(op, bots=bots, start=start, days=days, seed=seed, mix=FAMILY_MIX,
                           truth_dir=out / "truth", on_day=on_day, enricher=enricher)
        timings["range"] = time.monotonic() - t1
        if tracker:
            t4 = time.monotonic()
            now = datetime.now(UTC)
            stage(f"tracking the operation's names and {len(cnc.PLAN)} emulated C&C servers, checked through the "
                  "sinkhole's DNS")
            checked = tracking.hold_and_check(op, day=now.date(), now=now, enricher=enricher)
            timings["tracker"] = time.monotonic() - t4
    except BaseException:
        with contextlib.suppress(RangeError):  # the first error is the one to show
            stop_server(proc)
        raise
    t2 = time.monotonic()
    stop_server(proc)
    timings["stop"] = time.monotonic() - t2
    stage("sinkhole stopped; building the report")
    t3 = time.monotonic()
    report_dir = out / "report"
    rep = build_report(op.storage, report_dir, enricher=enricher, date_from=start,
                       date_to=start + timedelta(days - 1), operation=op.name)
    timings["report"] = time.monotonic() - t3
    if checked is not None:
        t5 = time.monotonic()
        stage(f"tracker exports and statistics into {display_path(out / 'tracker')}/")
        figures = tracking.publish(op, out / "tracker", checked, since=start, until=start + timedelta(days - 1),
                                   now=now, enricher=enricher)
        timings["tracker"] += time.monotonic() - t5
    t6 = time.monotonic()
    stage(f"the case: check, appendix, verification against a loopback parent, evidence seal "
          f"({display_path(out / 'case')}/)")
    # the verification history goes to the operation's database, which a demo without the tracker does not make
    case = democase.run_case(op, out, history=tracker)
    timings["case"] = time.monotonic() - t6
    diffs = compare.differences(rep.summary, result.counts)
    timings["total"] = time.monotonic() - t0
    return DemoResult(result, rep.summary, diffs, report_dir / "index.html", timings, figures, op, case)
