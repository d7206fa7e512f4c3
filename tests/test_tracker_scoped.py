"""A partner's tracker entries chosen in the store (Tracker.scoped), on
SQLite and PostgreSQL: compared with the rule decided in Python, one
indicator at a time, for AS, country, IPv4 and IPv6 prefix and domain
claims over IPs, URLs and domains, with filters and paging; and timed on a
tracker of 100,000 indicators."""

from __future__ import annotations

import ipaddress
import random
import time
from urllib.parse import urlsplit

import pytest

from takedown.tracker.indicator import Indicator
from takedown.tracker.store import Tracker, ip_host


def truth(ind: Indicator, asns=(), countries=(), networks=(), domains=()) -> bool:
    """The scope rule, one indicator at a time (docs/console.md, "Partner pages")."""
    host = ip_host(ind.value, ind.kind)
    if host is not None:
        if ind.asn in asns or (ind.country or "").lower() in countries:
            return True
        a = ipaddress.ip_address(host)
        if a.version == 6 and a.ipv4_mapped is not None:
            a = a.ipv4_mapped
        return any(a.version == n.version and a in n for n in networks)
    name = ind.value if ind.kind == "domain" else urlsplit(ind.value).hostname if ind.kind == "url" else None
    return bool(name) and any(name == d or name.endswith("." + d) for d in domains)


def world(n: int, seed: int = 16) -> list[Indicator]:
    """``n`` indicators: every form the rule must tell apart, then random ones."""
    fixed = [
        ("192.0.2.5", "ip"), ("192.0.2.5:8080", "ip"), ("192.0.3.5", "ip"), ("::ffff:192.0.2.9", "ip"),
        ("172.16.20.1", "ip"), ("172.16.40.1", "ip"), ("172.16.15.255", "ip"),
        ("2001:db8:1::5", "ip"), ("[2001:db8:1::6]:443", "ip"), ("2001:db8:2::5", "ip"), ("2001:db9::1", "ip"),
        ("::1", "ip"),
        ("http://192.0.2.7/gate.php", "url"), ("http://user@192.0.2.8:8080/x", "url"),
        ("https://[2001:db8:1::7]/a", "url"), ("http://192.0.3.7/192.0.2.1", "url"),
        ("http://x.evil.example/gate", "url"), ("http://notevil.example/evil.example", "url"),
        ("http://evil.example.org/", "url"), ("http://a_b.example/", "url"), ("http://axb.example/", "url"),
        ("evil.example", "domain"), ("c2.x.evil.example", "domain"), ("notevil.example", "domain"),
        ("evil.example.org", "domain"), ("a_b.example", "domain"), ("axb.example", "domain"),
        ("sub.a_b.example", "domain"),
    ]
    rnd = random.Random(seed)
    out = []
    for i, (value, kind) in enumerate(fixed):
        # AS and country on every kind: only an address's count
        out.append(Indicator(value, kind, ("zeus", "emotet")[i % 2], ("online", "offline")[i % 3 == 0],
                             asn=(64500, 64501, None)[i % 3], country=("NL", "de", None)[i % 3]))
    names = ["evil.example", "good.example", "a_b.example", "other.test", "evil.example.net"]
    while len(out) < n:
        r = rnd.random()
        if r < 0.4:
            value, kind = str(ipaddress.IPv4Address(rnd.choice((0xC0000200, 0xAC100000, 0x0A000000))
                                                    + rnd.randrange(1 << 13))), "ip"
        elif r < 0.6:
            value, kind = str(ipaddress.IPv6Address((0x20010DB8 << 96) + rnd.randrange(1 << 82))), "ip"
        elif r < 0.8:
            value = f"{rnd.randrange(1 << 30):x}.{rnd.choice(names)}"
            kind = "domain"
        else:
            host = rnd.choice((f"{rnd.randrange(1 << 30):x}.{rnd.choice(names)}",
                               str(ipaddress.IPv4Address(0xC0000200 + rnd.randrange(1 << 10)))))
            value, kind = f"http://{host}/{rnd.randrange(1000)}.php", "url"
        out.append(Indicator(value, kind, rnd.choice(("zeus", "emotet", "qakbot")),
                             rnd.choice(("online", "offline", "unknown")),
                             asn=rnd.choice((64500, 64501, 64502, None)), country=rnd.choice(("NL", "DE", "FR", None))))
    return out


