"""The check-in record appended as columns (issue 18, docs/performance.md
"The check-in as columns"): the HTTP shell hands a cacheable answer's record
to the check-in buffer as its parts (a base the bots of a family repeat, and
the four fields a bot varies), which the buffer keeps as columns; no
:class:`takedown.events.Checkin` per request is kept until the flush.

The flushed Arrow table is held to the record path that came before it,
:func:`takedown.events.rows_to_table` over one full tuple per event (the
reference the columnar buffer was first checked against), in the same
process: random unique and repeated check-ins, through the parts and
through whole records, with malformed values (each costs only its events,
counted); the Parquet files written from each path read back the same, with
the same key-value metadata; and through the asyncio shell, unique and
repeated requests on real connections give the events a sans-I/O twin's
records say.
"""

from __future__ import annotations

import gc
import random
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from takedown.events import CHECKIN_ROW, Checkin, CheckinConn, checkin_join, checkin_parts, rows_to_table, schema
from takedown.net import responses as responses_mod
from takedown.net.connection import Answer, ListenerState, Record
from takedown.store.checkins import CheckinBuffer
from takedown.store.segments import SegmentWriter
from test_net_connection import FakeTransport

T0 = 1_800_000_000.25
CONST = {"operation": "op", "sensor": "s1", "worker": 3}
# wrong-typed values a sensor bug could put in a field: for string fields, for
# integer fields, for binary fields (a list is also unhashable: the base registry's
# fallback)
BAD_TEXT = (5, 1.5, [1], object())
BAD_INT = ("12", 2**70, [1], b"x")
BAD_BYTES = (5, [1], object())
INT_FIELDS = {"body_len", "status", "length"}
BYTES_FIELDS = {"body_head", "first_bytes"}


def row(t: float, conn: tuple, rec: tuple) -> tuple:
    """The full event tuple (events.CHECKIN_ROW) of a time, a connection and a record."""
    return (t,) + tuple(conn[:5]) + tuple(rec[:2]) + (conn[5],) + tuple(rec[2:])


def random_checkin(rng: random.Random, bad: float) -> Checkin:
    """A check-in record as the sinkhole makes them (a few families and
    request shapes, bot ids and bodies of their own), or with probability
    ``bad`` one wrong-typed value in a random field."""
    family = rng.choice([None, "zeus", "necurs"])
    body = rng.random() < 0.7
    rec = Checkin(
        rule=rng.choice(["none", "zeus-gate", "necurs-post"]), family=family,
        method=rng.choice(["GET", "POST", None]), host=rng.choice(["c2.example", "127.0.0.1", None]),
        path=rng.choice(["/gate.php", "/", "/files/config.bin"]),
        query=rng.choice([None, f"id={rng.getrandbits(64):016X}", f"id={rng.getrandbits(64):016X}&v=2"]),
        user_agent=rng.choice([None, "Mozilla/4.0 (compatible; MSIE 6.0)"]),
        headers=rng.choice([None, "host: c2.example\nuser-agent: bot"]),
        body_len=rng.randrange(1, 4096) if body else rng.choice([None, 0]),
        body_sha256=rng.getrandbits(256).to_bytes(32, "big").hex() if body else None,
        body_head=rng.randbytes(rng.randrange(1, 64)) if body else None,
        status=rng.choice([None, 200, 404]), response=rng.choice(["empty", "notice", "bad-request"]),
        sni=rng.choice([None, "c2.example"]), ja3=rng.choice([None, "e7d705a3286e19ea42f587b344ee6865"]),
        length=rng.choice([None, 120]),
    )
    if rng.random() < bad:
        field = rng.choice(Checkin._fields)
        pool = BAD_INT if field in INT_FIELDS else BAD_BYTES if field in BYTES_FIELDS else BAD_TEXT
        rec = rec._replace(**{field: rng.choice(pool)})
    return rec


def converts(r: tuple) -> bool:
    try:
        rows_to_table("http", [r], **CONST)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return False
    return True


