"""The columnar DNS event buffer (takedown.store.dnsbuffer).

Its tables are checked against the tuple path (takedown.events.rows_to_table)
on the same events: equal, column for column, whichever way the events came
in (the responder's fast path, DNS_ROW tuples, both), across flushes that
share answer records and across a registry that starts afresh.
"""

from __future__ import annotations

import gc
import random
import struct

import pyarrow.parquet as pq
import pytest

from dns_helpers import logged_responder, make_operation
from takedown.dns import wire
from takedown.dns.policy import Policy
from takedown.dns.responder import Responder
from takedown.events import DNS_SCHEMA, rows_to_table
from takedown.operation import load_operation
from takedown.store import SegmentWriter, event_files
from takedown.store.dnsbuffer import DnsBuffer
from test_events_store import T0, dns_row

ZONE = "\n".join(
    ["$ORIGIN buf.test.", "$TTL 300", "@ IN SOA ns1 hostmaster 1 3600 600 86400 300", "@ IN NS ns1",
     "ns1 IN A 192.0.2.10", "*.wild IN A 192.0.2.13"]
    + [f"N{i} IN A 198.51.100.{i + 1}" for i in range(50)]
) + "\n"
KW = {"operation": "op", "sensor": "ns1", "worker": 2}


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    d = tmp_path_factory.mktemp("buf")
    return Policy(load_operation(make_operation(d, extra_zones={"buf.test": ZONE})), serial=1)


def wq(name: str, qtype: int = 1, qid: int = 7) -> bytes:
    return struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + wire.text_to_wire(name) + struct.pack("!HH", qtype, 1)


def same(buf: DnsBuffer, batch) -> None:
    """The buffer's table of ``batch`` equals the tuple path's table of the same events."""
    rows = buf.rows(batch)
    got = buf.to_table(batch, **KW)
    want = rows_to_table("dns", rows, **KW)
    assert got.schema.equals(DNS_SCHEMA)
    assert got.num_rows == len(rows) > 0
    for name in DNS_SCHEMA.names:
        assert got.column(name).to_pylist() == want.column(name).to_pylist(), name


def traffic(r, n: int, seed: int, now: float = T0) -> None:
    """Queries of every path: cached answers (fast), misses, NXDOMAIN,
    wildcards, mixed case, EDNS, TCP, a second listener, malformed packets."""
    rng = random.Random(seed)
    for i in range(n):
        pick = rng.random()
        if pick < 0.6:
            name = f"n{rng.randrange(50)}.buf.test"
            data = wq(name.upper() if rng.random() < 0.2 else name, qid=i & 0xFFFF)
        elif pick < 0.7:
            data = wq(f"x{rng.randrange(10**6)}.buf.test")
        elif pick < 0.8:
            data = wq(f"h{rng.randrange(100)}.wild.buf.test", 28 if rng.random() < 0.5 else 1)
        elif pick < 0.9:
            q = bytearray(wq(f"n{rng.randrange(50)}.buf.test"))
            q[11] = 1  # one additional record: an OPT with DO
            data = bytes(q) + b"\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00"
        elif pick < 0.95:
            data = rng.randbytes(rng.randrange(1, 40))
        else:
            data = wq("example.com")  # outside every zone: REFUSED
        tr = "tcp" if rng.random() < 0.1 else "udp"
        dst = ("127.0.0.1", 53) if rng.random() < 0.8 else ("::1", 5353)
        r.respond(data, f"192.0.2.{rng.randrange(1, 255)}", rng.randrange(1024, 65536), tr, *dst, now + i * 0.001)


def test_responder_events_equal_the_tuple_path(policy):
    r = logged_responder(policy)
    traffic(r, 3000, seed=1)
    buf = r.buffer
    n = len(buf)
    assert n == 3000  # one event per query, answered or not
    batch = buf.take()
    assert len(buf) == 0 and len(batch[0]) == n
    same(buf, batch)
    # the next period re-uses answer records converted for the first one
    traffic(r, 2000, seed=2, now=T0 + 10)
    same(buf, buf.take())
    assert buf.take() is None


