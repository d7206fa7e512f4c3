"""Differential test: takedown's sinkhole and NSD serve the same zone and
answer the same queries; the responses are compared section by section.

See cases.py for the cases and the comparison rules, docs/testing.md for the
whole story. The ours-vs-NSD tests are skipped until takedown.dns.server
exists; the harness checks at the end of this file run with NSD alone.
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rrset
import pytest

from . import cases as C
from .compare import (
    ALL_PARTS,
    DROP_TIMEOUT,
    View,
    compare_wires,
    diff,
    exchange,
    fmt_rrset,
    parse_or_none,
    question_bytes,
    repeated_answer_records,
    rrset_key,
)

NAMES = ("takedown", "nsd")


def _ids(cs):
    return [c.id for c in cs]


SAME = [c for c in C.all_cases() if c.expect in ("same", "dropped")]
SINK = C.by_expect("sink")
ANY = C.by_expect("any")


def _ask(case: C.Case, peer, transport: str | None = None) -> bytes | None:
    timeout = DROP_TIMEOUT if case.expect == "dropped" else None
    return exchange(case.wire(), peer.host, peer.port, transport or case.transport, timeout)


def _report(case: C.Case, problems: list[str], *responses: tuple[str, bytes | None]) -> str:
    what = "a hand-built packet" if case.raw is not None else f"{case.qname} {case.qclass} {case.qtype}"
    lines = [f"case {case.id}: {what} over {case.transport}" + (f" ({case.note})" if case.note else "")]
    lines += ["  " + p for p in problems]
    for name, wire in responses:
        v = parse_or_none(wire)
        lines.append(f"{name}:")
        lines.append(v.describe() if isinstance(v, View) else f"  {v}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- ours vs NSD


@pytest.mark.parametrize("case", SAME, ids=_ids(SAME))
def test_same_as_nsd(case: C.Case, nsd, ours) -> None:
    """Every name the blocklist does not cover is answered exactly as NSD does."""
    ref = _ask(case, nsd)
    got = _ask(case, ours)
    problems = check_same(case, got, ref)
    assert not problems, _report(case, problems, ("takedown", got), ("nsd", ref))


@pytest.mark.parametrize("case", SINK, ids=_ids(SINK))
def test_sinkhole_answer(case: C.Case, ours) -> None:
    """Blocklisted names get the sinkhole's answer (NSD's differs by design)."""
    got = _ask(case, ours)
    problems = check_sink(case, got)
    assert not problems, _report(case, problems, ("takedown", got))


@pytest.mark.parametrize("case", ANY, ids=_ids(ANY))
def test_minimal_any(case: C.Case, nsd, ours) -> None:
    """QTYPE=ANY per RFC 8482 (cases.ANY_RULE)."""
    ref = _ask(case, nsd)
    got = _ask(case, ours)
    problems = check_any(case, got, ref)
    assert not problems, _report(case, problems, ("takedown", got), ("nsd", ref))


# --------------------------------------------------------------------------- expectations


def check_same(case: C.Case, got: bytes | None, ref: bytes | None) -> list[str]:
    """A ``same`` case: every part agrees with NSD, except the case's
    documented NSD deviation (cases.NSD_DEVIATIONS), which must hold exactly."""
    if not case.deviation:
        return compare_wires(got, ref, names=NAMES, skip=case.skip())
    return DEVIATION_CHECKS[case.deviation](case, got, ref)


def _repeated_cname(case: C.Case, got: bytes | None, ref: bytes | None) -> list[str]:
    """cases.NSD_DEVIATIONS["repeated-cname"]."""
    vo, vn = parse_or_none(got), parse_or_none(ref)
    if not isinstance(vo, View) or not isinstance(vn, View):
        return compare_wires(got, ref, names=NAMES)
    out = diff(vo, vn, names=NAMES, skip=case.skip() | {"counts"})
    ours, theirs = repeated_answer_records(vo.wire), repeated_answer_records(vn.wire)
    if ours:
        out.append(f"takedown repeats answer records: {ours}")
    qkey = dns_name(case.qname).canonicalize().to_text()
    if len(theirs) != 1 or [(k[0], k[1], n) for k, n in theirs.items()] != [(qkey, "CNAME", 2)]:
        out.append(f"NSD's deviation no longer holds: repeated answer records {theirs}, "
                   f"expected one CNAME at {qkey} twice")
    qd, an, ns, ar = vo.counts
    if vn.counts != (qd, an + 1, ns, ar):
        out.append(f"section counts (QD,AN,NS,AR): takedown={vo.counts} nsd={vn.counts}, "
                   "expected NSD's ANCOUNT one more")
    return out


DEVIATION_CHECKS = {"repeated-cname": _repeated_cname}


def check_sink(case: C.Case, wire: bytes | None) -> list[str]:
    """The sinkhole's answer for a blocklisted name (cases.SINK_*):

    A -> the sinkhole IPv4 address(es), TTL 300; AAAA -> the IPv6 ones;
    NS -> ns1/ns2.sinkhole.example with their A records in additional;
    SOA -> the sinkhole's SOA (mname ns1.sinkhole.example, rname
    hostmaster.sinkhole.example) owned by the question name; any other type
    -> NODATA with that SOA in authority. Below the root of a ``*.name`` rule
    the SOA may be owned by the root instead (the sunk subtree is one zone
    whose apex is the root), and an SOA query there may then be answered
    NODATA with the root's SOA in authority. Always NOERROR, AA, RD copied, no TC, RA clear, the question
    echoed byte for byte, an OPT record iff the query had one (DO echoed).
    """
    v = parse_or_none(wire)
    if not isinstance(v, View):
        return [f"no usable response: {v}"]
    out: list[str] = []
    query_wire = case.wire()
    if v.id != case.qid:
        out.append(f"id {v.id} != query id {case.qid}")
    if v.rcode != "NOERROR":
        out.append(f"rcode {v.rcode}, expected NOERROR")
    want_flags = {"QR", "AA"} | ({"RD"} if case.rd else set())
    if set(v.flags) != want_flags:
        out.append(f"flags {sorted(v.flags)}, expected {sorted(want_flags)}")
    if v.question != question_bytes(query_wire):
        out.append(f"question {v.question!r} is not the query's {question_bytes(query_wire)!r}")
    if case.edns is None and v.edns is not None:
        out.append("OPT in the response to a query without EDNS")
    if case.edns == 0:
        if v.edns is None:
            out.append("no OPT in the response to an EDNS query")
        elif ("DO" in v.edns[1]) != case.do:
            out.append(f"DO flag not echoed: {v.edns[1]!r}")

    qname = dns_name(case.qname)
    rule = C.sink_rule(case.qname.lower())
    soa_owners = {qname, rule}
    answer = {(k[0], k[2]): k for k in v.answer}
    qkey = qname.canonicalize().to_text()

    def soa_ok(k) -> str | None:
        name, _cls, typ, _cov, _ttl, rdatas = k
        if typ != "SOA" or len(rdatas) != 1:
            return f"not one SOA record: {fmt_rrset(k)}"
        if dns_name(name) not in soa_owners:
            return f"SOA owner {name} is neither {qname} nor {rule}"
        mname, rname = next(iter(rdatas)).split()[:2]
        if (mname, rname) != (C.SINK_SOA_MNAME, C.SINK_SOA_RNAME):
            return f"SOA mname/rname {mname} {rname}, expected {C.SINK_SOA_MNAME} {C.SINK_SOA_RNAME}"
        return None

    t = case.qtype
    if t in ("A", "AAAA"):
        want = (qkey, "IN", t, "TYPE0", C.SINK_TTL, frozenset([C.SINK_IPV4 if t == "A" else C.SINK_IPV6]))
        if set(v.answer) != {want}:
            out.append(f"answer {sorted(map(fmt_rrset, v.answer))}, expected [{fmt_rrset(want)}]")
    elif t == "NS":
        got = answer.get((qkey, "NS"))
        if got is None or len(v.answer) != 1 or set(got[5]) != set(C.SINK_NS):
            out.append(f"answer {sorted(map(fmt_rrset, v.answer))}, expected NS {sorted(C.SINK_NS)} at {qkey}")
        for ns, addr in C.SINK_NS.items():
            glue = [k for k in v.additional if k[0] == ns and k[2] == "A"]
            if not glue or addr not in glue[0][5]:
                out.append(f"no glue {ns} A {addr} in additional")
    elif t == "SOA" and (qname == rule or v.answer):
        if len(v.answer) != 1:
            out.append(f"answer {sorted(map(fmt_rrset, v.answer))}, expected one SOA")
        else:
            err = soa_ok(next(iter(v.answer)))
            if err:
                out.append(err)
    else:
        # NODATA; for an SOA query, allowed only below the root of a "*.name"
        # rule, where the sunk subtree's SOA lives at the root (not at qname)
        if v.answer:
            out.append(f"answer {sorted(map(fmt_rrset, v.answer))}, expected none (NODATA)")
        soas = [k for k in v.authority if k[2] == "SOA"]
        if len(soas) != 1:
            out.append(f"authority {sorted(map(fmt_rrset, v.authority))}, expected the sinkhole SOA")
        else:
            err = soa_ok(soas[0])
            if err:
                out.append(err)
    return out


def check_any(case: C.Case, got: bytes | None, ref: bytes | None) -> list[str]:
    vo, vn = parse_or_none(got), parse_or_none(ref)
    if not isinstance(vo, View) or not isinstance(vn, View):
        return compare_wires(got, ref, names=NAMES)
    if not vn.answer:
        return diff(vo, vn, names=NAMES)
    out = diff(vo, vn, names=NAMES, skip=frozenset({"header", "counts", "answer", "additional", "order"}))
    for attr in ("id", "opcode", "rcode"):
        if getattr(vo, attr) != getattr(vn, attr):
            out.append(f"{attr}: takedown={getattr(vo, attr)} nsd={getattr(vn, attr)}")
    if set(vo.flags) - {"TC"} != set(vn.flags) - {"TC"}:
        out.append(f"flags (TC aside): takedown={sorted(vo.flags)} nsd={sorted(vn.flags)}")
    if vo.answer == vn.answer:
        out += diff(vo, vn, names=NAMES, skip=frozenset(ALL_PARTS) - {"additional", "counts"})
        return out
    qkey = dns_name(case.qname).canonicalize().to_text()
    node = {rrset_key(r) for r in C.node_rrsets(case.qname)}
    hinfo = [k for k in vo.answer if k[2] == "HINFO"]
    if len(vo.answer) == 1 and hinfo:
        k = hinfo[0]
        if k[0] != qkey or len(k[5]) != 1 or not next(iter(k[5])).startswith('"RFC8482"'):
            out.append(f"HINFO answer is not RFC 8482's: {fmt_rrset(k)}")
    elif not vo.answer:
        out.append("empty answer to ANY for a name with data")
    else:
        extra = [fmt_rrset(k) for k in vo.answer if k not in node]
        if extra:
            out.append(f"answer RRsets not at the node: {extra}; node has {sorted(map(fmt_rrset, node))}")
    return out


def dns_name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


# --------------------------------------------------------------------------- harness checks (NSD only)


def test_every_case_gets_a_usable_reference_answer(nsd) -> None:
    """NSD answers every case that expects an answer, parseably; drops the others."""
    bad = []
    for case in C.all_cases():
        w = _ask(case, nsd)
        v = parse_or_none(w)
        if case.expect == "dropped":
            if w is not None:
                bad.append(f"{case.id}: NSD answered a packet it should drop")
        elif not isinstance(v, View) and not (case.raw is not None and case.transport == "tcp"):
            bad.append(f"{case.id}: {v}")
    assert not bad, "\n".join(bad)


def test_reference_is_deterministic(nsd) -> None:
    """The same query twice gives responses the comparison finds equal (so a
    difference is never noise from the reference)."""
    bad = []
    for case in C.all_cases():
        if case.expect == "dropped":
            continue
        a, b = _ask(case, nsd), _ask(case, nsd)
        problems = compare_wires(a, b, names=("first", "second"))
        if problems:
            bad.append(f"{case.id}: {problems}")
    assert not bad, "\n".join(bad)


def _nsd(case_id: str, nsd) -> View:
    case = next(c for c in C.all_cases() if c.id == case_id)
    v = parse_or_none(_ask(case, nsd))
    assert isinstance(v, View), f"{case_id}: {v}"
    return v


@pytest.mark.parametrize(
    "case_id, rcode, flags, counts",
    [
        # the fixture zone exercises what it claims to (see docs/testing.md)
        ("udp-e0-A-www.3322.org.", "NOERROR", {"QR", "AA"}, (1, 3, 3, 4)),  # CNAME + 2 A, NS, glue
        ("udp-e0-A-ext.3322.org.", "NOERROR", {"QR", "AA"}, (1, 1, 0, 1)),  # out-of-zone target: CNAME only
        ("udp-e0-A-dangling.3322.org.", "NXDOMAIN", {"QR", "AA"}, (1, 1, 1, 1)),  # CNAME, then NXDOMAIN
        ("udp-e0-A-b.ent.3322.org.", "NOERROR", {"QR", "AA"}, (1, 0, 1, 1)),  # ENT: NODATA
        ("udp-e0-A-nx.3322.org.", "NXDOMAIN", {"QR", "AA"}, (1, 0, 1, 1)),
        ("udp-e0-A-foo.wild.3322.org.", "NOERROR", {"QR", "AA"}, (1, 1, 3, 4)),
        ("udp-e0-A-x.exists.wild.3322.org.", "NXDOMAIN", {"QR", "AA"}, (1, 0, 1, 1)),
        ("udp-e0-A-host.sub.3322.org.", "NOERROR", {"QR"}, (1, 0, 2, 4)),  # referral with glue
        ("udp-e0-A-host.sub2.3322.org.", "NOERROR", {"QR"}, (1, 0, 2, 1)),  # referral, no glue
        ("udp-e0-DS-sub.3322.org.", "NOERROR", {"QR", "AA"}, (1, 1, 0, 1)),  # DS at the cut: answered
        ("size-udp-noedns-TXT-long.3322.org.", "NOERROR", {"QR", "AA", "TC"}, (1, 0, 0, 0)),
        ("size-udp-e0b1232-TXT-big.3322.org.", "NOERROR", {"QR", "AA", "TC"}, (1, 0, 0, 1)),
        ("size-tcp-e0b1232-TXT-big.3322.org.", "NOERROR", {"QR", "AA"}, (1, 8, 3, 4)),
        ("out-A-example.com.", "REFUSED", {"QR"}, (1, 0, 0, 1)),
        ("edns1-SOA-3322.org.", "BADVERS", {"QR"}, (1, 0, 0, 1)),
        ("opcode-2", "NOTIMP", {"QR"}, (0, 0, 0, 0)),
        # the second zone (shapes.example): DNAMEs, long chains, the "*" ENT
        ("shapes-e0-A-host.dn3.shapes.example.", "NOERROR", {"QR", "AA"}, (1, 7, 2, 4)),  # 3 DNAMEs, 3 CNAMEs, A
        ("shapes-e0-A-" + C._LONG_LABEL + ".dnlong.shapes.example.", "YXDOMAIN", {"QR", "AA"}, (1, 1, 0, 1)),
        ("shapes-e0-A-host.dncut.shapes.example.", "NOERROR", {"QR", "AA"}, (1, 2, 1, 2)),  # DNAME, referral
        ("shapes-e0-A-x.dnloop1.shapes.example.", "NOERROR", {"QR", "AA"}, (1, 4, 0, 1)),
        ("shapes-e0-A-c20-1.shapes.example.", "NOERROR", {"QR", "AA"}, (1, 21, 2, 4)),
        ("shapes-e0-A-c12nx-1.shapes.example.", "NXDOMAIN", {"QR", "AA"}, (1, 12, 1, 1)),
        ("shapes-e0-A-foo.went.shapes.example.", "NOERROR", {"QR", "AA"}, (1, 0, 1, 1)),  # "*" ENT: NODATA
        ("shapes-e0-A-x.dn.sub.shapes.example.", "NOERROR", {"QR"}, (1, 0, 1, 2)),  # DNAME below a cut: referral
        # the third zone (chains.example): the same shapes, harder
        ("chains-e0-A-host.d-in.chains.example.", "NOERROR", {"QR", "AA"}, (1, 3, 2, 3)),  # DNAME, CNAME, A
        ("chains-e0-A-nx.d-in.chains.example.", "NXDOMAIN", {"QR", "AA"}, (1, 2, 1, 1)),
        ("chains-e0-A-host.d-sub.chains.example.", "NOERROR", {"QR", "AA"}, (1, 2, 2, 2)),  # then a referral
        ("chains-e0-A-" + C._L40 + "." + C._L40 + ".dlong.chains.example.", "YXDOMAIN", {"QR", "AA"}, (1, 1, 0, 1)),
        ("chains-e0-A-x.dl1.chains.example.", "NOERROR", {"QR", "AA"}, (1, 4, 0, 1)),  # DNAME loop
        ("chains-e0-A-h20d-1.chains.example.", "NOERROR", {"QR", "AA"}, (1, 21, 2, 3)),  # 20 CNAMEs, A
        ("chains-e0-A-h20x-1.chains.example.", "NXDOMAIN", {"QR", "AA"}, (1, 20, 1, 1)),
        ("chains-e0-A-foo.ew.chains.example.", "NOERROR", {"QR", "AA"}, (1, 0, 1, 1)),  # "*" ENT: NODATA
        ("chains-e0-A-x.wl.chains.example.", "NOERROR", {"QR", "AA"}, (1, 2, 0, 1)),  # NSD repeats the CNAME
    ],
)
def test_fixture_exercises_the_case(nsd, case_id, rcode, flags, counts) -> None:
    v = _nsd(case_id, nsd)
    # section counts are RRs on the wire (OPT included in the additional count)
    assert (v.rcode, set(v.flags), v.counts) == (rcode, flags, counts), v.describe()


def test_sink_checker_accepts_a_sinkhole_answer_and_rejects_nsd(nsd) -> None:
    """check_sink is not vacuous: it fails on NSD's (zone) answer for a
    blocklisted name, and passes on a hand-made sinkhole answer."""
    case = next(c for c in SINK if c.id == "udp-e0-A-pcwk.3322.org.")
    assert check_sink(case, _ask(case, nsd)), "NSD's zone answer must not pass as a sinkhole answer"
    q = dns.message.from_wire(case.wire())
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    r.answer.append(dns.rrset.from_text(case.qname, C.SINK_TTL, "IN", "A", C.SINK_IPV4))
    assert check_sink(case, r.to_wire()) == []

    case = next(c for c in SINK if c.id == "udp-e0-TXT-x.y.evil.3322.org.")
    q = dns.message.from_wire(case.wire())
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    r.authority.append(dns.rrset.from_text(
        case.qname, C.SINK_TTL, "IN", "SOA",
        f"{C.SINK_SOA_MNAME} {C.SINK_SOA_RNAME} 1 3600 600 86400 300"))
    assert check_sink(case, r.to_wire()) == []
    r.authority[0] = dns.rrset.from_text(
        "3322.org.", C.SINK_TTL, "IN", "SOA", f"{C.SINK_SOA_MNAME} {C.SINK_SOA_RNAME} 1 3600 600 86400 300")
    assert check_sink(case, r.to_wire()), "an SOA owned by the zone apex is not the sinkhole's"


def _authoritative_answer(case: C.Case, *rrsets) -> bytes:
    """A hand-made AA response to the case's query (EDNS 1232 when it had
    EDNS) with these RRsets in the answer."""
    r = dns.message.make_response(dns.message.from_wire(case.wire()), our_payload=1232)
    r.flags |= dns.flags.AA
    r.answer.extend(rrsets)
    return r.to_wire()


def test_any_checker(nsd) -> None:
    """check_any accepts NSD's own answer, another RRset of the node, and
    RFC 8482's HINFO; it rejects an RRset that is not at the node."""
    case = next(c for c in ANY if c.id == "any-udp-3322.org.")
    ref = _ask(case, nsd)
    assert check_any(case, ref, ref) == []

    txt = dns.rrset.from_text("3322.org.", 3600, "IN", "TXT", '"v=spf1 mx -all"')
    assert check_any(case, _authoritative_answer(case, txt), ref) == []
    hinfo = dns.rrset.from_text("3322.org.", 3600, "IN", "HINFO", '"RFC8482" ""')
    assert check_any(case, _authoritative_answer(case, hinfo), ref) == []
    bogus = dns.rrset.from_text("3322.org.", 3600, "IN", "TXT", '"not in the zone"')
    assert check_any(case, _authoritative_answer(case, bogus), ref)


