"""The HTTP session's two implementations (issue 18): the pure class
(takedown.net.connection._PureHttpSession) and its compiled twin
(takedown.net._session_c.HttpSession) give the same bytes, the same check-in
records, the same closes, deadlines and request-cache entries, and the same
buffer columns through the asyncio shell, for random and malformed requests,
in one process; and the rule matcher's memos give the regex's own answers
for every rule file the package and the tests hold.

The compiled twin is imported directly (not through takedown.accel), so
these tests compare both even under TAKEDOWN_PURE=1; they are skipped only
where the twin is not built."""

from __future__ import annotations

import importlib
import random
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from takedown.events import Checkin
from takedown.net import connection as C
from takedown.net import responses as responses_mod
from takedown.net.commands import CommandTable
from takedown.net.connection import Answer, Close, Commanded, ListenerState, Record, Send
from takedown.net.fingerprints import SHIPPED_RULES, RuleSet, _Candidates
from takedown.net.http import ParserCaches
from takedown.net.responses import ResponsePolicy
from takedown.operation import Authority, Listener

try:
    _twin = importlib.import_module("takedown.net._session_c")
except ImportError:  # not built: only the pure session exists
    _twin = None
else:
    _twin.bind(vars(C))

IMPLS = {"pure": C._PureHttpSession, "compiled": _twin.HttpSession if _twin is not None else None}
needs_twin = pytest.mark.skipif(_twin is None, reason="takedown.net._session_c is not built")

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
    """Responses carry a Date header: one second for both implementations."""
    monkeypatch.setattr(responses_mod, "time", SimpleNamespace(time=lambda: T0))


def _state(response: str, per_connection: int, commands: bool) -> ListenerState:
    rules = RuleSet.loads(RULES_TEXT, "rules.toml")
    lst = Listener(kind="http", listen=("127.0.0.1:8080",), response=response,
                   requests_per_connection=per_connection, idle_timeout=30.0, request_timeout=10.0,
                   max_body_bytes=4096)
    table = CommandTable(rules.commands, (_authority(),)) if commands else None
    return ListenerState(lst, rules=rules, policy=ResponsePolicy(), parser_caches=ParserCaches(), commands=table)


def _norm(cmds) -> list:
    out = []
    for c in cmds:
        if isinstance(c, Answer):
            out.append(("answer", c.out, tuple(c.checkin), c.close))
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


def _run(impl: str, script: list[tuple[int, float, bytes]], response: str, per_connection: int,
         commands: bool, monkeypatch) -> list:
    """Every step of ``script`` (connection number, time, bytes) through
    HttpConnections of one listener whose sessions are ``impl``: what each
    receive returned and each connection's state after it."""
    monkeypatch.setattr(C, "_HttpSession", IMPLS[impl])
    st_ = _state(response, per_connection, commands)
    conns: dict[int, C.Connection] = {}
    seen = []
    for k, now, data in script:
        conn = conns.get(k)
        if conn is None:
            conn = conns[k] = st_.connect((SRC[0], SRC[1] + k), DST, now)
            assert isinstance(conn.session, IMPLS[impl])
        got = _norm(conn.receive(data, now))
        seen.append((got, conn.served, conn.done, conn.deadline, getattr(conn, "midway", None)))
    for k, conn in conns.items():
        seen.append(("timeout", _norm(conn.timeout(T0 + 100)), _norm(conn.closed(T0 + 100))))
    seen.append(("cache", sorted((key, a.out, tuple(a.checkin), a.close, a.until)
                                 for key, a in st_.cache.entries.items())))
    return seen


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
        data = rng.choice(pool) if rng.random() < 0.5 else _request(rng, rng.randrange(10**6))
        if rng.random() < 0.15:
            data += rng.choice(pool)  # pipelined
        if rng.random() < 0.2 and len(data) > 2:  # in two reads
            cut = rng.randrange(1, len(data))
            script.append((k, now, data[:cut]))
            data = data[cut:]
        script.append((k, now, data))
        now += rng.choice([0.0, 0.001, 0.3, 1.0])
    return script


@needs_twin
@pytest.mark.parametrize("seed", range(60))
def test_random_check_ins_same_on_both_sessions(seed, monkeypatch):
    rng = random.Random(seed)
    response = rng.choice(["empty", "notfound", "notice", "silent", "empty"])
    per_connection = rng.choice([1, 2, 3, 100])
    commands = rng.random() < 0.3
    script = _script(seed)
    pure = _run("pure", script, response, per_connection, commands, monkeypatch)
    compiled = _run("compiled", script, response, per_connection, commands, monkeypatch)
    assert compiled == pure
    assert any(step[0] for step in pure[:-1] if not isinstance(step[0], str))  # something was answered


