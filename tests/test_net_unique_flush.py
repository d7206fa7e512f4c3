"""Check-ins that never repeat (each bot id its own request): the request
cache's answers go by reference counting, not by the cyclic GC
(takedown.net.connection.RequestCache; docs/performance.md "Unique check-ins
in the running server"). The events are the same as before the change: the
records and the bytes answered are compared with a fresh connection's."""

from __future__ import annotations

import gc

import pytest

from takedown.net.connection import Answer, ListenerState, Record, RequestCache
from takedown.net.responses import ResponsePolicy
from takedown.operation import Listener

DST = ("127.0.0.1", 80)
T0 = 1_800_000_000.25


def request(i: int) -> bytes:
    body = f"id={i:016X}&os=5.1.2600&ver=2.0.8.9".encode()
    return (f"POST /gate.php?id={i:016X} HTTP/1.1\r\nHost: c2.example\r\nUser-Agent: bot\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def state(**kw) -> ListenerState:
    lst = Listener(kind="http", listen=("127.0.0.1:80",), response="empty", **kw)
    return ListenerState(lst, policy=ResponsePolicy())


def answered(commands) -> list[tuple[bytes, object]]:
    """What a connection's commands say: (bytes sent, check-in record)."""
    got = []
    for c in commands:
        if isinstance(c, Answer):
            got.append((c.out, c.checkin))
        elif isinstance(c, Record):
            got.append((b"", c.checkin))
    return got


@pytest.fixture
def no_auto_gc():
    """The cyclic GC off, and what it collects kept in gc.garbage."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.garbage.clear()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was:
            gc.enable()


def answers_in_garbage() -> int:
    gc.collect()
    return sum(isinstance(o, Answer) for o in gc.garbage)


def test_unique_check_ins_leave_no_answer_to_the_cyclic_gc(no_auto_gc):
    st = state()
    conn = st.connect(("192.0.2.9", 1234), DST, T0)
    first = [answered(conn.receive(request(i), T0)) for i in range(50)]
    assert len(st.cache.entries) == 50
    # the next whole second: the next new request empties the table
    later = answered(conn.receive(request(50), T0 + 1.0))
    assert len(st.cache.entries) == 1
    assert answers_in_garbage() == 0
    # the same events as a fresh connection gets for the same requests
    st2 = state()
    conn2 = st2.connect(("192.0.2.9", 1234), DST, T0)
    again = [answered(conn2.receive(request(i), T0)) for i in range(50)]
    assert again == first and all(len(a) == 1 and a[0][1].query == f"id={i:016X}" for i, a in enumerate(first))
    assert later[0][1].query == f"id={50:016X}"


def test_a_full_table_drops_its_answers_without_a_cycle(no_auto_gc, monkeypatch):
    from takedown.net import connection

    monkeypatch.setattr(connection, "_CACHE_MAX_ENTRIES", 8)
    st = state()
    conn = st.connect(("192.0.2.9", 1234), DST, T0)
    for i in range(30):
        conn.receive(request(i), T0)
    assert len(st.cache.entries) <= 8
    assert answers_in_garbage() == 0


def test_a_repeated_request_still_comes_from_the_table(no_auto_gc):
    st = state()
    conn = st.connect(("192.0.2.9", 1234), DST, T0)
    first = conn.receive(request(1), T0)
    hit = conn.receive(request(1), T0 + 0.1)
    (answer,) = [c for c in first if isinstance(c, Answer)]
    assert tuple(hit) == (answer,) and answer.commands == (answer,)


def test_an_answer_replaced_under_the_same_bytes_is_dropped_by_reference_counting(no_auto_gc):
    # requests_per_connection = 1: no request takes the fast path, and one
    # with "Connection: close" is put again under the same bytes
    st = state(requests_per_connection=1)
    closing = request(7).replace(b"User-Agent: bot\r\n", b"User-Agent: bot\r\nConnection: close\r\n")
    for port in (1000, 1001, 1002):
        conn = st.connect(("192.0.2.9", port), DST, T0)
        conn.receive(closing, T0)
    assert len(st.cache.entries) == 1
    assert answers_in_garbage() == 0


def test_clear_breaks_the_cycles(no_auto_gc):
    cache = RequestCache()
    for i in range(10):
        cache.put(request(i), Answer(b"HTTP/1.1 200 OK\r\n\r\n", None, False), T0)
    cache.clear()
    assert cache.entries == {} and answers_in_garbage() == 0


# -- the flush's allocator (takedown.store.segments.prefer_memory_pool) --------


@pytest.fixture
def arrow_pool():
    import pyarrow as pa

    was = pa.default_memory_pool()
    yield pa
    pa.set_memory_pool(was)


def test_a_serving_process_takes_the_store_allocator_unless_the_operator_chose(arrow_pool, monkeypatch):
    from takedown.store import segments

    pa = arrow_pool
    if segments.MEMORY_POOL not in pa.supported_memory_backends():
        pytest.skip(f"this pyarrow has no {segments.MEMORY_POOL}")
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    pa.set_memory_pool(pa.system_memory_pool())
    assert segments.prefer_memory_pool() == segments.MEMORY_POOL == pa.default_memory_pool().backend_name
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    pa.set_memory_pool(pa.system_memory_pool())
    assert segments.prefer_memory_pool() == "system"


def test_the_same_check_ins_give_the_same_rows_and_schema_under_either_allocator(arrow_pool, tmp_path):
    # (not the same bytes: two writes of one table under one allocator differ already)
    import pyarrow.parquet as pq

    from takedown.events import CheckinConn
    from takedown.store.checkins import CheckinBuffer
    from takedown.store.segments import open_parquet

    pa = arrow_pool
    st = state()
    conn = st.connect(("192.0.2.9", 1234), DST, T0)
    records = [a[0][1] for a in (answered(conn.receive(request(i), T0)) for i in range(300))]
    files = []
    for backend in pa.supported_memory_backends():
        pa.set_memory_pool(getattr(pa, f"{backend}_memory_pool")())
        buf = CheckinBuffer("http")
        key = buf.add_conn(CheckinConn("tcp", "192.0.2.9", 1234, "127.0.0.1", 80, None))
        for i, rec in enumerate(records):
            buf.log(T0 + i / 1000, key, buf.add_template(rec))
        table = buf.to_table(buf.take(), operation="o", sensor="s", worker=0)
        path = tmp_path / f"{backend}.parquet"
        with open_parquet(path, table.schema, "http") as pw:
            pw.write_table(table)
        meta = pq.read_metadata(path)
        files.append((pq.read_table(path), meta.schema.to_arrow_schema(), meta.metadata, meta.num_rows))
    assert len(files) >= 2 and files[0][3] == len(records)
    for table, arrow_schema, kv, _ in files[1:]:
        assert table.equals(files[0][0]) and arrow_schema.equals(files[0][1]) and kv == files[0][2]
