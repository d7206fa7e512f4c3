"""The range and the demo (issue 7): an emulated population sends real DNS, HTTP,
HTTPS and raw TCP to a real ``takedown serve`` on loopback; the report built
from what the sinkhole stored must equal the range's truth, count for count."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from harness.peers import free_port

from takedown.errors import RangeError
from takedown.net import proxy as proxy_mod
from takedown.operation import load_operation
from takedown.range import compare, schedule
from takedown.range.demo import default_start, run_demo, write_operation
from takedown.range.population import build
from takedown.range.run import FAMILY_MIX, run_range, targets
from takedown.range.truth import Truth

from net_helpers import TAKEDOWN

START = date(2026, 3, 16)  # a Monday


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A short demo: 3,000 bots, two emulated weeks, the whole pipeline."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    return run_demo(out, bots=3000, weeks=2, seed=5, start=START, tracker=False)  # tests/test_demo_tracker.py


def test_short_range_report_equals_truth(demo):
    assert demo.differences == []
    s, t = demo.summary, demo.range.counts
    st = demo.range.stats
    # the comparison had something to compare: every family, both weeks, resolvers
    assert st.failed_sessions == 0 and st.answered == st.queries > 1000
    assert s["total_events"] == t["total_events"] == st.checkins > 10_000
    assert 2000 < s["total_unique_ips"] <= 3000
    assert [w["week"] for w in s["weeks"]] == ["2026-W12", "2026-W13"]
    assert {f["family"] for f in s["families"]} == set(FAMILY_MIX)
    assert {r["rule"] for r in s["rules"]} == {
        "zeus-gate-post", "zeus-seized-sni", "conficker-dga-host", "locky-dga-host",
        "mirai-cnc-handshake", "gafgyt-build-register"}
    assert s["resolvers"]["total_unique_resolvers"] == t["resolvers"]["total_unique_resolvers"] > 10
    assert len(s["days"]) == 14 and all(d["unique_ips"] > 0 for d in s["days"])
    assert s["countries"][0]["cc"] == "US"


def test_sources_are_the_bots_not_the_range(demo):
    import duckdb

    out = demo.report.parent.parent
    glob = str(out / "data" / "events" / "kind=*" / "**" / "*.parquet")
    rows = duckdb.sql(f"SELECT kind, count(*) FILTER (WHERE src_ip LIKE '127.%'), "
                      f"count(*) FILTER (WHERE peer_ip = '127.0.0.1'), count(*) "
                      f"FROM read_parquet('{glob}', hive_partitioning=true, union_by_name=true) GROUP BY kind").fetchall()
    got = {k: (loop, peer, n) for k, loop, peer, n in rows}
    for kind in ("http", "tls", "tcp"):
        loop, peer, n = got[kind]
        assert loop == 0 and peer == n > 0, kind  # every check-in: a bot's public address, via the range
    assert got["dns"][0] == got["dns"][2]  # DNS events come from the resolvers (127.1.x.y), not the bots
    bots = set(duckdb.sql(f"SELECT ip FROM '{out / 'truth' / 'bots.parquet'}'").fetchnumpy()["ip"].tolist())
    seen = set(duckdb.sql(f"SELECT DISTINCT src_ip FROM read_parquet('{glob}', hive_partitioning=true, "
                          f"union_by_name=true) WHERE kind <> 'dns'").fetchnumpy()["src_ip"].tolist())
    assert seen <= bots and len(seen) == demo.summary["total_unique_ips"]


def test_events_carry_the_emulated_clock(demo):
    out = demo.report.parent.parent
    days = sorted(p.name for p in (out / "data" / "events" / "kind=http").iterdir())
    assert days[0] == "date=2026-03-16" and days[-1] == "date=2026-03-29" and len(days) == 14
    dns_days = sorted(p.name for p in (out / "data" / "events" / "kind=dns").iterdir())
    assert dns_days == days  # tracker=False: no check looked names up at the sinkhole
    assert demo.tracker is None and not (out / "tracker").exists() and not (out / "data" / "tracker.sqlite").exists()


def test_differences_catch_a_wrong_count(demo):
    s = json.loads(json.dumps(demo.summary, default=str))
    s["weeks"][1]["unique_ips"] += 1
    s["countries"] = s["countries"][1:]  # a country lost
    s["resolvers"]["weeks"][0]["events"] -= 2
    diffs = compare.differences(s, demo.range.counts)
    assert len(diffs) == 3
    assert any(d.startswith("weeks 2026-W13") for d in diffs)
    assert any(d.startswith("countries US") and "report None" in d for d in diffs)


def test_truth_files(demo):
    out = demo.report.parent.parent / "truth"
    assert {p.name for p in out.iterdir()} == {"bots.parquet", "sessions.parquet", "queries.parquet", "commands.parquet",
                                          "truth.json"}
    saved = json.loads((out / "truth.json").read_text())
    assert saved["total_unique_ips"] == demo.range.counts["total_unique_ips"]
    assert saved["weeks"] == demo.range.counts["weeks"]
    assert saved["commands"] == demo.range.counts["commands"]  # what the bots received (compared with the report)


# -- the truth on a hand-made day --------------------------------------------


def test_truth_counts_a_known_schedule():
    pop = build(10, 1, families={"zeus": 1, "mirai": 1}, enricher=None)
    zeus = [i for i in range(10) if pop.family[i] == "zeus"]
    mirai = [i for i in range(10) if pop.family[i] == "mirai"]
    t0 = schedule.day_start(START, 0)

    def day(d, bots, checkins, tls):
        n = len(bots)
        return schedule.Day(d, np.array(bots), t0 + d * 86400 + np.arange(n) * 60.0, np.array(checkins),
                            np.array(tls), ["h"] * n, np.array([0, 1]), np.array([t0 + d * 86400] * 2), ["a", "b"])

    truth = Truth(pop, START, 8)
    truth.add(day(0, [zeus[0], mirai[0]], [3, 1], [True, False]))
    truth.add(day(7, [zeus[0], zeus[1]], [1, 2], [False, False]))  # 2026-03-23: the next ISO week
    c = truth.counts()
    assert c["total_unique_ips"] == 3 and c["total_events"] == 3 + 1 + 1 + 1 + 2
    assert c["week_change_pct"] == 0.0
    assert c["weeks"] == [{"week": "2026-W12", "unique_ips": 2, "events": 5},
                          {"week": "2026-W13", "unique_ips": 2, "events": 3}]
    assert c["new_returning"][1] == {"week": "2026-W13", "unique_ips": 2, "new_ips": 1, "returning_ips": 1}
    assert c["families"] == {"zeus": [2, 7], "mirai": [1, 1]}
    assert c["rules"]["zeus-seized-sni"] == [1, 1] and c["rules"]["zeus-gate-post"] == [2, 6]
    assert c["days"][0]["events"] == 5 and c["days"][3]["unique_ips"] == 0
    assert c["resolvers"]["total_unique_resolvers"] == 2 and c["resolvers"]["weeks"][1]["events"] == 2


# -- the schedule ------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_op(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo-op")
    return load_operation(write_operation(d, START, 14))


def test_schedule_is_seeded_and_stays_in_its_day(demo_op):
    pop = build(2000, 3, families=FAMILY_MIX)
    tg = targets(demo_op)
    res = schedule.resolvers_of(pop)
    a = schedule.plan_day(pop, tg, START, 4, 9, res)
    b = schedule.plan_day(pop, tg, START, 4, 9, res)
    c = schedule.plan_day(pop, tg, START, 4, 10, res)
    assert (a.bot == b.bot).all() and (a.time == b.time).all() and a.host == b.host
    assert not (len(a) == len(c) and (a.bot == c.bot).all())
    t0 = schedule.day_start(START, 4)
    assert (a.time >= t0 + 5).all() and (a.time < t0 + 86400 - 10).all()
    assert (a.q_time >= t0).all() and (a.q_time < t0 + 86400).all()
    assert (np.diff(a.time) >= 0).all()
    # about half the still-infected bots are online
    alive = int((pop.cleaned_day > 4).sum())
    assert abs(len(a) - schedule.ONLINE * alive) < 5 * (alive * 0.25) ** 0.5
    # a DGA bot reaches the day's first name; each resolver asks once per name per TTL
    dga = {h for h, i in zip(a.host, a.bot) if pop.family[i] == "conficker"}
    assert dga == {tg.dga["conficker"](START + timedelta(4))[0]}
    keys = list(zip(a.q_resolver.tolist(), a.q_name, ((a.q_time - t0) // tg.ttl).astype(int).tolist()))
    assert len(keys) == len(set(keys))
    # every bot's lookup is covered by its resolver's query of that name in that TTL period
    asked = set(keys)
    for i, h, t in zip(a.bot, a.host, a.time):
        if h:
            assert (int(res[i]), h, int((t - 1 - t0) // tg.ttl)) in asked


def test_daily_rhythm_follows_time_zones(demo_op):
    pop = build(4000, 3, families=FAMILY_MIX)
    d = schedule.plan_day(pop, targets(demo_op), START, 0, 1, schedule.resolvers_of(pop))
    hour = ((d.time - schedule.day_start(START, 0)) // 3600).astype(int)
    cc = pop.cc[d.bot]
    us, tr = np.median(hour[cc == "US"]), np.median(hour[cc == "TR"])
    assert 14 <= us <= 21 and 6 <= tr <= 13  # local mornings to evenings: UTC-5 vs UTC+3


# -- refusals -----------------------------------------------------------------


def test_range_refuses_a_sinkhole_not_in_range_mode(tmp_path):
    op_file = write_operation(tmp_path, START, 7)
    text = op_file.read_text()
    op_file.write_text(text.replace('emulated_clock = true', 'emulated_clock = false', 1))
    with pytest.raises(RangeError, match=r"\[http\] needs emulated_clock = true"):
        run_range(load_operation(op_file), bots=10, start=START, days=1)
    op_file.write_text(text.replace('trusted_proxies = ["127.0.0.0/8"]', 'trusted_proxies = ["127.0.0.2"]', 1))
    with pytest.raises(RangeError, match="trusted_proxies must include 127.0.0.1"):
        run_range(load_operation(op_file), bots=10, start=START, days=1)
    op_file.write_text(text.replace('family = "locky"\ndays_before', 'family = "necurs"\ndays_before'))
    with pytest.raises(RangeError, match=r"family locky looks up DGA names: the operation needs a \[\[dga\]\] entry"):
        run_range(load_operation(op_file), bots=10, start=START, days=1)
    op_file.write_text(text.replace('emulated_clock = ["127.0.0.0/8"]', 'emulated_clock = ["127.0.0.1"]'))
    with pytest.raises(RangeError, match=r"\[dns\] emulated_clock must include 127.1.0.0/16"):
        run_range(load_operation(op_file), bots=10, start=START, days=1)


def test_cli_errors_are_one_line(tmp_path):
    op_file = write_operation(tmp_path, START, 7)
    op_file.write_text(op_file.read_text().replace('emulated_clock = true', 'emulated_clock = false', 1))
    r = subprocess.run([TAKEDOWN, "range", str(op_file), "--truth", str(tmp_path / "t"), "--days", "1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and r.stderr.startswith("Error: ")
    assert "emulated_clock" in r.stderr
    r = subprocess.run([TAKEDOWN, "demo", "--out", str(tmp_path / "d"), "--weeks", "0"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr == "Error: --weeks must be between 1 and 104, got 0\n"
    for args, said in ((["demo", "--seed", "-1"], "--seed must be between 0 and 2**32-1, got -1"),
                       (["range", str(op_file), "--truth", str(tmp_path / "t"), "--days", "100000"],
                        "--days must be between 1 and 731, got 100000")):
        r = subprocess.run([TAKEDOWN, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert r.returncode == 1 and r.stderr == f"Error: {said}\n", r.stderr
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "precious.txt").write_text("x")
    r = subprocess.run([TAKEDOWN, "demo", "--out", str(tmp_path / "keep"), "--bots", "10", "--weeks", "1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "not a demo directory" in r.stderr
    assert (tmp_path / "keep" / "precious.txt").exists()
    (tmp_path / "file").write_text("x")
    r = subprocess.run([TAKEDOWN, "demo", "--out", str(tmp_path / "file" / "d"), "--weeks", "1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "cannot write the demo there" in r.stderr
    op_file.write_text(op_file.read_text().replace('emulated_clock = false', 'emulated_clock = true', 1))
    r = subprocess.run([TAKEDOWN, "range", str(op_file), "--truth", str(tmp_path / "file" / "t"), "--days", "1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "cannot write the truth there" in r.stderr


def test_default_start_is_eight_full_weeks_back():
    assert default_start(date(2026, 11, 26)) == date(2026, 9, 28)
    assert default_start(date(2026, 11, 23), weeks=1) == date(2026, 11, 16)


# -- the range's PROXY header -------------------------------------------------


def test_clocked_header_is_build_v2():
    import ipaddress

    for src, port, t in (("203.0.113.7", 40000, 1300000000.25), ("1.2.3.4", 1, 0.0), ("223.255.255.254", 65535, 2e9)):
        fast = proxy_mod.build_v2_clocked4(int(ipaddress.IPv4Address(src)), port,
                                           int(ipaddress.IPv4Address("192.0.2.53")), 443, round(t * 1e6))
        assert fast == proxy_mod.build_v2(src, port, "192.0.2.53", 443, [proxy_mod.clock_tlv(t)])
        header, used = proxy_mod.parse_proxy(fast + b"GET")
        assert header.src_ip == src and header.clock == t and used == len(fast)


def test_clock_past_9999_is_refused():
    with pytest.raises(proxy_mod.ProxyError, match="past the year 9999"):
        proxy_mod.decode_clock((proxy_mod.CLOCK_END * 1_000_000).to_bytes(8, "big"))
    assert proxy_mod.decode_clock(((proxy_mod.CLOCK_END - 1) * 1_000_000).to_bytes(8, "big")) == proxy_mod.CLOCK_END - 1


def test_demo_cli_with_a_relative_directory(tmp_path):
    # TAKEDOWN_DEMO_CONSOLE=0 (--no-console): the demo ends with its report, no console accounts
    r = subprocess.run([TAKEDOWN, "demo", "--out", "d", "--bots", "300", "--weeks", "1"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "TAKEDOWN_DEMO_CONSOLE": "0"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[-1] == "differences from truth: 0"
    assert "report: " in r.stdout and (tmp_path / "d" / "report" / "index.html").exists()
    assert "weekly unique infected IPs:" in r.stdout and "top countries (by check-ins): US" in r.stdout
    (tracker,) = [line for line in lines if line.startswith("tracker: ")]
    assert "5 online, 3 offline" in tracker and tracker.endswith(" exports and stats in d/tracker/")
    assert (tmp_path / "d" / "tracker" / "rpz.zone").is_file()


def test_no_sinkhole_is_a_clear_error_not_a_hang(tmp_path):
    from dataclasses import replace

    from takedown.range.run import endpoints

    op_file = write_operation(tmp_path, START, 7)  # written, never served
    text = op_file.read_text()
    while '127.0.0.1:0"' in text:  # ports nothing listens on
        text = text.replace('127.0.0.1:0"', f'127.0.0.1:{free_port()}"', 1)
    op_file.write_text(text)
    op = load_operation(op_file)
    with pytest.raises(RangeError, match="nothing answers DNS on 127.0.0.1:.*is the sinkhole running"):
        run_range(op, bots=50, start=START, days=1)
    # the check-ins' side: no DNS, nothing on the HTTP port
    import asyncio

    from takedown.range.sender import Sender, Stats

    pop = build(50, 1, families={"zeus": 1.0})
    day = schedule.plan_day(pop, targets(op), START, 0, 1, schedule.resolvers_of(pop))
    sender = Sender(pop, replace(endpoints(op), dns=None))
    with pytest.raises(RangeError, match="nothing listens for (http|tls) on 127.0.0.1:"):
        asyncio.run(sender.send_day(day, Stats()))


def test_concurrency_within_the_per_source_cap(tmp_path):
    op = load_operation(write_operation(tmp_path, START, 7))
    with pytest.raises(RangeError, match=r"--concurrency must be between 1 and 256 .*got 300"):
        run_range(op, bots=10, start=START, days=1, concurrency=300)


def test_port_zero_needs_the_servers_ready_file(tmp_path):
    op_file = write_operation(tmp_path, START, 7)  # the demo's operation: port 0 everywhere
    r = subprocess.run([TAKEDOWN, "range", str(op_file), "--truth", str(tmp_path / "t"), "--days", "1",
                        "--bots", "10"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "[dns] listens on port 0: give the range the address the server bound" in r.stderr
    (tmp_path / "ready.json").write_text("not json")
    r = subprocess.run([TAKEDOWN, "range", str(op_file), "--truth", str(tmp_path / "t"), "--days", "1",
                        "--ready-file", str(tmp_path / "ready.json")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and r.stderr == f"Error: {tmp_path / 'ready.json'}: not a ready file written by takedown serve (not JSON)\n"
    (tmp_path / "ready.json").write_text('{"dns": ["127.0.0.1:53"]}')
    r = subprocess.run([TAKEDOWN, "range", str(op_file), "--truth", str(tmp_path / "t"), "--days", "1",
                        "--ready-file", str(tmp_path / "ready.json")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "does not list the operation's listeners" in r.stderr
