"""The control listener (takedown.control, takedown.metrics): a real
`takedown serve` on loopback, real DNS queries (dnspython) and HTTP
check-ins, `/metrics` scraped with an HTTP client and parsed with
prometheus_client's own text parser, `/healthz` with a stopped worker and
with storage that cannot be written."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest
from prometheus_client.parser import text_string_to_metric_families

from net_helpers import TAKEDOWN, events
from test_serve import RULES, Serve, addresses, ask, get
from test_serve import write_op as serve_op

from takedown.errors import OperationError
from takedown.operation import load_operation, summarize


def write_op(d: Path, *, workers: int = 2, control: str = 'listen = "127.0.0.1:0"') -> Path:
    """test_serve's operation (a zone, HTTP, rules), rate limited, with a
    seized name, a name to flood, only the test's rules, and ``[control]``."""
    op = serve_op(d, workers=workers, rrl=True)
    (d / "block.txt").write_text("bad.3322.org\nflood.3322.org\n")
    (d / "seized.txt").write_text("evil.example\n")
    text = op.read_text().replace('rules = "rules.toml"\n', 'rules = "rules.toml"\nshipped = false\n', 1)
    op.write_text(text + f"""
[[domains]]
family = "waledac"
file = "seized.txt"
[control]
{control}
""")
    return op


@pytest.fixture
def server(tmp_path):
    made = []

    def start(**kw):
        write_op(tmp_path, **kw)
        s = Serve(tmp_path)
        s.control = s.info["control"][0]
        made.append(s)
        return s

    yield start
    for s in made:
        if s.proc.poll() is None:
            for pid in s.workers():  # none left stopped by a failed test
                os.kill(pid, signal.SIGCONT)
        s.kill()


def fetch(address: str, path: str) -> tuple[int, str]:
    host, _, port = address.rpartition(":")
    c = http.client.HTTPConnection(host, int(port), timeout=15)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def scrape(s: Serve) -> dict[tuple[str, frozenset], float]:
    status, text = fetch(s.control, "/metrics")
    assert status == 200
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(m: dict, name: str, **labels) -> float:
    return m.get((name, frozenset(labels.items())), 0.0)


def total(m: dict, name: str, **labels) -> float:
    """The sum over the series of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in m.items() if n == name and want <= ls)


def wait_for(s: Serve, ok, timeout: float = 20.0) -> dict:
    """Scrape until ``ok(metrics)`` holds (the workers publish once per flush)."""
    end = time.monotonic() + timeout
    while True:
        m = scrape(s)
        if ok(m):
            return m
        assert time.monotonic() < end, f"metrics never got there; last scrape: {sorted(m.items())}\n{s.stderr()}"
        time.sleep(0.2)


def delta(after: dict, before: dict, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def proxy_refused_checkin(port: int) -> None:
    """A PROXY header from a peer that is not trusted: refused, closed, logged."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(b"PROXY TCP4 203.0.113.9 192.0.2.80 40000 80\r\nGET /gate.php HTTP/1.1\r\nHost: b\r\n\r\n")
        try:
            while c.recv(4096):
                pass
        except ConnectionResetError:
            pass


