"""Command responses under a court's authority, without sockets
(takedown.net.commands, the [[command]] tables of takedown.net.fingerprints,
takedown.net.connection): the rules file's syntax and errors, the table that
joins commands with authorities, and the connection deciding per check-in on
its own clock (the emulated clock of a trusted PROXY header in range mode)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from takedown.errors import RulesError
from takedown.net import proxy as proxy_mod
from takedown.net.commands import CommandTable
from takedown.net.connection import Answer, Commanded, ListenerState, Record, Send
from takedown.net.fingerprints import RuleSet
from takedown.net.responses import ResponsePolicy
from takedown.operation import Authority, Listener

RULES_TEXT = """\
[[rule]]
name = "zeus-gate"
family = "zeus"
source = "tests/test_net_commands.py"
path = "/gate.php"

[[rule]]
name = "other-gate"
family = "other"
source = "tests/test_net_commands.py"
path = "/other.php"

[[command]]
family = "zeus"
name = "stop"
source = "the range's emulated protocol (takedown.range.families.base.command_body)"
body_hex = "74 61 6b 65 64 6f 77 6e 2d 72 61 6e 67 65 2f 31 20 73 74 6f 70 20 7a 65 75 73 0a"

[[command]]
family = "zeus"
name = "notice"
source = "tests"
status = 202
content_type = "text/plain; charset=utf-8"
body = "takedown-range/1 notice zeus\\n"
"""
STOP = b"takedown-range/1 stop zeus\n"
NOTICE = b"takedown-range/1 notice zeus\n"
RULES = RuleSet.loads(RULES_TEXT, "rules.toml")

FROM = datetime(2026, 3, 1, tzinfo=timezone.utc)
UNTIL = datetime(2026, 3, 8, tzinfo=timezone.utc)
T_BEFORE = FROM.timestamp() - 1
T_INSIDE = FROM.timestamp() + 3600
T_AFTER = UNTIL.timestamp()  # valid_until is exclusive
GATE = b"GET /gate.php HTTP/1.1\r\nHost: c2.example\r\n\r\n"
OTHER = b"GET /other.php HTTP/1.1\r\nHost: c2.example\r\n\r\n"
TRUSTED_PEER = ("127.0.0.2", 50000)
DST = ("127.0.0.1", 80)


def authority(id: str, command: str = "stop", family: str = "zeus", start=FROM, end=UNTIL) -> Authority:
    return Authority(id=id, kind="command", valid_from=start, valid_until=end, command=command, family=family)


def table(*authorities: Authority) -> CommandTable:
    return CommandTable(RULES.commands, authorities)


def state(commands: CommandTable, **kw) -> ListenerState:
    lst = Listener(kind="http", listen=("127.0.0.1:80",), response="empty",
                   trusted_proxies=("127.0.0.2/32",), emulated_clock=True, **kw)
    return ListenerState(lst, rules=RULES, policy=ResponsePolicy(), commands=commands)


def at(clock: float) -> bytes:
    """A trusted range peer's PROXY v2 header carrying the emulated clock."""
    return proxy_mod.build_v2("198.51.100.7", 40000, "192.0.2.53", 80, [proxy_mod.clock_tlv(clock)])


def exchange(st: ListenerState, data: bytes, now: float = 1_800_000_000.5) -> tuple[bytes, list, list]:
    """Feed ``data`` on a new connection from the trusted peer: (bytes sent, records, Commanded)."""
    conn = st.connect(TRUSTED_PEER, DST, now)
    cmds = conn.receive(data, now)
    sent = b"".join(c.data if isinstance(c, Send) else c.out for c in cmds if isinstance(c, (Send, Answer)))
    records = [c for c in cmds if isinstance(c, (Record, Answer))]
    return sent, records, [c for c in cmds if isinstance(c, Commanded)]


# -- the rules file ----------------------------------------------------------------


def test_commands_are_loaded_in_file_order_with_their_lines():
    stop, notice = RULES.commands
    assert (stop.family, stop.name, stop.status, stop.content_type, stop.body) == (
        "zeus", "stop", 200, "application/octet-stream", STOP)
    assert (notice.status, notice.content_type, notice.body) == (202, "text/plain; charset=utf-8", NOTICE)
    assert (stop.location, notice.location) == ("rules.toml:13", "rules.toml:19")


