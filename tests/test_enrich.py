"""takedown.enrich: cc/asn/as_name lookups checked against geoip2fast's own
lookup (10**6 addresses), a bisect over the ip-location-db CSVs, maxminddb
on synthetic MaxMind DBs, and brute force for the range semantics."""

from __future__ import annotations

import bisect
import csv
import ipaddress
import os
import random
import shutil
import socket

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import takedown.enrich as enrich
from takedown.enrich import Enricher, sample, shipped
from takedown.enrich.addresses import parse
from takedown.errors import EnrichError, TakedownError

V6_TOP = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"


@pytest.fixture(scope="module")
def default():
    return Enricher.default()


@pytest.fixture(scope="module")
def g2f():
    """geoip2fast's own lookup on the same file we read. Importing it rewrites
    os.environ (PYTHONWARNINGS=ignore): put the environment back."""
    saved = dict(os.environ)
    try:
        from geoip2fast import GeoIP2Fast
        return GeoIP2Fast(geoip2fast_data_file=shipped.GEOIP2FAST_FILE)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def asn_csv_dir():
    d = shipped.data_dir() / "package"
    if not all((d / f).exists() for f in shipped.ASN_CSVS) or not shipped.asn_npz_path().exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed, so bootstrap could not fetch the ASN data")
        pytest.fail(f"ASN data missing under {shipped.data_dir()}: run scripts/bootstrap")
    return d


def _g2f_cc(g2f, ip: str):
    # Special codes ("--" private/reserved/not found, "" invalid) are NULL
    # for us. ::ffff:a.b.c.d is IPv4 for us; geoip2fast looks the 128-bit
    # integer up in IPv6 space, so ask it for a.b.c.d.
    if ip[:7].lower() == "::ffff:" and "." in ip:
        ip = ip[7:]
    code = g2f.lookup(ip).country_code
    return None if code in ("", "--") else code


# --- (1) country: identical to geoip2fast on 1,000,000 addresses -------------


def test_cc_identical_to_geoip2fast_on_a_million_addresses(default, g2f):
    arr = sample.addresses(1_000_000, seed=20240618)
    ours = default.lookup(arr).column("cc").to_pylist()
    ips = arr.to_pylist()
    assert len(ours) == len(ips) == 1_000_000
    mismatches = []
    for ip, got in zip(ips, ours):
        want = _g2f_cc(g2f, ip)
        if got != want:
            mismatches.append((ip, got, want))
    assert not mismatches, f"{len(mismatches)} differ, e.g. {mismatches[:10]}"
    # The sample must exercise what it claims: answers, NULLs, IPv6 answers.
    known = sum(c is not None for c in ours)
    v6_known = sum(c is not None for ip, c in zip(ips, ours) if ":" in ip and "." not in ip)
    assert 0.6 * len(ours) < known < 0.95 * len(ours)
    assert v6_known > 10_000


def test_lenient_inet_aton_forms_are_not_addresses(default, g2f):
    # geoip2fast parses with inet_aton, which reads these as addresses; their
    # meaning differs between implementations, so for us they are not.
    lenient = ["127.1", "1.2.3", "0x7f.0.0.1", "010.8.8.8", "8.8.8.8 x", "8.8.8.8\n", "1.2.3.04"]
    assert default.lookup(lenient).column("cc").to_pylist() == [None] * len(lenient)
    assert any(_g2f_cc(g2f, s) is not None for s in lenient)  # theirs does answer some
    for s in lenient:
        with pytest.raises(ValueError):
            ipaddress.IPv4Address(s)


def test_ipv4_mapped_and_compatible_count_as_ipv4(default):
    t = default.lookup(["8.8.8.8", "::ffff:8.8.8.8", "::FFFF:8.8.8.8", "::8.8.8.8", "0:0:0:0:0:ffff:808:808"])
    assert t.column("cc").to_pylist() == ["US"] * 5
    assert len(set(t.column("asn").to_pylist())) == 1


# --- (2) asn/as_name: identical to a bisect over the CSV rows ----------------


def _csv(path):
    starts, ends, vals = [], [], []
    with open(path, newline="", encoding="utf-8") as fh:
        for a, b, asn, name in csv.reader(fh):
            starts.append(int(a))
            ends.append(int(b))
            vals.append((int(asn), name))
    return starts, ends, vals


