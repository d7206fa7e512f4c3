"""Issue 17 point 1: the [case] section (takedown.operation.Case) and
`takedown case check` (takedown.case.check)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from takedown.case.check import CommandResponse, check_case, parse_time, summary
from takedown.errors import CaseError, OperationError
from takedown.lists import display_path
from takedown.operation import load_operation

BASE = """\
[operation]
name = "case-test"
storage = "data"

[sinkhole]
ipv4 = ["192.0.2.53"]
ttl = 300
soa_email = "hostmaster.sinkhole.example"
nameservers = { "ns1.sinkhole.example" = "192.0.2.1", "ns2.sinkhole.example" = "192.0.2.2" }

[[domains]]
family = "waledac"
file = "waledac.txt"

[[domains]]
family = "zeus"
file = "zeus.txt"
"""

CASE = """
[case]
court = "U.S. District Court, Eastern District of Virginia"
case_number = "1:10-cv-00156"
order_type = "temporary restraining order"
order_date = 2026-10-05

[[case.parties]]
role = "plaintiff"
name = "Microsoft Corporation"
contact = "counsel@example.com"

[[case.parties]]
role = "defendant"
name = "John Does 1-27"

[[case.authorities]]
id = "tro-sink"
kind = "sink"
families = ["waledac"]
valid_from = 2026-10-05T00:00:00Z
valid_until = 2026-10-19T00:00:00Z

[[case.authorities]]
id = "zeus-sink"
kind = "sink"
lists = ["zeus.txt"]
valid_from = 2026-10-05T00:00:00Z

[[case.authorities]]
id = "stop"
kind = "command"
family = "waledac"
command = "stop"
valid_from = 2026-10-12T00:00:00Z
valid_until = 2026-10-19T00:00:00Z

