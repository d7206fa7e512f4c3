"""Partners' claims: the approval rules (takedown.console.approval), the
operators' partner pages, the partners' claims page, the CLI, and isolation."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest
from console_helpers import make_console

from takedown.console import approval
from takedown.console.store import Claim
from takedown.enrich import Enricher
from takedown.errors import ConsoleError, EnrichError

# documentation ranges: AS64500 announces 198.51.100.0/24 and 2001:db8:100::/48;
# AS64501 the first half of 203.0.113.0/24 and AS64500 its second half
ENRICHER = Enricher.from_ranges([
    ("198.51.100.0", "198.51.100.255", None, 64500, "Example A"),
    ("203.0.113.0", "203.0.113.127", None, 64501, "Example B"),
    ("203.0.113.128", "203.0.113.255", None, 64500, "Example A"),
    ("2001:db8:100::", "2001:db8:100:ffff:ffff:ffff:ffff:ffff", None, 64500, "Example A"),
    ("2001:db8:200::", "2001:db8:200:7fff:ffff:ffff:ffff:ffff", None, 64500, "Example A"),
])


def approved(*items: tuple[str, str], partner_id: int = 1) -> list[Claim]:
    return [Claim(i, partner_id, k, v, "approved", "t", 0, "t", 0, "") for i, (k, v) in enumerate(items, 1)]


def v(kind, value, mine=(), *, by_operator=False, enricher=ENRICHER):
    return approval.verdict(kind, value, approved(*mine), by_operator=by_operator, enricher=enricher)


# --- the rules ----------------------------------------------------------------

def test_operator_entry_is_approved():
    assert v("asn", "64500", by_operator=True).status == "approved"
    assert v("country", "at", by_operator=True).note == "entered by an operator"


@pytest.mark.parametrize("outer, inner", [("192.0.0.0/22", "192.0.2.0/24"), ("192.0.0.0/22", "192.0.3.128/25"),
                                          ("2001:db8::/32", "2001:db8:ab::/48")])
def test_subprefix_of_approved_prefix_is_approved(outer, inner):
    r = v("cidr", inner, [("cidr", outer)])
    assert (r.status, r.note) == ("approved", f"inside approved {outer}")


@pytest.mark.parametrize("outer, other", [
    ("192.0.2.0/24", "192.0.2.0/23"),  # a supernet
    ("192.0.2.0/24", "192.0.2.0/24"),  # the same prefix is no sub-prefix
    ("2001:db8:ab::/48", "2001:db8::/32"),  # a supernet, IPv6
    ("192.0.2.0/24", "192.0.3.0/24"),  # a neighbour
    ("2001:db8::/32", "2001:db9::/48"),
])
def test_supernet_or_outside_prefix_is_pending(outer, other):
    assert v("cidr", other, [("cidr", outer)]).status == "pending"


def test_ipv4_mapped_network_is_not_inside_a_v4_prefix():
    assert v("cidr", "::ffff:192.0.2.0/120", [("cidr", "192.0.2.0/24")]).status == "pending"


def test_only_approved_claims_count():
    pending = [Claim(1, 1, "cidr", "192.0.2.0/22", "pending", "t", 0, None, None, "")]
    assert approval.verdict("cidr", "192.0.2.0/24", pending, by_operator=False).status == "pending"


@pytest.mark.parametrize("prefix", ["198.51.100.0/24", "198.51.100.64/26", "203.0.113.128/25",
                                    "2001:db8:100::/48", "2001:db8:100:8000::/49"])
def test_prefix_announced_by_approved_as_is_approved(prefix):
    r = v("cidr", prefix, [("asn", "64500")])
    assert (r.status, r.note) == ("approved", "announced by approved AS64500")


@pytest.mark.parametrize("prefix, why", [
    ("203.0.113.0/24", "half of it is AS64501's"),
    ("198.51.100.0/23", "198.51.101.0/24 is in no range"),
    ("2001:db8:200::/48", "its second half is in no range"),
    ("192.0.2.0/24", "unknown to the table"),
])
def test_prefix_not_wholly_announced_by_approved_as_is_pending(prefix, why):
    assert v("cidr", prefix, [("asn", "64500")]).status == "pending", why


def test_as_rule_needs_the_as_approved_and_a_table():
    assert v("cidr", "198.51.100.0/24", [("asn", "64501")]).status == "pending"
    assert v("cidr", "198.51.100.0/24", [("asn", "64500")], enricher=None).status == "pending"


def test_ends_alone_would_pass_a_prefix_with_a_foreign_middle():
    # both ends of 10.0.0.0/24 are AS64500's, its middle AS64501's: pending
    e = Enricher.from_ranges([("10.0.0.0", "10.0.0.255", None, 64500, None),
                              ("10.0.0.100", "10.0.0.110", None, 64501, None)])
    assert e.asns_over("10.0.0.0", "10.0.0.0") == {64500} == e.asns_over("10.0.0.255", "10.0.0.255")
    assert e.asns_over("10.0.0.0", "10.0.0.255") == {64500, 64501}
    assert v("cidr", "10.0.0.0/24", [("asn", "64500")], enricher=e).status == "pending"


def test_asns_over_rejects_mixed_families():
    with pytest.raises(EnrichError, match="one address family"):
        ENRICHER.asns_over("192.0.2.0", "2001:db8::")


def test_shipped_table_announces_a_real_prefix():
    e = Enricher.default()
    if not any("asn" in s.fields and "not installed" not in s.note for s in e.sources):
        pytest.skip("the shipped AS table is not installed (scripts/bootstrap)")
    assert e.asns_over("8.8.8.0", "8.8.8.255") == {15169}
    assert v("cidr", "8.8.8.0/24", [("asn", "15169")], enricher=e).status == "approved"
    assert v("cidr", "8.0.0.0/8", [("asn", "15169")], enricher=e).status == "pending"


def test_domain_below_approved_domain_is_approved():
    assert v("domain", "mail.example.net", [("domain", "example.net")]).note == "below approved example.net"
    assert v("domain", "example.net", [("domain", "mail.example.net")]).status == "pending"
    assert v("domain", "badexample.net", [("domain", "example.net")]).status == "pending"


def test_as_and_country_claims_are_pending():
    assert v("asn", "64500", [("cidr", "198.51.100.0/24")]).status == "pending"
    assert v("country", "at", [("asn", "64500")]).status == "pending"


def test_overlaps_show_other_partners_claims():
    mine = Claim(1, 1, "cidr", "192.0.2.0/24", "pending", "a", 0, None, None, "")
    others = [Claim(2, 2, "cidr", "192.0.0.0/16", "approved", "b", 0, "o", 0, ""),
              Claim(3, 2, "cidr", "192.0.3.0/24", "approved", "b", 0, "o", 0, ""),
              Claim(4, 3, "cidr", "192.0.2.128/25", "rejected", "c", 0, "o", 0, ""),
              Claim(5, 1, "cidr", "192.0.2.0/23", "approved", "a", 0, "o", 0, ""),
              Claim(6, 2, "asn", "64500", "approved", "b", 0, "o", 0, "")]
    from takedown.console.store import Partner
    got = approval.overlaps(mine, others, {2: Partner(2, "ISP-B", "isp", "", 0)})
    assert [(o.partner, o.claim.id) for o in got] == [("ISP-B", 2)]


# --- the store's side: request, approve with its cascade -----------------------

def test_request_and_cascade(console):
    s, a = console.store, console.partners["CERT-A"]
    sub = approval.request(s, a, "cidr", "192.0.2.0/25", by="alice", by_operator=False)
    outer = approval.request(s, a, "cidr", "192.0.2.0/24", by="alice", by_operator=False)
    other = approval.request(s, a, "cidr", "198.51.100.0/24", by="alice", by_operator=False)
    assert (sub.status, outer.status, other.status) == ("pending", "pending", "pending")
    done = approval.approve(s, outer.id, by="opa")
    assert [c.id for c in done] == [outer.id, sub.id]
    assert s.claim(sub.id).note == "inside approved 192.0.2.0/24"
    assert s.claim(other.id).status == "pending"
    later = approval.request(s, a, "cidr", "192.0.2.128/26", by="alice", by_operator=False)
    assert later.status == "approved"
    actions = [e.action for e in s.audit_log(limit=20)]
    assert actions.count("approve") == 2


def test_withdraw_only_pending(console):
    s, a = console.store, console.partners["CERT-A"]
    c = approval.request(s, a, "asn", "AS64500", by="alice", by_operator=False)
    d = approval.request(s, a, "asn", "64501", by="opa", by_operator=True)
    s.withdraw(c.id, by="alice")
    with pytest.raises(ConsoleError, match="no claim"):
        s.claim(c.id)
    with pytest.raises(ConsoleError, match="only a pending claim"):
        s.withdraw(d.id, by="alice")
    assert s.audit_log(action="withdraw")[0].target == f"claim {c.id}: asn 64500"


# --- the operators' pages -------------------------------------------------------

def ask(console, partner: str, kind: str, value: str, by: str) -> Claim:
    """A claim of ``partner`` entered by ``by`` (opa is the operator)."""
    return approval.request(console.store, console.partners[partner], kind, value, by=by, by_operator=by == "opa")


def _post(client, url, console, **data):
    return client.post(url, data={"csrf_token": console.csrf(client, "/partners"), **data})


def test_partners_list_and_page(console):
    a, b = console.partners["CERT-A"], console.partners["ISP-B"]
    ask(console, "CERT-A", "cidr", "192.0.2.0/24", "opa")
    ask(console, "CERT-A", "asn", "64500", "alice")
    op = console.client("opa")
    r = op.get("/partners")
    assert r.status_code == 200
    row = re.search(r'<a href="/partners/%d">CERT-A</a></td><td>cert</td><td class="num">(\d+)</td>'
                    r'<td class="num">(\d+)</td><td class="num">(\d+)</td>' % a, r.text)
    assert row and row.groups() == ("1", "1", "1")
    r = op.get(f"/partners/{a}")
    assert r.status_code == 200 and "alice" in r.text and "192.0.2.0/24" in r.text and "64500" in r.text
    assert "bob" not in r.text
    assert op.get(f"/partners/{b + 100}").status_code == 404


def test_operator_adds_partner_user_and_claim(console):
    op = console.client("opa")
    r = _post(op, "/partners", console, name="HOST-C", kind="hosting", contact="abuse@host-c.example")
    assert r.status_code == 303
    pid = console.store.partner("HOST-C").id
    assert r.headers["location"] == f"/partners/{pid}"
    r = _post(op, "/partners", console, name="HOST-C", kind="hosting")
    assert r.status_code == 400 and "exists already" in r.text
    r = _post(op, f"/partners/{pid}/users", console, username="Carol")
    assert r.status_code == 200
    password = re.search(r'<code class="one-time">([^<]+)</code>', r.text).group(1)
    assert console.store.user("carol").must_change
    assert password not in op.get(f"/partners/{pid}").text  # shown once
    carol = console.client("carol", password)  # the one-time password logs in
    assert carol.get("/").status_code in (200, 303)
    r = _post(op, f"/partners/{pid}/claims", console, kind="cidr", value="2001:db8::1/32")
    assert r.status_code == 303
    (c,) = console.store.claims(partner_id=pid)
    assert (c.kind, c.value, c.status, c.decided_by) == ("cidr", "2001:db8::/32", "approved", "opa")
    r = _post(op, f"/partners/{pid}/claims", console, kind="cidr", value="2001:db8::")
    assert r.status_code == 400 and "has no prefix length" in r.text


def test_pending_claims_oldest_first_with_overlaps_then_decided(console):
    s = console.store
    a, b = console.partners["CERT-A"], console.partners["ISP-B"]
    first = approval.request(s, b, "cidr", "192.0.2.0/24", by="bob", by_operator=False)
    time.sleep(1.1)  # requested_at is in seconds
    second = approval.request(s, a, "cidr", "192.0.2.0/23", by="alice", by_operator=False)
    approval.request(s, a, "country", "at", by="opa", by_operator=True)
    op = console.client("opa")
    page = op.get("/claims").text
    assert page.index("192.0.2.0/24") < page.index("192.0.2.0/23")
    assert "also pending for CERT-A: cidr 192.0.2.0/23" in page
    assert "also pending for ISP-B: cidr 192.0.2.0/24" in page
    assert "country" not in page.split("<tbody>")[1]  # approved: not waiting
    r = _post(op, f"/claims/{first.id}/approve", console, back="claims")
    assert (r.status_code, r.headers["location"]) == (303, "/claims")
    r = _post(op, f"/claims/{second.id}/reject", console, reason="ask for your own /24")
    assert (r.status_code, r.headers["location"]) == (303, f"/partners/{a}")
    assert s.claim(first.id).status == "approved"
    rej = s.claim(second.id)
    assert (rej.status, rej.note, rej.decided_by) == ("rejected", "ask for your own /24", "opa")
    log = [(e.action, e.actor) for e in s.audit_log(limit=5)]
    assert ("approve", "opa") in log and ("reject", "opa") in log
    assert _post(op, "/claims/99999/approve", console).status_code == 404
    assert "No claim is waiting" in op.get("/claims").text


def test_decisions_need_csrf(console):
    c = ask(console, "CERT-A", "asn", "64500", "alice")
    op = console.client("opa")
    r = op.post(f"/claims/{c.id}/approve", data={})
    assert r.status_code in (400, 403)
    assert console.store.claim(c.id).status == "pending"


@pytest.mark.parametrize("path", ["/partners", "/claims", "/partners/1"])
def test_partner_users_do_not_see_operator_pages(console, path):
    assert console.client("alice").get(path).status_code == 404


def test_partner_cannot_approve(console):
    c = ask(console, "CERT-A", "asn", "64500", "alice")
    alice = console.client("alice")
    r = alice.post(f"/claims/{c.id}/approve", data={"csrf_token": console.csrf(alice)})
    assert r.status_code == 404
    assert console.store.claim(c.id).status == "pending"


# --- the partners' page -----------------------------------------------------------

def test_partner_asks_and_sees_only_its_own(console):
    ask(console, "CERT-A", "cidr", "192.0.2.0/24", "opa")
    ask(console, "ISP-B", "cidr", "198.51.100.0/24", "opa")
    alice = console.client("alice")
    token = console.csrf(alice, "/my/claims")
    r = alice.post("/my/claims", data={"csrf_token": token, "kind": "cidr", "value": "192.0.2.64/26"})
    assert (r.status_code, r.headers["location"]) == (303, "/my/claims")
    r = alice.post("/my/claims", data={"csrf_token": token, "kind": "cidr", "value": "192.0.0.0/16"})
    assert r.status_code == 303
    got = {c.value: (c.status, c.note) for c in console.store.claims(partner_id=console.partners["CERT-A"])}
    assert got["192.0.2.64/26"] == ("approved", "inside approved 192.0.2.0/24")
    assert got["192.0.0.0/16"] == ("pending", "")
    page = alice.get("/my/claims").text
    assert "192.0.2.64/26" in page and "inside approved 192.0.2.0/24" in page
    assert "198.51.100.0/24" not in page
    bobs = console.client("bob").get("/my/claims").text
    assert "198.51.100.0/24" in bobs and "192.0.2.64/26" not in bobs and "192.0.0.0/16" not in bobs


@pytest.mark.parametrize("kind, value, message", [
    ("cidr", "192.0.2.300/24", "is not a CIDR prefix"),
    ("asn", "ASX", "is not an AS number"),
    ("country", "aut", "is not a two-letter country code"),
    ("domain", "<b>x</b>", "is not a domain name"),
    ("planet", "mars", "kind must be one of"),
])
def test_bad_claim_is_400_with_one_line(console, kind, value, message):
    alice = console.client("alice")
    r = alice.post("/my/claims", data={"csrf_token": console.csrf(alice, "/my/claims"), "kind": kind,
                                       "value": value})
    assert r.status_code == 400
    err = re.search(r'<p class="error" role="alert">([^<]*)</p>', r.text).group(1)
    assert message in err and "\n" not in err
    assert "<b>x</b>" not in r.text  # escaped
    assert console.store.claims(partner_id=console.partners["CERT-A"]) == []


def test_as_rule_through_the_page(tmp_path):
    pytest.importorskip("mmdb_writer")
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="Test-ASN", description="test")
    w.insert_network(IPSet(["198.51.100.0/24"]), {"autonomous_system_number": 64500,
                                                  "autonomous_system_organization": "Example A"})
    w.to_db_file(str(tmp_path / "asn.mmdb"))
    console = make_console(tmp_path / "c", extra=f'[enrich]\nasn_mmdb = "{tmp_path / "asn.mmdb"}"\n')
    a = console.partners["CERT-A"]
    approval.request(console.store, a, "asn", "AS64500", by="opa", by_operator=True)
    alice = console.client("alice")
    token = console.csrf(alice, "/my/claims")
    for value in ("198.51.100.128/25", "198.51.100.0/23"):
        assert alice.post("/my/claims", data={"csrf_token": token, "kind": "cidr", "value": value}).status_code == 303
    got = {c.value: (c.status, c.note) for c in console.store.claims(partner_id=a)}
    assert got["198.51.100.128/25"] == ("approved", "announced by approved AS64500")
    assert got["198.51.100.0/23"][0] == "pending"


def test_withdraw_and_isolation(console):
    s = console.store
    mine = approval.request(s, console.partners["CERT-A"], "domain", "example.net", by="alice", by_operator=False)
    bobs = approval.request(s, console.partners["ISP-B"], "domain", "example.org", by="bob", by_operator=False)
    alice = console.client("alice")
    token = console.csrf(alice, "/my/claims")
    assert alice.post(f"/my/claims/{bobs.id}/withdraw", data={"csrf_token": token}).status_code == 404
    assert alice.post("/my/claims/99999/withdraw", data={"csrf_token": token}).status_code == 404
    assert s.claim(bobs.id).status == "pending"
    r = alice.post(f"/my/claims/{mine.id}/withdraw", data={"csrf_token": token})
    assert (r.status_code, r.headers["location"]) == (303, "/my/claims")
    assert s.claims(partner_id=console.partners["CERT-A"]) == []
    done = approval.request(s, console.partners["CERT-A"], "domain", "example.com", by="opa", by_operator=True)
    r = alice.post(f"/my/claims/{done.id}/withdraw", data={"csrf_token": token})
    assert r.status_code == 400 and "only a pending claim" in r.text


def test_operator_has_no_partner_claims_page(console):
    assert console.client("opa").get("/my/claims").status_code == 404


# --- the CLI -------------------------------------------------------------------------

def _cli(console, *args):
    return subprocess.run([sys.executable, "-c", "from takedown.cli import main; main()", "console", "partner", *args,
                           "--operation", str(console.path)], capture_output=True, text=True, timeout=60)


def test_cli_claim_approve_reject_list(console):
    r = _cli(console, "claim", "CERT-A", "cidr", "192.0.2.0/24")
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"claim \d+: CERT-A cidr 192.0.2.0/24 approved\n", r.stdout)
    s = console.store
    p1 = approval.request(s, console.partners["ISP-B"], "cidr", "198.51.100.0/24", by="bob", by_operator=False)
    p2 = approval.request(s, console.partners["ISP-B"], "cidr", "198.51.100.0/25", by="bob", by_operator=False)
    p3 = approval.request(s, console.partners["ISP-B"], "asn", "64501", by="bob", by_operator=False)
    r = _cli(console, "approve", str(p1.id), "--note", "checked whois")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"claim {p1.id}: cidr 198.51.100.0/24 approved (checked whois)",
                                     f"claim {p2.id}: cidr 198.51.100.0/25 approved (inside approved 198.51.100.0/24)"]
    r = _cli(console, "reject", str(p3.id), "--reason", "not yours")
    assert r.returncode == 0 and s.claim(p3.id).note == "not yours"
    r = _cli(console, "list")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0] == "CERT-A (cert) <abuse@cert-a.example>"
    assert any(re.search(r"asn\s+64501\s+rejected\s+not yours", x) for x in lines)
    assert s.audit_log(action="reject")[0].actor.startswith("cli:")


@pytest.mark.parametrize("args, message", [
    (("claim", "NOPE", "asn", "1"), "Error: partner: no partner 'NOPE'"),
    (("claim", "CERT-A", "cidr", "10.0.0.0"), "Error: claim: '10.0.0.0' has no prefix length"),
    (("approve", "424242"), "Error: claim: no claim 424242"),
])
def test_cli_errors_are_one_line(console, args, message):
    r = _cli(console, *args)
    assert r.returncode == 1
    assert r.stderr.strip().startswith(message) and len(r.stderr.strip().splitlines()) == 1
