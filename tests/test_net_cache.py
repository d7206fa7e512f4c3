"""The sinkhole's request cache (a repeated request answered without parsing)
and the columnar check-in buffer behind it: the answers and the stored events
must be exactly what the full path gives, request by request."""

from __future__ import annotations

import re
import socket
import time

import numpy as np
import pytest

from takedown.events import CHECKIN_ROW, schema
from takedown.net import proxy as proxy_mod
from takedown.store.checkins import CheckinBuffer, template
from harness.peers import free_port

from net_helpers import TRUSTED_SRC, events, operation_text, read_response, serving

GATE = b"POST /cached/gate.php HTTP/1.1\r\nHost: c2.example\r\nUser-Agent: Bot/1.0\r\nContent-Length: 5\r\n\r\nid=42"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("cache")
    ports = {k: free_port() for k in ("dns", "http", "tmpl")}
    (d / "rules.toml").write_text(
        '[[rule]]\nname = "cached-gate"\nfamily = "cachefam"\nsource = "tests/test_net_cache.py"\n'
        'path = "/cached/gate.php"\nmethod = "POST"\n'
    )
    (d / "page.html").write_text("<p>you are {{ client_ip }}</p>\n")
    # Two listeners of one [http] section share the policy; the template
    # server (its own process) shows the client's address in the page.
    (d / "op.toml").write_text(operation_text(ports["dns"], "cache", f"""
[http]
listen = ["127.0.0.1:{ports['http']}"]
response = "empty"
requests_per_connection = 4
trusted_proxies = ["{TRUSTED_SRC}/32"]
[fingerprints]
rules = "rules.toml"
[events]
flush_interval = 0.2
"""))
    dns2 = free_port()
    (d / "tmpl.toml").write_text(operation_text(dns2, "cache-tmpl", f"""
[http]
listen = ["127.0.0.1:{ports['tmpl']}"]
response = "template"
template = "page.html"
trusted_proxies = ["{TRUSTED_SRC}/32"]
[events]
flush_interval = 0.2
""").replace('storage = "data"', 'storage = "data-tmpl"'))
    with serving(d, [("op.toml", ports["http"]), ("tmpl.toml", ports["tmpl"])]):
        yield {"dir": d, "ports": ports}


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(3)
    s.connect(("127.0.0.1", port))
    return s


def closed(s: socket.socket) -> bool:
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, socket.timeout):
        return False


def test_repeated_request_same_answer_and_one_event_each(server):
    s = connect(server["ports"]["http"])
    answers = []
    for _ in range(3):  # the 4th would be the connection's last
        s.sendall(GATE)
        answers.append(read_response(s))
        time.sleep(0.01)  # one request per packet, as a bot sends them
    port = s.getsockname()[1]
    s.close()
    for a in answers:
        assert a.startswith(b"HTTP/1.1 200")
        assert b"connection: keep-alive" in a.lower()
    rows = events(server, "http", f"path = '/cached/gate.php' and src_port = {port}")
    assert len(rows) == 3
    for r in rows:
        assert (r["rule"], r["family"], r["method"], r["host"], r["user_agent"]) == (
            "cached-gate", "cachefam", "POST", "c2.example", "Bot/1.0")
        assert r["body_len"] == 5 and r["body_head"] == b"id=42" and r["status"] == 200
        assert r["src_ip"] == "127.0.0.1" and r["dst_port"] == server["ports"]["http"]
    times = [r["time"] for r in rows]
    assert times == sorted(times) and len(set(times)) == 3


def test_same_bytes_on_another_connection_carry_that_connections_source(server):
    ports = []
    for source in ("127.0.0.1", "127.0.0.3"):
        s = connect(server["ports"]["http"], source)
        for _ in range(2):
            s.sendall(GATE.replace(b"/cached/gate.php", b"/cached/gate.php?two"))
            assert read_response(s).startswith(b"HTTP/1.1 200")
            time.sleep(0.01)
        ports.append((source, s.getsockname()[1]))
        s.close()
    rows = events(server, "http", "query = 'two'")
    got = sorted((r["src_ip"], r["src_port"]) for r in rows)
    assert got == sorted(p for p in ports for _ in range(2))


def test_last_request_of_a_connection_is_answered_close_even_when_cached(server):
    s = connect(server["ports"]["http"])
    answers = []
    for _ in range(4):  # requests_per_connection = 4
        s.sendall(GATE)
        answers.append(read_response(s))
        time.sleep(0.01)
    assert all(a.startswith(b"HTTP/1.1 200") for a in answers)
    assert [b"connection: close" in a.lower() for a in answers] == [False, False, False, True]
    assert closed(s)
    s.close()


def test_cached_connection_close_request_still_closes(server):
    req = b"GET /cached/close HTTP/1.1\r\nHost: c2.example\r\nConnection: close\r\n\r\n"
    for _ in range(3):
        s = connect(server["ports"]["http"])
        s.sendall(req)
        a = read_response(s)
        assert a.startswith(b"HTTP/1.1 200") and b"connection: close" in a.lower()
        assert closed(s)
        s.close()
    assert len(events(server, "http", "path = '/cached/close'")) == 3