[[case.registries]]
tld = "com"
name = "VeriSign"
contact = "legal@verisign.example"
"""

AT = datetime(2026, 10, 10, tzinfo=timezone.utc)


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "waledac.txt").write_text("# Waledac\nchristmas-ecard.example\nvalentine-cards.example\n")
    (tmp_path / "zeus.txt").write_text("zeus-cc.example\n")
    p = tmp_path / "op.toml"
    p.write_text(text)
    return p


def test_case_loads_with_every_key(tmp_path):
    op = load_operation(write(tmp_path, BASE + CASE))
    c = op.case
    assert c.case_number == "1:10-cv-00156" and c.order_date == date(2026, 10, 5)
    assert [(p.role, p.contact) for p in c.parties] == [("plaintiff", "counsel@example.com"), ("defendant", None)]
    sink, zeus, stop = c.authorities
    assert sink.families == ("waledac",) and sink.valid_until == datetime(2026, 10, 19, tzinfo=timezone.utc)
    assert zeus.lists == (tmp_path / "zeus.txt",) and zeus.valid_until is None
    assert (stop.kind, stop.family, stop.command) == ("command", "waledac", "stop")
    assert [(r.tld, r.name) for r in c.registries] == [("com", "VeriSign")]
    # nameservers default to the sinkhole's
    assert c.nameservers == ("ns1.sinkhole.example", "ns2.sinkhole.example")
    assert c.seal is False
    assert sink.valid_at(AT) and not stop.valid_at(AT) and zeus.valid_at(datetime(2030, 1, 1, tzinfo=timezone.utc))


def test_no_case_is_none(tmp_path):
    assert load_operation(write(tmp_path, BASE)).case is None


def test_times_are_converted_to_utc(tmp_path):
    text = BASE + CASE.replace("valid_from = 2026-10-05T00:00:00Z\nvalid_until = 2026-10-19",
                               "valid_from = 2026-10-05T02:00:00+02:00\nvalid_until = 2026-10-19")
    a = load_operation(write(tmp_path, text)).case.authorities[0]
    assert a.valid_from == datetime(2026, 10, 5, tzinfo=timezone.utc)


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(needle))


@pytest.mark.parametrize("old, new, at, fragment", [
    ('court = "U.S. District Court, Eastern District of Virginia"\n', "", "[case]",
     "missing required key case.court"),
    ('court = "U.S. District Court, Eastern District of Virginia"', 'court = "  "', "court =",
     "case.court must be a non-empty string"),
    ("order_date = 2026-10-05", 'order_date = "5 Oct"', "order_date", "must be a date like 2026-10-05"),
    ('kind = "sink"\nfamilies', 'kind = "seize"\nfamilies', 'kind = "seize"',
     "case.authorities[0].kind must be one of sink, notify, command"),
    ("valid_from = 2026-10-05T00:00:00Z\nvalid_until = 2026-10-19T00:00:00Z\n\n[[case.authorities]]\nid = \"zeus",
     "valid_from = 2026-10-05T00:00:00\nvalid_until = 2026-10-19T00:00:00Z\n\n[[case.authorities]]\nid = \"zeus",
     "valid_from = 2026-10-05T00:00:00\n", "has no offset; write it in UTC"),
    ("valid_until = 2026-10-19T00:00:00Z\n\n[[case.authorities]]\nid = \"zeus",
     "valid_until = 2026-10-01T00:00:00Z\n\n[[case.authorities]]\nid = \"zeus",
     "valid_until = 2026-10-01", "is not after valid_from"),
    ('id = "zeus-sink"', 'id = "tro-sink"', 'id = "tro-sink"\nkind = "sink"\nlists',
     "authority tro-sink is declared twice"),
    ('lists = ["zeus.txt"]', 'lists = ["missing.txt"]', "lists =", "file 'missing.txt' does not exist"),
    ('lists = ["zeus.txt"]', 'command = "stop"', 'command = "stop"\nvalid_from = 2026-10-05',
     'only kind = "command" has this key'),
    ('lists = ["zeus.txt"]\n', "", '[[case.authorities]]\nid = "zeus-sink"', "a sink authority needs a scope"),
    ('family = "waledac"\ncommand = "stop"', 'command = "stop"', '[[case.authorities]]\nid = "stop"',
     'kind = "command" needs family'),
    ('tld = "com"', 'tld = "c m"', "tld =", "must be a top-level domain"),
    ('contact = "legal@verisign.example"\n', 'contact = "legal@verisign.example"\n[[case.registries]]\ntld = "COM"\n'
     'name = "x"\ncontact = "y"\n', 'tld = "COM"', "registry for com is declared twice (also line"),
    ('name = "John Does 1-27"', 'name = "John Does 1-27"\nemail = "x"', "email", "unknown key case.parties[1].email"),
])
def test_bad_case_file_line(tmp_path, old, new, at, fragment):
    text = BASE + CASE
    assert old in text
    text = text.replace(old, new, 1)
    with pytest.raises(OperationError) as e:
        load_operation(write(tmp_path, text))
    msg = str(e.value)
    line = _line(text, at.splitlines()[0]) if "\n" not in at else _line_of_block(text, at)
    assert msg.startswith(f"{tmp_path / 'op.toml'}:{line}: "), msg
    assert fragment in msg, msg


def _line_of_block(text: str, block: str) -> int:
    return text[:text.index(block)].count("\n") + 1


# -- takedown case check ---------------------------------------------------------


def test_check_ok(tmp_path):
    res = check_case(load_operation(write(tmp_path, BASE + CASE)), AT)
    assert res.ok, res.errors
    assert (res.seized, res.dga_due) == (3, 0)
    assert (res.valid, res.expired, res.pending) == (["tro-sink", "zeus-sink"], [], ["stop"])
    assert summary(res).startswith("OK: case 1:10-cv-00156 (U.S. District Court")
    assert "3 seized name(s) at 2026-10-10T00:00:00Z" in summary(res)


def test_name_outside_every_scope_is_an_error_at_its_list_line(tmp_path):
    text = BASE + '\n[[domains]]\nfamily = "rustock"\nfile = "rustock.txt"\n' + CASE
    (tmp_path / "rustock.txt").write_text("# Rustock\n\nrustock-cc.example\n")
    res = check_case(load_operation(write(tmp_path, text)), AT)
    assert res.errors == [f"{display_path(tmp_path / 'rustock.txt')}:3: rustock-cc.example (rustock) is seized "
                          f"but outside every sink authority's scope"]


def test_names_scope_covers_names_below(tmp_path):
    text = (BASE + CASE).replace('families = ["waledac"]', 'names = ["christmas-ecard.example"]')
    p = write(tmp_path, text)
    (tmp_path / "waledac.txt").write_text("christmas-ecard.example\nwww.christmas-ecard.example\nother.example\n")
    res = check_case(load_operation(p), AT)
    assert len(res.errors) == 1 and res.errors[0].endswith(
        "waledac.txt:3: other.example (waledac) is seized but outside every sink authority's scope")


def test_expired_authority_still_in_use(tmp_path):
    text = BASE + CASE
    p = write(tmp_path, text)
    later = datetime(2026, 10, 20, tzinfo=timezone.utc)
    res = check_case(load_operation(p), later)
    line = _line(text, "valid_until = 2026-10-19")
    assert res.errors == [f"{p}:{line}: authority tro-sink (sink) expired at 2026-10-19T00:00:00Z; still in use: "
                          f"2 name(s) sunk under it (christmas-ecard.example, valentine-cards.example)"]
    assert res.expired == ["tro-sink", "stop"]
    # one second before the end it still holds; at the end it does not
    assert check_case(load_operation(p), datetime(2026, 10, 18, 23, 59, 59, tzinfo=timezone.utc)).ok
    assert not check_case(load_operation(p), datetime(2026, 10, 19, tzinfo=timezone.utc)).ok


def test_expired_authority_replaced_by_a_valid_one_is_fine(tmp_path):
    renewal = ('\n[[case.authorities]]\nid = "pi-sink"\nkind = "sink"\nfamilies = ["waledac"]\n'
               'valid_from = 2026-10-19T00:00:00Z\n')
    res = check_case(load_operation(write(tmp_path, BASE + CASE + renewal)), datetime(2026, 11, 1, tzinfo=timezone.utc))
    assert res.ok, res.errors
    assert res.expired == ["tro-sink", "stop"]


def test_sinking_before_the_authority_starts(tmp_path):
    text = BASE + CASE
    p = write(tmp_path, text)
    res = check_case(load_operation(p), datetime(2026, 10, 1, tzinfo=timezone.utc))
    assert [e.split(": ", 1)[1] for e in res.errors] == [
        "authority tro-sink (sink) starts at 2026-10-05T00:00:00Z; already in use: 2 name(s) sunk under it "
        "(christmas-ecard.example, valentine-cards.example)",
        "authority zeus-sink (sink) starts at 2026-10-05T00:00:00Z; already in use: 1 name(s) sunk under it "
        "(zeus-cc.example)"]
    assert res.errors[0].startswith(f"{p}:{_line(text, 'valid_from = 2026-10-05')}:")


def test_dga_names_due_need_a_sink_authority(tmp_path):
    dga = '\n[[dga]]\nfamily = "necurs"\n'
    text = BASE + dga + CASE
    p = write(tmp_path, text)
    res = check_case(load_operation(p), AT)
    assert res.dga_due > 0
    assert len(res.errors) == 1
    assert res.errors[0].startswith(f"{p}:{_line(text, '[[dga]]')}: {res.dga_due} necurs DGA name(s) due on "
                                    f"2026-10-10 are outside every sink authority's scope (")
    covered = text.replace('families = ["waledac"]', 'families = ["waledac", "necurs"]')
    res = check_case(load_operation(write(tmp_path, covered)), AT)
    assert res.ok, res.errors


def test_command_responses_need_a_valid_command_authority(tmp_path):
    op = load_operation(write(tmp_path, BASE + CASE))
    during = datetime(2026, 10, 15, tzinfo=timezone.utc)
    granted = CommandResponse("waledac", "stop", "rules.toml:7")
    assert check_case(op, during, [granted]).ok
    # before its authority starts: pending, not an error (it will be sent from then on)
    before = check_case(op, AT, [granted])
    assert before.ok and before.commands_pending == ["waledac stop"]
    assert summary(before).endswith("; 1 command response(s): 0 authorised, 1 pending (waledac stop)")
    after = datetime(2026, 10, 19, tzinfo=timezone.utc)  # valid_until is exclusive
    assert check_case(op, after, [granted]).errors[-1] == (
        "rules.toml:7: command response stop for waledac: authority stop expired at 2026-10-19T00:00:00Z")
    assert check_case(op, during, [CommandResponse("waledac", "uninstall", "rules.toml:9")]).errors == [
        "rules.toml:9: command response uninstall for waledac has no command authority in [case]"]


def test_check_without_case(tmp_path):
    with pytest.raises(CaseError, match=r"op.toml: the operation has no \[case\] section"):
        check_case(load_operation(write(tmp_path, BASE)), AT)


def test_parse_time():
    assert parse_time("2026-10-10") == AT
    assert parse_time("2026-10-10T02:00:00+02:00") == AT
    assert parse_time("2026-10-10T00:00:00Z") == AT
    with pytest.raises(CaseError, match="--at: 'tomorrow' is not a date"):
        parse_time("tomorrow")


def _cli(*args: str, cwd: Path):
    src = Path(__file__).resolve().parents[1] / "src"
    return subprocess.run([sys.executable, "-c", "from takedown.cli import main; main()", *args], cwd=cwd,
                          capture_output=True, text=True, env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"})


def test_cli_case_check(tmp_path):
    write(tmp_path, BASE + CASE)
    r = _cli("case", "check", "op.toml", "--at", "2026-10-10", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("OK: case 1:10-cv-00156")
    r = _cli("case", "check", "op.toml", "--at", "2026-10-20T00:00:00Z", cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.startswith(f"Error: op.toml:{_line(BASE + CASE, 'valid_until = 2026-10-19')}: authority "
                               f"tro-sink (sink) expired")
    r = _cli("case", "check", "op.toml", "--at", "soon", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (1, "Error: --at: 'soon' is not a date or date-time "
                                           "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)\n")
    (tmp_path / "plain.toml").write_text(BASE)
    r = _cli("case", "check", "plain.toml", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (1, "Error: plain.toml: the operation has no [case] section\n")


COMMAND_RULES = """\
[[rule]]
name = "waledac-gate"
family = "waledac"
source = "tests/test_case_model.py"
path = "/gate.php"

