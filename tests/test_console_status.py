"""/status against a real `takedown serve` on loopback (tests/test_metrics.py's
operation, [control] on a known port): DNS queries sent with dnspython move
the page's counters and rates; a stopped server and an operation without
[control] give a page that says so, never a 500."""

from __future__ import annotations

import re
import socket
import time


from console_helpers import Console
from test_metrics import scrape, server, total  # noqa: F401  (server: the fixture)
from test_serve import ask

from takedown.console.context import build
from takedown.console.pages import status as status_page
from takedown.console.sinkstatus import Rates
from takedown.operation import load_operation


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def console_for(path) -> Console:
    ctx = build(load_operation(path))
    ctx.store.add_user("opa", "correct horse battery staple", role="operator", must_change=False, by="test")
    return Console(path, ctx)


def cell(html: str, table: str, label: str) -> list[str]:
    body = html[html.index(f'<table id="{table}">'):]
    body = body[:body.index("</table>")]
    m = re.search(rf"<tr><td>{re.escape(label)}</td>(.*?)</tr>", body)
    assert m, (label, body)
    return re.findall(r"<td[^>]*>(.*?)</td>", m.group(1))


def test_status_of_a_running_server(server, monkeypatch):
    monkeypatch.setattr(status_page, "RATES", Rates())  # no baseline left by another test
    port = free_port()
    s = server(control=f'listen = "127.0.0.1:{port}"')
    con = console_for(s.dir / "operation.toml")
    c = con.client("opa")
    first = c.get("/status")
    assert first.status_code == 200 and "rates appear at the next refresh" in first.text
    assert 'hx-get="/status/panel"' in first.text and 'hx-trigger="every 5s"' in first.text
    assert re.search(r'id="health" class="ok">200: ok', first.text)
    assert first.text.count('<td class="ok">up</td>') == 2  # both worker slots
    before = scrape(s)
    for _ in range(20):
        ask(s.dns_port, "evil.example")
    end = time.monotonic() + 20
    grew = lambda m, name: total(m, name) - total(before, name)  # noqa: E731
    while not (grew(m := scrape(s), "takedown_dns_queries_total") >= 20
               and grew(m, "takedown_events_written_total") >= 20):
        assert time.monotonic() < end, "the queries never reached the metrics"
        time.sleep(0.2)
    panel = c.get("/status/panel")
    assert panel.status_code == 200 and "<html" not in panel.text
    tot, rate = cell(panel.text, "queries", "domain")
    assert int(tot.replace(",", "")) == total(scrape(s), "takedown_dns_queries_total", rule_kind="domain") >= 20
    assert float(rate) > 0  # 20 queries between two scrapes a few seconds apart
    dns = cell(panel.text, "writers", "dns")
    assert int(dns[2].replace(",", "")) >= 20 and dns[-1] == "ok"  # written, not failing
    assert int(cell(panel.text, "rrl", "allowed")[0].replace(",", "")) >= 20  # each UDP answer was decided
    # the server stops: the page says so
    s.kill()
    gone = c.get("/status")
    assert gone.status_code == 200
    assert f"the control listener 127.0.0.1:{port} is not answering" in gone.text


def test_status_without_control_says_so(console):
    r = console.client("opa").get("/status")
    assert r.status_code == 200 and "the operation has no [control] section" in r.text