def test_request_continued_in_a_later_packet_is_not_mistaken_for_a_cached_one(server):
    s = connect(server["ports"]["http"])
    s.sendall(GATE)  # now in the cache
    assert read_response(s).startswith(b"HTTP/1.1 200")
    s.sendall(GATE[:12])  # a request starts...
    time.sleep(0.1)
    s.sendall(GATE)  # ...and these bytes continue it: not the cached request
    a = read_response(s)
    s.close()
    assert a.startswith(b"HTTP/1.1 4"), a[:40]


def test_date_header_moves_on(server):
    s = connect(server["ports"]["http"])
    s.sendall(GATE)
    first = read_response(s)
    time.sleep(1.1)
    s.sendall(GATE)
    second = read_response(s)
    s.close()
    date = re.compile(rb"\r\ndate: ([^\r]+)", re.I)
    assert date.search(first).group(1) != date.search(second).group(1)


def test_answers_that_show_the_client_are_not_shared(server):
    """An operator template with {{ client_ip }}: the same request bytes from
    two sources (PROXY v2 from the trusted address) get each their own page."""
    req = b"GET /who HTTP/1.1\r\nHost: c2.example\r\n\r\n"
    for claimed in ("198.51.100.7", "203.0.113.9"):
        s = connect(server["ports"]["tmpl"], TRUSTED_SRC)
        s.sendall(proxy_mod.build_v2(claimed, 40000, "192.0.2.53", 80))
        for _ in range(2):
            s.sendall(req)
            page = read_response(s)
            assert f"you are {claimed}".encode() in page
            time.sleep(0.01)
        s.close()


# -- the buffer itself ---------------------------------------------------------


def test_buffer_builds_the_schema_rows_it_was_given():
    buf = CheckinBuffer("http")
    c1 = buf.add_conn(("tcp", "192.0.2.1", 1111, "127.0.0.1", 80, None))
    c2 = buf.add_conn(("tcp", "192.0.2.2", 2222, "127.0.0.1", 80, "127.0.0.2"))
    t1 = buf.add_template(template(method="GET", path="/a", status=200, response="empty", body_len=0))
    t2 = buf.add_template(template(method="POST", path="/b", rule="r", family="f", response="notice"))
    plan = [(10.0, c1, t1), (11.5, c2, t1), (12.25, c1, t2), (13.0, c2, t2), (14.0, c1, t1)]
    for now, c, t in plan:
        buf.log(now, c, t)
    table = buf.to_table(buf.take(), operation="op", sensor="s", worker=3)
    assert table.column_names == schema("http").names
    table = table.cast(schema("http"))  # dictionary-encoded strings are the schema's strings
    rows = table.to_pylist()
    assert [(r["src_ip"], r["src_port"], r["peer_ip"], r["path"], r["rule"], r["family"]) for r in rows] == [
        ("192.0.2.1", 1111, None, "/a", "none", None),
        ("192.0.2.2", 2222, "127.0.0.2", "/a", "none", None),
        ("192.0.2.1", 1111, None, "/b", "r", "f"),
        ("192.0.2.2", 2222, "127.0.0.2", "/b", "r", "f"),
        ("192.0.2.1", 1111, None, "/a", "none", None),
    ]
    assert [r["time"].timestamp() for r in rows] == [p[0] for p in plan]
    assert {r["operation"] for r in rows} == {"op"} and {r["worker"] for r in rows} == {3}
    assert set(CHECKIN_ROW) <= set(table.column_names)


def test_written_checkins_read_back_with_the_schemas_types(tmp_path):
    from takedown.store.segments import SegmentWriter

    w = SegmentWriter(tmp_path, "http", operation="op", sensor="s", worker=0, fsync=False)
    buf = w.checkins
    c = buf.add_conn(("tcp", "192.0.2.1", 1111, "127.0.0.1", 80, None))
    t = buf.add_template(template(method="GET", host="c2.example", path="/a", status=200, response="empty"))
    for i in range(10):
        buf.log(1_700_000_000.0 + i, c, t)
    files = w.flush()
    w.close()
    assert len(files) == 1
    import pyarrow.parquet as pq

    table = pq.read_table(files[0])
    assert table.schema.equals(schema("http"), check_metadata=True)
    assert table.column("host").to_pylist() == ["c2.example"] * 10


def test_buffer_generation_and_reset_callbacks():
    buf = CheckinBuffer("tcp")
    calls = []
    buf.on_reset.append(lambda: calls.append(1))
    gen = buf.gen
    assert buf.take() is None  # nothing buffered: still a new generation
    assert buf.gen != gen and calls == [1]
    buf.log(1.0, buf.add_conn(("tcp", "192.0.2.1", 1, "127.0.0.1", 2, None)), buf.add_template(template(response="close")))
    assert len(buf) == 1
    assert buf.take() is not None and len(buf) == 0 and buf.conns == [] and buf.templates == []


def test_buffer_drops_only_the_events_of_a_malformed_record():
    buf = CheckinBuffer("http")
    c = buf.add_conn(("tcp", "192.0.2.1", 1111, "127.0.0.1", 80, None))
    good = buf.add_template(template(path="/ok", response="empty"))
    bad = buf.add_template(template(path="/bad", response="empty", body_len="not a number"))
    for i, t in enumerate([good, bad, good, bad, good]):
        buf.log(float(i), c, t)
    table = buf.to_table(buf.take(), operation="o", sensor="s", worker=0)
    assert table.column("path").to_pylist() == ["/ok"] * 3
    assert np.allclose([t.timestamp() for t in table.column("time").to_pylist()], [0.0, 2.0, 4.0])
    assert buf.rows_rejected == 2