def test_the_operators_command_wins_over_a_shipped_one_of_the_same_family_and_name():
    other = RuleSet.loads('[[command]]\nfamily = "zeus"\nname = "stop"\nsource = "s"\nbody = "other"\n'
                          '[[command]]\nfamily = "kelihos"\nname = "stop"\nsource = "s"\nbody = "k"\n', "shipped")
    merged = RULES.then(other)
    assert [(c.family, c.name, c.body) for c in merged.commands] == [
        ("zeus", "stop", STOP), ("zeus", "notice", NOTICE), ("kelihos", "stop", b"k")]
    assert len(merged.rules) == 2


BASE = '[[command]]\nfamily = "zeus"\nname = "stop"\nsource = "s"\n'


@pytest.mark.parametrize("extra, message", [
    ('body = "a"\nbody_hex = "00"\n', "rules.toml:1: command[0] (zeus stop) needs exactly one of body"),
    ('status = 200\n', "rules.toml:1: command[0] (zeus stop) needs exactly one of body"),
    ('body = ""\nstatus = 99\n', "rules.toml:6: command[0].status must be an integer between 200 and 599"),
    ('body_hex = "de ad zz"\n', "rules.toml:5: command[0].body_hex must be hexadecimal bytes"),
    ('body = "x"\nstatus = 204\n', "rules.toml:6: command[0].status: a 204 response carries no body"),
    ('body = ""\ncontent_type = "text/plain\\r\\nSet-Cookie: x"\n', "rules.toml:6: command[0].content_type must be "
                                                                    "a media type"),
    ('body = ""\nname2 = "x"\n', "rules.toml:6: unknown key command[0].name2"),
    ('body = ""\n' + BASE + 'body = "again"\n', "rules.toml:8: command 'stop' of zeus is declared twice "
                                                 "(also command[0], line 1)"),
])
def test_rules_file_errors_name_the_file_and_line(extra, message):
    with pytest.raises(RulesError) as e:
        RuleSet.loads(BASE + extra, "rules.toml")
    assert str(e.value).startswith(message), str(e.value)


def test_a_command_needs_family_name_and_source():
    with pytest.raises(RulesError, match=r"rules.toml:1: missing required key command\[0\]\.source"):
        RuleSet.loads('[[command]]\nfamily = "zeus"\nname = "stop"\nbody = ""\n', "rules.toml")


# -- the table -----------------------------------------------------------------------


def test_table_keeps_only_authorised_commands_and_lists_the_others():
    t = table(authority("stop-zeus"), authority("unrelated", family="other"))
    assert list(t.families) == ["zeus"] and [c.name for c in t.commands] == ["stop"]
    assert t.uncovered == ["rules.toml:19: command notice for zeus is never sent: no [[case.authorities]] "
                           "entry of kind command covers it"]
    assert not CommandTable(RULES.commands, ())


def test_pick_follows_the_windows_and_file_order():
    later = datetime(2026, 3, 5, tzinfo=timezone.utc)
    t = table(authority("notice-zeus", command="notice", start=FROM, end=None), authority("stop-zeus", start=later))
    assert t.pick("zeus", T_BEFORE) is None
    assert t.pick("zeus", T_INSIDE)[0].name == "notice"
    # both valid: the first in file order (stop) wins
    c, authority_id = t.pick("zeus", later.timestamp())
    assert (c.name, authority_id) == ("stop", "stop-zeus")
    assert t.pick("other", T_INSIDE) is None


# -- the connection --------------------------------------------------------------------


