"""Issue 17 point 4: the notice mailed to the registrants RDAP knows
(``takedown case notice --rdap``, takedown.case.registrants). Recorded RDAP
domain objects (tests/data/case/rdap-registrants) are served from loopback;
the mails go to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from harness.peers import free_port
from rdap_helpers import rdap_server
from smtp_helpers import Collect
from takedown.case.notice import build_notice, load_recipients, merge, send_notices
from takedown.case.registrants import collect, of_operation, placeholder, registrant_addresses
from takedown.case.verify import VerifyError
from takedown.operation import load_operation
from test_case_model import BASE, CASE, write
from test_case_notice import db_rows

DATA = Path(__file__).resolve().parent / "data" / "case" / "rdap-registrants"
SRC = Path(__file__).resolve().parents[1] / "src"


def obj(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def rdap():
    with rdap_server(DATA) as url:
        yield url


@pytest.fixture
def op(tmp_path):
    path = write(tmp_path, BASE + CASE)
    (tmp_path / "waledac.txt").write_text("christmas-ecard.example\nvalentine-cards.example\nproxied.example\n")
    (tmp_path / "zeus.txt").write_text("zeus-cc.example\ngone.example\n")
    (tmp_path / "recipients.csv").write_text("owner@waledac-reg.example,Registrant One\nother@cards.example\n")
    return load_operation(path)


def test_registrant_addresses_at_the_top_and_nested():
    assert registrant_addresses(obj("christmas-ecard.example")) == [
        ("owner@waledac-reg.example", "Fake Registrant"), ("second@mail.example", "Fake Registrant")]
    # nested in the registrar's entity; the abuse contact beside it is no registrant, a redacted fn is no name
    assert registrant_addresses(obj("valentine-cards.example")) == [("OWNER@waledac-reg.example", "")]


def test_redacted_addresses_are_skipped_and_a_proxy_is_kept():
    assert registrant_addresses(obj("zeus-cc.example")) == []  # the technical contact's is not a registrant's
    assert registrant_addresses(obj("proxied.example")) == [
        ("4f2a9c0d1e@withheldforprivacy.example", "Privacy service provided by Withheld for Privacy ehf")]
    for value in ("", "REDACTED FOR PRIVACY", "redacted@redacted.invalid", "Redacted@privacy.example",
                  "x@registrant.invalid", "https://privacy.example/contact/x", "Please query the registrar"):
        assert placeholder(value), value
    assert not placeholder("someone@mail.example")


def test_each_address_once_with_every_name_and_a_failing_name_counted(rdap):
    names = ["christmas-ecard.example", "valentine-cards.example", "proxied.example", "zeus-cc.example",
             "gone.example", "nowhere.other"]
    found = collect(names, lambda n: rdap if n.endswith(".example") else None, timeout=5)
    assert [(g.address, g.name, g.domains) for g in found.found] == [
        ("owner@waledac-reg.example", "Fake Registrant", ("christmas-ecard.example", "valentine-cards.example")),
        ("second@mail.example", "Fake Registrant", ("christmas-ecard.example",)),
        ("4f2a9c0d1e@withheldforprivacy.example", "Privacy service provided by Withheld for Privacy ehf",
         ("proxied.example",))]
    assert found.found[0].where == rdap + "domain/christmas-ecard.example"
    assert (found.asked, found.without) == (6, ("zeus-cc.example",))
    assert [(f.name, f.reason) for f in found.failed] == [
        ("gone.example", f"{rdap}domain/gone.example: no RDAP record of the name (404)"),
        ("nowhere.other", "no RDAP service for .other in the bootstrap file")]


def test_a_silent_server_is_a_failure_not_an_error():
    dead = f"http://127.0.0.1:{free_port()}/rdap/"
    found = collect(["christmas-ecard.example"], lambda _n: dead, timeout=2)
    assert found.found == () and [f.name for f in found.failed] == ["christmas-ecard.example"]
    assert found.failed[0].reason.startswith(f"{dead}domain/christmas-ecard.example: ")


def test_merged_with_the_operators_list(op, rdap, tmp_path):
    people = merge(load_recipients(tmp_path / "recipients.csv"), of_operation(op, rdap_url=rdap, timeout=5))
    assert [(r.address, r.name, r.domains) for r in people] == [
        # in both: the operator's line and name, RDAP's names
        ("owner@waledac-reg.example", "Registrant One", ("christmas-ecard.example", "valentine-cards.example")),
        ("other@cards.example", "", ()),
        ("second@mail.example", "Fake Registrant", ("christmas-ecard.example",)),
        ("4f2a9c0d1e@withheldforprivacy.example", "Privacy service provided by Withheld for Privacy ehf",
         ("proxied.example",))]
    assert people[0].where.endswith("recipients.csv:1") and people[2].where == rdap + "domain/christmas-ecard.example"
    pkg = build_notice(op, tmp_path / "out", recipients=people)
    first = email.message_from_bytes(pkg.mails[0][1].read_bytes(), policy=email.policy.default).get_content()
    assert "gives this address as their registrant's:\n  christmas-ecard.example\n  valentine-cards.example\n" \
        in first
    other = email.message_from_bytes(pkg.mails[1][1].read_bytes(), policy=email.policy.default).get_content()
    assert "registrant" not in other  # the operator's address only: no names claimed


def test_no_bootstrap_and_no_url_is_an_error(op, monkeypatch):
    monkeypatch.setattr("takedown.case.rdap_bootstrap.shipped", lambda *a: None)
    with pytest.raises(VerifyError, match="--rdap needs --rdap-url URL or --bootstrap"):
        of_operation(op)


def test_sendings_name_the_registrants_addresses(op, rdap, tmp_path):
    people = merge([], of_operation(op, rdap_url=rdap, timeout=5))
    pkg = build_notice(op, tmp_path / "out", recipients=people, sender="legal@plaintiff.example")
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        res = send_notices(op, pkg, ("127.0.0.1", controller.port))
    finally:
        controller.stop()
    assert res.sent == 3
    assert [e.rcpt_tos for e in handler.envelopes] == [
        ["owner@waledac-reg.example"], ["second@mail.example"], ["4f2a9c0d1e@withheldforprivacy.example"]]
    assert [(a, s) for a, s, *_ in db_rows(op)] == [
        ("owner@waledac-reg.example", "sent"), ("second@mail.example", "sent"),
        ("4f2a9c0d1e@withheldforprivacy.example", "sent")]


def test_cli_case_notice_rdap_through_a_bootstrap_file(op, rdap, tmp_path):
    (tmp_path / "dns.json").write_text(json.dumps({
        "version": "1.0", "publication": "2026-12-01T00:00:00Z", "services": [[["example"], [rdap]]]}))
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        r = subprocess.run([sys.executable, "-c", "from takedown.cli import main; main()", "case", "notice",
                            "op.toml", "--out", "out", "--recipients", "recipients.csv", "--rdap",
                            "--bootstrap", "dns.json", "--smtp", f"127.0.0.1:{controller.port}"],
                           cwd=tmp_path, capture_output=True, text=True,
                           env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    finally:
        controller.stop()
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        f"rdap: gone.example: {rdap}domain/gone.example: no RDAP record of the name (404)",
        "rdap: 3 registrant addresses from 4 of 5 names; 1 without one (redacted or none), 1 failed",
        "site: out/site/index.html (0 document(s))",
        "mails: 4 in out/mail",
        f"sent: 4 through 127.0.0.1:{controller.port} (recorded in the operation's database, "
        f"exported to out/sendings.csv)"]
    assert sorted(e.rcpt_tos[0] for e in handler.envelopes) == [
        "4f2a9c0d1e@withheldforprivacy.example", "other@cards.example", "owner@waledac-reg.example",
        "second@mail.example"]


def test_cli_rdap_url_alone_implies_rdap_and_a_bad_bootstrap_is_one_line(op, rdap, tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from takedown.cli import main; main()", "case", "notice",
                               "op.toml", "--out", "out", *args], cwd=tmp_path, capture_output=True, text=True,
                              env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})

    r = run("--rdap-url", rdap)
    assert r.returncode == 0, r.stderr
    assert "rdap: 3 registrant addresses from 4 of 5 names; 1 without one (redacted or none), 1 failed" \
        in r.stdout.splitlines()
    assert "mails: 3 in out/mail" in r.stdout.splitlines()
    r = run("--rdap", "--bootstrap", "nope.json")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "Error: nope.json: No such file or directory\n")