def test_rows_and_fast_path_mix_in_order(policy):
    r = logged_responder(policy)
    buf = r.buffer
    r.respond(wq("n1.buf.test"), "192.0.2.1", 1000, "udp", "127.0.0.1", 53, T0)  # miss: the row path
    buf.add_row(dns_row(5))
    r.respond(wq("n1.buf.test"), "192.0.2.2", 1001, "udp", "127.0.0.1", 53, T0 + 1)  # fast path
    rows = buf.rows()
    assert [row[2] for row in rows] == ["192.0.2.1", "192.0.2.5", "192.0.2.2"]
    assert rows[0][6:] == rows[2][6:] == ("n1.buf.test", 1, 0, "zone:buf.test:pass", None, None, "answer")
    same(buf, buf.take())


def test_registry_starts_afresh_and_old_batches_stay_valid(policy):
    buf = DnsBuffer(max_templates=5)
    r = Responder(policy, buf)
    gen = buf.gen
    for i in range(8):
        r.respond(wq(f"n{i}.buf.test"), "192.0.2.1", 1000 + i, "udp", "127.0.0.1", 53, T0 + i)
    first = buf.take()
    assert buf.gen is not gen  # past max_templates: a new generation
    for i in range(8):  # the same answers, cached: re-registered in the new generation
        r.respond(wq(f"n{i}.buf.test"), "192.0.2.1", 2000 + i, "udp", "127.0.0.1", 53, T0 + 100 + i)
    second = buf.take()
    same(buf, first)
    same(buf, second)
    assert [row[6] for row in buf.rows(second)] == [f"n{i}.buf.test" for i in range(8)]


def test_malformed_records_cost_only_their_events(caplog):
    buf = DnsBuffer()
    buf.add_row(dns_row(0))
    buf.add_row(dns_row(1, qtype="A"))  # a bug: a string where the code goes
    buf.add_row(dns_row(2))
    buf.add_row(dns_row(3, src_ip=12345))  # and a number where the address goes
    buf.add_row(dns_row(4))
    t = buf.to_table(buf.take(), **KW)
    assert t.column("src_port").to_pylist() == [1024, 1026, 1028]
    assert buf.rows_rejected == 2 and "malformed dns" in caplog.text


def test_fast_path_leaves_nothing_for_the_collector(policy):
    """No container per event: the cyclic collector has nothing new to walk
    however many queries are logged (a tuple per event made it pass every
    ~700 queries)."""
    r = logged_responder(policy)
    r.respond(wq("n3.buf.test"), "192.0.2.1", 1000, "udp", "127.0.0.1", 53, T0)  # fill the cache
    gc.collect()
    before = len(gc.get_objects())
    for i in range(20_000):
        r.respond(wq("n3.buf.test", qid=i), "192.0.2.1", 1024 + i % 1000, "udp", "127.0.0.1", 53, T0 + i)
    assert len(r.buffer) == 20_001
    assert len(gc.get_objects()) - before < 100


def test_writer_stores_the_buffer(tmp_path, policy):
    w = SegmentWriter(tmp_path, "dns", fsync=False, **KW)
    r = Responder(policy, w.dns)
    traffic(r, 500, seed=3)
    w.rows.append(dns_row(9))  # the tuple path of the same writer
    expect = w.dns.rows() + [dns_row(9)]
    w.close()
    cols = DNS_SCHEMA.names
    got = pq.read_table([str(f) for f in event_files(tmp_path, "dns")], columns=cols).to_pylist()
    want = rows_to_table("dns", expect, **KW).select(cols).to_pylist()
    key = lambda d: (d["time"], d["src_port"], d["src_ip"] or "")  # noqa: E731
    assert sorted(got, key=key) == sorted(want, key=key)