def test_counters_move_by_the_traffic_sent(server):
    s = server()
    before = scrape(s)
    sent = {("NOERROR", "zone"): ("bad.3322.org", 6), ("NOERROR", "zone_pass"): ("www.3322.org", 4),
            ("NXDOMAIN", "zone_pass"): ("nope.3322.org", 3), ("REFUSED", "none"): ("x.example", 5),
            ("NOERROR", "domain"): ("evil.example", 3)}
    for (rcode, _kind), (name, n) in sent.items():
        for _ in range(n):
            assert ask(s.dns_port, name).rcode() == dns.rcode.from_text(rcode)
    for _ in range(2):  # TCP: counted as queries, never rate limited
        r = dns.query.tcp(dns.message.make_query("www.3322.org", "A"), "127.0.0.1", port=s.dns_port, timeout=5)
        assert addresses(r) == {"198.51.100.80"}
    for _ in range(5):
        assert get(s.http_port)[0] == 200
    for _ in range(3):
        assert get(s.http_port, "/other")[0] == 200
    for _ in range(2):
        proxy_refused_checkin(s.http_port)
    udp = sum(n for _name, n in sent.values())
    queries = udp + 2

    def done(m):
        return (total(m, "takedown_dns_queries_total") - total(before, "takedown_dns_queries_total") == queries
                and delta(m, before, "takedown_events_written_total", kind="dns") == queries
                and delta(m, before, "takedown_events_written_total", kind="http") == 10
                and delta(m, before, "takedown_proxy_refused_total") == 2)

    m = wait_for(s, done)
    for (rcode, kind), (_name, n) in sent.items():
        extra = 2 if (rcode, kind) == ("NOERROR", "zone_pass") else 0
        assert delta(m, before, "takedown_dns_queries_total", rcode=rcode, rule_kind=kind) == n + extra
    assert delta(m, before, "takedown_checkins_total", kind="http", family="famone") == 5
    assert delta(m, before, "takedown_checkins_total", kind="http", family="none") == 3 + 2
    # every UDP answer was one rate-limiting decision, none limited at these rates
    assert total(m, "takedown_dns_rrl_responses_total", decision="allowed") - \
        total(before, "takedown_dns_rrl_responses_total", decision="allowed") == udp
    assert total(m, "takedown_dns_rrl_responses_total", decision="dropped") == 0
    assert value(m, "takedown_events_buffered", kind="dns") == 0
    assert value(m, "takedown_event_files_written_total", kind="dns") >= 1
    assert value(m, "takedown_events_write_errors_total", kind="dns") == 0
    assert 0 <= value(m, "takedown_events_flush_lag_seconds", kind="dns") < 10
    assert value(m, "takedown_dns_rrl_accounts") >= 1

    # a flood of one answer to one prefix: limited, and every decision counted
    q = dns.message.make_query("flood.3322.org", "A").to_wire()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # one source port: one worker
        for _ in range(60):
            sock.sendto(q, ("127.0.0.1", s.dns_port))

    def flooded(m2):
        return total(m2, "takedown_dns_rrl_responses_total", **{"class": "responses"}) - \
            total(m, "takedown_dns_rrl_responses_total", **{"class": "responses"}) == 60

    m2 = wait_for(s, flooded)
    limited = sum(delta(m2, m, "takedown_dns_rrl_responses_total", **{"class": "responses", "decision": d})
                  for d in ("slipped", "dropped"))
    assert 20 <= limited <= 40  # 20 of credit (responses_per_second), plus what a second of sending earns
    assert delta(m2, m, "takedown_dns_rrl_responses_total", **{"class": "responses", "decision": "slipped"}) >= 1
    wait_for(s, lambda x: delta(x, m, "takedown_dns_queries_total", rcode="NOERROR", rule_kind="zone") == 60
             and value(x, "takedown_events_written_total", kind="dns") == queries + 60)
    assert s.stop() == 0
    assert len(events({"dir": s.dir}, "dns")) == queries + 60  # what the metrics said was written


