"""The Suricata, STIX and RPZ writers' output pinned byte for byte: each is
hand-tuned for a million indicators (string templates, caches, canonical
values split by hand rather than re-parsed), and these files were written
by the general code they replaced (``ipaddress``, ``urlsplit``, ``quote``,
``json.dumps`` per object; takedown before the i15-perf change). Every kind,
URL scheme and host form, quoting in values, families, notes and tags, and
missing times are in the sample.

Regenerate only for an intended change of a format:
``python tests/test_tracker_pinned.py`` (then review the diff)."""

from __future__ import annotations

import io
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from takedown.tracker.formats import ExportContext, get
from takedown.tracker.formats._values import split_url, uuid5, value_of
from takedown.tracker.indicator import Indicator, parse_value

DATA = Path(__file__).resolve().parent / "data" / "tracker"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
T0 = datetime(2026, 3, 1, 6, 7, 8, tzinfo=timezone.utc)

VALUES = [
    "evil-cc.example", "under_score.example", "xn--bcher-kva.example", "1.2.3.4", "1.2.3.4:443",
    "2001:db8::cc", "[2001:db8::cc]:8080", "[::ffff:1.2.3.4]:1",
    "http://url-cc.example/gate.php?id=1;x=\"|\"", "http://url-cc.example/", "http://url-cc.example/?q=1",
    "http://user:pw@url-cc.example:8080/a%20b/c?d=e&f", "http://203.0.113.5/gate.php", "http://[2001:db8::5]:81/x",
    "http://1.2.3/not-an-ip-host", "http://h.example/caf\u00e9/\u00fc?\u00e4=1", "https://tls-cc.example/panel",
    "https://tls-cc.example:8443/panel", "https://198.51.100.9:8443/p", "https://198.51.100.9/p",
    "https://[2001:db8::9]/p", "ftp://files.example/x", "ftp://192.0.2.77/x", "ftp://192.0.2.77:2121/x",
    "tcp://[2001:db8::7]:4444/", "http://h.example/a\\b\"c;d'e",
]
FAMILIES = ["ZeuS", 'Zeus "GameOver"; P2P', "emotet", "B\u00fccher\\bot", "unknown"]
STATUSES = ["online", "offline", "sinkholed", "seized", "unknown"]


def sample() -> list[Indicator]:
    out = []
    for i, value in enumerate(VALUES):
        first = None if i % 7 == 3 else T0 + timedelta(days=i, seconds=13 * i)
        out.append(Indicator.new(
            value, FAMILIES[i % len(FAMILIES)], status=STATUSES[i % len(STATUSES)], first_seen=first,
            last_seen=None if i % 9 == 4 else NOW - timedelta(hours=i), updated=None if i % 5 == 2 else NOW,
            source="feodo" if i % 2 else "", confidence=(0, 50, 75, 100)[i % 4],
            tags=(("b71", 'say "hi"') if i % 3 == 0 else ("x\\y",) if i % 3 == 1 else ()),
            notes="line one\nline two" if i % 4 == 1 else "", id=1 + 1000 * i, revision=i % 3))  # fmt: skip
    return out


def written(name: str) -> bytes:
    buf = io.BytesIO()
    # with sinkhole addresses: the RPZ points sinkholed and seized names at them
    ctx = ExportContext(now=NOW, serial=7, link="https://tracker.example/ioc/", sinkhole_v4="192.0.2.53",
                        sinkhole_v6="2001:db8::53")
    assert get(name).write(sample(), ctx, buf) == len(VALUES)
    return buf.getvalue()


PINNED = {"rpz": "pinned.zone", "suricata": "pinned.rules", "stix": "pinned-stix.json"}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_writer_output_is_pinned(name):
    want = (DATA / PINNED[name]).read_bytes()
    got = written(name)
    assert got.splitlines() == want.splitlines()  # a line-wise diff on failure
    assert got == want


def test_value_of_agrees_with_parse_value():
    """The writers' hand split of a canonical value is what the general
    parser makes of it, for every kind and URL form of the sample."""
    for ind in sample():
        assert value_of(ind.value, ind.kind) == parse_value(ind.value, ind.kind), ind.value


def test_split_url_gives_the_request_target():
    from urllib.parse import urlsplit

    for ind in sample():
        if ind.kind == "url":
            parts = urlsplit(ind.value)
            assert split_url(ind.value)[3] == parts.path + (f"?{parts.query}" if parts.query else ""), ind.value


def test_uuid5_keeps_namespaces_apart():
    """uuid5 keeps one hash state per namespace: two namespaces used in turn
    each give the uuid module's answer."""
    a, b = uuid.uuid5(uuid.NAMESPACE_URL, "a"), uuid.uuid5(uuid.NAMESPACE_URL, "b")
    for name in ("x", "y", "indicator:1.2.3.4:443"):
        for ns in (a, b, a):
            assert uuid5(ns, name) == str(uuid.uuid5(ns, name))


if __name__ == "__main__":
    for fmt, file in PINNED.items():
        (DATA / file).write_bytes(written(fmt))
        print(f"wrote {DATA / file}", file=sys.stderr)
