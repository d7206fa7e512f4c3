"""The DNS event buffer's answer records as columns (DnsBuffer.fresh).

The columnar registry (a flat list of five fields a record, the rare ECS or
outcome aside, no tuple per record, no dictionary for fresh() answers) is
compared in the same process with the tuple registry it replaced
(tests/dns_buffer_reference.py): the same calls on both, fresh(), template(),
add_row() and log() in random order, with malformed values and records of
the wrong length, across takes and registries that start afresh; every
batch's Arrow table (values, schema and its metadata), rows(), the tally and
the rejected count must be equal.
"""

from __future__ import annotations

import random

import pytest

from dns_buffer_reference import TupleBuffer
from test_dns_buffer import KW, policy, traffic  # noqa: F401 - the fixture
from test_events_store import T0, dns_row
from takedown.dns.responder import Responder
from takedown.events import DNS_SCHEMA
from takedown.store.dnsbuffer import DnsBuffer

RULES = ["zone:z.test:pass", "zone:z.test:block", "domain:waledac", "none", "dga:rustock"]
#: values of each answer field that Arrow cannot take for it (a bug upstream): their events are dropped
MALFORMED = {
    "qname": [12345, 1.5, ("x",)],
    "qtype": ["A", 1.5, 1 << 40, ("x",)],
    "rcode": ["NXDOMAIN", 2.0, -(1 << 40)],
    "rule": [7, b"\xff\xfe"],
    "family": [3.5, ("f",)],
    "ecs": [12, ("e",)],
    "response": [0, 1.0],
}
ODD_ENOUGH = {"qtype": [0, 65535, 70000, -1], "rcode": [4095, 4096, -3], "qname": ["", ".", "A.B.", "x\\.y."]}


def _value(rng: random.Random, field: str, malformed: float):
    if rng.random() < malformed:
        return rng.choice(MALFORMED[field])
    if field in ODD_ENOUGH and rng.random() < 0.1:  # valid for Arrow, odd for the converters
        return rng.choice(ODD_ENOUGH[field])
    return {
        "qname": lambda: f"h{rng.randrange(40)}.Z.test" + ("." if rng.random() < 0.5 else ""),
        "qtype": lambda: rng.choice([1, 28, 15, 16, 2]),
        "rcode": lambda: rng.choice([0, 0, 3, 5, 2]),
        "rule": lambda: rng.choice(RULES),
        "family": lambda: rng.choice([None, None, "waledac", "nitol"]),
        "ecs": lambda: rng.choice([None, None, None, "198.51.100.0/24"]),
        "response": lambda: rng.choice(["answer", "answer", "truncated", "rrl-drop", "rrl-slip"]),
    }[field]()


def _record(rng: random.Random, malformed: float, plain: bool) -> tuple:
    fields = ("qname", "qtype", "rcode", "rule", "family") + (() if plain else ("ecs", "response"))
    rec = tuple(_value(rng, f, malformed) for f in fields)
    return rec + (None, "answer") if plain else rec


def _rows(buf, batch=None):
    """rows(), or the exception's type (a record of the wrong length cannot be unpacked, on either)."""
    try:
        return buf.rows(batch) if batch is not None else buf.rows()
    except ValueError as e:
        return type(e)


def _same_batch(new: DnsBuffer, ref: TupleBuffer, nb, rb) -> None:
    assert (nb is None) == (rb is None)
    if nb is None:
        return
    assert _rows(new, nb) == _rows(ref, rb)
    got, want = new.to_table(nb, **KW), ref.to_table(rb, **KW)
    assert (got is None) == (want is None)
    if got is not None:
        assert got.schema.equals(want.schema, check_metadata=True) and got.schema.equals(DNS_SCHEMA)
        assert got.equals(want)
        assert got.to_pylist() == want.to_pylist()
    assert new.tally == ref.tally
    assert new.rows_rejected == ref.rows_rejected