def test_command_sent_only_inside_the_authoritys_window_on_the_emulated_clock():
    st = state(table(authority("stop-zeus")))
    before, rec_before, cmd_before = exchange(st, at(T_BEFORE) + GATE)
    inside, rec_inside, cmd_inside = exchange(st, at(T_INSIDE) + GATE)
    after, rec_after, cmd_after = exchange(st, at(T_AFTER) + GATE)
    assert before.startswith(b"HTTP/1.1 200 OK") and not before.endswith(STOP) and cmd_before == []
    assert after.startswith(b"HTTP/1.1 200 OK") and not after.endswith(STOP) and cmd_after == []
    assert rec_before[0].checkin.response == rec_after[0].checkin.response == "empty"

    head, _, body = inside.partition(b"\r\n\r\n")
    head += b"\r\n"
    assert body == STOP
    assert b"Content-Type: application/octet-stream\r\n" in head and b"Cache-Control: no-store\r\n" in head
    assert b"Content-Length: 27\r\n" in head and b"Connection: keep-alive" in head and b"\r\nDate: " in head
    ((rec,),) = (rec_inside,)
    assert (rec.kind, rec.checkin.response, rec.checkin.status, rec.checkin.family) == ("http", "command", 200,
                                                                                         "zeus")
    assert abs(rec.time - T_INSIDE) < 1
    (c,) = cmd_inside
    assert (c.authority, c.command, c.checkin) == ("stop-zeus", "stop", rec.checkin)
    assert c.sha256 == hashlib.sha256(inside).hexdigest() and c.time == rec.time
    assert st.counters.commands_sent == {("zeus", "stop"): 1}


def test_other_families_and_uncovered_commands_get_the_policy():
    st = state(table(authority("stop-zeus")))
    out, recs, cmds = exchange(st, at(T_INSIDE) + OTHER)
    assert cmds == [] and recs[0].checkin.response == "empty" and recs[0].checkin.family == "other"
    # zeus notice has no authority: never sent, even when the stop window is over
    st = state(table(authority("stop-zeus", end=datetime(2026, 3, 2, tzinfo=timezone.utc))))
    out, recs, cmds = exchange(st, at(T_AFTER) + GATE)
    assert cmds == [] and NOTICE not in out


def test_head_gets_the_headers_only_and_the_last_request_closes():
    st = state(table(authority("stop-zeus")), requests_per_connection=1)
    out, recs, cmds = exchange(st, at(T_INSIDE) + GATE.replace(b"GET", b"HEAD"))
    assert out.endswith(b"\r\n\r\n") and b"Content-Length: 27\r\n" in out and b"Connection: close" in out
    assert cmds[0].sha256 == hashlib.sha256(out).hexdigest()


def test_command_answers_are_never_cached_across_the_boundary():
    # A real-time listener (no emulated clock): the same bytes repeated on one
    # connection, first inside the window, then a moment after its end.
    end = 1_800_000_010.0
    auth = authority("stop-zeus", start=datetime.fromtimestamp(end - 100, timezone.utc),
                     end=datetime.fromtimestamp(end, timezone.utc))
    lst = Listener(kind="http", listen=("127.0.0.1:80",), response="notfound")
    st = ListenerState(lst, rules=RULES, policy=ResponsePolicy(), commands=table(auth))
    conn = st.connect(("192.0.2.9", 1234), DST, end - 0.3)
    first = conn.receive(GATE, end - 0.3)
    second = conn.receive(GATE, end + 0.1)  # the same whole second: a cached answer would still be valid
    assert not any(isinstance(c, Answer) for c in first + list(second))
    assert st.cache.entries == {}
    assert [c.data.endswith(STOP) for c in first if isinstance(c, Send)] == [True]
    assert [c.data.startswith(b"HTTP/1.1 404") for c in second if isinstance(c, Send)] == [True]
    # a family without commands is still cached (the fast path is untouched)
    conn.receive(OTHER, end + 0.2)
    hit = conn.receive(OTHER, end + 0.3)
    assert len(hit) == 1 and isinstance(hit[0], Answer) and OTHER in st.cache.entries



def test_docs_events_lists_every_column_of_a_command_event():
    """docs/events.md keeps a table row for each column of kind=command
    (the check-in columns, the command's, the privacy ones)."""
    from pathlib import Path

    from takedown.events import COLUMNS

    doc = (Path(__file__).resolve().parents[1] / "docs" / "events.md").read_text()
    missing = [c.name for c in COLUMNS["command"] if f"| `{c.name}` |" not in doc]
    assert missing == []


def test_describe_commands_lists_a_files_commands(tmp_path):
    from takedown.net.fingerprints import describe_commands

    p = tmp_path / "rules.toml"
    p.write_text(RULES_TEXT)
    assert [(d["family"], d["name"], d["status"], d["body_bytes"], d["location"]) for d in describe_commands(p)] == [
        ("zeus", "stop", 200, len(STOP), f"{p}:13"), ("zeus", "notice", 202, len(NOTICE), f"{p}:19")]
