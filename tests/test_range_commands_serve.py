"""End to end: a real ``takedown serve`` answers the range's ZeuS check-ins with
the stop command a case authorises from day 7; the bots stop, the sinkhole
stores ``command`` events, and the report (commands included) equals the
range's truth.

Needs the sinkhole's ``[[command]]`` responses (issue 17 point 6): skipped
while the rules loader refuses ``[[command]]``."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from takedown.analytics.report import build_report
from takedown.enrich.choice import for_operation
from takedown.operation import load_operation
from takedown.range import compare, families
from takedown.range.demo import _takedown_command, _wait_ready, stop_server, write_operation
from takedown.range.run import FAMILY_MIX, bound, run_range

START = date(2026, 3, 16)  # a Monday
DAYS = 14
STOP_FROM = datetime(2026, 3, 23, tzinfo=UTC)  # day 7


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("serve-commands")
    op_path = write_operation(out, START, DAYS, case=False)
    stop = families.get("zeus").commands["stop"]
    command = {"family": "zeus", "name": "stop", "body_hex": stop.hex(),
               "source": "the range's emulated protocol (takedown.range.families.base.command_body)"}
    with (out / "rules.toml").open("a") as f:
        f.write("\n[[command]]\n" + "".join(f'{k} = "{v}"\n' for k, v in command.items()))
    with op_path.open("a") as f:
        f.write(f'''
[case]
court = "United States District Court for the Eastern District of Virginia"
case_number = "1:26-cv-00017"
order_type = "temporary restraining order"
order_date = {START.isoformat()}

[[case.authorities]]
id = "sink-all"
kind = "sink"
valid_from = {START.isoformat()}T00:00:00Z
families = ["zeus", "mirai", "conficker", "locky"]

[[case.authorities]]
id = "stop-zeus"
kind = "command"
family = "zeus"
command = "stop"
valid_from = {STOP_FROM:%Y-%m-%dT%H:%M:%SZ}
''')
    ready, log = out / "serve.ready.json", out / "serve.log"
    with log.open("w") as lf:
        proc = subprocess.Popen(_takedown_command() + ["serve", str(op_path), "--ready-file", str(ready)],
                                cwd=out, stdout=lf, stderr=subprocess.STDOUT)
    try:
        op = bound(load_operation(op_path), _wait_ready(proc, ready, log))
        enricher = for_operation(op)
        result = run_range(op, bots=600, start=START, days=DAYS, seed=4, mix=FAMILY_MIX,
                           truth_dir=out / "truth", enricher=enricher)
    finally:
        stop_server(proc)
    rep = build_report(op.storage, out / "report", enricher=enricher, date_from=START,
                       date_to=START + timedelta(DAYS - 1))
    return op, result, rep


def test_the_report_equals_the_truth_commands_included(run):
    op, result, rep = run
    assert compare.differences(rep.summary, result.counts) == []
    c = rep.summary["commands"]
    assert [(r["family"], r["command"], r["authority"]) for r in c["sent"]] == [("zeus", "stop", "stop-zeus")]
    assert c["total_events"] == result.stats.commands > 0
    assert result.counts["commands"]["stopped"]["zeus"] == c["by_command"][0]["unique_ips"] > 10
    assert c["sent"][0]["first"] >= STOP_FROM.strftime("%Y-%m-%dT%H:%M:%S")


def test_no_zeus_checkin_after_a_bots_stop(run):
    op, _, _ = run
    glob = str(op.storage / "events" / "kind={}" / "**" / "*.parquet")
    read = "read_parquet('{}', hive_partitioning = true, union_by_name = true)"
    late = duckdb.sql(f"""
        WITH stops AS (SELECT src_ip, max(time) AS told FROM {read.format(glob.format('command'))} GROUP BY src_ip)
        SELECT count(*) FROM {read.format(glob.format('http'))} h JOIN stops s USING (src_ip)
        WHERE h.family = 'zeus' AND h.time > s.told + INTERVAL 1 MINUTE
    """).fetchall()[0][0]
    assert late == 0
    answered = duckdb.sql(f"SELECT count(*) FROM {read.format(glob.format('http'))} "
                          "WHERE response = 'command'").fetchall()[0][0]
    assert answered == run[2].summary["commands"]["total_events"]
