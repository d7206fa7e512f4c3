"""The check-in path's shortcuts give the answers of the long way (issue 18).

- The request cache (takedown.net.connection.RequestCache): random,
  repeated, pipelined, split and malformed requests through HttpConnections
  give the same bytes, check-in records, closes and deadlines whether a
  repeat is answered from the cache or parsed, matched and rendered again;
  through the asyncio shell, the same events in the check-in buffer.
- The rule matcher's memos (takedown.net.fingerprints: per text matcher,
  and per candidate set by the fields its matchers read): the first match
  is the one the matchers give without any memo, for every rules file of
  the package and the rules the tests write.

(A compiled twin of the HTTP session was measured and is not shipped:
docs/performance.md, "The session, the rules, the record".)
"""

from __future__ import annotations

import importlib
import random
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from takedown.net import connection as C
from takedown.net import responses as responses_mod
from takedown.net.commands import CommandTable
from takedown.net.connection import Answer, Close, Commanded, ListenerState, Record, Send
from takedown.net.fingerprints import SHIPPED_RULES, RuleSet, _Candidates
from takedown.net.http import ParserCaches
from takedown.net.responses import ResponsePolicy
from takedown.operation import Authority, Listener

T0 = 1_767_225_600.25  # 2026-01-01, a quarter past a second: inside the authority below
SRC = ("192.0.2.7", 40000)
DST = ("127.0.0.1", 8080)
RULES_TEXT = """\
[[rule]]
name = "gate-exact"
family = "zeus"
source = "tests/test_net_session_accel.py"
method = "POST"
path = "/gate.php"
body_len = { min = 1 }

[[rule]]
name = "cfg"
family = "zeus"
source = "tests"
path = { regex = '(?:^|/)config\\.bin$' }

[[rule]]
name = "ua"
family = "other"
source = "tests"
user_agent = ["MSIE 6.0"]
response = "notfound"

[[rule]]
name = "hosted"
family = "hosted"
source = "tests"
host = ["c2.example"]
path = { prefix = ["/p/"] }
response = "silent"

[[rule]]
name = "glob"
family = "globfam"
source = "tests"
host = ["*.dga.example"]
response = "notice"

[[rule]]
name = "query"
family = "qfam"
source = "tests"
query = { regex = "^id=[0-9]+$" }

[[rule]]
name = "hdr"
family = "hfam"
source = "tests"
header = { name = "x-bot", prefix = "v2" }

[[command]]
family = "other"
name = "stop"
source = "tests"
body = "stop\\n"
"""


def _authority() -> Authority:
    return Authority(id="court-1", kind="command", valid_from=datetime(2025, 1, 1, tzinfo=timezone.utc),
                     valid_until=datetime(2027, 1, 1, tzinfo=timezone.utc), command="stop", family="other")


@pytest.fixture(autouse=True)
def fixed_date(monkeypatch):
    """Responses carry a Date header: one second for every run."""
    monkeypatch.setattr(responses_mod, "time", SimpleNamespace(time=lambda: T0))


def _state(response: str, per_connection: int, commands: bool) -> ListenerState:
    rules = RuleSet.loads(RULES_TEXT, "rules.toml")
    lst = Listener(kind="http", listen=("127.0.0.1:8080",), response=response,
                   requests_per_connection=per_connection, idle_timeout=30.0, request_timeout=10.0,
                   max_body_bytes=4096)
    table = CommandTable(rules.commands, (_authority(),)) if commands else None
    return ListenerState(lst, rules=rules, policy=ResponsePolicy(), parser_caches=ParserCaches(), commands=table)


def _norm(cmds, now: float, conn) -> list:
    """Commands as what a shell does with them: an Answer (from the cache
    or just put in it) is a record at the call's time and a send."""
    out = []
    for c in cmds:
        if isinstance(c, Answer):
            out.append(("record", "http", now + conn.shift, tuple(c.checkin)))
            out.append(("send", c.out))
        elif isinstance(c, Record):
            out.append(("record", c.kind, c.time, tuple(c.checkin)))
        elif isinstance(c, Send):
            out.append(("send", c.data))
        elif isinstance(c, Close):
            out.append(("close",))
        elif isinstance(c, Commanded):
            out.append(("commanded", c.time, tuple(c.checkin), c.authority, c.command, c.sha256))
        else:
            raise AssertionError(c)
    return out


