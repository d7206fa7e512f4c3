"""`takedown report`, `takedown notify` and the privacy modes end to end:
the real command, the real enrichment data, a real SMTP server on loopback."""

from __future__ import annotations

import email
import json
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from takedown.operation import load_operation
from takedown.store.checkins import template
from takedown.store.privacy import transform_for
from takedown.store.segments import SegmentWriter
from harness.peers import free_port

TAKEDOWN = str(Path(sys.executable).parent / "takedown")
MONDAY = date(2026, 11, 2)

# Addresses of well-known networks (their country and AS are stable facts of
# the shipped data; the test reads the expected values from the enricher
# itself, so only the grouping is asserted here).
BOTS_WEEK1 = ["8.8.8.8", "8.8.4.4", "1.1.1.1", "9.9.9.9", "8.8.8.8"]
BOTS_WEEK3 = ["8.8.8.8", "2001:4860:4860::8888"]


def op_file(tmp_path: Path, privacy: str = "clear") -> Path:
    p = tmp_path / "op.toml"
    p.write_text(
        '[operation]\nname = "telemetry-test"\nstorage = "data"\n'
        '[sinkhole]\nipv4 = ["192.0.2.53"]\nttl = 300\nsoa_email = "h.example"\n'
        'nameservers = { "ns1.sinkhole.example" = "192.0.2.1" }\n'
        f'[events]\nprivacy = "{privacy}"\n'
    )
    return p


def _t(day: date, hour: int) -> float:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc).timestamp()


def write_events(op, days_ips: list[tuple[date, list[str]]]) -> None:
    w = SegmentWriter(op.storage, "http", operation=op.name, sensor="s", worker=0, fsync=False,
                      transform=transform_for(op))
    buf = w.checkins
    tix = buf.add_template(template(method="POST", host="c2.example", path="/gate.php", rule="zeus-gate",
                                    family="zeus", status=200, response="notice", user_agent="Bot/1"))
    for day, ips in days_ips:
        for i, ip in enumerate(ips):
            buf.log(_t(day, 10 + i), buf.add_conn(("tcp", ip, 40000 + i, "192.0.2.80", 80, None)), tix)
    w.close()


@pytest.fixture(scope="module")
def enricher():
    from takedown.enrich.choice import make_enricher

    return make_enricher()


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([TAKEDOWN, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_report_command(tmp_path, enricher):
    op = load_operation(op_file(tmp_path))
    write_events(op, [(MONDAY, BOTS_WEEK1), (MONDAY + timedelta(days=14), BOTS_WEEK3)])
    out = run("report", str(tmp_path / "op.toml"), "--out", str(tmp_path / "rep"))
    assert out.returncode == 0, out.stderr
    assert "index.html" in out.stdout
    s = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert [(w["week"], w["unique_ips"]) for w in s["weeks"]] == [("2026-W45", 4), ("2026-W46", 0), ("2026-W47", 2)]
    assert s["total_unique_ips"] == 5  # 8.8.8.8 counted once over the period
    info = enricher.lookup(["8.8.8.8", "8.8.4.4", "1.1.1.1", "9.9.9.9", "2001:4860:4860::8888"])
    by_cc: dict = {}
    for ip, cc in zip(["8.8.8.8", "8.8.4.4", "1.1.1.1", "9.9.9.9", "2001:4860:4860::8888"],
                      info.column("cc").to_pylist()):
        by_cc.setdefault(cc, set()).add(ip)
    assert {c["cc"]: c["unique_ips"] for c in s["countries"]} == {cc: len(v) for cc, v in by_cc.items()}
    for f in ("weeks.csv", "countries.csv", "weekly_unique_ips.png", "weekly_unique_ips.svg", "index.html"):
        assert (tmp_path / "rep" / f).stat().st_size > 0


def test_report_bad_dates_are_one_line_errors(tmp_path):
    op_file(tmp_path)
    for args in (["--from", "2026-13-01"], ["--from", "2026-11-10", "--to", "2026-11-01"]):
        out = run("report", str(tmp_path / "op.toml"), "--out", str(tmp_path / "rep"), *args)
        assert out.returncode == 1
        assert out.stderr.startswith("Error: ") and len(out.stderr.strip().splitlines()) == 1


def test_notify_command_mails_each_recipient_once(tmp_path):
    from aiosmtpd.controller import Controller

    op = load_operation(op_file(tmp_path))
    write_events(op, [(MONDAY, BOTS_WEEK1)])
    (tmp_path / "contacts.csv").write_text(
        "match,address,organisation\n"
        "AS15169,abuse@google.example,Google\n"
        "8.8.4.0/24,noc@dns.example,DNS team\n"
        "US,cert@us.example,US CERT\n"
    )

    class Keep:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    handler = Keep()
    port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        out = run("notify", str(tmp_path / "op.toml"), "--out", str(tmp_path / "n"), "--date", MONDAY.isoformat(),
                  "--contacts", str(tmp_path / "contacts.csv"), "--smtp", f"127.0.0.1:{port}")
    finally:
        ctl.stop()
    assert out.returncode == 0, out.stderr
    names = sorted(p.name for p in (tmp_path / "n").glob("*.csv"))
    assert f"{MONDAY.isoformat()}-event4_sinkhole_http-as15169.csv" in names
    rcpts = sorted(r for rs, _ in handler.messages for r in rs)
    assert rcpts == ["abuse@google.example", "cert@us.example", "noc@dns.example"]  # one mail each
    for rs, content in handler.messages:
        msg = email.message_from_bytes(content)
        attached = [p.get_filename() for p in msg.walk() if p.get_filename()]
        assert attached and all(a.endswith(".csv") for a in attached)


def test_hash_mode_counts_unique_addresses_exactly_without_storing_them(tmp_path):
    op = load_operation(op_file(tmp_path, privacy="hash"))
    write_events(op, [(MONDAY, BOTS_WEEK1), (MONDAY + timedelta(days=14), BOTS_WEEK3)])
    raw = b"".join(p.read_bytes() for p in (tmp_path / "data" / "events").rglob("*.parquet"))
    assert b"8.8.4.4" not in raw and b"1.1.1.1" not in raw
    out = run("report", str(tmp_path / "op.toml"), "--out", str(tmp_path / "rep"))
    assert out.returncode == 0, out.stderr
    s = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert s["total_unique_ips"] == 5
    assert [w["unique_ips"] for w in s["weeks"]] == [4, 0, 2]
    assert sum(c["unique_ips"] for c in s["countries"]) == 5  # each address counted in exactly one country row
