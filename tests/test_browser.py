"""A real browser (headless Chromium) against the sinkhole and the demo's report:
what an infected user sees when their machine's traffic lands on the sinkhole,
over HTTP and HTTPS, and the report page a team opens after `make run`."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from harness.peers import free_port

from net_helpers import chromium, events, operation_text, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("browser")
    ports = {k: free_port() for k in ("dns", "http", "tls")}
    (d / "op.toml").write_text(operation_text(ports["dns"], "browser", f"""
[http]
listen = ["127.0.0.1:{ports['http']}"]
response = "notice"
[tls]
listen = ["127.0.0.1:{ports['tls']}"]
handshake = true
response = "notice"
[events]
flush_interval = 0.2
"""))
    with serving(d, [("op.toml", ports["http"])]):
        yield {"dir": d, "ports": ports}


def title(html: str) -> str:
    m = re.search(r"<title>(.*?)</title>", html, re.S)
    assert m, html[:500]
    return m.group(1).strip()


def test_notice_page_in_the_browsers_language(server):
    port = server["ports"]["http"]
    ja = chromium("--accept-lang=ja", "--dump-dom", f"http://127.0.0.1:{port}/gate.php?b=ja")
    en = chromium("--accept-lang=en-US", "--dump-dom", f"http://127.0.0.1:{port}/gate.php?b=en")
    assert title(ja.stdout) == "このコンピューターはマルウェアに感染している可能性があります"
    assert "malware" in title(en.stdout).lower() and title(en.stdout) != title(ja.stdout)
    rows = events(server, "http", "query LIKE 'b=%'")
    assert {r["query"] for r in rows} >= {"b=ja", "b=en"}
    assert all("HeadlessChrome" in r["user_agent"] and r["src_ip"] == "127.0.0.1" for r in rows)
    assert any("accept-language: ja" in (r["headers"] or "") for r in rows)


def test_notice_page_over_https_and_chromes_client_hello(server):
    port = server["ports"]["tls"]
    got = chromium("--ignore-certificate-errors", "--accept-lang=ja", "--dump-dom",
                   f"https://127.0.0.1:{port}/config.bin?b=tls")
    assert title(got.stdout) == "このコンピューターはマルウェアに感染している可能性があります"
    rows = events(server, "http", "query = 'b=tls'")
    assert rows and rows[0]["ja4"] and rows[0]["ja4"].startswith("t13")  # Chrome: TLS 1.3 over TCP
    hello = events(server, "tls")
    assert any(h["ja4"] == rows[0]["ja4"] for h in hello)


def test_demo_report_renders(tmp_path):
    from takedown.range.demo import run_demo

    result = run_demo(tmp_path / "demo", bots=300, weeks=1, start=date(2026, 3, 16), tracker=False)
    page = result.report
    dom = chromium("--dump-dom", f"file://{page}").stdout
    assert "takedown report: demo" in dom
    assert f"{result.summary['total_unique_ips']:,}" in dom and f"{result.summary['total_events']:,}" in dom
    shot = tmp_path / "report.png"
    chromium("--window-size=1100,1400", f"--screenshot={shot}", f"file://{page}")
    from PIL import Image

    img = Image.open(shot).convert("RGB")
    assert img.size == (1100, 1400)
    colours = img.getcolors(1 << 20)
    # not a blank page: text, the chart's line and the countries' red and green bars
    assert colours is not None and len(colours) > 50
    assert json.loads((page.parent / "summary.json").read_text())["operation"] == "demo"