def test_reloads_and_restarts_are_counted_and_totals_never_go_down(server):
    s = server(workers=2)
    for _ in range(4):
        ask(s.dns_port, "www.3322.org")
    m = wait_for(s, lambda x: total(x, "takedown_dns_queries_total") == 4)
    s.proc.send_signal(signal.SIGHUP)
    s.wait_generation(2)
    (s.dir / "rules.toml").write_text('[[rule]]\nname = "x"\nprotocol = "gopher"\n')  # a bad edit
    m = wait_for(s, lambda x: value(x, "takedown_reloads_total", outcome="failed") == 1)
    (s.dir / "rules.toml").write_text(RULES.format(name="gate-v2", family="famtwo"))
    s.wait_generation(3)
    op = s.dir / "operation.toml"
    op.write_text(op.read_text().replace('listen = "127.0.0.1:0"', 'listen = "127.0.0.1:1"'))
    m = wait_for(s, lambda x: value(x, "takedown_reloads_total", outcome="failed") == 2)
    assert "[control] listen changed: restart takedown serve" in s.stderr()
    assert value(m, "takedown_reloads_total", outcome="ok") == 2
    assert value(m, "takedown_reloads_total", outcome="partial") == 0
    # the retired workers' counts stay in the totals
    assert total(m, "takedown_dns_queries_total") == 4
    end = time.monotonic() + 10
    while len(s.workers()) != 2:  # the retired workers have left
        assert time.monotonic() < end
        time.sleep(0.05)
    for _ in range(3):
        ask(s.dns_port, "www.3322.org")
    m = wait_for(s, lambda x: total(x, "takedown_dns_queries_total") == 7)
    victim = sorted(s.workers())[0]
    os.kill(victim, signal.SIGKILL)
    m = wait_for(s, lambda x: value(x, "takedown_worker_restarts_total") == 1)
    assert total(m, "takedown_dns_queries_total") == 7  # the dead worker's published counts remain
    end = time.monotonic() + 15
    while fetch(s.control, "/healthz")[0] != 200:  # the restarted worker answers
        assert time.monotonic() < end, s.stderr()
        time.sleep(0.1)
    assert s.stop() == 0


def test_healthz_fails_for_a_stopped_worker_and_for_a_failing_writer(server):
    s = server(workers=2)
    assert fetch(s.control, "/healthz") == (200, "ok\n")
    assert fetch(s.control, "/nothing")[0] == 404
    victim = sorted(s.workers())[0]
    os.kill(victim, signal.SIGSTOP)
    try:
        status, body = fetch(s.control, "/healthz")
        assert status == 503
        assert f"(pid {victim}) did not answer within 1s" in body and body.count("\n") == 1
    finally:
        os.kill(victim, signal.SIGCONT)
    assert fetch(s.control, "/healthz") == (200, "ok\n")

    # storage that cannot be written: the dns kind's directory made a file
    # (chmod would not do: the tests may run as root)
    kind_dir = s.dir / "data" / "events" / "kind=dns"
    aside = s.dir / "aside"
    shutil.move(kind_dir, aside)
    kind_dir.write_text("not a directory")
    try:
        ask(s.dns_port, "www.3322.org")
        end = time.monotonic() + 15
        while True:
            status, body = fetch(s.control, "/healthz")
            if status == 503:
                break
            assert time.monotonic() < end, s.stderr()
            time.sleep(0.1)
        assert "its dns events cannot be written" in body and body.count("\n") == 1
        wait_for(s, lambda x: value(x, "takedown_events_write_errors_total", kind="dns") >= 1
                 and value(x, "takedown_events_buffered", kind="dns") == 1)  # held back for a retry
    finally:
        kind_dir.unlink()
        shutil.move(aside, kind_dir)
    end = time.monotonic() + 15
    while fetch(s.control, "/healthz")[0] != 200:  # the retry wrote it
        assert time.monotonic() < end, s.stderr()
        time.sleep(0.1)
    m = wait_for(s, lambda x: value(x, "takedown_events_written_total", kind="dns") == 1)
    assert value(m, "takedown_events_buffered", kind="dns") == 0
    assert s.stop() == 0
    assert not (s.dir / "data" / ".metrics" / str(s.proc.pid)).exists()  # removed at exit


def test_without_control_nothing_listens_and_the_ready_file_says_so(tmp_path):
    write_op(tmp_path, control="")
    op = tmp_path / "operation.toml"
    op.write_text(op.read_text().replace("[control]\n", ""))
    s = Serve(tmp_path)
    try:
        assert s.info["control"] == []
        assert "control=" not in s.stderr()
        assert not (tmp_path / "data" / ".metrics").exists()
        assert s.stop() == 0
    finally:
        s.kill()


