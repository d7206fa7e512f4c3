"""The ``takedown`` command: a thin typer app over the library.

Commands parse arguments, call one library function and print its result.
This is the only place where a :class:`~takedown.errors.TakedownError`
becomes ``Error: <message>`` on stderr and exit status 1 (see :func:`main`);
library modules never import this one.

Each command imports the library modules it needs inside its function (or
through :func:`_import`): ``takedown --help`` and a quick command then start
without loading numba, DuckDB, matplotlib or uvloop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

import typer

from takedown import __version__
from takedown.errors import EvidenceError, OperationError, ServeError, SimError, StoreError, TakedownError, TrackerError
from takedown.lists import display_path
from takedown.operation import load_operation, parse_listen, parse_workers, summarize

app = typer.Typer(
    name="takedown",
    help="Botnet takedown operations: DNS sinkholes for seized domains and zones, telemetry.",
    no_args_is_help=True,
    add_completion=False,
    # Bugs keep their plain traceback; user errors never reach this.
    pretty_exceptions_enable=False,
)
events_app = typer.Typer(help="Query the events an operation has stored.", no_args_is_help=True)
app.add_typer(events_app, name="events")
dga_app = typer.Typer(help="Domain generation algorithms: families, forecasts.", no_args_is_help=True)
app.add_typer(dga_app, name="dga")
sim_app = typer.Typer(help="Simulate a P2P botnet and a takedown plan before the day.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")

FILE_HELP = "The operation file (TOML)."


def _version(value: bool) -> None:
    if value:
        print(f"takedown {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Botnet takedown operations: DNS sinkholes for seized domains and zones, telemetry."""