def _bisect_ref(table, x):
    starts, ends, vals = table
    i = bisect.bisect_right(starts, x) - 1
    return vals[i] if i >= 0 and x <= ends[i] else (None, None)


def test_asn_identical_to_bisect_over_the_csv(default, asn_csv_dir):
    t4 = _csv(asn_csv_dir / shipped.ASN_CSVS[0])
    t6 = _csv(asn_csv_dir / shipped.ASN_CSVS[1])
    rng = random.Random(7)
    queries: list[tuple[str, int, int]] = []  # text, family, integer
    for _ in range(100_000):
        x = rng.getrandbits(32)
        queries.append((str(ipaddress.IPv4Address(x)), 4, x))
    for _ in range(50_000):
        i = rng.randrange(len(t4[0]))
        x = min(max(rng.choice((t4[0][i] - 1, t4[0][i], t4[1][i], t4[1][i] + 1)), 0), 2**32 - 1)
        queries.append((str(ipaddress.IPv4Address(x)), 4, x))
    for _ in range(2_000):
        x = rng.getrandbits(32)
        queries.append((f"::ffff:{ipaddress.IPv4Address(x)}", 4, x))
    for k in range(48_000):
        if k % 4 == 0:
            x = (0x2 << 124) | rng.getrandbits(125)
        else:
            i = rng.randrange(len(t6[0]))
            a, b = t6[0][i], t6[1][i]
            x = rng.choice((a - 1, a, b, b + 1, rng.randint(a, b)))
        queries.append((ipaddress.IPv6Address(x).compressed, 6, x))
    got = default.lookup([q[0] for q in queries])
    asn, names = got.column("asn").to_pylist(), got.column("as_name").to_pylist()
    mismatches = []
    for (text, fam, x), a, n in zip(queries, asn, names):
        want = _bisect_ref(t4 if fam == 4 else t6, x)
        if (a, n) != want:
            mismatches.append((text, (a, n), want))
    assert not mismatches, f"{len(mismatches)} differ, e.g. {mismatches[:10]}"
    assert sum(a is not None for a in asn) > 100_000  # not trivially all NULL


# --- (3) operator MaxMind DBs --------------------------------------------------


def _random_networks(rng: random.Random, k4: int, k6: int):
    nets = []
    for _ in range(k4):
        plen = rng.randint(8, 28)
        base = rng.getrandbits(32) >> (32 - plen) << (32 - plen)
        nets.append(ipaddress.ip_network((base, plen)))
    for _ in range(k6):
        plen = rng.randint(20, 64)
        base = ((0x2 << 124) | rng.getrandbits(125)) >> (128 - plen) << (128 - plen)
        nets.append(ipaddress.ip_network((base, plen)))
    return nets


def _write_mmdb(path, items, db_type):
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=db_type, description="synthetic test data")
    for net, record in items:
        w.insert_network(IPSet([str(net)]), record)
    w.to_db_file(str(path))
    return path


@pytest.fixture(scope="module")
def mmdbs(tmp_path_factory):
    rng = random.Random(11)
    d = tmp_path_factory.mktemp("mmdb")
    codes = ["DE", "FR", "JP", "BR", "US", "KE", "NZ", "EU"]
    cc_items = []
    for net in _random_networks(rng, 1500, 1500):
        r = rng.random()
        if r < 0.7:
            rec = {"country": {"iso_code": rng.choice(codes)}, "registered_country": {"iso_code": rng.choice(codes)}}
        elif r < 0.9:
            rec = {"registered_country": {"iso_code": rng.choice(codes)}}
        else:
            rec = {"continent": {"code": "EU"}}  # a record without a country
        cc_items.append((net, rec))
    as_items, num_items = [], []
    for net in _random_networks(rng, 1500, 1500):
        n = rng.randint(1, 400_000)
        rec = {"autonomous_system_number": n}
        if rng.random() < 0.9:
            rec["autonomous_system_organization"] = f"Org {n} ü"
        as_items.append((net, rec))
        num_items.append((net, {"autonomous_system_number": n}))
    return {
        "cc": _write_mmdb(d / "Test-Country.mmdb", cc_items, "Test-Country"),
        "asn": _write_mmdb(d / "Test-ASN.mmdb", as_items, "Test-ASN"),
        "num": _write_mmdb(d / "Test-ASN-numbers.mmdb", num_items, "Test-ASN-numbers"),
        "nets": [n for n, _ in cc_items + as_items],
    }


