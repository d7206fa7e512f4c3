"""``make bench``: the DNS and HTTP benchmarks and the 3M-name zone load, figures into RESULTS.md.

Runs bench/dns_bench.py (takedown vs BIND 9 vs NSD, CPU per answered query
and qps, one worker each, pinned), bench/zone_load.py (3,000,000 names,
70,000-name blocklist: load time and memory) and bench/http_bench.py
(takedown's HTTP sinkhole vs nginx with wrk: CPU per request and requests/s,
keep-alive and Connection: close; then bench/idle_conns.py: 10,000 idle
connections held open while check-ins go on), prints a summary, saves the raw
numbers in bench/out/, and rewrites the generated sections of bench/RESULTS.md
(between the ``<!-- bench:NAME:begin/end -->`` markers, NAME one of dns,
cold, zone, http; text outside them is kept).

Usage::

    .venv/bin/python bench/run.py               # full (about 20 minutes)
    .venv/bin/python bench/run.py --quick       # smoke run; RESULTS.md untouched unless --write
    .venv/bin/python bench/run.py --skip-zone   # no zone load (its section is kept)
    .venv/bin/python bench/run.py --skip-dns --skip-zone   # HTTP only (about 7 minutes)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import dns_bench  # noqa: E402
import http_bench  # noqa: E402
import idle_conns  # noqa: E402
import zone_load  # noqa: E402

RESULTS = BENCH_DIR / "RESULTS.md"
MARKERS = {
    "dns": ("<!-- bench:dns:begin -->", "<!-- bench:dns:end -->"),
    "cold": ("<!-- bench:cold:begin -->", "<!-- bench:cold:end -->"),
    "zone": ("<!-- bench:zone:begin -->", "<!-- bench:zone:end -->"),
    "http": ("<!-- bench:http:begin -->", "<!-- bench:http:end -->"),
}
HTTP_IDLE, HTTP_IDLE_CHECKINS = 10_000, 1_000
COLD_NAMES, COLD_BLOCKLIST, COLD_REPS = 3_000_000, 70_000, 3
RESULTS_HEADER = """\
# Benchmark results

Figures from `make bench` (`.venv/bin/python bench/run.py`); what each one
measures and how is in [README.md](README.md). The sections between the
`bench:*` markers are rewritten by every full run; write notes outside them.