@needs_twin
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=st.lists(st.binary(max_size=120), min_size=1, max_size=4), prefix=st.booleans())
def test_arbitrary_bytes_same_on_both_sessions(chunks, prefix, monkeypatch):
    # bytes of anything, after a valid request line or alone
    if prefix:
        chunks = [b"POST /gate.php HTTP/1.1\r\n" + chunks[0]] + chunks[1:]
    script = [(0, T0, c) for c in chunks if c]
    if not script:
        return
    pure = _run("pure", script, "empty", 100, True, monkeypatch)
    assert _run("compiled", script, "empty", 100, True, monkeypatch) == pure


@needs_twin
def test_commands_and_tls_fields_same_on_both_sessions(monkeypatch):
    """A check-in of a family under a command's authority gets the command
    on both; inside TLS (a hello) nothing is cached and the fingerprints go
    into the record."""
    ua = b"GET /x HTTP/1.1\r\nHost: h\r\nUser-Agent: MSIE 6.0\r\n\r\n"
    script = [(0, T0, ua), (0, T0 + 0.5, ua), (1, T0, ua + ua)]
    pure = _run("pure", script, "empty", 100, True, monkeypatch)
    assert _run("compiled", script, "empty", 100, True, monkeypatch) == pure
    assert any(c[0] == "commanded" for step in pure[:3] for c in step[0])
    hello = SimpleNamespace(sni="c2.example", ja3_hash="a" * 32, ja4="t13d_x")
    results = []
    for impl in IMPLS:
        st_ = _state("empty", 100, False)
        conn = st_.connect(SRC, DST, T0)
        conn.preamble = False
        session = IMPLS[impl](conn, C._send_plain, hello)
        out: list = []
        session.feed(b"POST /gate.php HTTP/1.1\r\nHost: c2.example\r\nContent-Length: 2\r\n\r\nab", T0, out)
        results.append((_norm(out), dict(st_.cache.entries)))
    assert results[0] == results[1]
    rec = results[0][0][0]
    assert rec[0] == "record" and rec[3][Checkin._fields.index("ja3")] == "a" * 32 and not results[0][1]


@needs_twin
def test_shell_buffer_columns_same_on_both_sessions(tmp_path, monkeypatch):
    """Through the asyncio shell's protocol object and the real check-in
    buffer: the same times, keys, connection and request records."""
    from net_helpers import operation_text

    from takedown.net import server as S
    from takedown.net.answers import load_answers
    from takedown.operation import load_operation

    rng = random.Random(7)
    reqs = [_request(rng, i) for i in range(200)]
    monkeypatch.setattr(S, "_time", lambda: T0)
    columns = []
    for impl in IMPLS:
        monkeypatch.setattr(C, "_HttpSession", IMPLS[impl])
        d = tmp_path / impl
        d.mkdir()
        (d / "op.toml").write_text(operation_text(5353, "accel", '[http]\nlisten = ["127.0.0.1:8080"]\n'
                                                  'response = "empty"\n'))
        monkeypatch.chdir(d)
        op = load_operation(d / "op.toml")
        sensor = S.NetSensor(op, 0, "accel", load_answers(op))
        sensor.states.append(sensor._state(op.http, sensor.answers, None))
        sent = []
        for i in range(0, len(reqs), 3):
            p = S._Protocol(sensor, 0, ("127.0.0.1", 8080))
            t = SimpleNamespace(write=sent.append, get_extra_info=lambda n: ("192.0.2.9", 40000) if n == "peername"
                                else None, is_closing=lambda: False, close=lambda: None, abort=lambda: None)
            p.connection_made(t)
            for r in reqs[i:i + 3]:
                p.data_received(r)
            p.connection_lost(None)
        buf = sensor.writers["http"].checkins
        columns.append((list(buf.times), list(buf.keys), [tuple(c) for c in buf.conns],
                        [tuple(x) for x in buf.templates], sent))
    assert columns[0] == columns[1]
    assert len(columns[0][0]) > 100


# -- the rule matcher's memos -----------------------------------------------------


def _rule_files() -> list[tuple[str, RuleSet]]:
    """Every rules file of the package and the rules the tests write at
    module level (RULES, RULES_TEXT: a RuleSet or its text)."""
    found = [(p.name, RuleSet.load(p)) for p in sorted(SHIPPED_RULES.parent.glob("*.toml"))]
    found.append(("test_net_session_accel", RuleSet.loads(RULES_TEXT)))
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
    (text,) = [c.path for r, c in plain._all if r.name == "zeus-gate-post"]
    assert 0 < len(text.memo) <= 4096
    text("/" + "x" * 600)  # long values are tested, not remembered
    assert "/" + "x" * 600 not in text.memo


def test_pure_session_is_selected_without_the_twin():
    """TAKEDOWN_PURE=1 (or no .so): the module's session is the pure class."""
    import subprocess
    import sys
    code = ("from takedown.net import connection as C; "
            "print(C._HttpSession is C._PureHttpSession)")
    env_pure = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**__import__("os").environ, "TAKEDOWN_PURE": "1"})
    assert env_pure.stdout.strip() == "True"
    if _twin is not None:
        env = {k: v for k, v in __import__("os").environ.items() if k != "TAKEDOWN_PURE"}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
        assert out.stdout.strip() == "False"