def _run(cached: bool, script: list[tuple[int, float, bytes]], response: str, per_connection: int,
         commands: bool) -> tuple[list, int]:
    """Every step of ``script`` (connection number, time, bytes) through
    HttpConnections of one listener, its request cache emptied before each
    step unless ``cached`` (a connection closed is replaced by a new one
    from the same source): what each receive returned and each
    connection's state after it; and how many Answers came from the cache."""
    st_ = _state(response, per_connection, commands)
    conns: dict[int, C.Connection] = {}
    ended: list[C.Connection] = []
    seen: list = []
    hits = 0
    for k, now, data in script:
        conn = conns.get(k)
        if conn is None or conn.done:  # a closed connection: the bot opens another
            if conn is not None:
                ended.append(conn)
            conn = conns[k] = st_.connect((SRC[0], SRC[1] + k), DST, now)
        if not cached:
            st_.cache.clear()
        before = {id(a) for a in st_.cache.entries.values()}
        cmds = conn.receive(data, now)
        hits += sum(1 for c in cmds if isinstance(c, Answer) and id(c) in before)
        seen.append((_norm(cmds, now, conn), conn.served, conn.done, conn.deadline, conn.midway))
    for conn in ended + list(conns.values()):
        seen.append(("end", _norm(conn.timeout(T0 + 100), T0 + 100, conn),
                     _norm(conn.closed(T0 + 100), T0 + 100, conn)))
    return seen, hits


def _request(rng: random.Random, i: int) -> bytes:
    method = rng.choice(["GET", "POST", "HEAD", "PUT", "CONNECT", "GET"])
    path = rng.choice(["/gate.php", "/files/config.bin", "/config.bin", "/p/x", "/", "/a/b?c",
                       f"/r{rng.randrange(5)}", "/gate.php/"])
    query = rng.choice(["", f"?id={i}", "?id=x", f"?id={i}&os=5"])
    host = rng.choice(["c2.example", "C2.Example:8080", "a.dga.example", "127.0.0.1:8080", None])
    version = rng.choice(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"])
    target = "c2.example:443" if method == "CONNECT" else path + query
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    if rng.random() < 0.5:
        lines.append(rng.choice(["User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)",
                                 "User-Agent: curl/8", "User-Agent: bot"]))
    if rng.random() < 0.3:
        lines.append(rng.choice(["X-Bot: v2.1", "X-Bot: v1", "Accept-Language: ja,en;q=0.5"]))
    if rng.random() < 0.2:
        lines.append("Connection: close")
    body = b""
    if method in ("POST", "PUT") and rng.random() < 0.8:
        body = b"id=%d&x=%s" % (i, b"y" * rng.randrange(40))
        if rng.random() < 0.2:
            lines.append("Expect: 100-continue")
        if rng.random() < 0.2:
            lines.append("Transfer-Encoding: chunked")
            body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        else:
            lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if rng.random() < 0.04:  # malformed
        head = rng.choice([b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x00\xff garbage\r\n\r\n",
                           b"GET /\x00 HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                           b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"])
        body = b""
    return head + body


def _script(seed: int) -> list[tuple[int, float, bytes]]:
    """Random check-ins on a few connections: repeats (the request cache),
    pipelined pairs, requests cut at random points, clock steps."""
    rng = random.Random(seed)
    pool = [_request(rng, i) for i in range(12)]
    script = []
    now = T0
    for _ in range(rng.randrange(5, 40)):
        k = rng.randrange(4)
        data = rng.choice(pool) if rng.random() < 0.6 else _request(rng, rng.randrange(10**6))
        if rng.random() < 0.15:
            data += rng.choice(pool)  # pipelined
        if rng.random() < 0.2 and len(data) > 2:  # in two reads
            cut = rng.randrange(1, len(data))
            script.append((k, now, data[:cut]))
            data = data[cut:]
        script.append((k, now, data))
        now += 1.0 if rng.random() < 0.05 else rng.choice([0.0, 0.001, 0.01, 0.1])  # cache entries last the second
    return script


@pytest.mark.parametrize("seed", range(60))
def test_random_check_ins_same_from_the_cache_and_the_long_way(seed):
    rng = random.Random(seed)
    response = rng.choice(["empty", "notfound", "notice", "silent", "empty"])
    per_connection = rng.choice([1, 2, 3, 100])
    commands = rng.random() < 0.3
    script = _script(seed)
    parsed, none = _run(False, script, response, per_connection, commands)
    cached, _ = _run(True, script, response, per_connection, commands)
    assert none == 0
    assert cached == parsed
    assert any(step[0] for step in parsed if step[0] != "end")  # something was answered


def test_random_scripts_use_the_cache():
    """The comparison above means something: repeats are answered from the cache."""
    hits = sum(_run(True, _script(seed), "empty", 100, False)[1] for seed in range(20))
    assert hits >= 30


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=st.lists(st.binary(max_size=120), min_size=1, max_size=4), prefix=st.booleans(),
       repeat=st.booleans())