"""


def _fmt(x, spec: str = ",.0f", none: str = "-") -> str:
    return none if x is None else format(x, spec)


def _machine_lines(m: dict) -> list[str]:
    return [
        f"- date: {m['date_utc']}",
        f"- machine: {m['nproc']} CPUs, {m['cpu_model']}, {m['mem_gib']} GiB; kernel {m['kernel']}",
        f"- software: Python {m['python']}, uvloop {m['uvloop']}, takedown {m['takedown']} "
        f"(commit {m['commit']}), dnsperf {m['dnsperf']}, {m['bind']}, {m['nsd']}",
    ]


def render_dns(r: dict, command: str, *, cold: bool = False) -> str:
    p = r["params"]
    z = p["zone"]
    opts = f"--seconds {p['seconds']:g} --reps {p['reps']}"
    if cold:
        opts += f" --names {z['host_names']} --blocklist {z['blocklist_exact'] + z['blocklist_wildcard']}"
        opts += f" --warmup {p['warmup']:g} --only saturated --continue-queries"
    title = ("## DNS, cache-cold: the 3,000,000-name zone, 1,000,000 distinct queries" if cold
             else "## DNS: CPU per answered query and qps")
    lines = [
        title,
        "",
        f"Command: `{command}` (this part: `.venv/bin/python bench/dns_bench.py {opts}`); "
        f"raw numbers: `{r.get('saved', '?')}`.",
        "",
    ]
    if cold:
        lines += [
            "Our server keeps rendered answers in a cache (250,000 entries, in "
            "`takedown.dns.responder`); with the 100,000-name zone every query of the file is "
            "a cache hit after the first pass. Here the query file has more distinct queries than "
            "the cache holds, and each run starts in the file where that server's previous run "
            "stopped (`--continue-queries`), so most answers are computed: the cost of a cache "
            "miss. Not part of the bar.",
            "",
        ]
    lines += [
        *_machine_lines(r["machine"]),
        f"- zone: {z['host_names']:,} names ({z['records']:,} records), "
        f"blocklist {z['blocklist_exact']:,} names + {z['blocklist_wildcard']} wildcards; "
        f"query file: {z['queries']:,} lines, {z.get('distinct_queries', 0):,} distinct; "
        f"query mix: " + ", ".join(f"{q['share']:.0%} {q['kind']}" for q in p["query_mix"]),
        f"- one worker each; servers pinned to CPU {p['server_cpu']}, dnsperf (`-T 1`) to CPU "
        f"{p['client_cpu']}; {p['reps']} runs of {p['seconds']:g} s per server and setting, "
        f"interleaved, after a warm-up ("
        + ("one pass over the query file" if p.get("warmup_pass") else f"{p['warmup']:g} s")
        + f"); medians. Our server's RRL: {p['rrl']}"
        f" (limit {100_000_000:,}/s: bookkeeping on every query, never limiting).",
        "",
        "Server commands:",
        "",
    ]
    for name, c in r["commands"].items():
        pinned = "" if c.get("pinned") == "taskset" else f" ({c.get('pinned', '')})"
        lines.append(f"- {name}: `{c['server']}`{pinned}")
        dp = c["dnsperf"]
        for setting, cmd in (dp.items() if isinstance(dp, dict) else [("saturated", dp)]):
            lines.append(f"  - dnsperf, {setting}: `{cmd}`")
    for name, notes in (r.get("notes") or {}).items():
        for n in notes:
            lines.append(f"- note ({name}): {n}")
    for name, e in (r.get("errors") or {}).items():
        lines.append(f"- **{name} did not run**: {e.splitlines()[0] if e else '?'}")
    for name, prob in (r.get("server_log_problems") or {}).items():
        lines.append(f"- **{name} logged {prob['count']:,} error lines**, first: `{prob['first']}`")
    lines.append("")
    for setting, per in r["summary"].items():
        s = next(x for x in p["settings"] if x["name"] == setting)
        desc = (f"no rate limit, `-c {s['clients']} -q {s['outstanding']}`" if not s["rate"]
                else f"offered `-Q {s['rate']}` qps, `-c {s['clients']} -q {s['outstanding']}`")
        lines += [
            f"### {setting} ({desc})",
            "",
            "| server | qps | server CPU µs / answered query (min-max) | server CPU % | lost % "
            "| avg latency ms | other load on server core % | Parquet rows stored / answered |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, m in per.items():
            if name == "ratios":
                continue
            flags = []
            if m.get("client_bound"):
                flags.append("client-bound")
            if m.get("contended"):
                flags.append("contended")
            if m.get("lossy"):
                flags.append("**lost queries: not valid**")
            label = dns_bench.LABELS.get(name, name) + (f" ({', '.join(flags)})" if flags else "")
            stored = (f"{m['parquet_rows_total']:,} / {m['completed_total']:,}"
                      if "parquet_rows_total" in m else "n/a")
            lines.append(
                f"| {label} | {_fmt(m['qps'])} | {_fmt(m['cpu_us_per_query'], '.2f')} "
                f"({m['cpu_us_per_query_min']:.2f}-{m['cpu_us_per_query_max']:.2f}) "
                f"| {_fmt(m['server_cpu_pct'], '.1f')} | {_fmt(m['lost_pct'], '.2f')} "
                f"| {_fmt(m['latency_avg_ms'], '.3f')} | {_fmt(m['server_core_other_pct'], '.1f')} | {stored} |"
            )
        ratios = per.get("ratios") or {}
        if ratios:
            main = {k: v for k, v in ratios.items() if not k.endswith("_paired")}
            paired = {k.removesuffix("_paired"): v for k, v in ratios.items() if k.endswith("_paired")}
            lines += ["", "Ratios of CPU per answered query (of the medians): " + ", ".join(
                f"{k.replace('_vs_', '/')} **{v:.2f}**" for k, v in main.items()) + "."]
            if paired:
                lines.append("Median of the per-repetition ratios (adjacent runs): " + ", ".join(
                    f"{k.replace('_vs_', '/')} {v:.2f}" for k, v in paired.items()) + ".")
        codes = [f"{dns_bench.LABELS.get(n, n).split(' (')[0]}: "
                 + ", ".join(f"{c} {v:.1f}%" for c, v in m["rcodes_pct"].items())
                 for n, m in per.items() if n != "ratios" and m.get("rcodes_pct")]
        if codes:
            lines += ["", "Response codes: " + "; ".join(codes) + "."]
        lines.append("")
    if cold:
        return "\n".join(lines) + "\n"
    bar = r.get("bar") or {}
    nsd_ratio = r["summary"].get("saturated", {}).get("ratios", {}).get("ours_vs_nsd")
    if bar.get("pass") is not None:
        lines.append(
            f"**Bar** (saturated runs): our CPU per answered query, Parquet query logging on, "
            f"<= {bar['limit']}x BIND 9's with its query log on: {bar['ours_vs_bind_cpu_per_query']:.2f}x "
            f"-> **{'PASS' if bar['pass'] else 'FAIL'}**"
            + (f" (NSD, no query log: ours/NSD {nsd_ratio:.2f}x)." if nsd_ratio else ".")
        )
    elif bar.get("invalid"):
        lines.append(f"**Bar**: not judged: {bar['invalid']}.")
    else:
        lines.append("**Bar**: not measured (our server or BIND did not run).")
    contended = [f"{st}/{n}" for st, per in r["summary"].items() for n, m in per.items()
                 if n != "ratios" and m.get("contended")]
    if contended:
        lines += ["", f"Warning: other processes used more than 10% of the server core during "
                      f"{', '.join(contended)}; qps there is understated (CPU per query much less so). "
                      "Re-run on a quiet machine for figures to quote."]
    if r.get("quick"):
        lines += ["", "_Quick (smoke) run: short runs, two repetitions; not figures to quote._"]
    return "\n".join(lines) + "\n"


def render_zone(r: dict, command: str) -> str:
    p = r["params"]
    opts = " --bind" if "bind" in r["servers"] or "bind" in r["errors"] else ""
    if p["names"] != 3_000_000:
        opts += f" --names {p['names']}"
    if p["blocklist"] != 70_000:
        opts += f" --blocklist {p['blocklist']}"
    lines = [
        f"## Zone load: {p['names']:,} names with a {p['blocklist']:,}-name blocklist",
        "",
        f"Command: `{command}` (zone part: `.venv/bin/python bench/zone_load.py{opts}`); "
        f"raw numbers: `{r.get('saved', '?')}`.",
        "",
        *_machine_lines(r["machine"]),
        f"- zone: {p['zone']['host_names']:,} names, {p['zone']['records']:,} records, "
        f"{p['zone']['bytes'] / 2**20:.0f} MiB master file (generated in "
        f"{r.get('generation_seconds_when_made') or r['generation_seconds']:.1f} s by bench/zonegen.py)",
        "- ready: from the server process's start to its first answer; peak RSS: VmHWM summed over "
        f"the process tree after a {p['burst_seconds']:g} s dnsperf burst (serving, query logging on); "
        "PSS counts pages shared by forked processes once.",
        "",
        "| server | ready s | CPU s to ready | peak RSS MiB | PSS MiB | burst qps | command |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, s in r["servers"].items():
        lines.append(
            f"| {zone_load.LOAD_LABELS.get(name, name)} | {s['ready_seconds']:.1f} | "
            f"{s['cpu_seconds_to_ready']:.1f} | {s['peak_rss_kib'] / 1024:,.0f} | {s['pss_kib'] / 1024:,.0f} | "
            f"{_fmt((s.get('burst') or {}).get('qps'))} | `{s['command']}` |"
        )
    for name, s in r["servers"].items():
        if "with_zone_check_seconds" in s:
            lines.append(f"\n{zone_load.LOAD_LABELS.get(name, name)}: {s['with_zone_check_seconds']:.1f} s "
                         "including the peers module's zone check before the daemon starts.")
    ip = r.get("in_process")
    if ip and "policy_seconds" in ip:
        lines += ["", f"In-process compile, `takedown.dns.policy.Policy(load_operation(op))` in a fresh "
                      f"interpreter: {ip['policy_seconds']:.1f} s, peak RSS {ip['maxrss_kib'] / 1024:,.0f} MiB."]
    elif ip:
        lines += ["", f"In-process compile: not measured ({ip.get('error', '?').splitlines()[-1]})."]
    for name, e in (r.get("errors") or {}).items():
        lines.append(f"\n**{name} failed**: {e.splitlines()[0] if e else '?'}")
    b = r["bar"]
    lines.append("")
    if b["pass"] is not None:
        lines.append(f"**Bar**: loads in <= {b['ready_seconds_limit']:.0f} s and stays under "
                     f"{b['rss_gib_limit']:.0f} GiB RSS: {b['ready_seconds']:.1f} s, {b['peak_rss_gib']:.2f} GiB "
                     f"-> **{'PASS' if b['pass'] else 'FAIL'}**.")
    else:
        lines.append("**Bar**: not measured (our server did not run).")
    return "\n".join(lines) + "\n"


def render_http(r: dict, command: str) -> str:
    p = r["params"]
    m = r["machine"]
    opts = f"--seconds {p['seconds']:g} --reps {p['reps']}"
    if p["servers"] != list(http_bench.SERVERS):
        opts += f" --servers {','.join(p['servers'])}"
    if p["idle"] != HTTP_IDLE or p["idle_checkins"] != HTTP_IDLE_CHECKINS:
        opts += f" --idle {p['idle']} --checkins {p['idle_checkins']}"
    lines = [
        "## HTTP: server CPU per check-in and requests/s",
        "",
        f"Command: `{command}` (this part: `.venv/bin/python bench/http_bench.py {opts}`); "
        f"raw numbers: `{r.get('saved', '?')}`.",
        "",
        f"- date: {m['date_utc']}",
        f"- machine: {m['nproc']} CPUs, {m['cpu_model']}, {m['mem_gib']} GiB; kernel {m['kernel']}",
        f"- software: Python {m['python']}, uvloop {m['uvloop']}, httptools {m.get('httptools', '?')}, "
        f"takedown {m['takedown']} (commit {m['commit']}), nginx {m.get('nginx', '?')}, wrk {m.get('wrk', '?')}",
        f"- one worker each; servers pinned to CPU {p['server_cpu']}, wrk (`-t1 -c50`) to CPU "
        f"{p['client_cpu']}; {p['reps']} runs of {p['seconds']:g} s per server and setting, interleaved, "
        f"after a {p['warmup']:g} s warm-up; medians. Server CPU = utime+stime of the server's process "
        f"tree, read before wrk starts and {p['settle']:g} s after it ends (our last events flushed).",
        "- ours logs every request as an event to Parquet (`<storage>/events/kind=http/`, counted with "
        "DuckDB); nginx writes its access log (`combined`, unbuffered: one write per request). "
        "*Logged / answered*: wrk does not count the responses still in flight when it stops (at most "
        "one per connection per run), which the servers did answer and log.",
        "",
        "Server commands:",
        "",
    ]
    for name, c in r["commands"].items():
        pinned = "" if c.get("pinned") == "taskset" else f" ({c.get('pinned', '')})"
        lines.append(f"- {name}: `{c['server']}`{pinned}")
        for setting, cmd in c["wrk"].items():
            lines.append(f"  - wrk, {setting}: `{cmd}`")
    bot = p.get("bot_request") or {}
    if bot:
        lines.append(f"- the `bot` request (`{http_bench.WRK_DIR.relative_to(dns_bench.REPO)}/checkin.lua`, "
                     f"static): `{bot['method']} {p['path']}` with "
                     + ", ".join(f"`{k}: {v}`" for k, v in bot["headers"].items())
                     + f" and the {len(bot['body'])}-byte body `{bot['body']}`")
        lines.append(f"- the `unique` requests (`{http_bench.WRK_DIR.relative_to(dns_bench.REPO)}/unique.lua`, "
                     "Lua per request): the same check-in with a new 16-hex-digit id in the query and the "
                     "body of each request, so none repeats another and our request cache never hits")
    for name, resp in (r.get("responses") or {}).items():
        lines.append(f"- response of {name}: `" + resp.replace("\r\n", " | ") + "`")
    for name, notes in (r.get("notes") or {}).items():
        for n in notes:
            lines.append(f"- note ({name}): {n}")
    for name, e in (r.get("errors") or {}).items():
        lines.append(f"- **{name} did not run**: {e.splitlines()[0] if e else '?'}")
    for name, prob in (r.get("server_log_problems") or {}).items():
        lines.append(f"- **{name} logged {prob['count']:,} error lines**, first: `{prob['first']}`")
    lines.append("")
    settings = {s["name"]: s for s in p["settings"]}
    for setting, per in r["summary"].items():
        lines += [
            f"### {setting} ({settings.get(setting, {}).get('describe', '')})",
            "",
            "| server | requests/s | server CPU µs / request (min-max) | server CPU % | errors % "
            "| avg latency ms | p99 latency ms | other load on server core % | wrk CPU % "
            "| other load on wrk core % | requests logged / answered |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, x in per.items():
            if name == "ratios":
                continue
            flags = []
            if x.get("client_bound"):
                flags.append("client-bound")
            if x.get("contended"):
                flags.append("contended")
            if x.get("client_contended"):
                flags.append("wrk core contended")
            if x.get("erroneous"):
                flags.append("**failed requests: not valid**")
            label = http_bench.LABELS.get(name, name) + (f" ({', '.join(flags)})" if flags else "")
            lines.append(
                f"| {label} | {_fmt(x['rps'])} | {_fmt(x['cpu_us_per_request'], '.2f')} "
                f"({x['cpu_us_per_request_min']:.2f}-{x['cpu_us_per_request_max']:.2f}) "
                f"| {_fmt(x['server_cpu_pct'], '.1f')} | {_fmt(x['error_pct'], '.2f')} "
                f"| {_fmt(x['latency_avg_ms'], '.3f')} | {_fmt(x['latency_p99_ms'], '.3f')} "
                f"| {_fmt(x['server_core_other_pct'], '.1f')} | {_fmt(x.get('client_cpu_pct'), '.1f')} "
                f"| {_fmt(x.get('client_core_other_pct'), '.1f')} | {x['logged_total']:,} / {x['requests_total']:,} |"
            )
        cpr = [f"{http_bench.LABELS.get(n, n).split(' (')[0]} {x['connections_per_request']:.3f}"
               for n, x in per.items() if n != "ratios" and "connections_per_request" in x]
        if cpr:
            lines += ["", "New TCP connections per request (machine-wide `PassiveOpens`; 1 with "
                          "Connection: close, about 0 with keep-alive): " + ", ".join(cpr) + "."]
        ratios = per.get("ratios") or {}
        if ratios.get("ours_vs_nginx"):
            lines += ["", f"Ratio of CPU per request (of the medians): ours/nginx **{ratios['ours_vs_nginx']:.2f}**"
                      + (f"; median of the per-repetition ratios {ratios['ours_vs_nginx_paired']:.2f}"
                         if "ours_vs_nginx_paired" in ratios else "") + "."]
        lines.append("")
    bar = r.get("bar") or {}
    if bar.get("pass") is not None:
        close = bar.get("close_ratio")
        lines.append(
            f"**Bar** (keep-alive runs): our server CPU per check-in, Parquet event logging on, "
            f"<= {bar['limit']:.1f}x nginx's with its access log on: {bar['ours_vs_nginx_cpu_per_request']:.2f}x "
            f"-> **{'PASS' if bar['pass'] else 'FAIL'}**"
            + (f" (Connection: close: ours/nginx {close:.2f}x)." if close else "."))
    elif bar.get("invalid"):
        lines.append(f"**Bar**: not judged: {bar['invalid']}.")
    else:
        lines.append("**Bar**: not measured (our server or nginx did not run).")
    idle = r.get("idle") or {}
    if idle:
        lines += [
            "",
            f"### {p['idle']:,} idle connections held open (`bench/idle_conns.py`)",
            "",
            f"{p['idle']:,} TCP connections opened to the server (non-blocking connects in batches of 500) "
            "and held without sending a byte; meanwhile a quiet second (server CPU), then "
            f"{p['idle_checkins']:,} check-ins one after the other, each on a new connection (the bot-like "
            "`POST /gate.php`, `Connection: close`; latency = connect to last byte; 5 s limit each), then a "
            f"{p['idle_wrk_seconds']:g} s wrk burst (keep-alive, `-t1 -c50`); then the requests logged are "
            "counted and the idle connections checked (still open = not closed by the server). Same "
            "server instances as above.",
            "",
            "| server | idle held: opened / accepted by server / still open at end | server CPU while idle % "
            "| server KiB per idle connection | check-ins answered | check-in latency ms p50 / p99 / max "
            "| wrk requests/s while held | requests logged / answered | result |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for name, x in idle.items():
            label = http_bench.LABELS.get(name, name)
            if "checkins" not in x:
                lines.append(f"| {label} | failed: {x.get('error', '?').splitlines()[0]} | | | | | | | **FAIL** |")
                continue
            ci, lat = x["checkins"], x["checkins"]["latency_ms"] or {}
            lg, w = x.get("logging") or {}, x.get("wrk") or {}
            lines.append(
                f"| {label} | {x['open']['opened']:,} / {_fmt(x.get('server_accepted'), ',')} / "
                f"{x['idle_still_open']:,} | {_fmt(x.get('server_cpu_pct_while_idle'), '.1f')} "
                f"| {_fmt(x.get('server_kib_per_idle_conn'), '.1f')} "
                f"| {ci['answered_200']:,} / {x['checkins_wanted']:,} "
                f"| {_fmt(lat.get('p50'), '.2f')} / {_fmt(lat.get('p99'), '.2f')} / {_fmt(lat.get('max'), '.2f')} "
                f"| {_fmt(w.get('rps'))} | "
                + (f"{lg['logged']:,} / {lg['answered']:,}" if lg else "n/a")
                + f" | {'OK' if x['ok'] else '**FAIL**'} |")
        ib = (r.get("idle_bar") or {}).get("pass")
        lines += ["", "**Bar**: " + (
            "not measured (our server did not run)." if ib is None else
            f"{p['idle']:,} idle connections held open do not stop new check-ins from being served and "
            f"logged -> **{'PASS' if ib else 'FAIL'}**.")]
    contended = [f"{st}/{n}" for st, per in r["summary"].items() for n, x in per.items()
                 if n != "ratios" and (x.get("contended") or x.get("client_contended"))]
    if contended:
        lines += ["", f"Warning: other processes used more than 10% of the server core or of wrk's core "
                      f"during {', '.join(contended)}; requests/s there is understated (CPU per request much "
                      "less so). Re-run on a quiet machine for figures to quote."]
    if r.get("quick"):
        lines += ["", "_Quick (smoke) run: short runs, two repetitions; not figures to quote._"]
    return "\n".join(lines) + "\n"


def rewrite_results(sections: dict[str, str], path: Path = RESULTS) -> None:
    text = path.read_text() if path.exists() else RESULTS_HEADER
    for key, body in sections.items():
        begin, end = MARKERS[key]
        block = f"{begin}\n{body}{end}"
        if begin in text and end in text and text.index(begin) < text.index(end):
            i, j = text.index(begin), text.index(end) + len(end)
            text = text[:i] + block + text[j:]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run (RESULTS.md untouched unless --write)")
    ap.add_argument("--write", action="store_true", help="rewrite RESULTS.md even after --quick")
    ap.add_argument("--no-write", action="store_true", help="never touch RESULTS.md")
    ap.add_argument("--skip-dns", action="store_true")
    ap.add_argument("--skip-zone", action="store_true")
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--skip-enrich", action="store_true")
    ap.add_argument("--skip-telemetry", action="store_true", help="skip the 100M-event report benchmark")
    ap.add_argument("--skip-dga", action="store_true", help="skip the DGA forecast/match benchmark")
    ap.add_argument("--skip-p2p", action="store_true", help="skip the P2P simulation benchmark")
    ap.add_argument("--skip-range", action="store_true", help="skip the range (check-ins/s) benchmark")
    ap.add_argument("--skip-compact", action="store_true", help="skip the compaction benchmark (86,400 segments)")
    ap.add_argument("--skip-rpz", action="store_true",
                    help="skip the tracker RPZ benchmark (1M-name export, BIND and Unbound load it)")
    ap.add_argument("--skip-tracker", action="store_true",
                    help="skip the tracker benchmark (1M indicators into SQLite and PostgreSQL, every export)")
    ap.add_argument("--http-servers", default=",".join(http_bench.SERVERS), help="HTTP: ours,nginx")
    ap.add_argument("--servers", default=",".join(dns_bench.SERVERS))
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--no-bind-load", action="store_true", help="zone load: skip BIND")
    ap.add_argument("--no-cold", action="store_true",
                    help="skip the cache-cold DNS run on the 3M zone (skipped by --quick)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="the Markdown file to rewrite")
    a = ap.parse_args(argv)
    command = "make bench" if not sys.argv[1:] else "python bench/run.py " + " ".join(sys.argv[1:])
    seconds = a.seconds or (3.0 if a.quick else 10.0)
    reps = a.reps or (2 if a.quick else 5)
    servers = [s.strip() for s in a.servers.split(",") if s.strip()]
    t0 = time.monotonic()
    sections: dict[str, str] = {}
    dns_r = zone_r = cold_r = http_r = None
    if not a.skip_dns:
        print(f"== DNS benchmark: {', '.join(servers)}; {reps} x {seconds:g} s per setting", flush=True)
        dns_r = dns_bench.bench(servers=servers, seconds=seconds, reps=reps, warmup=0.0, warmup_pass=True,
                                settings=dns_bench.default_settings(20_000))
        dns_r["quick"] = a.quick
        dns_r["saved"] = str(dns_bench.save(dns_r, "dns").relative_to(dns_bench.REPO))
        sections["dns"] = render_dns(dns_r, command)
    if not a.skip_dns and not a.quick and not a.no_cold:
        print(f"== DNS benchmark, cache-cold: {COLD_NAMES:,} names; {COLD_REPS} x {seconds:g} s", flush=True)
        cold_r = dns_bench.bench(servers=servers, seconds=seconds, reps=COLD_REPS, warmup=1.0, warmup_pass=False,
                                 settings=[dns_bench.Setting("saturated")], names=COLD_NAMES,
                                 blocklist=COLD_BLOCKLIST, continue_queries=True)
        cold_r["saved"] = str(dns_bench.save(cold_r, "dns-cold").relative_to(dns_bench.REPO))
        sections["cold"] = render_dns(cold_r, command, cold=True)
    if not a.skip_zone:
        names, bl = (300_000, 7_000) if a.quick else (3_000_000, 70_000)
        peers_ = ("nsd",) if a.no_bind_load else ("nsd", "bind")
        print(f"== Zone load: {names:,} names, {bl:,} blocklist; {', '.join(('ours',) + peers_)}", flush=True)
        zone_r = zone_load.run(names=names, blocklist=bl, peers_=peers_)
        zone_r["saved"] = str(dns_bench.save(zone_r, "zoneload").relative_to(dns_bench.REPO))
        sections["zone"] = render_zone(zone_r, command)
    if not a.skip_http:
        http_servers = [s.strip() for s in a.http_servers.split(",") if s.strip()]
        idle, checkins = (2_000, 200) if a.quick else (HTTP_IDLE, HTTP_IDLE_CHECKINS)
        print(f"== HTTP benchmark: {', '.join(http_servers)}; {reps} x {seconds:g} s per setting; "
              f"{idle:,} idle connections", flush=True)
        http_r = http_bench.bench(servers=http_servers, seconds=seconds, reps=reps,
                                  settings=http_bench.default_settings(), idle=idle, idle_checkins=checkins)
        http_r["quick"] = a.quick
        http_r["saved"] = str(http_bench.save(http_r).relative_to(dns_bench.REPO))
        sections["http"] = render_http(http_r, command)
    elapsed = time.monotonic() - t0
    print()
    if dns_r:
        dns_bench.print_table(dns_r["summary"])
        b = dns_r["bar"]
        if b.get("invalid"):
            print(f"bar: not judged: {b['invalid']}")
        elif b["pass"] is not None:
            print(f"bar: ours/BIND CPU per query {b['ours_vs_bind_cpu_per_query']:.2f} <= {b['limit']} "
                  f"-> {'PASS' if b['pass'] else 'FAIL'}")
        print(f"raw: {dns_r['saved']}\n")
    if cold_r:
        print("cache-cold (3M-name zone):")
        dns_bench.print_table(cold_r["summary"])
        print(f"raw: {cold_r['saved']}\n")
    if zone_r:
        zone_load.print_table(zone_r)
        print(f"raw: {zone_r['saved']}\n")
    if http_r:
        http_bench.print_table(http_r["summary"])
        for name, x in http_r["idle"].items():
            print(idle_conns.summary_line(name, x))
        b = http_r["bar"]
        if b.get("invalid"):
            print(f"bar: not judged: {b['invalid']}")
        elif b["pass"] is not None:
            print(f"bar: ours/nginx CPU per request (keep-alive) {b['ours_vs_nginx_cpu_per_request']:.2f} "
                  f"<= {b['limit']:g} -> {'PASS' if b['pass'] else 'FAIL'}")
        print(f"raw: {http_r['saved']}\n")
    write = (a.write or not a.quick) and not a.no_write
    if sections and write:
        rewrite_results(sections, a.results)
        print(f"rewrote {a.results} ({', '.join(sections)})")
    # These write their own sections of RESULTS.md (bench:enrich, telemetry, dga, p2p, range, compact, rpzload,
    # tracker).
    extra = [("enrich", "enrich_bench.py", []),
             ("telemetry", "telemetry_bench.py", ["--events", "2000000", "--reps", "1"] if a.quick else []),
             ("dga", "dga_bench.py", []),
             ("p2p", "p2p_bench.py", ["--quick"] if a.quick else []),
             ("range", "range_bench.py", ["--quick"] if a.quick else []),
             ("compact", "compact_bench.py", ["--segments", "4000", "--reps", "1"] if a.quick else ["--reps", "1"]),
             ("rpz", "rpz_load_bench.py", ["--names", "20000"] if a.quick else []),
             ("tracker", "tracker_bench.py", ["--count", "50000"] if a.quick else [])]
    for name, script, args in extra:
        if getattr(a, f"skip_{name}"):
            continue
        if not write:
            args = [*args, "--no-write"]
        print(f"== {name}: {script} {' '.join(args)}", flush=True)
        rc = subprocess.call([sys.executable, str(BENCH_DIR / script), *args])
        if rc != 0:
            print(f"{script} failed (exit {rc})")
    print(f"bench: {elapsed / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