def fill(rng: random.Random, buf: CheckinBuffer, events: int, *, bad: float, repeat: float) -> list[tuple]:
    """Log random events into ``buf`` (new records through the parts, as the
    shell does, or whole, as the rare paths do; repeats by their index);
    return their full rows."""
    conns = [CheckinConn("tcp", f"192.0.2.{i}", 40000 + i, "127.0.0.1", 80, rng.choice([None, "10.0.0.1"]))
             for i in range(rng.randrange(1, 6))]
    keys = [buf.add_conn(c) for c in conns]
    family = [random_checkin(rng, 0.0) for _ in range(3)]  # bots of a few families: their bases repeat
    seen: list[tuple[int, Checkin]] = []
    rows = []
    for _ in range(events):
        ci = rng.randrange(len(conns))
        if seen and rng.random() < repeat:
            tix, rec = rng.choice(seen)
        else:
            rec = random_checkin(rng, bad)
            if rng.random() < 0.5:  # a bot of a family: its own id and body on the family's base
                rec = rng.choice(family)._replace(query=rec.query, body_len=rec.body_len,
                                                  body_sha256=rec.body_sha256, body_head=rec.body_head)
            tix = buf.add_parts(*checkin_parts(rec)) if rng.random() < 0.8 else buf.add_template(rec)
            seen.append((tix, rec))
        t = T0 + rng.random() * 100
        buf.log(t, keys[ci], tix)
        rows.append(row(t, conns[ci], rec))
    return rows


def flushed(buf: CheckinBuffer) -> pa.Table | None:
    table = buf.to_table(buf.take(), **CONST)
    return None if table is None else table.cast(schema("http"))


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("repeat", [0.0, 0.6])
def test_the_columns_flush_as_the_record_path(seed, repeat):
    rng = random.Random(seed * 7919 + int(repeat * 10))
    buf = CheckinBuffer("http")
    rows = fill(rng, buf, rng.randrange(1, 400), bad=0.08, repeat=repeat)
    good = [r for r in rows if converts(r)]
    got = flushed(buf)
    if not good:
        assert got is None
    else:
        want = rows_to_table("http", good, **CONST)
        assert got.schema == want.schema and got.schema.metadata == want.schema.metadata
        assert got.equals(want)
    assert buf.rows_rejected == len(rows) - len(good)
    # counted per family in bulk, as before
    assert buf.tally == {f: n for f in {r[7] for r in good} if (n := sum(r[7] == f for r in good))}


def test_a_flush_starts_afresh():
    rng = random.Random(1)
    buf = CheckinBuffer("http")
    first = fill(rng, buf, 50, bad=0.0, repeat=0.3)
    assert flushed(buf).equals(rows_to_table("http", first, **CONST))
    assert len(buf) == 0 and buf.templates == [] and buf.bases == [] and len(buf.base_ix) == 0
    second = fill(rng, buf, 50, bad=0.0, repeat=0.3)
    assert flushed(buf).equals(rows_to_table("http", second, **CONST))


def test_records_read_back_whole():
    rng = random.Random(2)
    buf = CheckinBuffer("http")
    recs = [random_checkin(rng, 0.0) for _ in range(30)]
    for rec in recs:
        buf.add_parts(*checkin_parts(rec))
    assert buf.templates == recs and all(checkin_join(*checkin_parts(r)) == r for r in recs)
    # a record that is not a 20-field tuple is its events' loss, not the batch's
    k = buf.add_conn(("tcp", "192.0.2.1", 1, "127.0.0.1", 80, None))
    bad = buf.add_template(recs[0][:19])
    buf.log(T0, k, bad)
    buf.log(T0, k, 3)
    assert buf.templates[bad] is None and buf.templates[3] == recs[3]
    got = flushed(buf)
    assert got.num_rows == 1 and buf.rows_rejected == 1
    assert got.equals(rows_to_table("http", [row(T0, ("tcp", "192.0.2.1", 1, "127.0.0.1", 80, None), recs[3])],
                                    **CONST))


def test_the_parquet_files_are_the_record_paths(tmp_path):
    """The same events written by a writer from full rows and by one from the
    columns: the files read back the same, with the same metadata."""
    rng = random.Random(3)
    by_rows = SegmentWriter(tmp_path / "a", "http", **CONST, fsync=False)
    by_cols = SegmentWriter(tmp_path / "b", "http", **CONST, fsync=False)
    rows = fill(rng, by_cols.checkins, 3000, bad=0.0, repeat=0.4)
    by_rows.rows.extend(rows)
    (a,), (b,) = by_rows.flush(), by_cols.flush()
    ta, tb = pq.read_table(a), pq.read_table(b)
    assert ta.num_rows == len(rows) and ta.equals(tb)
    ma, mb = pq.ParquetFile(a).metadata, pq.ParquetFile(b).metadata
    assert ma.metadata == mb.metadata and ma.schema.equals(mb.schema)
    by_rows.close()
    by_cols.close()