def test_arbitrary_bytes_same_from_the_cache_and_the_long_way(chunks, prefix, repeat):
    # bytes of anything, after a valid request line or alone; with repeat,
    # sent again on a second connection (which the cache may answer)
    if prefix:
        chunks = [b"POST /gate.php HTTP/1.1\r\n" + chunks[0]] + chunks[1:]
    script = [(0, T0, c) for c in chunks if c]
    if repeat:
        script += [(1, T0 + 0.5, c) for c in chunks if c]
    if script:
        assert _run(True, script, "empty", 100, True)[0] == _run(False, script, "empty", 100, True)[0]


def test_shell_buffer_events_same_from_the_cache_and_the_long_way(tmp_path, monkeypatch):
    """Through the asyncio shell's protocol object and the real check-in
    buffer: the same events (time, connection record, request record) and
    the same bytes written; the cache's answers share their records."""
    from net_helpers import operation_text

    from takedown.net import server as S
    from takedown.net.answers import load_answers
    from takedown.operation import load_operation

    rng = random.Random(7)
    pool = [_request(rng, i) for i in range(20)]
    reqs = [rng.choice(pool) for _ in range(300)]
    monkeypatch.setattr(S, "_time", lambda: T0)
    results = []
    for cached in (True, False):
        d = tmp_path / str(cached)
        d.mkdir()
        (d / "op.toml").write_text(operation_text(5353, "accel", '[http]\nlisten = ["127.0.0.1:8080"]\n'
                                                  'response = "empty"\n'))
        monkeypatch.chdir(d)
        op = load_operation(d / "op.toml")
        sensor = S.NetSensor(op, 0, "accel", load_answers(op))
        sensor.states.append(sensor._state(op.http, sensor.answers, None))
        sent: list[bytes] = []
        for i in range(0, len(reqs), 3):
            p = S._Protocol(sensor, 0, ("127.0.0.1", 8080))
            peer = ("192.0.2.9", 40000 + i)
            p.connection_made(SimpleNamespace(write=sent.append, is_closing=lambda: False, close=lambda: None,
                                              abort=lambda: None,
                                              get_extra_info=lambda n, peer=peer: peer if n == "peername" else None))
            for r in reqs[i:i + 3]:
                if not cached:
                    sensor.states[0].cache.clear()
                p.data_received(r)
            p.connection_lost(None)
        buf = sensor.writers["http"].checkins
        events = [(t, tuple(buf.conns[k >> 32]), tuple(buf.templates[k & 0xFFFFFFFF]))
                  for t, k in zip(buf.times, buf.keys)]
        results.append((events, sent, len(buf.templates)))
    assert results[0][:2] == results[1][:2]
    assert len(results[0][0]) > 100  # (requests after a close are not read)
    assert results[0][2] < results[1][2]


# -- the rule matcher's memos -----------------------------------------------------


# matchers of the host, the port and the TLS hashes, and no header matcher
# (the headers hold the Host header: a header matcher's memo key has it)
_HOST_PORT_TLS = """\
[[rule]]
name = "glob-port"
family = "g"
source = "tests"
host = ["*.dga.example"]
port = 8080

[[rule]]
name = "gate-port"
family = "p"
source = "tests"
path = { prefix = ["/gate"] }
port = [80]

[[rule]]
name = "ja4"
family = "j"
source = "tests"
ja4 = ["t13d*"]

[[rule]]
name = "ja3"
family = "j3"
source = "tests"
ja3 = ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]
"""


