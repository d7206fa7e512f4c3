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


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch):
    """The responses' Date header from a fixed clock: two connections' answers
    compare equal even when the wall clock's second turns between them."""
    from types import SimpleNamespace

    from takedown.net import responses

    monkeypatch.setattr(responses, "time", SimpleNamespace(time=lambda: T0))


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
        cache.put(request(i), Answer(b"HTTP/1.1 200 OK\r\n\r\n", (), None, None, None, None, False), T0)
    cache.clear()
    assert cache.entries == {} and answers_in_garbage() == 0