[[command]]
family = "waledac"
name = "stop"
source = "tests/test_case_model.py"
body = "stop"

[[command]]
family = "waledac"
name = "uninstall"
source = "tests/test_case_model.py"
body = "uninstall"
"""


def test_cli_case_check_holds_the_rules_files_commands(tmp_path):
    """`takedown case check` reads the rules file's [[command]] tables: one
    without any authority, or whose authorities all expired, is an error at
    its line in the rules file; one whose authority starts later is pending."""
    (tmp_path / "rules.toml").write_text(COMMAND_RULES)
    write(tmp_path, BASE + '[fingerprints]\nrules = "rules.toml"\n' + CASE)
    r = _cli("case", "check", "op.toml", "--at", "2026-10-15", cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr == ("Error: rules.toml:13: command response uninstall for waledac has no command authority "
                        "in [case]\n")
    (tmp_path / "rules.toml").write_text(COMMAND_RULES.split("\n[[command]]\nfamily = \"waledac\"\nname = \"un")[0])
    r = _cli("case", "check", "op.toml", "--at", "2026-10-15", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith("1 command response(s): 1 authorised, 0 pending")
    r = _cli("case", "check", "op.toml", "--at", "2026-10-10", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith("1 command response(s): 0 authorised, 1 pending (waledac stop)")
    r = _cli("case", "check", "op.toml", "--at", "2026-10-19", cwd=tmp_path)
    assert r.returncode == 1
    assert "Error: rules.toml:7: command response stop for waledac: authority stop expired at " \
           "2026-10-19T00:00:00Z\n" in r.stderr
    (tmp_path / "rules.toml").write_text(COMMAND_RULES.replace('body = "stop"', 'body_hex = "nothex"'))
    r = _cli("case", "check", "op.toml", "--at", "2026-10-15", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith("Error: rules.toml:11: command[0].body_hex must be hexadecimal bytes")


def test_the_documented_case_loads_and_checks(tmp_path):
    """docs/case-model.md's example is a valid [case]: the TRO, then the injunction."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "case-model.md").read_text()
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    p = write(tmp_path, BASE.replace("waledac.txt", "waledac-domains.txt") + example)
    (tmp_path / "waledac-domains.txt").write_text("christmas-ecard.example\n")
    op = load_operation(p)
    assert [a.id for a in op.case.authorities] == ["tro-sink", "pi-sink", "stop"]
    for day in ("2026-10-05", "2026-10-18T23:59:59Z", "2026-10-19", "2027-06-01"):
        res = check_case(op, parse_time(day))
        assert [e for e in res.errors if "waledac" in e] == [], (day, res.errors)
    # zeus.txt is in no authority's scope
    assert check_case(op, parse_time("2026-10-10")).errors[0].endswith(
        "zeus-cc.example (zeus) is seized but outside every sink authority's scope")
    assert not check_case(op, parse_time("2026-10-04T23:59:59Z")).ok  # before the order


def test_notice_page_needs_a_valid_notify_authority(tmp_path):
    notify = ('\n[[case.authorities]]\nid = "notify"\nkind = "notify"\nfamilies = ["waledac"]\n'
              'valid_from = 2026-10-05T00:00:00Z\nvalid_until = 2026-11-05T00:00:00Z\n')
    http = '\n[http]\nlisten = ["127.0.0.1:8080"]\nresponse = "notice"\n'
    text = BASE + http + CASE + notify
    p = write(tmp_path, text)
    op = load_operation(p)
    assert check_case(op, AT).ok
    after = check_case(op, datetime(2026, 11, 5, tzinfo=timezone.utc))
    line = _line(text, "valid_until = 2026-11-05")
    assert after.errors[-1] == (f"{p}:{line}: authority notify (notify) expired at 2026-11-05T00:00:00Z; "
                                f"still in use: [http] answers check-ins with the notice page")
    # a sinkhole that answers silently notifies nobody
    quiet = load_operation(write(tmp_path, text.replace('response = "notice"', 'response = "silent"')))
    assert not [e for e in check_case(quiet, datetime(2026, 11, 5, tzinfo=timezone.utc)).errors if "notify" in e]