def _rule_files() -> list[tuple[str, RuleSet]]:
    """Every rules file of the package and the rules the tests write at
    module level (RULES, RULES_TEXT: a RuleSet or its text)."""
    found = [(p.name, RuleSet.load(p)) for p in sorted(SHIPPED_RULES.parent.glob("*.toml"))]
    found.append(("test_net_session_accel", RuleSet.loads(RULES_TEXT)))
    # without its query rule: then the candidate sets have memos (host globs, headers, User-Agents)
    no_query = RULES_TEXT.replace('query = { regex = "^id=[0-9]+$" }', 'path = "/q"')
    assert no_query != RULES_TEXT
    found.append(("test_net_session_accel without query", RuleSet.loads(no_query)))
    found.append(("test_net_session_accel host, port, TLS", RuleSet.loads(_HOST_PORT_TLS)))
    for module in ("test_net_connection", "test_net_commands", "test_net_commands_serve", "test_serve"):
        mod = importlib.import_module(module)
        for attr in ("RULES", "RULES_TEXT"):
            value = getattr(mod, attr, None)
            if isinstance(value, str):
                value = RuleSet.loads(value.replace("{name}", "n").replace("{family}", "f"))  # templates
            if isinstance(value, RuleSet):
                found.append((f"{module}.{attr}", value))
    return found


def _fresh(rs: RuleSet, req, port, ja3, ja4):
    """The first match by the matchers alone: no memo of any kind."""
    host = C_normalize(req.host)
    for r, c in rs._all:
        if r.protocol != "http" or (c.methods is not None and req.method not in c.methods):
            continue
        if c.hosts is not None and host not in c.hosts:
            continue
        if _http_unmemoized(c, req, host, port, ja3, ja4):
            return r
    return None


def C_normalize(h):
    from takedown.net.fingerprints import normalize_host
    return normalize_host(h)


def _http_unmemoized(c, req, host, port, ja3, ja4) -> bool:
    saved = []
    for t in (c.path, c.query, c.ua, c.host) + tuple(t for _, t in c.headers):
        if t is not None and t.memo is not None:
            saved.append((t, t.memo))
            t.memo = None
    try:
        return c.http(req, host, port, ja3, ja4)
    finally:
        for t, memo in saved:
            t.memo = memo


def test_rule_files_found():
    names = [n for n, _ in _rule_files()]
    assert "default.toml" in names and len(names) >= 4, names


@pytest.mark.parametrize("seed", range(8))
def test_memoised_matching_is_the_matchers_answer(seed):
    from takedown.net.http import RequestParser
    rng = random.Random(seed)
    files = _rule_files()
    reqs = []
    for i in range(300):
        raw = _request(rng, i)
        try:
            got = RequestParser().feed(raw)
        except Exception:  # noqa: BLE001 - malformed on purpose
            continue
        reqs.extend(got)
    assert len(reqs) > 200
    for name, rs in files:
        for req in reqs + reqs:  # twice: the second pass answers from the memos
            port = rng.choice([80, 8080, 443])
            ja3, ja4 = rng.choice([(None, None), ("a" * 32, "t13d1516h2_8daaf6152771_e5627efa2ab1")])
            assert rs.http(req, port, ja3, ja4) is _fresh(rs, req, port, ja3, ja4), (name, req)


def test_memos_are_bounded_and_skip_varying_fields():
    rs = RuleSet.loads(RULES_TEXT)
    cand = _Candidates(tuple(c for r, c in rs._all if r.protocol == "http"))
    assert cand.memo is None  # a query regex: the query changes per check-in, no memo
    plain = RuleSet.shipped()
    from takedown.net.http import RequestParser
    for i in range(5000):
        req = RequestParser().feed(b"POST /g%d.php HTTP/1.1\r\nContent-Length: 1\r\n\r\nx" % i)[0]
        plain.http(req, 80, None, None)
    memo = next(iter(plain._candidates.values())).memo
    assert memo is not None and 0 < len(memo) <= 4096
    size = len(memo)
    long = RequestParser().feed(b"POST /%s HTTP/1.1\r\nContent-Length: 1\r\n\r\nx" % (b"y" * 600))[0]
    assert plain.http(long, 80, None, None) is None
    assert len(memo) == size  # a long path is matched, not remembered
    with_headers = RuleSet.loads(RULES_TEXT.replace('query = { regex = "^id=[0-9]+$" }', 'path = "/q"'))
    assert _Candidates(tuple(c for r, c in with_headers._all if r.protocol == "http")).memo is None
    (text,) = [c.path for r, c in plain._all if r.name == "zeus-gate-post"]
    assert 0 < len(text.memo) <= 4096
    text("/" + "x" * 600)  # long values are tested, not remembered
    assert "/" + "x" * 600 not in text.memo