@app.command()
def check(file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE")) -> None:
    """Validate an operation and every list and zone file it names; print a summary."""
    from takedown.dns.zonefile import count_names

    _print_summary(summarize(load_operation(file), count_names))


@app.command()
def serve(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    dns: Optional[list[str]] = typer.Option(
        None, "--dns", metavar="HOST:PORT",
        help="Listen on HOST:PORT (IPv6 as [::1]:5353) instead of dns.listen; repeatable.",
    ),
    workers: Optional[int] = typer.Option(
        None, "--workers", metavar="N", help="Worker processes, instead of dns.workers."
    ),
    http: Optional[list[str]] = typer.Option(
        None, "--http", metavar="HOST:PORT",
        help="Serve the HTTP sinkhole on HOST:PORT instead of http.listen; repeatable.",
    ),
    ready_file: Optional[str] = typer.Option(
        None, "--ready-file", metavar="PATH",
        help="Once serving, write the bound addresses (port 0 resolved) and the pid to PATH as JSON; "
             "rewritten after every reload.",
    ),
) -> None:
    """Serve the operation's DNS sinkhole, and its HTTP/TLS/TCP sinkhole when configured,
    until interrupted (Ctrl-C). SIGHUP, or a change to any file the operation names,
    reloads everything without dropping a query."""
    listen = tuple(_option("--dns", parse_listen, v) for v in dns) if dns else None
    http_listen = tuple(_option("--http", parse_listen, v) for v in http) if http else None
    if workers is not None:
        workers = _option("--workers", parse_workers, workers)
    serve_mod = _import("takedown.serve", None, ServeError)
    ready = Path(ready_file) if ready_file is not None else None  # checked writable by serve()
    serve_mod.serve(file, serve_mod.Overrides(dns=listen, http=http_listen, workers=workers), ready)


@events_app.command("count")
def events_count(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    kind: Optional[str] = typer.Option(
        None, "--kind", help="Count only events of this kind (e.g. dns); default: all."
    ),
) -> None:
    """Print the number of events stored for the operation."""
    op = load_operation(file)
    count_events = _import("takedown.store.reader", "count_events", StoreError)
    print(count_events(operation_dataset(op), kind))


@events_app.command("prune")
def events_prune(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    older_than: int = typer.Option(..., "--older-than", metavar="DAYS",
                                   help="Remove the days that ended more than DAYS days ago (UTC)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed."),
) -> None:
    """Remove whole day partitions of the operation's events older than a limit."""
    op = load_operation(file)
    prune = _import("takedown.store.retention", "prune", StoreError)
    gone = prune(op.storage, older_than, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for p in gone:
        print(f"{verb} kind={p.kind} date={p.day.isoformat()} ({p.files} files)")
    print(f"{verb} {len(gone)} day partition(s)")


@events_app.command("sql")
def events_sql(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    query: str = typer.Argument(..., metavar="QUERY",
                                help="One read-only query over the views events, checkins, resolvers, commands, ipinfo."),
    fmt: str = typer.Option("table", "--format", metavar="table|csv|json|jsonl|parquet", help="Output format."),
    out: Optional[str] = typer.Option(None, "--out", metavar="PATH",
                                      help="Write to PATH (required for parquet); default: stdout."),
    max_rows: int = typer.Option(100, "--max-rows", metavar="N", help="Rows a table shows (table format only)."),
) -> None:
    """Run one read-only SQL query over the operation's events and print its rows."""
    op = load_operation(file)
    run_sql = _import("takedown.analytics.sql", "run_sql", StoreError)
    for_operation = _import("takedown.enrich.choice", "for_operation", StoreError)
    _to_stdout(lambda: run_sql(operation_dataset(op), query, fmt=fmt, enricher=lambda: for_operation(op),
                               out=Path(out) if out else None, stdout=sys.stdout.buffer,
                               console=sys.stdout, max_rows=max_rows))


@events_app.command("export")
def events_export(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    date_from: Optional[str] = typer.Option(None, "--from", metavar="DATE",
                                            help="First day (UTC), YYYY-MM-DD; default: the first stored."),
    date_to: Optional[str] = typer.Option(None, "--to", metavar="DATE",
                                          help="Last day (UTC, included), YYYY-MM-DD; default: the last stored."),
    kind: Optional[str] = typer.Option(None, "--kind", help="Only events of this kind (dns, http, tls, tcp); default: all."),
    fmt: str = typer.Option("csv", "--format", metavar="csv|json|jsonl|parquet", help="Output format."),
    out: Optional[str] = typer.Option(None, "--out", metavar="PATH",
                                      help="Write to PATH (required for parquet); default: stdout."),
) -> None:
    """Write the operation's events of a period, with country and AS, for handing to others."""
    first, last = _date("--from", date_from), _date("--to", date_to)
    op = load_operation(file)
    export = _import("takedown.analytics.export", "export", StoreError)
    for_operation = _import("takedown.enrich.choice", "for_operation", StoreError)
    _to_stdout(lambda: export(operation_dataset(op), fmt=fmt, enricher=lambda: for_operation(op), kind=kind,
                              date_from=first, date_to=last, out=Path(out) if out else None,
                              stdout=sys.stdout.buffer))


def _to_stdout(run: Any) -> None:
    """Run a command that streams to stdout; a reader that stops early
    (``| head``) ends it quietly, as it would end cat."""
    try:
        sys.stdout.flush()
        run()
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would report the pipe again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)  # 128 + SIGPIPE, what a shell reports for cat


@events_app.command("compact")
def events_compact(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    day: Optional[str] = typer.Option(None, "--date", metavar="DATE",
                                      help="The UTC day to compact, YYYY-MM-DD; default: every closed day "
                                           "with segments not yet compacted."),
    kind: Optional[str] = typer.Option(None, "--kind", help="Only this kind of events (e.g. dns); default: all."),
) -> None:
    """Merge closed UTC days' segments into a few large sorted files, atomically."""
    the_day = _date("--date", day)
    op = load_operation(file)
    compact = _import("takedown.store.compact", "compact", StoreError)
    done = compact(op.storage, day=the_day, kind=kind)
    for c in done:
        if c.skipped:
            print(f"kind={c.kind} date={c.day.isoformat()}: already compacted ({c.files_before} files)")
        else:
            print(f"kind={c.kind} date={c.day.isoformat()}: {c.files_before:,} files -> {c.files_after:,} "
                  f"({c.rows:,} events) in {c.seconds:.1f}s")
    print(f"compacted {sum(not c.skipped for c in done)} day partition(s)")


def _date(name: str, value: Optional[str]):
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise OperationError(f"{name}: {value!r} is not a date (YYYY-MM-DD)") from None


@app.command()
def report(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    out: str = typer.Option(..., "--out", metavar="DIR", help="Directory to write the report into."),
    date_from: Optional[str] = typer.Option(None, "--from", metavar="DATE", help="First day (UTC), YYYY-MM-DD."),
    date_to: Optional[str] = typer.Option(None, "--to", metavar="DATE", help="Last day (UTC), YYYY-MM-DD."),
    engine: str = typer.Option("duckdb", "--engine", metavar="duckdb|spark",
                               help="Query engine: DuckDB in this process, or Apache Spark (pip install takedown[spark])."),
    master: Optional[str] = typer.Option(None, "--master", metavar="URL",
                                         help="Spark master with --engine spark: local[N] or spark://HOST:PORT "
                                              "(default local[*])."),
) -> None:
    """Write the operation's numbers: summary.json, CSV tables, charts and index.html."""
    first, last = _date("--from", date_from), _date("--to", date_to)
    op = load_operation(file)
    for_operation = _import("takedown.enrich.choice", "for_operation", StoreError)
    build_report = _import("takedown.analytics.report", "build_report", StoreError)
    result = build_report(operation_dataset(op), Path(out), enricher=for_operation(op), date_from=first,
                          date_to=last, operation=op.name, engine=engine, master=master)
    s = result.summary
    print(f"unique infected IPs: {s['total_unique_ips']:,} in {len(s['weeks'])} week(s), "
          f"{s['total_events']:,} check-ins")
    for w in s["weeks"]:
        print(f"  {w['week']}  {w['unique_ips']:>12,}")
    print(f"report: {display_path(Path(out) / 'index.html')}")


# shared by `notify` and `case notice`
SMTP_OPTION = typer.Option(None, "--smtp", metavar="HOST:PORT",
                           help="Send one mail per recipient through this SMTP server.")
FROM_OPTION = typer.Option("takedown@localhost", "--from-address", metavar="ADDRESS",
                           help="The From address of the mails.")


@app.command()
def notify(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    out: str = typer.Option(..., "--out", metavar="DIR", help="Directory to write the CSV reports into."),
    day: Optional[str] = typer.Option(None, "--date", metavar="DATE",
                                      help="The day reported (UTC), YYYY-MM-DD; default: yesterday."),
    contacts: Optional[str] = typer.Option(None, "--contacts", metavar="CSV",
                                           help="Who receives what: match (ASN, CIDR or country), address, organisation."),
    smtp: Optional[str] = SMTP_OPTION,
    sender: str = FROM_OPTION,
) -> None:
    """Write per-network-owner reports in Shadowserver's formats; mail them with --smtp."""
    when = _date("--date", day) or (datetime.now(timezone.utc).date() - timedelta(days=1))
    parse_smtp = _import("takedown.analytics.notify", "parse_smtp", StoreError)
    relay = parse_smtp(smtp) if smtp is not None else None
    op = load_operation(file)
    for_operation = _import("takedown.enrich.choice", "for_operation", StoreError)
    run = _import("takedown.analytics.notify", "notify", StoreError)
    recorder = _import("takedown.console.deliveries", "recorder", StoreError)
    store, record = recorder(op, when)  # every delivery is kept for the console's notifications page
    try:
        result = run(operation_dataset(op), Path(out), day=when, enricher=for_operation(op),
                     contacts=Path(contacts) if contacts else None, smtp=relay, sender=sender,
                     operation=op.name, record=record)
    finally:
        store.close()
    for line in result.summary():
        print(line)


@dga_app.command("list")
def dga_list() -> None:
    """List the DGA families: name, period, names per period, TLDs."""
    from takedown.dga.registry import families

    for f in families():
        tlds = ",".join(f.tlds[:6]) + (",..." if len(f.tlds) > 6 else "")
        print(f"{f.name:<16} every {f.period_days:>2} day(s)  {f.per_period:>6} names  {tlds}")


@dga_app.command("show")
def dga_show(family: str = typer.Argument(..., metavar="FAMILY")) -> None:
    """Everything a family declares: aliases, seeding, parameters, known seeds, sources."""
    from takedown.dga import get

    f = get(family)
    print(f"{f.name}" + (f" (also: {', '.join(f.aliases)})" if f.aliases else ""))
    print(f"  seeded by     {f.seeding}")
    print(f"  period        {f.period_days} day(s), {f.per_period} names")
    print(f"  TLDs          {', '.join(f.tlds) or '-'}")
    for p in f.params:
        default = "required" if p.default is None else f"default {p.default!r}"
        print(f"  param {p.name:<8}{p.kind.__name__}, {default}: {p.doc}")
    for k in f.known:
        print(f"  known         {k.params}: {k.note} [{k.source}]")
    for src in f.sources:
        print(f"  source        {src}")
    for v in f.verified_against:
        print(f"  verified      {v}")


@dga_app.command("forecast")
def dga_forecast(
    family: str = typer.Argument(..., metavar="FAMILY"),
    day: str = typer.Option(..., "--date", metavar="DATE", help="First day (UTC), YYYY-MM-DD."),
    to: Optional[str] = typer.Option(None, "--to", metavar="DATE", help="Last day (UTC); default: --date."),
    param: Optional[list[str]] = typer.Option(None, "--param", metavar="K=V", help="A family parameter; repeatable."),
    fmt: str = typer.Option("txt", "--format", metavar="txt|csv|json", help="Output format."),
) -> None:
    """Print the names a family generates for each period from DATE to --to."""
    from takedown.dga import get
    from takedown.dga.forecast import forecast, render

    first = _date("--date", day)
    last = _date("--to", to) or first
    params = {}
    for item in param or []:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise OperationError(f"--param: {item!r} is not K=V")
        params[k.strip()] = v.strip()
    if fmt not in ("txt", "csv", "json"):
        raise OperationError(f"--format: {fmt!r} is not one of txt, csv, json")
    sys.stdout.write(render(forecast(get(family), first, last, params), fmt))


@dga_app.command("match")
def dga_match(
    names: list[str] = typer.Argument(..., metavar="NAME..."),
    date_from: Optional[str] = typer.Option(None, "--from", metavar="DATE",
                                            help="First day indexed (UTC); default: 30 days ago."),
    date_to: Optional[str] = typer.Option(None, "--to", metavar="DATE",
                                          help="Last day indexed (UTC); default: 7 days ahead."),
) -> None:
    """Say which family, period and parameters generate each NAME (exit 1 if one matches nothing)."""
    from takedown.dga.registry import families
    from takedown.dga.match import build_index

    today = datetime.now(timezone.utc).date()
    first = _date("--from", date_from) or today - timedelta(days=30)
    last = _date("--to", date_to) or today + timedelta(days=7)
    t0 = time.monotonic()
    idx = build_index(families(), first, last)
    print(f"# index: {len(idx):,} names of {len(families())} families, {first}..{last}, "
          f"built in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    missing = 0
    for name in names:
        found = idx.lookup(name)
        if not found:
            missing += 1
            print(f"{name}: no family generates it between {first} and {last}")
        for o in found:
            print(f"{name}: {o.describe()}")
    if missing:
        raise typer.Exit(1)


@dga_app.command("registrations")
def dga_registrations(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    date_from: str = typer.Option(..., "--from", metavar="DATE", help="First day (UTC), YYYY-MM-DD."),
    date_to: str = typer.Option(..., "--to", metavar="DATE", help="Last day (UTC), YYYY-MM-DD."),
    fmt: str = typer.Option("txt", "--format", metavar="txt|csv", help="Output format."),
) -> None:
    """Every name the operation's [[dga]] entries must hold between the dates, by TLD,
    with the TLD's registry operator and the days to hold each name."""
    from takedown.dga.sinking import REGISTRIES, registrations

    first, last = _date("--from", date_from), _date("--to", date_to)
    if last < first:
        raise OperationError(f"--to {last} is before --from {first}")
    if fmt not in ("txt", "csv"):
        raise OperationError(f"--format: {fmt!r} is not one of txt, csv")
    op = load_operation(file)
    if not op.dga:
        raise OperationError(f"{display_path(op.path)}: the operation has no [[dga]] entries")
    plan = registrations(op.dga, first, last)
    if fmt == "csv":
        print("tld,registry,name,family,hold_from,hold_to")
        for tld, rows in plan.items():
            for name, family, a, b in rows:
                print(f"{tld},{REGISTRIES.get(tld, '')},{name},{family},{a.isoformat()},{b.isoformat()}")
        return
    total = sum(len(r) for r in plan.values())
    print(f"{total:,} names to hold between {first} and {last}, {len(plan)} TLDs")
    for tld, rows in plan.items():
        print(f"\n.{tld}  ({REGISTRIES.get(tld, 'registry operator not listed')}): {len(rows):,} names")
        for name, family, a, b in rows:
            print(f"  {name:<40} {family:<16} {a.isoformat()} .. {b.isoformat()}")


@sim_app.command("families")
def sim_families() -> None:
    """List the P2P family models with each value and where it comes from."""
    from takedown.p2p.registry import models

    for m in models():
        aka = f"  (also {', '.join(m.aliases)})" if m.aliases else ""
        print(f"{m.name}{aka}: {m.title}")
        for name, value, basis in m.parameters():
            print(f"  {name:<18} {value!s:<10} {basis or ''}")
        for src in m.sources:
            print(f"  source: {src}")
        print()


@sim_app.command("scenarios")
def sim_scenarios() -> None:
    """List the shipped scenarios and what each shows."""
    from takedown.p2p.scenario import shipped_scenarios

    for path, shows in shipped_scenarios():
        print(f"{path.stem:<22} {shows}")


@sim_app.command("run")
def sim_run(
    scenario: str = typer.Argument(..., metavar="SCENARIO",
                                   help="A scenario TOML file, or the name of a shipped one (takedown sim scenarios)."),
    out: str = typer.Option(..., "--out", metavar="DIR", help="Directory for summary.json, timeseries.csv, charts."),
    bots: Optional[int] = typer.Option(None, "--bots", metavar="N", help="Starting population (overrides the file)."),
    seed: Optional[int] = typer.Option(None, "--seed", metavar="S", help="Random seed (overrides the file)."),
) -> None:
    """Run a scenario: the botnet and the plan, round by round, with a progress bar."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from takedown.p2p.engine import Simulation
    from takedown.p2p.output import prepare, write_outputs
    from takedown.p2p.scenario import MAX_BOTS, resolve_scenario

    sc = resolve_scenario(scenario)
    if bots is not None:
        if not 10 <= bots <= MAX_BOTS:
            raise SimError(f"--bots: must be between 10 and {MAX_BOTS:,}, not {bots}")
        sc = sc.replace(bots=bots)
    if seed is not None:
        if not 0 <= seed < 2**32:
            raise SimError(f"--seed: must be between 0 and 2**32-1, not {seed}")
        sc = sc.replace(seed=seed)
    prepare(Path(out))
    print(f"{sc.name or 'scenario'}: {sc.model.name}, {sc.bots:,} bots, {sc.days:g} days, seed {sc.seed}")
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} rounds"),
                  TimeElapsedColumn(), TimeRemainingColumn(), transient=False) as bar:
        task = bar.add_task("setting up", total=sc.rounds)
        try:
            sim = Simulation(sc)
            bar.update(task, description="simulating")
            result = sim.run(lambda t, total: bar.update(task, completed=t))
        except MemoryError:
            raise SimError(f"not enough memory for {sc.bots:,} bots with {sc.model.peer_list}-entry lists "
                           f"(about {sc.bots * sc.model.peer_list * 8 / 2**30:.1f} GiB of lists); "
                           "use fewer --bots") from None
    paths = write_outputs(result, Path(out))
    s = result.summary()
    f = s["final"]

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f}%"

    def hours(x: float | None) -> str:
        return "not reached" if x is None else f"{x:g} h"

    print(f"final: commandable {pct(f['commandable'])}, only sinkholes listed {pct(f['sinkholed'])}, "
          f"seen by the sinkhole {pct(f['seen_share'])} ({f['seen']:,} bots)")
    if s["takedown_hour"] is None:
        print("no strategy in this scenario: nothing is cut off on purpose")
    else:
        print(f"cut off from the C&C: 50% in {hours(s['time_to_50_hours'])}, 90% in {hours(s['time_to_90_hours'])}, "
              f"99% in {hours(s['time_to_99_hours'])} after the takedown starts (hour {s['takedown_hour']:g})")
    sm = s["sinkhole_minutes"]
    if sm.get("reached"):
        print(f"bots online when poisoning began: median {sm['median']:g} min to the sinkhole, "
              f"{pct(sm['within_10_minutes'])} within 10 min")
    print(f"fallbacks: {s['fallbacks']:,} ({s['recovered_by_fallback']:,} got live peers back, "
          f"{s['fallback_sinkholed']:,} reached the seized fallback)")
    print(f"wrote {', '.join(display_path(p) for p in paths)}")


def _week_bars(start, days: int):
    """A rich Progress with one bar per ISO week of the range, and the ``on_day`` that advances them."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("days  {task.fields[checkins]:>12,} check-ins"), TimeElapsedColumn())
    tasks = {}
    for d in range(days):
        y, w, _ = (start + timedelta(d)).isocalendar()
        label = f"{y}-W{w:02d}"
        if label not in tasks:
            tasks[label] = bar.add_task(label, total=0, checkins=0)
        bar.update(tasks[label], total=bar.tasks[tasks[label]].total + 1)
    seen = {"checkins": 0}

    def on_day(d: int, stats) -> None:
        y, w, _ = (start + timedelta(d)).isocalendar()
        task = tasks[f"{y}-W{w:02d}"]
        done = bar.tasks[task].fields["checkins"] + stats.checkins - seen["checkins"]
        seen["checkins"] = stats.checkins
        bar.update(task, advance=1, checkins=done)

    return bar, on_day


@app.command("range")
def range_(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    truth: str = typer.Option(..., "--truth", metavar="DIR", help="Directory for the truth: truth.json and the evidence."),
    bots: int = typer.Option(50_000, "--bots", metavar="N", help="Infected hosts."),
    days: int = typer.Option(56, "--days", metavar="N", help="Emulated days."),
    start: Optional[str] = typer.Option(None, "--start", metavar="DATE",
                                        help="First emulated day (UTC), YYYY-MM-DD; default: the Monday eight weeks before this week's."),
    seed: int = typer.Option(1, "--seed", metavar="S", help="Random seed."),
    concurrency: int = typer.Option(96, "--concurrency", metavar="N", help="Sessions in flight."),
    ready_file: Optional[str] = typer.Option(
        None, "--ready-file", metavar="PATH",
        help="The running sinkhole's --ready-file: send to the addresses it bound (an operation on port 0)."),
) -> None:
    """Send an emulated infected population's DNS and check-ins to the operation's
    running sinkhole (range mode, loopback only); write what is true."""
    from takedown.range.demo import default_start
    from takedown.range.run import bound, check_args, read_ready, run_range

    first = _date("--start", start) or default_start(weeks=8)
    check_args(bots, days, seed)
    op = load_operation(file)
    if ready_file is not None:
        op = bound(op, read_ready(Path(ready_file)))
    bar, on_day = _week_bars(first, days)
    with bar:
        result = run_range(op, bots=bots, start=first, days=days, seed=seed, truth_dir=Path(truth),
                           concurrency=concurrency, on_day=on_day)
    _print_range(result)
    print(f"truth: {display_path(Path(truth) / 'truth.json')}")


def _print_range(result) -> None:
    st, c = result.stats, result.counts
    print(f"sent {st.sessions:,} bot sessions ({st.checkins:,} check-ins, {st.failed_sessions:,} failed) "
          f"and {st.queries:,} resolver queries ({st.answered:,} answered)")
    for e in st.errors[:5]:
        print(f"  warning: {e}")
    print(f"true: {c['total_unique_ips']:,} unique infected addresses, {c['total_events']:,} check-in events, "
          f"{c['resolvers']['total_events']:,} DNS events from {c['resolvers']['total_unique_resolvers']} resolvers")
    cmds = c["commands"]
    if cmds["total_events"]:  # the bots were answered with commands (a case's command authority)
        told = ", ".join(f"{r['family']} {r['command']} {r['events']:,} to {r['unique_ips']:,} bots"
                         for r in cmds["by_command"])
        stopped = ", ".join(f"{f} {n:,}" for f, n in cmds["stopped"].items()) or "none"
        print(f"received: {cmds['total_events']:,} commands ({told}); bots stopped: {stopped}")


@app.command()
def demo(
    out: str = typer.Option("demo", "--out", metavar="DIR", help="Directory for the demo operation, events, report, truth."),
    bots: int = typer.Option(50_000, "--bots", metavar="N", help="Infected hosts."),
    weeks: int = typer.Option(8, "--weeks", metavar="N", help="Emulated weeks."),
    seed: int = typer.Option(1, "--seed", metavar="S", help="Random seed."),
    console: Optional[bool] = typer.Option(None, "--console/--no-console", envvar="TAKEDOWN_DEMO_CONSOLE",
                                           help="Afterwards, serve the web console on the demo's data until Ctrl-C "
                                                "(default: when run from a terminal; without one, its accounts "
                                                "are made and printed) [env TAKEDOWN_DEMO_CONSOLE=1|0]."),
) -> None:
    """An emulated takedown end to end on loopback: sinkhole, range, report, truth check; then the web console."""
    from takedown.range.demo import check_args, default_start, run_demo

    check_args(weeks, seed)
    first = default_start(weeks=weeks)
    bar, on_day = _week_bars(first, weeks * 7)
    with bar:
        result = run_demo(Path(out), bots=bots, weeks=weeks, seed=seed, start=first, on_day=on_day,
                          on_stage=lambda text: bar.console.print(text, soft_wrap=True, highlight=False))
    _print_demo(result, Path(out))
    if console is not False:
        _demo_console(result, serve=console or sys.stdin.isatty())
    if result.differences or (result.case is not None and not result.case.ok):
        raise typer.Exit(1)


def _print_demo(result, out: Path) -> None:
    """The demo's report, tracker, case and truth lines (``takedown demo``)."""
    _print_range(result.range)
    s = result.summary
    print(f"\nreport ({s['period']['from']} .. {s['period']['to']}): {s['total_unique_ips']:,} unique infected IPs, "
          f"{s['total_events']:,} check-ins")
    print("weekly unique infected IPs:")
    for w in s["weeks"]:
        print(f"  {w['week']}  {w['unique_ips']:>9,}  ({w['events']:,} check-ins)")
    if s.get("week_change_pct") is not None:
        print(f"  change from the first week to the last: {s['week_change_pct']:+.1f}%")
    chart = s["countries_chart"]
    for label, rows in (("top countries", chart["top"][:5]), ("bottom countries", chart["bottom"][:5])):
        print(f"{label} (by check-ins): " + ", ".join(f"{r['cc']} {r['events']:,}" for r in rows))
    print(f"report: {display_path(result.report)}")
    print(f"truth: {display_path(out / 'truth' / 'truth.json')}")
    if result.tracker is not None:
        print(result.tracker.line())
    if result.case is not None:
        for line in result.case.lines():
            print(line)
    t = result.timings
    print(f"took {t['total']:.0f} s (range {t['range']:.0f} s, report {t['report']:.0f} s, "
          f"tracker {t['tracker']:.0f} s, case {t.get('case', 0.0):.0f} s)")
    for line in result.differences:
        print(f"  differs: {line}")
    print(f"differences from truth: {len(result.differences)}")


def _demo_console(result, serve: bool) -> None:
    from takedown.range.democonsole import open_console

    dc = open_console(result.operation, result.range.truth.pop)
    print(f"\nconsole: {dc.url}  (one-time passwords, shown once: each account sets its own at the first login)")
    for a in dc.accounts:
        who = f"{a.role}" + (f" of {a.partner}: {'; '.join(a.claims)}" if a.partner else "")
        print(f"  {a.username:<9} {a.password}  {who}")
    again = f"takedown console {display_path(result.operation.path)}"
    if not serve:
        # a script, CI or a pipe: nobody is there to press Ctrl-C, so the demo
        # ends here; the accounts stay in the demo's database
        dc.close()
        print(f"not a terminal, so the console is not left running; serve it with: {again}", flush=True)
        return
    print(f"the console runs until Ctrl-C (later, serve it again with: {again})", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        dc.run()


# --- the C&C tracker and its database (docs/tracker.md) ---------------------
# Importers open the store (`takedown.tracker.store.Tracker`) only after the
# input is checked: a bad file never touches the database.

tracker_app = typer.Typer(help="The C&C tracker: indicators, their status and history, blocklists.",
                          no_args_is_help=True)
app.add_typer(tracker_app, name="tracker")
db_app = typer.Typer(help="The tracker's database: its schema revision and migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

DB_OPTION = typer.Option(None, "--db", metavar="URL", envvar="TAKEDOWN_DB",
                         help="The tracker's database: sqlite:///PATH, a SQLite file path or postgresql://... "
                              "[env TAKEDOWN_DB]")
OPERATION_OPTION = typer.Option(None, "--operation", metavar="FILE", envvar="TAKEDOWN_OPERATION",
                                help="An operation file: its [database] url, else tracker.sqlite in its storage; "
                                     "its sinkhole addresses for exports [env TAKEDOWN_OPERATION]")


def _tracker_target(db: Optional[str], operation: Optional[str]):
    """(database URL, the operation or None) from --db/--operation."""
    from takedown.tracker.db import resolve_url

    op = load_operation(operation) if operation else None
    url = resolve_url(db or (op.database.url if op else None), op.storage if op else None)
    return url, op


def _open_tracker(db: Optional[str], operation: Optional[str]):
    Tracker = _import("takedown.tracker.store", "Tracker", TrackerError)
    url, op = _tracker_target(db, operation)
    if op is not None and (op.enrich.country_mmdb or op.enrich.asn_mmdb):
        from takedown.enrich.choice import for_operation

        return Tracker.open(url, enricher=lambda: for_operation(op)), op
    return Tracker.open(url), op


def _when(t) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t else "-"


@tracker_app.command("add")
def tracker_add(
    value: str = typer.Argument(..., metavar="VALUE", help="A domain, an IP (with :port) or a URL."),
    family: str = typer.Option(..., "--family", metavar="F", help="Malware family."),
    status: str = typer.Option("unknown", "--status", metavar="S",
                               help="online, offline, sinkholed, seized or unknown."),
    kind: Optional[str] = typer.Option(None, "--kind", metavar="domain|ip|url", help="Force the kind of VALUE."),
    source: str = typer.Option("", "--source", help="Where it comes from."),
    confidence: int = typer.Option(50, "--confidence", metavar="0-100", help="How sure the source is."),
    tag: Optional[list[str]] = typer.Option(None, "--tag", help="A tag; repeatable."),
    note: str = typer.Option("", "--note", help="A free-text note."),
    reason: str = typer.Option("", "--reason", help="Why, for the history."),
    db: Optional[str] = DB_OPTION,
    operation: Optional[str] = OPERATION_OPTION,
) -> None:
    """Track an indicator, or update a tracked one (the merge rules of docs/tracker.md)."""
    from takedown.tracker.indicator import Indicator

    ind = Indicator.new(value, family, kind=kind, what=value, status=status, source=source,
                        confidence=confidence, tags=tuple(tag or ()), notes=note)
    tracker, _ = _open_tracker(db, operation)
    with tracker:
        r = tracker.add([ind], by="cli", reason=reason)
        now = tracker.get(ind.value)
    print(f"{'added' if r.added else 'updated' if r.updated else 'unchanged'} {now.value} "
          f"({now.kind}, {now.family}, {now.status}, revision {now.revision})")


@tracker_app.command("status")
def tracker_status(
    value: str = typer.Argument(..., metavar="VALUE"),
    status: str = typer.Argument(..., metavar="STATUS", help="online, offline, sinkholed, seized or unknown."),
    reason: str = typer.Option("", "--reason", help="Why, for the history."),
    db: Optional[str] = DB_OPTION,
    operation: Optional[str] = OPERATION_OPTION,
) -> None:
    """Set a tracked indicator's status (a history row says who, when and why)."""
    tracker, _ = _open_tracker(db, operation)
    with tracker:
        change = tracker.set_status(value, status, by="cli", reason=reason)
    print(f"{value}: {change.old} -> {change.new}" if change else f"{value}: already {status}")


@tracker_app.command("import")
def tracker_import(
    file: str = typer.Argument(..., metavar="FILE", help="The file to import."),
    fmt: str = typer.Option(..., "--format", metavar="FORMAT",
                            help="feodo-csv, feodo-json, threatfox-csv, urlhaus-csv, plain or jsonl."),
    family: Optional[str] = typer.Option(None, "--family", help="Family of every entry (URLhaus and plain lists "
                                                                "name none)."),
    status: Optional[str] = typer.Option(None, "--status", help="Status of every entry (online, offline, "
                                                                "sinkholed, seized, unknown)."),
    source: Optional[str] = typer.Option(None, "--source", help="Source of every entry; default: the feed's."),
    confidence: Optional[int] = typer.Option(None, "--confidence", metavar="0-100",
                                             help="Confidence of every entry; default: the feed's."),
    db: Optional[str] = DB_OPTION,
    operation: Optional[str] = OPERATION_OPTION,
) -> None:
    """Import a feed file (abuse.ch's formats, a plain list, takedown's own JSON Lines): all rows or none."""
    ingest = _import("takedown.tracker.ingest", None, TrackerError)
    over = ingest.Overrides(family=family, status=status, source=source, confidence=confidence).check()
    checked = ingest.check_file(fmt, Path(file), over)
    tracker, _ = _open_tracker(db, operation)
    with tracker:
        added = ingest.add_file(tracker, fmt, Path(file), over)
    kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(checked.kinds.items()))
    print(f"imported {added:,} indicator(s) from {display_path(file)}" + (f": {kinds}" if kinds else ""))
    if checked.skipped:
        what = ", ".join(f"{n:,} {k}" for k, n in sorted(checked.skipped.items()))
        print(f"skipped {sum(checked.skipped.values()):,} row(s) that are not network indicators: {what}")


@tracker_app.command("sync")
def tracker_sync(
    operation: str = typer.Option(..., "--operation", metavar="FILE", envvar="TAKEDOWN_OPERATION",
                                  help="The operation file: what it holds, its events, its tracker database "
                                       "[env TAKEDOWN_OPERATION]"),
    db: Optional[str] = DB_OPTION,
    day: Optional[str] = typer.Option(None, "--date", metavar="DATE",
                                      help="The UTC day whose DGA names are due, YYYY-MM-DD; default: today."),
    since: Optional[str] = typer.Option(None, "--since", metavar="DATE",
                                        help="Count the sinkhole's events from this UTC day; default: the 7 days "
                                             "ending on --date."),
    from_events: bool = typer.Option(True, "--from-events/--no-from-events",
                                     help="Also mark tracked domains the sinkhole's events name."),
) -> None:
    """Track what the operation holds (seized, DGA names due, zones' blocklists) and what the sinkhole sees."""
    sync = _import("takedown.tracker.sync", None, TrackerError)
    now = datetime.now(timezone.utc)
    the_day = _date("--date", day) or now.date()
    first = _date("--since", since) or sync.default_since(the_day)
    tracker, op = _open_tracker(db, operation)
    with tracker:
        done = sync.apply_operation(tracker, op, the_day, now)
        seen = sync.apply_events(tracker, operation_dataset(op), first, the_day) if from_events else None
    print(f"operation {op.name} on {the_day.isoformat()}: {done.seized:,} seized, {done.sinkholed:,} sinkholed")
    if seen is not None:
        print(f"events {first.isoformat()}..{the_day.isoformat()}: {seen.seized + seen.sinkholed:,} tracked "
              f"domain(s) asked for at the sinkhole ({seen.seized:,} seized, {seen.sinkholed:,} sinkholed), "
              f"{seen.checkins:,} event(s)")

# -- tracker check and stats (issue 15) ---------------------------------------------


@tracker_app.command("check")
def tracker_check(
    resolver: Optional[str] = typer.Option(
        None, "--resolver", metavar="ADDR[:PORT]",
        help="The resolver every name is resolved through (required: there is no default)."),
    family: Optional[str] = typer.Option(None, "--family", metavar="F", help="Only this family."),
    stale_after: str = typer.Option("1h", "--stale-after", metavar="DURATION",
                                    help="Check indicators never checked or last checked this long ago (30m, 6h, 2d)."),
    rate: str = typer.Option("10/s", "--rate", metavar="N/s", help="Targets started per second at most."),
    concurrency: int = typer.Option(20, "--concurrency", metavar="N", help="Targets probed at once at most."),
    timeout: float = typer.Option(5.0, "--timeout", metavar="S", help="Seconds for one target, all its steps."),
    ports: Optional[list[int]] = typer.Option(
        None, "--port", metavar="PORT", help="Ports tried for a domain or IP without one (repeatable; default 443, 80)."),
    user_agent: Optional[str] = typer.Option(
        None, "--user-agent", metavar="TEXT", help="User-Agent of the HTTP GETs; default: a common browser's."),
    only: Optional[list[str]] = typer.Option(
        None, "--only", metavar="CIDR", help="Connect only to addresses in these networks (repeatable); "
                                             "others are recorded as 'not allowed'."),
    operation: Optional[str] = OPERATION_OPTION,
    db: Optional[str] = DB_OPTION,
) -> None:
    """Probe the tracked C&Cs that are due (DNS through --resolver, TCP connect, HTTP GET for URLs)
    and record online/offline/sinkholed with the reason. This touches the criminals' servers:
    see docs/tracker.md, "Checking"."""
    from takedown.tracker import check as chk

    where = chk.parse_resolver(resolver)  # first: no default resolver, whatever else is wrong
    stale = chk.parse_duration(stale_after)
    config = chk.CheckConfig(resolver=where, rate=chk.parse_rate(rate), concurrency=concurrency, timeout=timeout,
                             ports=tuple(ports) if ports else chk.DEFAULT_PORTS,
                             user_agent=user_agent or chk.DEFAULT_USER_AGENT,
                             only=chk.parse_networks(only) if only else None)
    tracker, op = _open_tracker(db, operation)
    if op is not None:  # a name resolving to the sinkhole is sinkholed; a held one elsewhere, an alarm
        config = dataclasses.replace(config, sinkhole=frozenset(op.sinkhole.ipv4 + op.sinkhole.ipv6))
    counts: dict[str, int] = {}
    alarms: list[str] = []

    def show(r: Any) -> None:
        counts[r.status] = counts.get(r.status, 0) + 1
        if r.alarm:
            alarms.append(r.value)
            print(f"ALERT {r.value}: {r.reason}", file=sys.stderr)

    with tracker:
        n = chk.check_store(tracker, config, now=datetime.now(timezone.utc), stale_after=stale, family=family,
                            on_result=show)
    figures = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
    print(f"checked {n:,} indicator(s)" + (f": {figures}" if figures else ""))
    if alarms:
        print(f"{len(alarms)} seizure(s) did not hold: {', '.join(alarms[:10])}"
              + (" ..." if len(alarms) > 10 else ""))


@tracker_app.command("stats")
def tracker_stats(
    out: Optional[str] = typer.Option(None, "--out", metavar="DIR",
                                      help="Also write summary.json and the charts (PNG, SVG) into DIR."),
    operation: Optional[str] = OPERATION_OPTION,
    db: Optional[str] = DB_OPTION,
) -> None:
    """Indicators by status per family, top ASes and countries, new per ISO week."""
    from rich.console import Console

    from takedown.tracker import stats

    tracker, _ = _open_tracker(db, operation)
    with tracker:
        st = stats.collect_store(tracker)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    summary = stats.write_stats(st, Path(out), now) if out else st.summary(now)
    console = Console(soft_wrap=True)
    for table in stats.tables(summary):
        console.print(table)
    if out:
        print(f"summary: {display_path(Path(out) / 'summary.json')}")


@tracker_app.command("export")
def tracker_export(
    fmt: str = typer.Option(..., "--format", metavar="NAME", help="rpz, suricata, csv, json, plain, stix, misp, atom..."),
    out: str = typer.Option(..., "--out", metavar="PATH", help="The file (a directory for misp) to write."),
    family: Optional[list[str]] = typer.Option(None, "--family", help="Only this family; repeatable."),
    status: Optional[list[str]] = typer.Option(None, "--status", help="Only this status; repeatable."),
    kind: Optional[list[str]] = typer.Option(None, "--kind", help="Only this kind (domain, ip, url); repeatable."),
    param: Optional[list[str]] = typer.Option(None, "--param", metavar="KEY=VALUE",
                                              help="A format option; repeatable."),
    db: Optional[str] = DB_OPTION,
    operation: Optional[str] = OPERATION_OPTION,
) -> None:
    """Write the tracked indicators in a format others load, atomically."""
    publish = _import("takedown.tracker.publish", None, TrackerError)
    params = publish.parse_params(param)
    tracker, op = _open_tracker(db, operation)
    sk = op.sinkhole if op else None
    with tracker:
        done = publish.export_selection(
            tracker, fmt, Path(out), family=family or None, status=status or None, kind=kind or None, params=params,
            sinkhole_v4=sk.ipv4[0] if sk and sk.ipv4 else None, sinkhole_v6=sk.ipv6[0] if sk and sk.ipv6 else None)
    print(f"wrote {done.count:,} indicator(s) to {out} ({done.format}, serial {done.serial})")


@tracker_app.command("show")
def tracker_show(
    value: str = typer.Argument(..., metavar="VALUE"),
    db: Optional[str] = DB_OPTION,
    operation: Optional[str] = OPERATION_OPTION,
) -> None:
    """Print a tracked indicator's fields and the history of its status."""
    tracker, _ = _open_tracker(db, operation)
    with tracker:
        ind = tracker.get(value)
        if ind is None:
            raise TrackerError(f"{value}: not tracked")
        history = tracker.history(value)
    asn = f"AS{ind.asn}" if ind.asn is not None else "-"
    for label, v in (("value", ind.value), ("kind", ind.kind), ("family", ind.family), ("status", ind.status),
                     ("first seen", _when(ind.first_seen)), ("last seen", _when(ind.last_seen)),
                     ("last online", _when(ind.last_online)), ("last checked", _when(ind.last_checked)),
                     ("as", f"{asn} {ind.as_name or ''}".rstrip()), ("country", ind.country or "-"),
                     ("source", ind.source or "-"), ("confidence", ind.confidence),
                     ("tags", ", ".join(ind.tags) or "-"), ("notes", ind.notes or "-"),
                     ("check-ins", "-" if ind.checkins is None else f"{ind.checkins:,}"),
                     ("id", ind.id), ("revision", ind.revision), ("updated", _when(ind.updated))):
        print(f"{label:<14}{v}")
    print("history")
    for c in history:
        what = f"{c.old} -> {c.new}" if c.old is not None else f"created {c.new}"
        print(f"  {_when(c.at)}  {what}  by {c.by}" + (f": {c.reason}" if c.reason else ""))


@tracker_app.command("list")
def tracker_list(
    family: Optional[list[str]] = typer.Option(None, "--family", help="Only this family; repeatable."),
    status: Optional[list[str]] = typer.Option(None, "--status", help="Only this status; repeatable."),
    kind: Optional[list[str]] = typer.Option(None, "--kind", help="Only this kind; repeatable."),
    limit: int = typer.Option(0, "--limit", metavar="N", help="At most N rows; 0: all."),
    db: Optional[str] = DB_OPTION,
    operation: Optional[str] = OPERATION_OPTION,
) -> None:
    """List tracked indicators: value, kind, family, status, last seen (UTC)."""
    import itertools

    def lines(rows) -> None:
        for i in itertools.islice(rows, limit or None):
            print(f"{i.value}\t{i.kind}\t{i.family}\t{i.status}\t{_when(i.last_seen)}")

    tracker, _ = _open_tracker(db, operation)
    with tracker:
        rows = tracker.select(family=family or None, status=status or None, kind=kind or None)
        _to_stdout(lambda: lines(rows))


@tracker_app.command("formats")
def tracker_formats() -> None:
    """Every format: its name, whether import reads it and export writes it, what it is."""
    from takedown.tracker import formats

    for name in formats.names():
        fmt = formats.get(name, reading=True) if name in formats.names(readable=True) else formats.get(name)
        ways = "/".join(w for w, ok in (("in", fmt.read), ("out", fmt.write or fmt.write_dir)) if ok)
        print(f"{name}\t{ways}\t{fmt.summary}")


@db_app.command("upgrade")
def db_upgrade(db: Optional[str] = DB_OPTION, operation: Optional[str] = OPERATION_OPTION) -> None:
    """Migrate the tracker's database to this takedown's schema (back it up first)."""
    dbm = _import("takedown.tracker.db", None, TrackerError)
    url, _ = _tracker_target(db, operation)
    before, after = dbm.upgrade_url(url)
    print(f"{dbm.shown(url)}: already at revision {after}" if before == after
          else f"{dbm.shown(url)}: upgraded from {before or 'an empty database'} to revision {after}")


@db_app.command("current")
def db_current(db: Optional[str] = DB_OPTION, operation: Optional[str] = OPERATION_OPTION) -> None:
    """Print the database's schema revision and this takedown's."""
    dbm = _import("takedown.tracker.db", None, TrackerError)
    url, _ = _tracker_target(db, operation)
    rev, head, state = dbm.revision_state(url)
    print(f"{dbm.shown(url)}: revision {rev or 'none'} (this takedown: {head}; {state})")


# --- the web console and partner portal (docs/console.md) -------------------

from typer.core import TyperGroup  # noqa: E402  (beside the group it serves)


class _ConsoleGroup(TyperGroup):
    """``takedown console FILE`` runs the console; ``takedown console user ...``
    and the other words are subcommands."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


console_app = typer.Typer(cls=_ConsoleGroup, no_args_is_help=True,
                          help="The web console and partner portal: `takedown console FILE` runs it; "
                               "users, partners and claims from the command line.")
app.add_typer(console_app, name="console")
console_user_app = typer.Typer(help="Console users: operators and partners' users.", no_args_is_help=True)
console_app.add_typer(console_user_app, name="user")
console_partner_app = typer.Typer(help="Partners (CERTs, ISPs, hosting providers) and their claims.",
                                  no_args_is_help=True)
console_app.add_typer(console_partner_app, name="partner")
CONSOLE_OPERATION = typer.Option(..., "--operation", metavar="FILE", envvar="TAKEDOWN_OPERATION",
                                 help="The operation file: its database and console key [env TAKEDOWN_OPERATION]")


def _cli_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


def _console_store(operation: str):
    ConsoleStore = _import("takedown.console.store", "ConsoleStore", TakedownError)
    from takedown.tracker.db import resolve_url

    op = load_operation(operation)
    return ConsoleStore.open(resolve_url(op.database.url or None, op.storage)), op


@console_app.command("run")
def console_run(
    file: Path = typer.Argument(..., metavar="FILE", help="The operation file."),
    listen: Optional[str] = typer.Option(None, "--listen", metavar="HOST:PORT",
                                         help="Where to listen (default: [console] listen, else 127.0.0.1:9080)."),
) -> None:
    """Run the console and partner portal for an operation."""
    ctxmod = _import("takedown.console.context", None, TakedownError)
    server = _import("takedown.console.server", None, TakedownError)
    op = load_operation(file)
    if listen is not None:
        listen = _option("--listen", parse_listen, listen)
    ctx = ctxmod.build(op)
    sock = server.bind(listen or ctx.settings.listen)
    if not any(u.is_operator and not u.disabled for u in ctx.store.users()):
        print(f"takedown: no operator yet: takedown console user add NAME --operator --operation {file}",
              file=sys.stderr)
    address = server.url(ctx, sock)
    server.run_on(ctx, sock, ready=lambda: print(f"takedown: console ready {address}", file=sys.stderr, flush=True))


@console_user_app.command("add")
def console_user_add(
    username: str = typer.Argument(..., metavar="NAME"),
    operation: str = CONSOLE_OPERATION,
    operator: bool = typer.Option(False, "--operator", help="An operator (sees everything, approves claims)."),
    partner: Optional[str] = typer.Option(None, "--partner", metavar="PARTNER", help="The partner it belongs to."),
) -> None:
    """Add a user with a one-time password (printed once; changed at first login)."""
    import secrets

    if operator == (partner is not None):
        raise TakedownError("console user add: give exactly one of --operator and --partner PARTNER")
    store, _ = _console_store(operation)
    with store:
        pid = store.partner(partner).id if partner is not None else None
        password = secrets.token_urlsafe(12)
        store.add_user(username, password, role="operator" if operator else "partner", partner_id=pid,
                       must_change=True, by=_cli_actor())
    print(f"user {username.lower()} added; one-time password: {password}")


@console_partner_app.command("add")
def console_partner_add(
    name: str = typer.Argument(..., metavar="NAME"),
    operation: str = CONSOLE_OPERATION,
    kind: str = typer.Option("cert", "--kind", metavar="KIND", help="cert, isp, hosting or other."),
    contact: str = typer.Option("", "--contact", metavar="ADDRESS", help="The partner's abuse mail address."),
) -> None:
    """Add a partner."""
    store, _ = _console_store(operation)
    with store:
        store.add_partner(name, kind, contact, by=_cli_actor())
    print(f"partner {name} added")


# --- console users: passwords, disabling, the list (H1, docs/console.md "Roles") ---


@console_user_app.command("passwd")
def console_user_passwd(
    username: str = typer.Argument(..., metavar="NAME"),
    operation: str = CONSOLE_OPERATION,
) -> None:
    """Give a user a new one-time password (printed once; changed at the next
    login); the user's sessions end."""
    passwords = _import("takedown.console.passwords", None, TakedownError)
    store, _ = _console_store(operation)
    with store:
        password = passwords.one_time_password()
        store.set_password(username, password, must_change=True, by=_cli_actor())
    print(f"user {username.lower()}: new one-time password: {password}")


@console_user_app.command("disable")
def console_user_disable(
    username: str = typer.Argument(..., metavar="NAME"),
    operation: str = CONSOLE_OPERATION,
) -> None:
    """Disable a user: its sessions end and it can no longer log in."""
    _console_user_disabled(username, operation, True)


@console_user_app.command("enable")
def console_user_enable(
    username: str = typer.Argument(..., metavar="NAME"),
    operation: str = CONSOLE_OPERATION,
) -> None:
    """Enable a user again (also lifts a lock-out after failed logins)."""
    _console_user_disabled(username, operation, False)


def _console_user_disabled(username: str, operation: str, disabled: bool) -> None:
    store, _ = _console_store(operation)
    with store:
        store.set_disabled(username, disabled, by=_cli_actor())
    print(f"user {username.lower()} {'disabled' if disabled else 'enabled'}")


@console_user_app.command("list")
def console_user_list(operation: str = CONSOLE_OPERATION) -> None:
    """The users: name, role, partner, disabled, locked (until when), last login."""
    store, _ = _console_store(operation)
    with store:
        users, now = store.users(), store.now()

    def when(t: int | None) -> str:
        return _when(datetime.fromtimestamp(t, timezone.utc) if t else None)

    _print_table(["name", "role", "partner", "disabled", "locked until", "last login"],
                 [[u.username, u.role, u.partner or "-", "yes" if u.disabled else "no",
                   when(u.locked_until) if (u.locked_until or 0) > now else "-", when(u.last_login)] for u in users])


# --- console: partners' claims (docs/console.md, "partners and claims") ----


@console_partner_app.command("claim")
def console_partner_claim(
    partner: str = typer.Argument(..., metavar="PARTNER"),
    kind: str = typer.Argument(..., metavar="KIND", help="asn, cidr, country or domain."),
    value: str = typer.Argument(..., metavar="VALUE", help="AS64500, 192.0.2.0/24, at, example.net"),
    operation: str = CONSOLE_OPERATION,
) -> None:
    """Add a claim for a partner, approved (an operator's own entry)."""
    approval = _import("takedown.console.approval", None, TakedownError)
    store, _ = _console_store(operation)
    with store:
        c = approval.request(store, store.partner(partner).id, kind, value, by=_cli_actor(), by_operator=True)
    print(f"claim {c.id}: {partner} {c.kind} {c.value} {c.status}")


@console_partner_app.command("approve")
def console_partner_approve(
    claim_id: int = typer.Argument(..., metavar="CLAIM_ID"),
    operation: str = CONSOLE_OPERATION,
    note: str = typer.Option("", "--note", metavar="TEXT", help="Why (kept in the claim and the audit log)."),
) -> None:
    """Approve a pending claim (and the partner's pending claims it covers)."""
    approval = _import("takedown.console.approval", None, TakedownError)
    store, op = _console_store(operation)
    with store:
        for c in approval.approve(store, claim_id, by=_cli_actor(), note=note, enricher=approval.enricher_for(op)):
            print(f"claim {c.id}: {c.kind} {c.value} approved{f' ({c.note})' if c.note else ''}")


@console_partner_app.command("reject")
def console_partner_reject(
    claim_id: int = typer.Argument(..., metavar="CLAIM_ID"),
    operation: str = CONSOLE_OPERATION,
    reason: str = typer.Option(..., "--reason", metavar="TEXT", help="Why (the partner sees it)."),
) -> None:
    """Reject a claim."""
    store, _ = _console_store(operation)
    with store:
        c = store.decide(claim_id, "rejected", by=_cli_actor(), note=reason)
    print(f"claim {c.id}: {c.kind} {c.value} rejected")


@console_partner_app.command("list")
def console_partner_list(operation: str = CONSOLE_OPERATION) -> None:
    """The partners with their claims (id, kind, value, status, note)."""
    store, _ = _console_store(operation)
    with store:
        claims = store.claims()
        for p in store.partners():
            print(f"{p.name} ({p.kind}){f' <{p.contact}>' if p.contact else ''}")
            for c in (c for c in claims if c.partner_id == p.id):
                print(f"  {c.id:>5}  {c.kind:<7} {c.value:<40} {c.status}{f'  {c.note}' if c.note else ''}")


# --- console API keys (docs/console.md, section API) ---

console_apikey_app = typer.Typer(help="Partners' API keys: made (the secret is shown once), listed, revoked.",
                                 no_args_is_help=True)
console_app.add_typer(console_apikey_app, name="apikey")


def _apikey_store(operation: str):
    apikeys = _import("takedown.console.apikeys", None, TakedownError)
    secret = _import("takedown.console.secret", None, TakedownError)
    store, op = _console_store(operation)
    return apikeys, store, secret.load_secret(secret.secret_path(op))


@console_apikey_app.command("create")
def console_apikey_create(
    partner: str = typer.Argument(..., metavar="PARTNER"),
    label: str = typer.Option(..., "--label", metavar="TEXT", help="What the key is for."),
    operation: str = CONSOLE_OPERATION,
) -> None:
    """Make an API key for a partner and print its id and secret (once)."""
    apikeys, store, key = _apikey_store(operation)
    with store:
        k, secret = apikeys.create(store, key, store.partner(partner).id, label, by=_cli_actor())
    print(f"API key for {k.partner} ({k.label})\nkey id: {k.key_id}\nsecret: {secret}\n"
          "the secret is not stored: keep it now")


@console_apikey_app.command("revoke")
def console_apikey_revoke(key_id: str = typer.Argument(..., metavar="KEY_ID"),
                          operation: str = CONSOLE_OPERATION) -> None:
    """Revoke an API key: its requests are refused from now on."""
    apikeys, store, _ = _apikey_store(operation)
    with store:
        k = apikeys.revoke(store, key_id, by=_cli_actor())
    print(f"API key {k.key_id} of {k.partner} revoked")


@console_apikey_app.command("list")
def console_apikey_list(
    operation: str = CONSOLE_OPERATION,
    partner: Optional[str] = typer.Option(None, "--partner", metavar="PARTNER", help="Only this partner's keys."),
) -> None:
    """List the API keys (ids, partners, labels, last use; never secrets)."""
    apikeys, store, _ = _apikey_store(operation)
    utc = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) if t else "-"  # noqa: E731
    with store:
        pid = store.partner(partner).id if partner is not None else None
        for k in apikeys.keys(store, pid):
            state = f"revoked {utc(k.revoked)}" if k.revoked else "active"
            print(f"{k.key_id}\t{k.partner}\t{k.label}\tcreated {utc(k.created)} by {k.created_by}\t"
                  f"last used {utc(k.last_used)}\t{state}")


# -------------------------------------------------------------------------- evidence (issue 17 point 5)

evidence_app = typer.Typer(help="The evidence chain: the operation's files sealed in a hash-chained, "
                                "time-stamped manifest (docs/evidence.md).", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")


@evidence_app.command("seal")
def evidence_seal(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    tsa: Optional[str] = typer.Option(None, "--tsa", metavar="URL",
                                      help="An RFC 3161 time-stamp authority to time-stamp the chain head."),
    include: Optional[list[str]] = typer.Option(
        None, "--include", metavar="PATH",
        help="A file or directory outside the storage (a report, an export) to seal too; repeatable."),
) -> None:
    """Add every new closed file of the operation (and of --include and [case] evidence) to its evidence manifest."""
    seal = _import("takedown.evidence.seal", "seal", EvidenceError)
    done = seal(load_operation(file), tsa=tsa, include=include or ())
    for e in done.added:
        print(f"sealed {e.path}\t{e.size}\t{e.sha256}")
    for p in done.absent:
        print(f"not there yet, not sealed: {display_path(p)} ([case] evidence)")
    print(f"{len(done.added)} file(s) sealed, {done.total} in {done.manifest}; "
          f"{done.open_days} event day(s) still open, not sealed")
    if done.token is not None:
        print(f"time-stamp {done.token} ({done.token_time}) over entry {done.total}")


@evidence_app.command("verify")
def evidence_verify(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    tsa_ca: Optional[str] = typer.Option(None, "--tsa-ca", metavar="PEM",
                                         help="The time-stamp authority's CA certificate(s): check the tokens' signatures."),
) -> None:
    """Re-hash every sealed file, check the chain and the time-stamps; exit 3 on any fault."""
    verify = _import("takedown.evidence.seal", "verify", EvidenceError)
    res = verify(load_operation(file), tsa_ca=Path(tsa_ca) if tsa_ca else None)
    for fault in res.faults:
        print(fault)
    for path, seq, when in res.tokens:
        print(f"time-stamp {path.name}: entry {seq}, {when}{'' if tsa_ca else ' (signature not checked: no --tsa-ca)'}")
    print(f"{res.files_ok} of {res.entries} file(s) as sealed, {len(res.tokens)} time-stamp(s) good")
    if not res.ok:
        print(f"evidence verify: {len(res.faults)} fault(s)")
        raise typer.Exit(3)
    print("evidence verify: OK")


# --- case: the court order (docs/case-*.md) --------------------------------

case_app = typer.Typer(help="The case: the court order, its authorities, the seizure's verification, the notice.",
                       no_args_is_help=True)
app.add_typer(case_app, name="case")


# --- case: the court's appendix (docs/case-appendix.md) --------------------


@case_app.command("appendix")
def case_appendix(
    file: str = typer.Argument(..., metavar="FILE", help=FILE_HELP),
    out: Path = typer.Option(..., "--out", metavar="DIR", help="Where appendix.csv, .html and .pdf are written."),
    registrars: Optional[str] = typer.Option(None, "--registrars", metavar="CSV",
                                             help="name,registrar lines: the registrar of a name or registrable "
                                                  "domain, where known."),
    dga_from: Optional[str] = typer.Option(None, "--dga-from", metavar="YYYY-MM-DD",
                                           help="Also list the [[dga]] names held from this day ..."),
    dga_to: Optional[str] = typer.Option(None, "--dga-to", metavar="YYYY-MM-DD", help="... to this day."),
    bootstrap: Optional[str] = typer.Option(None, "--bootstrap", metavar="FILE",
                                            help="An RDAP bootstrap dns.json (RFC 9224) instead of the shipped one."),
) -> None:
    """The appendix of seized names for the order: by registry, sorted, numbered (CSV, HTML, PDF)."""
    from takedown.case import appendix as ap
    from takedown.case import rdap_bootstrap
    from takedown.case.appendix_render import plural

    if (dga_from is None) != (dga_to is None):
        raise ap.AppendixError("--dga-from and --dga-to go together")
    window = (_date("--dga-from", dga_from), _date("--dga-to", dga_to)) if dga_from else None
    op = load_operation(file)
    boot = rdap_bootstrap.load(bootstrap) if bootstrap else rdap_bootstrap.shipped()
    regs = ap.read_registrars(registrars) if registrars else None
    a = ap.build(op, boot, regs, window)
    paths = ap.write(a, out)
    for g in a.groups:
        print(f"{g.registry}\t{g.service or '-'}\t{plural(len(g.entries), 'name', 'names')}\t"
              f"{g.registrable_count} registrable")
    print(f"{plural(a.total, 'name', 'names')}, "
          f"{plural(a.registrable_count, 'registrable domain', 'registrable domains')}, "
          f"{plural(len(a.groups), 'registry', 'registries')} ({a.bootstrap})")
    print("wrote " + ", ".join(display_path(p) for p in paths.values()))


@case_app.command("rdap-refresh")
def case_rdap_refresh(
    url: str = typer.Option("https://data.iana.org/rdap/dns.json", "--url", help="Where to fetch it (IANA)."),
    into: Optional[Path] = typer.Option(None, "--into", metavar="DIR",
                                        help="Directory to write rdap-dns-DATE.json in [the package's data]."),
) -> None:
    """Fetch IANA's RDAP bootstrap file (RFC 9224) and keep it as a dated file."""
    from takedown.case import rdap_bootstrap

    path = rdap_bootstrap.refresh(into or rdap_bootstrap.DATA_DIR, url)
    print(f"wrote {display_path(path)} (publication {rdap_bootstrap.load(path).publication})")


# --- case: seizure verification (docs/case-verify.md) ----------------------

# shared by `case verify --rdap` and `case notice --rdap`
RDAP_URL_OPTION = typer.Option(None, "--rdap-url", metavar="URL",
                               help="RDAP base URL for every name (default: from the bootstrap).")
BOOTSTRAP_OPTION = typer.Option(None, "--bootstrap", metavar="FILE",
                                help="IANA RDAP bootstrap file (dns.json, RFC 9224); default: the shipped one.")


@case_app.command("verify")
def case_verify(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    dns_check: bool = typer.Option(False, "--dns", help="Check each name's delegation in its parent zone."),
    rdap_check: bool = typer.Option(False, "--rdap", help="Check each name's RDAP status and registrar."),
    parent: Optional[str] = typer.Option(None, "--parent", metavar="HOST:PORT",
                                         help="Ask this server for every delegation (default: the TLD's servers)."),
    rdap_url: Optional[str] = RDAP_URL_OPTION,
    bootstrap: Optional[Path] = BOOTSTRAP_OPTION,
    status: Optional[list[str]] = typer.Option(None, "--status", metavar="STATUS",
                                               help="Expected RDAP status; repeatable (default: [case] rdap_status, "
                                                    "per registry)."),
    registrar: Optional[str] = typer.Option(None, "--registrar", metavar="NAME|IANA-ID",
                                            help="Expected registrar (default: [case] registrar, per registry)."),
    fmt: str = typer.Option("table", "--format", metavar="table|csv|json", help="Output format."),
    timeout: float = typer.Option(3.0, "--timeout", metavar="SECONDS", help="Per query."),
) -> None:
    """Check that every seized name's seizure took effect; exit 3 when one is not verified."""
    from takedown.case.report import FORMATS, all_verified, render
    from takedown.case.verify import verify_operation

    if fmt not in FORMATS:
        raise OperationError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if not (dns_check or rdap_check):
        dns_check = True  # the delegation is what makes a seizure work; RDAP asks a server on the Internet
    results = verify_operation(load_operation(file), dns_check=dns_check, rdap_check=rdap_check, parent=parent,
                               rdap_url=rdap_url, bootstrap=bootstrap, now=int(time.time()), timeout=timeout,
                               statuses=tuple(status) if status else None, registrar=registrar)
    sys.stdout.write(render(results, fmt))
    if not all_verified(results):
        raise typer.Exit(3)


# --- case: the order's authorities, the notice (docs/case-model.md) --------

@case_app.command("check")
def case_check(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    at: Optional[str] = typer.Option(None, "--at", metavar="TIME",
                                     help="Check at this UTC time (YYYY-MM-DD or ISO 8601 date-time); default now."),
) -> None:
    """Hold the operation against its [case]: every seized name under a valid sink authority,
    every command response of its rules file under a command authority."""
    from takedown.case.check import check_case, parse_time, rules_commands, summary

    when = parse_time(at) if at is not None else datetime.now(timezone.utc)
    op = load_operation(file)
    res = check_case(op, when, rules_commands(op))
    for line in res.errors:
        print(f"Error: {line}", file=sys.stderr)
    if not res.ok:
        raise typer.Exit(1)
    print(summary(res))


@case_app.command("notice")
def case_notice(
    file: str = typer.Argument(..., help=FILE_HELP, metavar="FILE"),
    out: Path = typer.Option(..., "--out", metavar="DIR", help="Where the site, the mails and sendings.csv go."),
    documents: Optional[Path] = typer.Option(None, "--documents", metavar="DIR",
                                             help="The order and pleadings to publish (every file in DIR)."),
    recipients: Optional[Path] = typer.Option(None, "--recipients", metavar="FILE",
                                              help="address[,name] a line: who gets the notice by e-mail."),
    templates: Optional[Path] = typer.Option(None, "--templates", metavar="DIR",
                                             help="Operator's notice-index.html.j2 / notice-email.txt.j2."),
    site_url: Optional[str] = typer.Option(None, "--site-url", metavar="URL", help="Where the site is published."),
    rdap: bool = typer.Option(False, "--rdap", help="Also mail the registrants RDAP gives for the seized names."),
    rdap_url: Optional[str] = RDAP_URL_OPTION,
    bootstrap: Optional[Path] = BOOTSTRAP_OPTION,
    timeout: float = typer.Option(10.0, "--timeout", metavar="SECONDS", help="Per RDAP query."),
    sender: str = FROM_OPTION,
    smtp: Optional[str] = SMTP_OPTION,
) -> None:
    """Build the notice to the defendants: a static site and one e-mail per recipient; --smtp sends them."""
    from takedown.analytics.notify import parse_smtp
    from takedown.case.appendix_render import plural
    from takedown.case.notice import build_notice, load_recipients, merge, send_notices
    from takedown.case.registrants import of_operation

    relay = parse_smtp(smtp) if smtp is not None else None
    people = load_recipients(recipients) if recipients is not None else []
    op = load_operation(file)
    if rdap or rdap_url is not None or bootstrap is not None:  # either says where to ask: RDAP is meant
        found = of_operation(op, rdap_url, bootstrap, timeout)
        for f in found.failed:
            print(f"rdap: {f.name}: {f.reason}")
        print(f"rdap: {plural(len(found.found), 'registrant address', 'registrant addresses')} from "
              f"{found.asked - len(found.failed)} of {plural(found.asked, 'name', 'names')}; "
              f"{len(found.without)} without one (redacted or none), {len(found.failed)} failed")
        people = merge(people, found)
    pkg = build_notice(op, out, documents=documents, recipients=people, templates=templates,
                       sender=sender, site_url=site_url)
    print(f"site: {display_path(pkg.index)} ({len(pkg.documents)} document(s))")
    print(f"mails: {len(pkg.mails)} in {display_path(out / 'mail')}")
    if relay is not None:
        res = send_notices(op, pkg, relay)
        skipped = f"; {res.skipped} already sent this notice, skipped" if res.skipped else ""
        print(f"sent: {res.sent} through {smtp}{skipped} (recorded in the operation's database, "
              f"exported to {display_path(res.log)})")


# --------------------------------------------------------------------------


def main() -> None:
    """Entry point of the ``takedown`` script."""
    try:
        app()  # standalone: exits itself, 0 or click's usage-error status
    except TakedownError as e:
        # one line, always: a library message may quote a multi-line one (a
        # DuckDB binder error, a parser's caret line); its first line says it
        lines = str(e).strip().splitlines() or [type(e).__name__]
        print(f"Error: {lines[0]}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:  # typer maps it to 130 inside a command; this is the rest
        sys.exit(130)


# --------------------------------------------------------------------------


def _option(name: str, parse: Any, value: Any) -> Any:
    try:
        return parse(value)
    except ValueError as e:
        raise OperationError(f"{name}: {e}") from None


def operation_dataset(op) -> Any:
    """What the readers read for ``op``: its storage and its ``[events] sources``."""
    return _import("takedown.store.reader", "operation_dataset", StoreError)(op)


def _import(module: str, attr: str | None, error: type[TakedownError]) -> Any:
    """``module.attr``, imported when needed (server and store pull in
    uvloop, pyarrow, duckdb), or ``error`` if that module is missing."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module or module.startswith(f"{e.name}."):
            raise error(f"{module} is not available in this installation") from None
        raise
    return getattr(mod, attr) if attr else mod


def _print_table(header: list[str], rows: list[list[object]], indent: str = "") -> None:
    """Columns aligned on the widest cell, one row a line."""
    cells = [header] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for r in cells:
        print(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def _print_summary(s: dict[str, Any]) -> None:
    def row(label: str, value: object) -> None:
        print(f"  {label:<14}{value}")

    def table(header: list[str], rows: list[list[object]]) -> None:
        _print_table(header, rows, indent="  ")

    sk = s["sinkhole"]
    print(f"operation {s['name']}  ({display_path(s['path'])})")
    row("storage", display_path(s["storage"]))
    for i, source in enumerate(s["events"]["sources"]):  # read with the storage (docs/events.md)
        row("read with" if i == 0 else "", source)
    row("sinkhole", ", ".join(sk["ipv4"] + sk["ipv6"]) + f"  (ttl {sk['ttl']})")
    row("soa email", sk["soa_email"])
    for i, ns in enumerate(sk["nameservers"]):
        row("nameservers" if i == 0 else "", f"{ns['name']}  {', '.join(ns['addresses'])}")

    print(f"\nseized domains: {s['seized_names']} name(s)")
    if s["domains"]:
        table(["family", "names", "file"],
              [[d["family"], d["names"], display_path(d["file"])] for d in s["domains"]])

    print(f"\nzones: {len(s['zones'])}")
    if s["zones"]:
        table(["origin", "family", "names", "blocked", "blocked *.", "file", "blocklist"],
              [[z["origin"], z["family"], "?" if z["names"] is None else z["names"],
                z["blocked_exact"], z["blocked_wildcard"], display_path(z["file"]),
                display_path(z["blocklist"]) if z["blocklist"] else "-"]
               for z in s["zones"]])

    d, r = s["dns"], s["dns"]["rrl"]
    print("\ndns")
    row("listen", ", ".join(d["listen"]))
    row("workers", d["workers"])
    row("udp payload", f"{d['max_udp_payload']} bytes")
    row("tcp idle", f"{d['tcp_idle_timeout']:g} s")
    if r["enabled"]:
        rate = f"{r['responses_per_second']} responses/s" if r["responses_per_second"] else "no response limit"
        row("rrl", f"{rate} per /{r['ipv4_prefix']} (IPv4) "
                   f"and /{r['ipv6_prefix']} (IPv6), window {r['window']} s, slip {r['slip']}")
        more = [f"{k.removesuffix('_per_second')} {r[k]}/s" for k in
                ("referrals_per_second", "nodata_per_second", "nxdomains_per_second", "errors_per_second",
                 "all_per_second") if r.get(k) is not None and (r[k] or k != "all_per_second")]
        if r.get("exempt"):
            more.append("exempt " + ", ".join(r["exempt"]))
        if more:
            row("", ", ".join(more))
    else:
        row("rrl", "off")
    print(f"\nevents\n  {'sensor':<14}{s['events']['sensor']}\n"
          f"  {'flush every':<14}{s['events']['flush_interval']:g} s\n"
          f"  {'addresses':<14}{s['events']['privacy']}")
    if s.get("dga"):
        print("\ndga")
        for g in s["dga"]:
            params = ", ".join(f"{k}={v}" for k, v in g["params"].items()) or "defaults"
            row(g["family"], f"{params}; held {g['days_before']} day(s) before to {g['days_after']} after")
    if s["notes"]:
        print("\nnotes")
        for note in s["notes"]:
            print(f"  - {note}")
    print("\nOK")
