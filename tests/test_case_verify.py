"""Seizure verification (takedown.case.verify, ``takedown case verify``).

The parent zones are real: NSD on loopback serves two fake TLDs,
``verifytest`` and ``othertest``, that delegate some seized names to the
operation's sinkhole nameservers, some elsewhere, some partly, and some not
at all. RDAP answers are recorded domain objects (tests/data/case/rdap)
served by a small HTTP server on loopback. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import dns.resolver
import pytest
from sqlalchemy import select

from harness.peers import available, free_port, start_nsd
from rdap_helpers import rdap_server
from takedown.case import verify as V
from takedown.case.history import first_verified, record_verified, verifications
from takedown.case.report import render
from takedown.operation import load_operation
from takedown.tracker import db

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).with_name("takedown")
RDAP_DATA = ROOT / "tests" / "data" / "case" / "rdap"
SINK = ("ns1.sinkhole.example", "ns2.sinkhole.example")

ZONES = {
    "verifytest": """\
$TTL 3600
@ SOA ns.verifytest. hostmaster.verifytest. 1 7200 3600 1209600 3600
@ NS ns.verifytest.
ns A 127.0.0.1
seized-ok NS ns1.sinkhole.example.
seized-ok NS ns2.sinkhole.example.
still-bad NS ns1.bulletproof.example.
mixed NS ns1.sinkhole.example.
mixed NS ns1.bulletproof.example.
partial NS ns2.sinkhole.example.
in-parent A 192.0.2.9
""" + "".join(f"many NS ns{i}.a-rather-long-nameserver-label.bulletproof.example.\n" for i in range(40)),
    "othertest": """\
$TTL 3600
@ SOA ns.othertest. hostmaster.othertest. 1 7200 3600 1209600 3600
@ NS ns.othertest.
ns A 127.0.0.1
fine NS ns2.sinkhole.example.
fine NS ns1.sinkhole.example.
""",
}

# name -> (DNS status, a piece of the reason)
EXPECTED_DNS = {
    "seized-ok.verifytest": (V.VERIFIED, "delegated to ns1.sinkhole.example, ns2.sinkhole.example"),
    "still-bad.verifytest": (V.NOT_YET, "delegated to ns1.bulletproof.example"),
    "mixed.verifytest": (V.WRONG, "also delegated to ns1.bulletproof.example"),
    "partial.verifytest": (V.WRONG, "missing ns1.sinkhole.example"),
    "gone.verifytest": (V.WRONG, "NXDOMAIN"),
    "in-parent.verifytest": (V.WRONG, "the parent has no NS records for the name"),
    "fine.othertest": (V.VERIFIED, "delegated to"),
}


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    if not available("nsd"):
        pytest.skip("NSD not installed (scripts/bootstrap)")
    d = tmp_path_factory.mktemp("tlds")
    files = {}
    for origin, text in ZONES.items():
        files[origin] = d / f"{origin}.zone"
        files[origin].write_text(text)
    with start_nsd(files, port=free_port(), workdir=d / "nsd") as peer:
        yield peer.host, peer.port


@pytest.fixture(scope="module")
def rdap():
    with rdap_server(RDAP_DATA) as url:
        yield url


def operation(tmp_path: Path, names: list[str]) -> Path:
    (tmp_path / "seized.txt").write_text("\n".join(names) + "\n")
    ns = ", ".join(f'"{n}" = "192.0.2.{i + 1}"' for i, n in enumerate(SINK))
    op = tmp_path / "operation.toml"
    op.write_text(f"""\
[operation]
name = "verify"
storage = "data"

[sinkhole]
ipv4 = ["192.0.2.53"]
ttl = 300
soa_email = "hostmaster.sinkhole.example"
nameservers = {{ {ns} }}