SCOPES = {
    "asn": dict(asns={64501}),
    "country": dict(countries={"de"}),
    "ipv4": dict(networks=(ipaddress.ip_network("192.0.2.0/24"), ipaddress.ip_network("172.16.16.0/20"))),
    "ipv6": dict(networks=(ipaddress.ip_network("2001:db8:1::/48"),)),
    "short": dict(networks=(ipaddress.ip_network("0.0.0.0/1"), ipaddress.ip_network("::/1"))),
    "domain": dict(domains=("evil.example", "a_b.example")),
    "all": dict(asns={64500}, countries={"nl"}, networks=(ipaddress.ip_network("192.0.2.0/25"),),
                domains=("evil.example",)),
}


@pytest.fixture
def tracker(tracker_url):
    t = Tracker.open(tracker_url, enricher=False)  # the AS and country as given
    yield t
    t.close()


@pytest.mark.parametrize("name", sorted(SCOPES))
def test_scoped_is_the_rule_with_filters_and_paging(tracker, name):
    tracker.add(world(3000), by="test")
    stored = list(tracker.select())
    scope = SCOPES[name]
    expected = [i.value for i in stored if truth(i, **scope)]
    assert expected, "the world has entries in every scope"
    got, total = tracker.scoped(**scope, limit=10_000)
    assert [i.value for i in got] == expected and total == len(expected)
    page, total = tracker.scoped(**scope, limit=7, offset=7)
    assert [i.value for i in page] == expected[7:14] and total == len(expected)
    assert page[0] == got[7]  # whole rows, as select() gives them
    for filters in (dict(status="online"), dict(family="zeus"), dict(kind="url"), dict(kind=["ip", "domain"])):
        want = [i.value for i in tracker.select(**filters) if truth(i, **scope)]
        got, total = tracker.scoped(**scope, **filters, limit=10_000)
        assert [i.value for i in got] == want and total == len(want)


def test_scoped_fixed_cases(tracker):
    tracker.add(world(0), by="test")
    v4 = {i.value for i in tracker.scoped(**SCOPES["ipv4"], limit=100)[0]}
    assert {"192.0.2.5", "192.0.2.5:8080", "172.16.20.1", "http://192.0.2.7/gate.php",
            "http://user@192.0.2.8:8080/x"} <= v4
    assert not v4 & {"192.0.3.5", "172.16.40.1", "172.16.15.255", "http://192.0.3.7/192.0.2.1"}
    v6 = {i.value for i in tracker.scoped(**SCOPES["ipv6"], limit=100)[0]}
    assert v6 == {"2001:db8:1::5", "[2001:db8:1::6]:443", "https://[2001:db8:1::7]/a"}
    dom = {i.value for i in tracker.scoped(**SCOPES["domain"], limit=100)[0]}
    assert dom == {"http://x.evil.example/gate", "http://a_b.example/", "evil.example", "c2.x.evil.example",
                   "a_b.example", "sub.a_b.example"}  # '_' is no wildcard: axb.example is out
    by_as = {i.kind for i in tracker.scoped(asns={64500, 64501}, limit=100)[0]}
    assert by_as == {"ip", "url"}  # a domain's stored AS does not bring it in
    assert tracker.scoped(limit=10) == ([], 0)


def test_scoped_on_100000_indicators(tracker):
    """Exact on a tracker of 100,000; its speed (157-391 ms a page measured
    when written) is printed, not asserted: speed belongs to benchmarks."""
    tracker.add(world(100_000), by="test")
    stored = list(tracker.select())
    for name in ("all", "ipv6", "domain"):
        scope = SCOPES[name]
        expected = [i.value for i in stored if truth(i, **scope)]
        tracker.scoped(**scope)  # the database's caches warm, as in a running console
        t0 = time.perf_counter()
        got, total = tracker.scoped(**scope, limit=50, offset=50)
        took = time.perf_counter() - t0
        print(f"scoped {name}: {total} of 100,000 in scope, a page in {took * 1000:.0f} ms")
        assert total == len(expected) and [i.value for i in got] == expected[50:100]
