"""`[[dga]]` in the operation file: names sunk in their window, rolling over
by UTC day; `takedown dga registrations`; a real query against the server."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dns.message
import dns.query
import pyarrow as pa
import pytest

from takedown.dga import get
from takedown.dns import wire
from takedown.dns.policy import Policy
from takedown.errors import OperationError
from takedown.operation import load_operation
from harness.peers import free_port

from net_helpers import events, operation_text

TAKEDOWN = str(Path(sys.executable).parent / "takedown")


def op_with(tmp_path: Path, dga: str, port: int | None = None) -> Path:
    p = tmp_path / "op.toml"
    p.write_text(operation_text(port or 5353, "dga", dga))
    return p


NECURS = '[[dga]]\nfamily = "necurs"\nparams = { count = 4 }\ndays_before = 1\ndays_after = 2\n'


def test_policy_sinks_the_names_due_that_day(tmp_path):
    op = load_operation(op_with(tmp_path, NECURS))
    fam = get("necurs")
    day = date(2026, 3, 10)  # necurs group 2026-03-08..11
    pol = Policy(op, day=day)
    due = fam.generate(day, count=4)
    d = pol.decide(wire.text_to_wire(due[0]).lower(), wire.A)
    assert d.rule == "dga:necurs:2026-03-08" and d.family == "necurs"  # the group's first day
    assert d.result.answer  # the sinkhole's A record
    # held until days_after after its (one-day) period; gone after
    later = Policy(op, day=day + timedelta(days=2))
    assert later.decide(wire.text_to_wire(due[0]).lower(), wire.A).rule.startswith("dga:necurs:")
    gone = Policy(op, day=date(2026, 4, 20))
    assert gone.decide(wire.text_to_wire(due[0]).lower(), wire.A).rule == "none"
    # a name of a later group is held from days_before before it
    ahead = fam.generate(date(2026, 3, 12), count=4)[0]
    assert pol.decide(wire.text_to_wire(ahead).lower(), wire.A).rule == "none"
    assert Policy(op, day=date(2026, 3, 11)).decide(wire.text_to_wire(ahead).lower(), wire.A).rule == \
        "dga:necurs:2026-03-12"
    assert [(p.start.day, p.end.day) for p in __import__("takedown.dga.forecast", fromlist=["x"]).forecast(
        fam, date(2026, 2, 1), date(2026, 2, 28), {"count": 1})] == [(1, 3), (4, 7), (8, 11), (12, 15),
                                                                    (16, 19), (20, 23), (24, 27), (28, 28)]


def test_bad_dga_entries_name_the_line(tmp_path):
    for body, line, what in (
        ('[[dga]]\nfamily = "nosuch"\n', 13, "unknown DGA family"),
        ('[[dga]]\nfamily = "necurs"\nparams = { magik = 9 }\n', 14, "unknown parameter 'magik'"),
        ('[[dga]]\nfamily = "necurs"\ndays_before = -1\n', 14, "days_before"),
    ):
        with pytest.raises(OperationError) as e:
            load_operation(op_with(tmp_path, body))
        msg = str(e.value)
        assert f"op.toml:{line}:" in msg and what in msg, msg


def test_registrations_command(tmp_path):
    op_with(tmp_path, NECURS)
    out = subprocess.run([TAKEDOWN, "dga", "registrations", str(tmp_path / "op.toml"), "--from", "2026-03-08",
                          "--to", "2026-03-11", "--format", "csv"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = [r.split(",") for r in out.stdout.splitlines()[1:]]
    fam = get("necurs")
    expected = set()
    for day in (date(2026, 3, 4), date(2026, 3, 8), date(2026, 3, 12)):  # groups 4-7, 8-11, 12-15: windows reach in
        expected.update(fam.generate(day, count=4))
    names = {r[2] for r in rows}
    assert fam.generate(date(2026, 3, 9), count=4)[0] in names
    assert names == expected
    for r in rows:
        assert r[0] == r[2].rsplit(".", 1)[1] and r[3] == "necurs"
        assert r[4] <= r[5]
    bad = subprocess.run([TAKEDOWN, "dga", "registrations", str(tmp_path / "op.toml"), "--from", "2026-03-08",
                          "--to", "2026-03-01"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: ")


def test_server_answers_todays_dga_name_and_logs_its_date(tmp_path):
    port = free_port()
    op_with(tmp_path, NECURS + "[events]\nflush_interval = 0.2\n", port)
    proc = subprocess.Popen([TAKEDOWN, "serve", str(tmp_path / "op.toml")], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        today = datetime.now(timezone.utc).date()
        name = get("necurs").generate(today, count=4)[1]
        q = dns.message.make_query(name, "A")
        deadline = time.monotonic() + 60
        while True:
            try:
                r = dns.query.udp(q, "127.0.0.1", port=port, timeout=1)
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert [rr.to_text() for rrset in r.answer for rr in rrset] == ["192.0.2.53"]
        time.sleep(0.6)
        rows = [e for e in events({"dir": tmp_path}, "dns") if (e["qname"] or "").startswith(name.split(".")[0])]
        assert rows and rows[-1]["family"] == "necurs"
        group = get("necurs").period_start(today)
        assert rows[-1]["rule"] == f"dga:necurs:{group.isoformat()}"
        # the report's dataset has the DGA date as a column of its own
        from takedown.analytics.dataset import open_dataset

        class _NoLookup:
            def lookup(self, ips):
                n = len(ips)
                return pa.table({"cc": pa.nulls(n, pa.string()), "asn": pa.nulls(n, pa.int64()),
                                 "as_name": pa.nulls(n, pa.string())})

        con = open_dataset(tmp_path / "data", enricher=_NoLookup())
        got = con.sql("SELECT DISTINCT dga_date FROM resolvers WHERE family = 'necurs'").fetchall()
        assert got == [(group,)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