def _query_addresses(nets, n, seed):
    rng = random.Random(seed)
    out = []
    for k in range(n):
        r = k % 4
        if r < 2:
            net = rng.choice(nets)
            x = int(net.network_address) + rng.choice((0, net.num_addresses - 1, rng.randrange(net.num_addresses)))
            out.append(str(ipaddress.ip_address(x) if net.version == 6 else ipaddress.IPv4Address(x)))
        elif r == 2:
            out.append(str(ipaddress.IPv4Address(rng.getrandbits(32))))
        else:
            out.append(ipaddress.IPv6Address((0x2 << 124) | rng.getrandbits(125)).compressed)
    return out


def _mm_cc(rec):
    if rec is None:
        return None
    for k in ("country", "registered_country"):
        if k in rec and rec[k].get("iso_code"):
            return rec[k]["iso_code"]
    return None


def test_from_mmdb_matches_maxminddb(mmdbs):
    import maxminddb

    e = Enricher.from_mmdb(country=mmdbs["cc"], asn=mmdbs["asn"])
    ips = _query_addresses(mmdbs["nets"], 100_000, seed=3)
    got = e.lookup(ips)
    cc, asn, name = (got.column(c).to_pylist() for c in ("cc", "asn", "as_name"))
    with maxminddb.open_database(str(mmdbs["cc"])) as rc, maxminddb.open_database(str(mmdbs["asn"])) as ra:
        bad = []
        for i, ip in enumerate(ips):
            a = ra.get(ip) or {}
            want = (_mm_cc(rc.get(ip)), a.get("autonomous_system_number"), a.get("autonomous_system_organization"))
            if (cc[i], asn[i], name[i]) != want:
                bad.append((ip, (cc[i], asn[i], name[i]), want))
    assert not bad, f"{len(bad)} differ, e.g. {bad[:10]}"
    assert sum(c is not None for c in cc) > 20_000 and sum(a is not None for a in asn) > 20_000
    assert {s.name for s in e.sources} == {"Test-Country.mmdb", "Test-ASN.mmdb"}
    assert [s.version for s in e.sources] == ["Test-Country", "Test-ASN"]


def test_from_mmdb_fallback_fills_missing_fields(mmdbs):
    fb = Enricher.from_ranges([("0.0.0.0", "255.255.255.255", "ZZ", 64496, "Fallback v4"),
                               ("::", V6_TOP, "ZY", 64497, "Fallback v6")])
    ips = _query_addresses(mmdbs["nets"], 5_000, seed=5)
    ref_fb = fb.lookup(ips)
    only_cc = Enricher.from_mmdb(country=mmdbs["cc"], fallback=fb)
    got = only_cc.lookup(ips)
    assert got.column("asn").equals(ref_fb.column("asn"))
    assert got.column("as_name").equals(ref_fb.column("as_name"))
    assert "ZZ" not in got.column("cc").to_pylist()
    assert [(s.name, s.fields) for s in only_cc.sources] == [("Test-Country.mmdb", ("cc",)), ("from_ranges", ("asn", "as_name"))]

    # An ASN database given as the country file lacks the country field.
    swapped = Enricher.from_mmdb(country=mmdbs["asn"], asn=mmdbs["asn"], fallback=fb)
    assert swapped.lookup(ips).column("cc").equals(ref_fb.column("cc"))

    # Numbers only: as_name comes from the fallback, asn from the file.
    nums = Enricher.from_mmdb(asn=mmdbs["num"], fallback=fb)
    t = nums.lookup(ips)
    assert t.column("as_name").equals(ref_fb.column("as_name"))
    full = Enricher.from_mmdb(asn=mmdbs["asn"]).lookup(ips)
    assert t.column("asn").equals(full.column("asn"))

    # No fallback: missing fields are NULL, and the sources say so.
    bare = Enricher.from_mmdb(country=mmdbs["cc"])
    assert bare.lookup(ips).column("asn").null_count == len(ips)
    assert any(s.fields == ("asn", "as_name") and "NULL" in s.note for s in bare.sources)