def test_deviation_checker(nsd) -> None:
    """check_same on a documented NSD deviation is not vacuous: it passes an
    answer that holds the CNAME once against NSD's, and fails when takedown
    repeats it too, when NSD no longer does, or on any other difference."""
    case = next(c for c in SAME if c.id == "chains-e0-A-x.wl.chains.example.")
    assert case.deviation == "repeated-cname"
    ref = _ask(case, nsd)
    once = _authoritative_answer(case, dns.rrset.from_text(case.qname, 3600, "IN", "CNAME", case.qname))
    assert check_same(case, once, ref) == []
    assert check_same(case, ref, ref), "takedown repeating the record must fail"
    assert check_same(case, once, once), "NSD no longer repeating it must fail"
    other = _authoritative_answer(case, dns.rrset.from_text(case.qname, 300, "IN", "CNAME", case.qname))
    assert check_same(case, other, ref), "a different TTL must fail"


def test_case_list_is_consistent() -> None:
    cs = C.all_cases()
    assert 3000 <= len(cs) <= 4000
    assert {c.expect for c in cs} == {"same", "sink", "any", "dropped"}
    assert set(DEVIATION_CHECKS) == set(C.NSD_DEVIATIONS)
    for c in cs:
        c.skip()  # every exception named by a case is documented
        assert not c.deviation or c.deviation in C.NSD_DEVIATIONS, c.id
        c.wire()  # every query builds
    # blocklist semantics of the fixture
    assert C.sink_rule("pcwk.3322.org.") is not None
    assert C.sink_rule("x.pcwk.3322.org.") is None  # exact entries do not cover names below
    assert C.sink_rule("evil.3322.org.") is not None  # "*.evil" covers evil itself
    assert C.sink_rule("a.b.evil.3322.org.") is not None
    assert C.sink_rule("notevil.3322.org.") is None
