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
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dns.resolver
import pytest
from sqlalchemy import select

from harness.peers import available, free_port, start_nsd
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


class _Rdap(BaseHTTPRequestHandler):
    """GET /domain/NAME: the recorded object, or 404 (RFC 7480 section 5.3)."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        name = self.path.rsplit("/domain/", 1)[-1].lower()
        f = RDAP_DATA / f"{name}.json"
        if "/domain/" not in self.path or "/" in name or not f.is_file():
            self.send_response(404)
            self.end_headers()
            return
        body = f.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/rdap+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def rdap():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Rdap)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/rdap/"
    server.shutdown()
    server.server_close()


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


def test_the_rdap_base_comes_from_the_bootstrap_file():
    # RFC 9224 section 4's shape: [[tlds], [urls]], HTTPS preferred
    boot = {"version": "1.0", "publication": "2026-11-30T18:00:01Z",
            "services": [[["net", "com"], ["http://rdap.example/com/", "https://rdap.example/com/"]],
                         [["org"], ["https://rdap.example/org"]]]}
    assert V.rdap_base("com", boot) == "https://rdap.example/com/"
    assert V.rdap_base("org", boot) == "https://rdap.example/org/"
    assert V.rdap_base("xyz", boot) is None


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
    boot.write_text(json.dumps({"version": "1.0", "services": [[["verifytest"], [rdap]]]}))
    op = operation(tmp_path, ["seized-ok.verifytest"])
    p = run("case", "verify", str(op), "--rdap", "--bootstrap", str(boot), "--registrar", "9999",
            "--status", "server delete prohibited", "--status", "server transfer prohibited")
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{rdap}  1         0        0      1" in p.stdout  # the registry is the RDAP service
    p = run("case", "verify", str(op), "--rdap", "--bootstrap", str(boot), "--registrar", "Someone Else")
    assert p.returncode == 3 and "expected Someone Else" in p.stdout
    op = operation(tmp_path, ["fine.othertest"])
    p = run("case", "verify", str(op), "--rdap", "--bootstrap", str(boot))
    assert p.returncode == 1 and p.stderr == f"Error: {boot}: no RDAP service for .othertest\n"


@pytest.mark.parametrize("args, message", [
    (["--parent", "localhost:53"], "Error: --parent: 'localhost:53' is not a valid listen address"),
    (["--rdap"], "Error: --rdap needs --rdap-url URL or --bootstrap dns.json"),
    (["--format", "xml"], "Error: --format: 'xml' is not one of table, csv, json"),
    (["--rdap", "--bootstrap", "nowhere.json"], "Error: nowhere.json: cannot read"),
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