[[domains]]
family = "waledac"
file = "seized.txt"
""")
    return op


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


# ------------------------------------------------------------------ DNS


def test_each_delegation_is_classed_with_its_reason(parent):
    for name, (status, why) in EXPECTED_DNS.items():
        f = V.check_delegation(name, frozenset(SINK), [parent])
        assert (f.check, f.status) == ("dns", status), (name, f)
        assert why in f.reason, (name, f.reason)
    # 40 NS records do not fit in 512 bytes of UDP: truncated, asked again over TCP (RFC 7766)
    many = V.check_delegation("many.verifytest", frozenset(SINK), [parent])
    assert many.status == V.NOT_YET and many.reason.count("bulletproof.example") == 40
    # a name below a seized one is covered by the seized name's delegation
    assert V.check_delegation("www.seized-ok.verifytest", frozenset(SINK), [parent]).status == V.VERIFIED


def test_a_silent_parent_is_not_yet_and_the_next_server_is_asked(parent):
    dead = ("127.0.0.1", free_port())
    f = V.check_delegation("seized-ok.verifytest", frozenset(SINK), [dead], timeout=0.3)
    assert f.status == V.NOT_YET and f"127.0.0.1:{dead[1]} did not answer" in f.reason
    assert V.check_delegation("seized-ok.verifytest", frozenset(SINK), [dead, parent], timeout=0.3).status \
        == V.VERIFIED


def test_the_live_parent_is_found_through_a_resolver(parent):
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [parent[0]]
    res.port = parent[1]
    assert V.tld_parent("verifytest", res) == [("127.0.0.1", 53)]  # ns.verifytest's address, on port 53
    with pytest.raises(V.VerifyError, match="cannot find the nameservers of .nosuchtld"):
        V.tld_parent("nosuchtld", res)


# ------------------------------------------------------------------ RDAP


def test_rdap_status_and_registrar_from_recorded_responses(rdap):
    ok = V.fetch_rdap(rdap, "seized-ok.verifytest")
    bad = V.fetch_rdap(rdap, "still-bad.verifytest")
    assert V.fetch_rdap(rdap, "gone.verifytest") is None
    lock = V.RdapExpect()
    assert V.check_rdap(ok, lock).status == V.VERIFIED
    assert V.check_rdap(ok, V.RdapExpect(("server transfer prohibited",), "court appointed registrar llc")).status \
        == V.VERIFIED
    assert V.check_rdap(ok, V.RdapExpect(registrar="9999")).status == V.VERIFIED  # the IANA Registrar ID
    hold = V.check_rdap(ok, V.RdapExpect(("server hold",)))
    assert hold.status == V.NOT_YET and 'lacks "server hold"' in hold.reason
    f = V.check_rdap(bad, V.RdapExpect(registrar="9999"))
    assert f.status == V.NOT_YET
    assert '"server transfer prohibited"' in f.reason and "registrar is Bulletproof Names Ltd (IANA 4242)" in f.reason
    gone = V.check_rdap(None, lock)
    assert gone.status == V.WRONG and "404" in gone.reason


def test_a_silent_rdap_server_is_one_line(rdap):
    with pytest.raises(V.VerifyError, match=r"/domain/x\.verifytest: "):
        V.fetch_rdap(f"http://127.0.0.1:{free_port()}/", "x.verifytest", timeout=1)


def test_a_name_whose_tld_has_no_rdap_service_is_not_yet_verified(rdap):
    """Many ccTLDs run no RDAP service; the bootstrap then names none and
    the finding says so (not an error that stops the other names)."""
    served = {"verifytest": rdap}
    results = V.verify([("seized-ok.verifytest", "waledac"), ("bad.example.ru", "waledac")],
                       rdap=lambda name: served.get(name.rsplit(".", 1)[-1]))
    ok, ru = results
    assert ok.status == V.VERIFIED and ok.registry == rdap
    assert ru.status == V.NOT_YET and ru.registry == ".ru"
    assert ru.reason == "rdap: no RDAP service for .ru in the bootstrap file: ask the registry"


# ------------------------------------------------------------------ together


def test_verify_per_name_per_registry_and_the_history(parent, rdap, tmp_path):
    op = load_operation(operation(tmp_path, list(EXPECTED_DNS)))
    T1, T2 = 1_790_000_000, 1_790_086_400
    results = V.verify_operation(op, dns_check=True, rdap_check=True, parent=f"{parent[0]}:{parent[1]}",
                                 rdap_url=rdap, now=T1)
    got = {r.name: r for r in results}
    assert [r.name for r in results] == list(EXPECTED_DNS)
    assert got["seized-ok.verifytest"].status == V.VERIFIED
    assert got["seized-ok.verifytest"].first_verified == T1
    assert got["still-bad.verifytest"].status == V.NOT_YET
    assert "dns: delegated to ns1.bulletproof.example" in got["still-bad.verifytest"].reason
    assert "rdap: status lacks" in got["still-bad.verifytest"].reason
    assert got["gone.verifytest"].status == V.WRONG
    # DNS verified, but the registry has no RDAP record of it: the worse finding wins
    assert got["fine.othertest"].status == V.WRONG and "rdap: the registry has no RDAP record" \
        in got["fine.othertest"].reason
    assert all(r.first_verified is None for r in results if r.status != V.VERIFIED)
    assert {(g.registry, tuple(g.counts.values())) for g in V.by_registry(results)} == {(rdap, (1, 1, 5))}

    dns_only = V.verify_operation(op, dns_check=True, rdap_check=False, parent=f"{parent[0]}:{parent[1]}",
                                  now=T2)
    counts = {g.registry: g.counts for g in V.by_registry(dns_only)}
    assert counts == {".othertest": {V.VERIFIED: 1, V.NOT_YET: 0, V.WRONG: 0},
                      ".verifytest": {V.VERIFIED: 1, V.NOT_YET: 1, V.WRONG: 4}}
    first = {r.name: r.first_verified for r in dns_only}
    assert first["seized-ok.verifytest"] == T1  # the first verification is kept
    assert first["fine.othertest"] == T2  # verified for the first time now
    engine = db.open_engine(db.resolve_url(None, op.storage))
    with engine.connect() as conn:
        rows = {r.name: (r.first_verified, r.checks) for r in conn.execute(select(verifications))}
    engine.dispose()
    assert rows == {"seized-ok.verifytest": (T1, "dns+rdap"), "fine.othertest": (T2, "dns")}


def test_a_name_verified_once_keeps_its_date(tmp_path):
    engine = db.open_engine(f"sqlite:///{tmp_path / 't.sqlite'}")
    db.ensure_current(engine)
    assert record_verified(engine, ["a.example", "b.example"], "dns", 100) == {"a.example": 100, "b.example": 100}
    assert record_verified(engine, ["b.example", "c.example"], "rdap", 200) == {"b.example": 100, "c.example": 200}
    assert first_verified(engine) == {"a.example": 100, "b.example": 100, "c.example": 200}
    engine.dispose()


def test_the_three_formats(parent, tmp_path):
    op = load_operation(operation(tmp_path, list(EXPECTED_DNS)))
    results = V.verify_operation(op, dns_check=True, rdap_check=False, parent=f"{parent[0]}:{parent[1]}",
                                 now=1_790_000_000, history=False)
    rows = list(csv.DictReader(io.StringIO(render(results, "csv"))))
    assert [(r["name"], r["status"], r["dns"], r["rdap"]) for r in rows] == \
        [(n, s, s, "") for n, (s, _) in EXPECTED_DNS.items()]
    doc = json.loads(render(results, "json"))
    assert doc["verified"] is False
    assert doc["registries"] == [{"registry": ".othertest", "verified": 1, "not_yet": 0, "wrong": 0},
                                 {"registry": ".verifytest", "verified": 1, "not_yet": 1, "wrong": 4}]
    assert doc["names"][4]["findings"] == [{"check": "dns", "status": "wrong",
                                            "reason": "not delegated: the parent says the name does not exist "
                                                      "(NXDOMAIN)"}]
    table = render(results, "table")
    assert "7 name(s): 2 verified, 1 not yet, 4 wrong" in table
    assert any(line.split()[:4] == [".verifytest", "1", "1", "4"] for line in table.splitlines())


# ------------------------------------------------------------------ the command


def test_cli_exit_3_until_every_name_is_verified(parent, rdap, tmp_path):
    where = f"{parent[0]}:{parent[1]}"
    (tmp_path / "some").mkdir()
    op = operation(tmp_path / "some", list(EXPECTED_DNS))
    p = run("case", "verify", str(op), "--dns", "--parent", where, "--format", "json")
    assert p.returncode == 3, p.stderr
    assert json.loads(p.stdout)["verified"] is False

    (tmp_path / "all").mkdir()
    op = operation(tmp_path / "all", ["seized-ok.verifytest", "fine.othertest"])
    p = run("case", "verify", str(op), "--parent", where)  # --dns by default
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 name(s): 2 verified, 0 not yet, 0 wrong" in p.stdout
    p = run("case", "verify", str(op), "--parent", where, "--rdap", "--rdap-url", rdap, "--format", "csv")
    assert p.returncode == 3  # fine.othertest has no RDAP record
    assert "fine.othertest,waledac," in p.stdout and "rdap: the registry has no RDAP record" in p.stdout


def test_cli_rdap_through_a_bootstrap_file_and_a_registrar(rdap, tmp_path):
    boot = tmp_path / "dns.json"
    boot.write_text(json.dumps({"version": "1.0", "publication": "2026-11-30T18:00:01Z",
                                "services": [[["verifytest"], [rdap]]]}))
    op = operation(tmp_path, ["seized-ok.verifytest"])
    p = run("case", "verify", str(op), "--rdap", "--bootstrap", str(boot), "--registrar", "9999",
            "--status", "server delete prohibited", "--status", "server transfer prohibited")
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{rdap}  1         0        0      1" in p.stdout  # the registry is the RDAP service
    p = run("case", "verify", str(op), "--rdap", "--bootstrap", str(boot), "--registrar", "Someone Else")
    assert p.returncode == 3 and "expected Someone Else" in p.stdout
    op = operation(tmp_path, ["fine.othertest"])
    p = run("case", "verify", str(op), "--rdap", "--bootstrap", str(boot))
    assert p.returncode == 3 and "rdap: no RDAP service for .othertest in the bootstrap file" in p.stdout


@pytest.mark.parametrize("args, message", [
    (["--parent", "localhost:53"], "Error: --parent: 'localhost:53' is not a valid listen address"),
    (["--format", "xml"], "Error: --format: 'xml' is not one of table, csv, json"),
    (["--rdap", "--bootstrap", "nowhere.json"], "Error: nowhere.json: No such file or directory"),
    (["--rdap", "--rdap-url", "http://127.0.0.1:9/", "--status", "serverHold"],
     "Error: --status: 'serverHold' is EPP's spelling; RDAP writes \"server hold\" (RFC 8056 section 2)"),
    (["--rdap", "--rdap-url", "http://127.0.0.1:9/", "--status", "seized"],
     "Error: --status: 'seized' is not an RDAP status (RFC 8056 section 2: active, "),
])
def test_cli_bad_input_is_one_line(tmp_path, args, message):
    op = operation(tmp_path, ["a.verifytest"])
    p = run("case", "verify", str(op), *args)
    assert p.returncode == 1 and p.stderr.startswith(message) and p.stderr.count("\n") == 1, p.stderr
    assert "Traceback" not in p.stdout + p.stderr



@pytest.mark.parametrize("case_ns, expected", [
    (None, set(SINK)),  # no [case]: the sinkhole's nameservers
    ("", set(SINK)),  # a [case] without nameservers: its default, the sinkhole's
    ('nameservers = ["NS1.Registry-Hold.example."]', {"ns1.registry-hold.example"}),
])
def test_the_expected_nameservers_are_the_cases(tmp_path, case_ns, expected):
    """A court may order the names delegated elsewhere than the sinkhole (a
    registry's hold servers): [case] nameservers is what verification expects."""
    from takedown.case.verify import sinkhole_nameservers
    from takedown.operation import load_operation

    op = operation(tmp_path, ["seized-ok.verifytest"])
    if case_ns is not None:
        op.write_text(op.read_text() + f"""
[case]
court = "United States District Court for the Eastern District of Virginia"
case_number = "1:10-cv-00156"
order_type = "temporary restraining order"
order_date = 2010-02-22
{case_ns}
""")
    assert sinkhole_nameservers(load_operation(op)) == expected


# ------------------------------------------------------------------ what RDAP must show, from the case

CASE = """
[case]
court = "United States District Court for the Eastern District of Virginia"
case_number = "1:10-cv-00156"
order_type = "temporary restraining order"
order_date = 2010-02-22
"""


def test_the_expected_rdap_status_and_registrar_come_from_the_case(rdap, tmp_path):
    """[case] rdap_status / registrar for every name, a [[case.registries]]
    entry's own for its names (a registry may hold names differently), the
    command line's --status / --registrar over both."""
    op = operation(tmp_path, ["seized-ok.verifytest"])
    base = op.read_text()

    def verify(case: str, **cli) -> V.NameResult:
        op.write_text(base + CASE + case)
        (r,) = V.verify_operation(load_operation(op), dns_check=False, rdap_check=True, rdap_url=rdap,
                                  now=1_790_000_000, history=False, **cli)
        return r

    # the default: the registry lock, which the recorded object shows
    assert verify("").status == V.VERIFIED
    held = verify('rdap_status = ["server hold"]\n')
    assert held.status == V.NOT_YET and 'status lacks "server hold"' in held.reason
    assert verify('registrar = "Bulletproof Names Ltd"\n').status == V.NOT_YET
    registry = """
[[case.registries]]
tld = "verifytest"
name = "Verify Test Registry"
contact = "legal@registry.verifytest"
rdap_status = ["Server Delete Prohibited", "server update prohibited"]
registrar = "9999"
"""
    # the registry's own expectations win over [case]'s
    assert verify('rdap_status = ["server hold"]\nregistrar = "Someone Else"\n' + registry).status == V.VERIFIED
    # the command line's win over both, each on its own
    r = verify(registry, statuses=("server hold",))
    assert r.status == V.NOT_YET and 'status lacks "server hold"' in r.reason and "registrar" not in r.reason
    r = verify(registry, registrar="Someone Else")
    assert r.status == V.NOT_YET and "expected Someone Else" in r.reason


def test_a_registry_is_found_by_the_longest_suffix(tmp_path):
    op = operation(tmp_path, ["a.verifytest"])
    op.write_text(op.read_text() + CASE + """registrar = "Default Registrar"
[[case.registries]]
tld = "uk"
name = "Nominet"
contact = "legal@nominet.example"
rdap_status = ["server hold"]
[[case.registries]]
tld = "co.uk"
name = "Nominet, co.uk"
contact = "legal@nominet.example"
registrar = "1234"
""")
    of = V.expectations(load_operation(op).case)
    assert of("evil.co.uk") == V.RdapExpect(("server transfer prohibited",), "1234")
    assert of("evil.org.uk") == V.RdapExpect(("server hold",), "Default Registrar")
    assert of("evil.com") == V.RdapExpect(("server transfer prohibited",), "Default Registrar")
    assert V.expectations(None)("evil.com") == V.RdapExpect()


@pytest.mark.parametrize("line, message", [
    ('rdap_status = ["serverHold"]', "case.rdap_status[0]: 'serverHold' is EPP's spelling; RDAP writes "
                                     "\"server hold\" (RFC 8056 section 2)"),
    ('rdap_status = ["seized"]', "case.rdap_status[0]: 'seized' is not an RDAP status (RFC 8056 section 2: "),
    ("rdap_status = []", "case.rdap_status must name at least one RDAP status"),
])
def test_a_bad_rdap_status_in_the_case_names_its_line(tmp_path, line, message):
    from takedown.errors import OperationError

    op = operation(tmp_path, ["a.verifytest"])
    text = op.read_text() + CASE + line + "\n"
    op.write_text(text)
    with pytest.raises(OperationError) as e:
        load_operation(op)
    assert str(e.value).startswith(f"{op}:{text.count(chr(10))}: {message}"), str(e.value)


def test_names_are_grouped_by_their_rdap_service_as_in_the_appendix(parent, tmp_path):
    """Without --rdap too, a name's registry is its RDAP service in the
    shipped bootstrap file (the appendix's sections); a TLD without one, its TLD."""
    op = load_operation(operation(tmp_path, ["seized-ok.verifytest", "evil-example-2026.com", "evil.example.ru"]))
    results = V.verify_operation(op, dns_check=True, rdap_check=False, parent=f"{parent[0]}:{parent[1]}",
                                 now=1_790_000_000, history=False, timeout=1)
    assert [r.registry for r in results] == [".verifytest", "https://rdap.verisign.com/com/v1/", ".ru"]
    assert results[0].status == V.VERIFIED
    assert results[1].status == V.NOT_YET  # the loopback parent is not .com's: it refuses


def test_cli_rdap_uses_the_shipped_bootstrap_by_default(tmp_path):
    """--rdap without --rdap-url or --bootstrap: the shipped IANA file names
    the service; the fake TLD has none, so nothing is asked of any server."""
    op = operation(tmp_path, ["seized-ok.verifytest"])
    p = run("case", "verify", str(op), "--rdap", "--format", "csv")
    assert p.returncode == 3, p.stderr
    assert "rdap: no RDAP service for .verifytest in the bootstrap file: ask the registry" in p.stdout