@pytest.mark.parametrize("content", [None, b"", b"not a maxmind database\n" * 100, "truncated"])
def test_from_mmdb_bad_file_is_one_line_error(tmp_path, mmdbs, content):
    path = tmp_path / "GeoLite2-Broken.mmdb"
    if content == "truncated":
        data = mmdbs["cc"].read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(EnrichError) as info:
        Enricher.from_mmdb(country=path)
    msg = str(info.value)
    assert "GeoLite2-Broken.mmdb" in msg and "\n" not in msg
    assert isinstance(info.value, TakedownError)


# --- (4) bad input never raises --------------------------------------------------


def test_bad_input_is_null_not_an_error(default):
    bad = ["", " ", "not an address", "1.2.3.256", "1.2.3.4.5", "::g", "fe80::1%eth0", "1.2.3.4\x00",
           "٨.٨.٨.٨", "1" * 10_000, ":" * 50, "2001:db8::1" + " " * 3]
    t = default.lookup(bad + [None])
    assert t.num_rows == len(bad) + 1
    for col in ("cc", "asn", "as_name"):
        assert t.column(col).null_count == t.num_rows
    assert default.lookup([]).num_rows == 0
    assert default.lookup([]).schema == enrich.SCHEMA
    assert default.lookup(pa.array([], pa.string())).num_rows == 0
    assert default.lookup(pa.nulls(3)).column("cc").null_count == 3
    mixed = default.lookup(["8.8.8.8", 8, b"8.8.8.8", None, 8.8])
    assert mixed.column("cc").to_pylist() == ["US", None, None, None, None]


def test_bad_argument_types_are_one_line_errors(default):
    with pytest.raises(EnrichError, match="single string"):
        default.lookup("8.8.8.8")
    with pytest.raises(EnrichError, match="int64"):
        default.lookup(pa.array([1, 2]))


def test_arrow_input_forms_agree(default):
    ips = sample.addresses(20_000, seed=1)
    want = default.lookup(ips)
    assert default.lookup(ips.to_pylist()).equals(want)
    assert default.lookup(ips.cast(pa.large_string())).equals(want)
    assert default.lookup(ips.cast(pa.binary())).equals(want)
    assert default.lookup(ips.dictionary_encode()).equals(want)
    chunked = pa.chunked_array([ips.slice(0, 7_001), ips.slice(7_001, 5), ips.slice(7_006)])
    assert default.lookup(chunked).combine_chunks().equals(want.combine_chunks())
    sliced = ips.slice(333, 10_000)
    assert default.lookup(sliced).equals(want.slice(333, 10_000))
    with_nulls = pa.array([None if i % 5 == 0 else s for i, s in enumerate(ips.to_pylist())])
    t = default.lookup(with_nulls)
    assert t.column("cc").to_pylist() == [None if i % 5 == 0 else c for i, c in enumerate(want.column("cc").to_pylist())]


def test_batches_larger_than_one_chunk(default, monkeypatch):
    ips = sample.addresses(5_000, seed=2)
    want = default.lookup(ips)
    monkeypatch.setattr(enrich, "_CHUNK", 1_000)
    got = default.lookup(ips)
    assert got.num_rows == 5_000 and got.combine_chunks().equals(want.combine_chunks())


# --- (5) provenance ----------------------------------------------------------------


def test_sources_name_packages_versions_and_dates(default):
    by_field = {f: s for s in default.sources for f in s.fields}
    cc = by_field["cc"]
    assert (cc.name, cc.version, cc.date) == ("geoip2fast", "1.2.2", "2024-06-18")
    assert "GeoLite2" in cc.note
    asn = by_field["asn"]
    assert asn is by_field["as_name"]
    assert (asn.name, asn.version, asn.date) == ("@ip-location-db/asn", "2.3.2026061719", "2026-06-17")
    assert "CC BY 4.0" in asn.note


