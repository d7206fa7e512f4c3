"""The operators' page /commands (issue 17, point 6): the commands sent per
UTC day by family, command and authority, with unique addresses as the
reports count them, the authorities' windows from [case], a day's latest
command events and its CSV (audited); partners get the 404 page."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
from console_helpers import make_console

from takedown.console import commands as cmd
from takedown.events import COMMAND_ROW
from takedown.store.segments import SegmentWriter

D1, D2 = date(2026, 3, 2), date(2026, 3, 3)

CASE = """
[case]
court = "U.S. District Court, Eastern District of Virginia"
case_number = "1:26-cv-00017"
order_type = "temporary restraining order"
order_date = 2026-02-27

[[case.authorities]]
id = "stop-zeus"
kind = "command"
family = "zeus"
command = "stop"
valid_from = 2026-03-01T00:00:00Z

[[case.authorities]]
id = "notice-zeus"
kind = "command"
family = "zeus"
command = "notice"
valid_from = 2026-03-02T06:00:00Z
valid_until = 2026-03-02T18:30:00Z
"""


def at(day: date, seconds: float) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + seconds


def command_row(t: float, ip: str, port: int, command: str = "stop", authority: str = "stop-zeus",
                family: str = "zeus", status: int = 200) -> tuple:
    body = f"takedown-range/1 {command} {family}\n".encode()
    values = {"time": t, "transport": "tcp", "src_ip": ip, "src_port": port, "dst_ip": "192.0.2.53",
              "dst_port": 80, "rule": f"http:{family}-gate", "family": family, "method": "POST",
              "host": "c2.example", "path": "/gate.php", "status": status, "response": "command",
              "authority": authority, "command": command, "command_sha256": hashlib.sha256(body).hexdigest()}
    return tuple(values.get(f) for f in COMMAND_ROW)


#: (time, address, port, command, authority) of every command event of the fixture
SENT = [
    (at(D1, 3600), "192.0.2.1", 1001, "stop", "stop-zeus"),
    (at(D1, 7200), "192.0.2.2", 1002, "stop", "stop-zeus"),
    (at(D1, 7300), "192.0.2.1", 1003, "stop", "stop-zeus"),
    (at(D1, 40000), "192.0.2.1", 1004, "notice", "notice-zeus"),
    (at(D2, 100), "198.51.100.7", 2001, "stop", "stop-zeus"),
    (at(D2, 200), "198.51.100.8", 2002, "stop", "stop-zeus"),
    (at(D2, 300), "203.0.113.9", 2003, "stop", "revoked"),  # an authority [case] no longer holds
]


def write_commands(storage, rows, transform=None) -> None:
    """The rows through the real segment writer (two segments: two flushes)."""
    with SegmentWriter(storage, "command", operation="consoletest", sensor="s1", worker=0, fsync=False,
                       transform=transform) as w:
        for i, row in enumerate(rows):
            w.rows.append(row)
            if i == 2:
                w.flush()


def sent(console, rows=SENT) -> None:
    write_commands(console.ctx.operation.storage, [command_row(t, ip, p, c, a) for t, ip, p, c, a in rows])


def table(html: str, table_id: str) -> list[list[str]]:
    """The body rows of a table of the page, cells as text."""
    m = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert m, f"no table {table_id}"
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S)]


def test_counts_per_day_family_command_and_authority(tmp_path):
    c = make_console(tmp_path / "c", extra=CASE)
    sent(c)
    r = c.client("opa").get("/commands")
    assert r.status_code == 200
    assert table(r.text, "days") == [[str(D2), "3", "3", "latest · CSV"], [str(D1), "4", "2", "latest · CSV"]]
    assert table(r.text, "counts") == [
        [str(D2), "zeus", "stop", "revoked", "not in [case]", "1", "1"],
        [str(D2), "zeus", "stop", "stop-zeus", "2026-03-01 00:00 to further order UTC", "2", "2"],
        [str(D1), "zeus", "notice", "notice-zeus", "2026-03-02 06:00 to 2026-03-02 18:30 UTC", "1", "1"],
        [str(D1), "zeus", "stop", "stop-zeus", "2026-03-01 00:00 to further order UTC", "3", "2"],
    ]
    assert 'id="no-case"' not in r.text and '<a href="/commands">Commands</a>' in r.text
    # the latest of the newest day by default, newest first, with the SHA-256 of the bytes sent
    stop = hashlib.sha256(b"takedown-range/1 stop zeus\n").hexdigest()
    assert table(r.text, "latest") == [
        ["00:05:00", "203.0.113.9:2003", "zeus", "stop", "revoked", "200", stop],
        ["00:03:20", "198.51.100.8:2002", "zeus", "stop", "stop-zeus", "200", stop],
        ["00:01:40", "198.51.100.7:2001", "zeus", "stop", "stop-zeus", "200", stop],
    ]


def test_a_chosen_day_a_period_and_bad_dates(tmp_path):
    c = make_console(tmp_path / "c", extra=CASE)
    sent(c)
    opa = c.client("opa")
    r = opa.get(f"/commands?day={D1}&n=2")
    notice = hashlib.sha256(b"takedown-range/1 notice zeus\n").hexdigest()
    assert [row[:5] for row in table(r.text, "latest")] == [
        ["11:06:40", "192.0.2.1:1004", "zeus", "notice", "notice-zeus"],
        ["02:01:40", "192.0.2.1:1003", "zeus", "stop", "stop-zeus"]]
    assert table(r.text, "latest")[0][6] == notice
    r = opa.get(f"/commands?from={D1}&to={D1}")
    assert [row[0] for row in table(r.text, "counts")] == [str(D1), str(D1)]
    assert [row[0] for row in table(r.text, "days")] == [str(D1)]
    assert len(table(r.text, "latest")) == 4  # the period's newest day: D1
    r = opa.get(f"/commands?from={D2}&to={D1}")
    assert r.status_code == 400 and f"from: {D2} is after to {D1}" in r.text
    r = opa.get("/commands?from=2026-3-2")
    assert r.status_code == 400 and "invalid from &#39;2026-3-2&#39;: expected a day as YYYY-MM-DD" in r.text
    r = opa.get("/commands?from=2027-01-01")
    assert r.status_code == 200 and table(r.text, "counts") == [["No command sent in this period."]]


def test_csv_of_a_day_is_every_event_and_is_audited(tmp_path):
    c = make_console(tmp_path / "c", extra=CASE)
    sent(c)
    r = c.client("opa").get(f"/commands/{D1}.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    name = f"{D1}-commands-consoletest.csv"
    assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == list(cmd.CSV_COLUMNS)
    want = [s for s in SENT if s[0] < at(D2, 0)]
    assert [(x["src_ip"], int(x["src_port"]), x["command"], x["authority"]) for x in rows] == \
        [(ip, p, co, a) for _t, ip, p, co, a in want]
    assert rows[0]["time"] == "2026-03-02T01:00:00.000000Z" and rows[0]["status"] == "200"
    assert rows[0]["command_sha256"] == hashlib.sha256(b"takedown-range/1 stop zeus\n").hexdigest()
    assert rows[0]["src_key"] == "" and rows[0]["path"] == "/gate.php" and rows[0]["sensor"] == "s1"
    [entry] = [e for e in c.store.audit_log(limit=10) if e.action == "download"]
    assert (entry.actor, entry.target, entry.detail) == ("opa", name, {"events": 4, "bytes": len(r.content)})
    # a day without commands: the header only; not a day: the 404 page
    empty = c.client("opa").get("/commands/2026-01-01.csv")
    assert empty.status_code == 200 and empty.text == ",".join(cmd.CSV_COLUMNS) + "\n"
    assert c.client("opa").get("/commands/yesterday.csv").status_code == 404


def test_partners_get_the_404_page(tmp_path):
    c = make_console(tmp_path / "c", extra=CASE)
    sent(c)
    alice = c.client("alice")
    not_found = alice.get("/no/such/page").text
    for path in ("/commands", f"/commands/{D1}.csv"):
        r = alice.get(path)
        assert (r.status_code, r.text) == (404, not_found)
    assert "/commands" not in alice.get("/").text
    assert not [e for e in c.store.audit_log(limit=10) if e.action == "download"]


def test_no_command_yet_and_no_case(tmp_path):
    c = make_console(tmp_path / "c")
    r = c.client("opa").get("/commands")
    assert r.status_code == 200 and 'id="no-commands"' in r.text and "No command has been sent." in r.text
    assert 'id="no-case"' in r.text and 'id="counts"' not in r.text
    sent(c, SENT[:1])
    r = c.client("opa").get("/commands")
    assert 'id="no-commands"' not in r.text and 'id="no-case"' in r.text
    assert table(r.text, "counts") == [[str(D1), "zeus", "stop", "stop-zeus", "no [case]", "1", "1"]]


def test_pseudonymised_addresses_are_counted_by_their_key(tmp_path):
    """Under [events] privacy = "hash" the address is not stored, its keyed
    hash is: two commands to one bot are one address, as in the reports."""
    c = make_console(tmp_path / "c", extra=CASE)

    def pseudonymise(t: pa.Table) -> pa.Table:  # stands for takedown.store.privacy's "hash" mode
        keys = pc.utf8_slice_codeunits(pc.binary_join_element_wise("k", t.column("src_ip"), ""), 0, 16)
        t = t.set_column(t.schema.get_field_index("src_key"), "src_key", keys)
        return t.set_column(t.schema.get_field_index("src_ip"), "src_ip", pa.nulls(t.num_rows, pa.string()))

    rows = [command_row(at(D1, 60 * i), ip, 3000 + i) for i, ip in enumerate(["192.0.2.1", "192.0.2.1", "192.0.2.2"])]
    write_commands(c.ctx.operation.storage, rows, transform=pseudonymise)
    counts, totals = cmd.per_day(c.ctx.operation)
    assert [(x.day, x.events, x.addresses) for x in counts] == [(D1, 3, 2)] and totals == {D1: (3, 2)}
    r = c.client("opa").get("/commands")
    assert table(r.text, "latest")[0][1] == "key k192.0.2.2"