def run_both(seed: int, steps: int, *, max_templates: int, malformed: float) -> tuple[DnsBuffer, TupleBuffer, int]:
    """The same random calls on a columnar and a tuple buffer; every batch compared. The batches' count."""
    rng = random.Random(seed)
    new, ref = DnsBuffer(max_templates=max_templates), TupleBuffer(max_templates=max_templates)
    keys: list[tuple[int, int]] = []  # (new key part, reference key part) of this generation's records
    batches = 0
    for step in range(steps):
        pick = rng.random()
        now, src, port = T0 + step * 0.01, f"192.0.2.{rng.randrange(1, 9)}", rng.randrange(1024, 65536)
        lst = rng.choice([("udp", "127.0.0.1", 53), ("tcp", "::1", 5353)])
        if pick < 0.45:  # the responder's miss: a new answer (sometimes equal to an earlier one)
            rec = _record(rng, malformed, plain=True)
            keys.append((new.fresh(*rec[:5]), ref.fresh(*rec[:5])))
        elif pick < 0.55:  # the rare paths' registration
            rec = _record(rng, malformed, plain=rng.random() < 0.3)
            if rng.random() < malformed:  # a record of the wrong length (a bug): malformed
                rec = rec[: rng.choice([5, 6])] if rng.random() < 0.5 else rec + ("extra",)
            keys.append((new.template(rec), ref.template(rec)))
        elif pick < 0.7:
            row = dns_row(step, now, src_ip=src, src_port=port)[:6] + _record(rng, malformed, plain=rng.random() < 0.5)
            if rng.random() < malformed:
                row = row[:2] + (rng.choice([None, 7]),) + row[3:]  # a source that is no text
            new.add_row(row)
            ref.add_row(row)
            continue
        elif pick < 0.97 and keys:  # events of a remembered answer: three numbers
            kn, kr = rng.choice(keys)
            new.log(now, src, port, kn | new.listener(*lst))
            ref.log(now, src, port, kr | ref.listener(*lst))
            continue
        else:
            gen_n, gen_r = new.gen, ref.gen
            nb, rb = new.take(), ref.take()
            _same_batch(new, ref, nb, rb)
            batches += nb is not None
            assert (new.gen is gen_n) == (ref.gen is gen_r)
            if new.gen is not gen_n:
                keys = []  # indices of the old generation are void
            continue
        if keys and rng.random() < 0.8:  # the registration's own event
            kn, kr = keys[-1]
            new.log(now, src, port, kn | new.listener(*lst))
            ref.log(now, src, port, kr | ref.listener(*lst))
    assert _rows(new) == _rows(ref)
    _same_batch(new, ref, new.take(), ref.take())
    return new, ref, batches + 1


@pytest.mark.parametrize("seed", range(12))
def test_random_calls_give_the_tuple_registrys_tables(seed):
    new, ref, batches = run_both(seed, 1500, max_templates=[8, 40, 10_000][seed % 3], malformed=0.0)
    assert batches >= 5 and sum(new.tally.values()) > 500
    assert new.rows_rejected == ref.rows_rejected == 0


@pytest.mark.parametrize("seed", range(12))
def test_malformed_values_cost_the_same_events_on_both(seed):
    new, ref, _ = run_both(100 + seed, 1500, max_templates=[8, 40, 10_000][seed % 3], malformed=0.04)
    assert new.rows_rejected == ref.rows_rejected > 0


def test_fresh_answers_keep_no_tuple_and_no_lookup():
    """fresh() appends five items to the registry's flat list and nothing to
    its dictionary; an ECS or an outcome other than "answer" (template) keeps
    its tuple aside."""
    buf = DnsBuffer()
    a = buf.fresh("a.test", 1, 0, "none", None)
    b = buf.fresh("a.test", 1, 0, "none", None)  # the same answer twice: two indices, the same rows
    c = buf.template(("c.test", 1, 0, "none", None, "192.0.2.0/24", "answer"))
    d = buf.template(("d.test", 1, 0, "none", None, None, "answer"))
    assert (a, b, c, d) == (0, 1 << 32, 2 << 32, 3 << 32)
    reg = buf._reg
    assert len(reg) == 4 and len(reg.flat) == 20 and len(reg.template_at) == 2 and reg.odd_at == [2]
    assert buf.template(("c.test", 1, 0, "none", None, "192.0.2.0/24", "answer")) == c  # looked up
    lk = buf.listener("udp", "127.0.0.1", 53)
    for k in (a, b, c, d):
        buf.log(T0, "192.0.2.1", 1000, k | lk)
    rows = buf.rows()
    assert rows[0][6:] == rows[1][6:] == ("a.test", 1, 0, "none", None, None, "answer")
    assert rows[2][11] == "192.0.2.0/24"
    t = buf.to_table(buf.take(), **KW)
    assert t.column("qname").to_pylist() == ["a.test", "a.test", "c.test", "d.test"]
    assert t.column("ecs").to_pylist() == [None, None, "192.0.2.0/24", None]
    assert buf.tally == {(0, "none"): 4}


def test_responder_traffic_gives_the_tuple_registrys_tables(policy):  # noqa: F811
    """The responder's own calls (fresh on every miss and on the first use of
    a cached answer in a generation, add_row on the rare paths) over both
    registries, across periods and a registry that starts afresh."""
    tables = []
    for cls in (DnsBuffer, TupleBuffer):
        buf = cls(max_templates=60)
        r = Responder(policy, buf)
        out = []
        for period in range(4):
            traffic(r, 700, seed=period, now=T0 + 100 * period)
            batch = buf.take()
            out.append((buf.rows(batch), buf.to_table(batch, **KW)))
        tables.append((out, dict(buf.tally), buf.rows_rejected))
    (new, tally_n, rej_n), (ref, tally_r, rej_r) = tables
    for (rows_n, t_n), (rows_r, t_r) in zip(new, ref):
        assert rows_n == rows_r and len(rows_n) == 700
        assert t_n.equals(t_r) and t_n.schema.equals(t_r.schema, check_metadata=True)
    assert tally_n == tally_r and rej_n == rej_r == 0