def test_default_without_asn_data_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("TAKEDOWN_ENRICH_DIR", str(tmp_path))
    e = enrich._default.__wrapped__()  # a fresh one, not the cached default
    t = e.lookup(["8.8.8.8"])
    assert t.column("cc").to_pylist() == ["US"] and t.column("asn").to_pylist() == [None]
    note = next(s.note for s in e.sources if "asn" in s.fields)
    assert "not installed" in note and "scripts/bootstrap" in note


def test_corrupt_asn_table_is_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TAKEDOWN_ENRICH_DIR", str(tmp_path))
    shipped.asn_npz_path().write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(EnrichError) as info:
        enrich._default.__wrapped__()
    assert shipped.asn_npz_path().name in str(info.value) and "\n" not in str(info.value)


# --- ranges given by the caller and their semantics ---------------------------


def test_from_ranges_bad_rows_name_row_and_field():
    cases = [
        ([("1.2.3.4", "1.2.3", "DE", None, None)], "row 1: last_ip '1.2.3'"),
        ([("1.0.0.0", "1.0.0.9", "DE", None, None), ("1.0.0.9", "1.0.0.0", None, 1, None)], "row 2: first_ip 1.0.0.9 is after"),
        ([("1.0.0.0", "::1", "DE", None, None)], "different IP versions"),
        ([("1.0.0.0", "1.0.0.1", "", None, None)], "cc ''"),
        ([("1.0.0.0", "1.0.0.1", None, -5, None)], "asn -5"),
        ([("1.0.0.0", "1.0.0.1", None, True, None)], "asn True"),
        ([("1.0.0.0", "1.0.0.1", None, 1, 7)], "as_name 7"),
        ([("1.0.0.0", "1.0.0.1")], "row 1: expected"),
    ]
    for rows, text in cases:
        with pytest.raises(EnrichError, match=text.replace("(", r"\(")):
            Enricher.from_ranges(rows)


def _brute(rows, x, family):
    """The documented rule: among the rows containing x, the one that starts
    last wins, then the narrower, then the row given last."""
    best = None
    for i, (a, b, val) in enumerate(rows):
        if a <= x <= b:
            k = (a, -b, i)
            if best is None or k > best[0]:
                best = (k, val)
    return None if best is None else best[1]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 40), st.sampled_from(["AA", "BB", "CC", "DD"])), max_size=12),
       st.sampled_from([4, 6]))
def test_overlapping_ranges_follow_the_rule(raw, family):
    base = 10 << 24 if family == 4 else 0x20010DB8 << 96
    rows = [(base + a, base + a + w, cc) for a, w, cc in raw]
    mk = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    e = Enricher.from_ranges([(str(mk(a)), str(mk(b)), cc, None, None) for a, b, cc in rows])
    xs = list(range(base - 2, base + 345))
    got = e.lookup([str(mk(x)) for x in xs]).column("cc").to_pylist()
    assert got == [_brute(rows, x, family) for x in xs]


def test_ranges_at_the_ends_of_the_address_space():
    e = Enricher.from_ranges([
        ("0.0.0.0", "0.0.0.0", "A0", 1, "first"), ("255.255.255.255", "255.255.255.255", "A1", 2, "last"),
        ("::", "::", "B0", 3, None), (V6_TOP, V6_TOP, "B1", None, "top"),
        ("1::", "1::ffff", "B2", 4, "x"), ("1::8", "1::8", "B3", 5, "y"),
    ])
    t = e.lookup(["0.0.0.0", "0.0.0.1", "255.255.255.255", "255.255.255.254", "::", V6_TOP,
                  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "1::7", "1::8", "1::9", "1::1:0"])
    # "::" is IPv4-compatible 0.0.0.0, so it takes the IPv4 answer.
    assert t.column("cc").to_pylist() == ["A0", None, "A1", None, "A0", "B1", None, "B2", "B3", "B2", None]
    assert t.column("asn").to_pylist() == [1, None, 2, None, 1, None, None, 4, 5, 4, None]
    assert t.column("as_name").to_pylist() == ["first", None, "last", None, "first", "top", None, "x", "y", "x", None]


# --- the parser against the standard library ------------------------------------