# -- through the shell ---------------------------------------------------------


def bot_request(i: int, close: bool = False) -> bytes:
    body = b"id=%016X&os=5.1.2600&ver=2.0.8.9" % i
    return (b"POST /gate.php?id=%016X HTTP/1.1\r\nHost: c2.example\r\nUser-Agent: bot\r\n" % i
            + (b"Connection: close\r\n" if close else b"")
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


@pytest.fixture
def sensor(tmp_path, monkeypatch):
    from net_helpers import operation_text

    from takedown.net import server as S
    from takedown.net.answers import load_answers
    from takedown.operation import load_operation

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(responses_mod, "time", SimpleNamespace(time=lambda: T0))
    (tmp_path / "op.toml").write_text(operation_text(5353, "columns", '[http]\nlisten = ["127.0.0.1:8080"]\n'
                                                     'response = "empty"\n'))
    op = load_operation(tmp_path / "op.toml")
    sensor = S.NetSensor(op, 0, "test", load_answers(op))
    sensor.states.append(sensor._state(op.http, sensor.answers, None))
    return sensor


def test_shell_unique_and_repeated_check_ins_flush_as_their_records(sensor, monkeypatch):
    """Unique, repeated, closing and malformed requests through the shell,
    across a flush: the flushed table is the record path's over what a
    sans-I/O twin connection returns for the same bytes."""
    from takedown.net import server as S

    clock = [T0]
    monkeypatch.setattr(S, "_time", lambda: clock[0])
    twin = ListenerState(sensor.op.http, rules=sensor.answers.rules, policy=sensor.answers.responses.get("http"))
    buf = sensor.writers["http"].checkins
    rng = random.Random(4)
    for flush in range(2):
        want = []
        for n in range(40):
            peer = ("192.0.2.%d" % (n % 7 + 1), 50000 + n)
            p = S._Protocol(sensor, 0, ("127.0.0.1", 8080))
            p.connection_made(FakeTransport(peer))
            c = twin.connect(peer, ("127.0.0.1", 8080), clock[0])
            for k in range(rng.randrange(1, 6)):
                data = rng.choice([bot_request(rng.getrandbits(40)), bot_request(7), bot_request(8, close=True),
                                   b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"GET / HTTP/1.1\r\nBad\r\n\r\n"])
                clock[0] += 0.001
                p.data_received(data)
                for cmd in c.receive(data, clock[0]):
                    if isinstance(cmd, Answer):
                        want.append(row(clock[0] + c.shift, c.origin, cmd.checkin))
                    elif isinstance(cmd, Record):
                        want.append(row(cmd.time, c.origin, cmd.checkin))
                if c.done:
                    break
            p.connection_lost(None)
            c.closed(clock[0])
        assert flushed(buf).equals(rows_to_table("http", want, **CONST)), flush
    assert buf.rows_rejected == 0


def test_unique_check_ins_keep_no_record_object_until_the_flush(sensor):
    """After unique check-ins through the shell, the buffer holds values,
    not containers the cyclic GC visits: no Checkin is alive, and what the
    columns hold is untracked."""
    from takedown.net import server as S

    gc.collect()
    p = S._Protocol(sensor, 0, ("127.0.0.1", 8080))
    p.connection_made(FakeTransport(("192.0.2.9", 1234)))
    for i in range(500):
        p.data_received(bot_request(i + 2**40))
    buf = sensor.writers["http"].checkins
    assert len(buf) == 500 and len(buf.base_ix) == 500 and len(buf.bases) == 1
    gc.collect()
    assert not any(isinstance(o, Checkin) for o in gc.get_objects())
    assert not any(gc.is_tracked(v) for col in (buf.query, buf.body_len, buf.body_sha256, buf.body_head, buf.bases)
                   for v in col)
    assert [r.query for r in buf.templates] == [f"id={i + 2**40:016X}" for i in range(500)]