def test_a_busy_control_port_is_one_line(tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    write_op(tmp_path, control=f'listen = "127.0.0.1:{port}"')
    try:
        p = subprocess.run([TAKEDOWN, "serve", str(tmp_path / "operation.toml")], capture_output=True, text=True,
                           timeout=60)
    finally:
        busy.close()
    assert p.returncode == 1
    assert p.stderr == f"Error: cannot listen on control 127.0.0.1:{port}: Address already in use\n"


def test_the_control_section_is_checked(tmp_path):
    op = write_op(tmp_path, control='listen = "localhost:9053"')
    with pytest.raises(OperationError, match=r"operation.toml:\d+: control.listen: .*not an IP address"):
        load_operation(op)
    write_op(tmp_path, control='health_timeout = 0')
    with pytest.raises(OperationError, match=r"operation.toml:\d+: control.health_timeout must be a number"):
        load_operation(op)
    write_op(tmp_path, control="")
    assert load_operation(op).control.listen == "127.0.0.1:9053"  # loopback by default
    assert not [n for n in summarize(load_operation(op))["notes"] if "[control]" in n]
    write_op(tmp_path, control='listen = "0.0.0.0:9053"')
    assert [n for n in summarize(load_operation(op))["notes"] if "without authentication" in n]


def test_prepare_refuses_a_library_already_imported_in_single_process_mode(tmp_path):
    import prometheus_client  # noqa: F401 (imported here in its single-process mode: no variable set)

    from takedown import metrics

    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    with pytest.raises(ValueError, match="imported before"):
        metrics.prepare(tmp_path / "m")


def test_the_buffers_count_each_flushed_batch_by_rcode_rule_and_family():
    """The counts the metrics publish come from the flushed batches, in bulk:
    exact across periods, a registry that starts afresh, and malformed records."""
    from takedown.events import Checkin, CheckinConn
    from takedown.store.checkins import CheckinBuffer
    from takedown.store.dnsbuffer import DnsBuffer

    buf = DnsBuffer(max_templates=2)  # the registry starts afresh after each take
    want: dict = {}
    for period in range(3):
        lk = buf.listener("udp", "127.0.0.1", 53)
        answers = [((f"a{i}.example", 1, rc, rule, None, None, "answer"), n)
                   for i, (rc, rule, n) in enumerate([(0, "zone:z:block", 5 + period), (3, "zone:z:pass", 2),
                                                       (5, "none", 1), (0, "zone:z:block", 4)])]
        for rec, n in answers:
            tk = buf.template(rec)
            for _ in range(n):
                buf.log(1.0, "192.0.2.1", 53, tk | lk)
            want[(rec[2], rec[3])] = want.get((rec[2], rec[3]), 0) + n
        buf.to_table(buf.take(), operation="o", sensor="s", worker=0)
        assert buf.tally == want
    bad = buf.template(("x.example", 1, "not an rcode", "none", None, None, "answer"))  # a bug: dropped, not counted
    buf.log(1.0, "192.0.2.1", 53, bad | buf.listener("udp", "127.0.0.1", 53))
    buf.to_table(buf.take(), operation="o", sensor="s", worker=0)
    assert buf.rows_rejected == 1 and buf.tally == want

    cb = CheckinBuffer("http")
    conn = cb.add_conn(CheckinConn("tcp", "192.0.2.1", 1234, "127.0.0.1", 80, None))
    for family, n in (("zeus", 3), (None, 2), ("zeus", 1), ("kelihos", 4)):
        t = cb.add_template(Checkin(method="GET", path="/", rule="r", family=family, response="notice"))
        for _ in range(n):
            cb.log(1.0, conn, t)
    cb.to_table(cb.take(), operation="o", sensor="s", worker=0)
    assert cb.tally == {"zeus": 4, None: 2, "kelihos": 4}