_V4ISH = st.text(alphabet="0123456789.", max_size=17) | st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3}){3}\Z")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_V4ISH, max_size=40))
def test_ipv4_parser_agrees_with_ipaddress(texts):
    p = parse(pa.array(texts, pa.string()))
    for i, text in enumerate(texts):
        try:
            want = int(ipaddress.IPv4Address(text))
        except ValueError:
            want = None
        assert (int(p.v4[i]) if p.is_v4[i] else None) == want, text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.ip_addresses(v=6), st.booleans()), max_size=20))
def test_ipv6_parser_agrees_with_ipaddress(addrs):
    texts = [a.exploded if ex else a.compressed for a, ex in addrs]
    p = parse(pa.array(texts, pa.string()))
    v6 = dict(zip(p.v6_rows.tolist(), (k.tobytes() for k in p.v6_keys)))
    for i, ((addr, _), text) in enumerate(zip(addrs, texts)):
        x = int(addr)
        if x >> 32 in (0, 0xFFFF):  # ::a.b.c.d and ::ffff:a.b.c.d are IPv4
            assert p.is_v4[i] and int(p.v4[i]) == x & 0xFFFFFFFF and i not in v6
        else:
            # 'S16' items drop trailing NUL bytes in tolist(); compare raw bytes.
            assert not p.is_v4[i] and v6[i].ljust(16, b"\0") == socket.inet_pton(socket.AF_INET6, text)


def test_parser_random_bulk_matches_ipaddress():
    rng = np.random.default_rng(9)
    xs = rng.integers(0, 1 << 32, 200_000, dtype=np.uint64)
    texts = [str(ipaddress.IPv4Address(int(x))) for x in xs]
    p = parse(pa.array(texts))
    assert p.is_v4.all() and (p.v4 == xs.astype(np.uint32)).all()


def _pton_ref(text: str):
    """What the standard library makes of a string: ('v4', int) for dotted
    quads and IPv4-mapped/-compatible IPv6, ('v6', bytes), or None."""
    if ":" not in text:
        try:
            return ("v4", int(ipaddress.IPv4Address(text)))
        except ValueError:
            return None
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError, UnicodeEncodeError):
        return None
    x = int.from_bytes(packed, "big")
    return ("v4", x & 0xFFFFFFFF) if x >> 32 in (0, 0xFFFF) else ("v6", packed)


def _ours(texts):
    p = parse(pa.array(texts, pa.string()))
    v6 = {r: k.ljust(16, b"\0") for r, k in zip(p.v6_rows.tolist(), p.v6_keys.tolist())}
    return [("v4", int(p.v4[i])) if p.is_v4[i] else ("v6", v6[i]) if i in v6 else None for i in range(len(texts))]


_GROUP = st.text(alphabet="0123456789abcdefABCDEF", min_size=0, max_size=5)
_V6ISH = st.builds(
    lambda groups, cut, tail, junk: ":".join(groups[:cut]) + ("::" if cut < len(groups) else "") + ":".join(groups[cut:]) + tail + junk,
    st.lists(_GROUP, max_size=9), st.integers(0, 9),
    st.sampled_from(["", "", "", ":1.2.3.4", ".1", ":", "::"]), st.sampled_from(["", "", "", "", " ", "%1", "x", ":"]),
) | st.text(alphabet="0123456789abcdefABCDEF:.", max_size=41)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_V6ISH, max_size=40))
def test_ipv6_vectorised_parser_agrees_with_inet_pton(texts):
    assert _ours(texts) == [_pton_ref(t) for t in texts]


def test_ipv6_parser_edge_cases():
    cases = ["::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1::8", "1:2:3:4:5:6:7:8::",
             "::1:2:3:4:5:6:7:8", ":::", "1:::2", "1::2::3", ":1::", "1::2:", ":1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:",
             "12345::", "0000:0000:0000:0000:0000:0000:0000:0001", "FFFF::ffff", "fe80::1%eth0", "2001:db8::1 ",
             "::ffff:1.2.3.4", "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "::ffff:1.2.3", "2001:DB8:0:0:8:800:200C:417A",
             "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "a:b:c:d:e:f:a:b", "g::", "::ffff:1.2.3.04"]
    assert _ours(cases) == [_pton_ref(t) for t in cases]
