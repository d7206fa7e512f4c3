"""Response policies (takedown.net.responses), without sockets."""

from __future__ import annotations

import re
import time
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser

import httptools
import pytest

from takedown.errors import OperationError, TemplateError
from takedown.net import responses as R
from takedown.net.http import RequestParser
from takedown.net.responses import ResponsePolicy, choose_language


def req(data: bytes):
    (r,) = RequestParser().feed(data)
    return r


GET = req(b"GET /gate.php HTTP/1.1\r\nHost: c2.example\r\n\r\n")
GET_JA = req(b"GET / HTTP/1.1\r\nHost: a\r\nAccept-Language: ja-JP,ja;q=0.9,en;q=0.8\r\n\r\n")
HEAD = req(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")
CONNECT = req(b"CONNECT c2.example:443 HTTP/1.1\r\nHost: c2.example:443\r\n\r\n")


class Parsed:
    """A response read back with httptools: status, headers, body."""

    def __init__(self, data: bytes, head: bool = False):
        self.headers: dict[str, str] = {}
        self.body = b""
        self.complete = False
        p = httptools.HttpResponseParser(self)
        p.feed_data(data)
        self.status = p.get_status_code()
        if head:  # a response to HEAD has no body whatever Content-Length says
            self.complete = True

    def on_header(self, n, v):
        self.headers[n.decode().lower()] = v.decode("latin-1")

    def on_body(self, b):
        self.body += b

    def on_message_complete(self):
        self.complete = True


def render(policy="notice", request=GET, **kw):
    p = kw.pop("p", None) or ResponsePolicy(operator="Example CERT", contact_url="https://cert.example/help")
    args = dict(family=None, rule=None, client_ip="198.51.100.7", keep_alive=True)
    args.update(kw)
    return p.render(policy, request, **args)


def test_silent_is_none():
    assert render("silent") is None


@pytest.mark.parametrize("policy,status,body", [("empty", 200, b""), ("notfound", 404, b"404 Not Found\n")])
def test_empty_and_notfound(policy, status, body):
    for keep in (True, False):
        out = render(policy, keep_alive=keep)
        r = Parsed(out)
        assert r.complete and r.status == status and r.body == body
        assert r.headers["connection"] == ("keep-alive" if keep else "close")
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["server"] == "sinkhole"
        assert r.headers["content-length"] == str(len(body))
        assert r.headers["content-type"].startswith("text/plain")
        date = parsedate_to_datetime(r.headers["date"])
        assert abs(date.timestamp() - time.time()) < 5


def test_response_bytes_are_reused_within_a_second():
    p = ResponsePolicy()
    a = p.render("empty", GET, family=None, rule=None, client_ip="x", keep_alive=True)
    b = p.render("empty", GET, family=None, rule=None, client_ip="x", keep_alive=True)
    assert a is b or int(time.time()) != p._second  # same object unless the second turned


def test_date_changes_with_the_second(monkeypatch):
    p = ResponsePolicy()
    now = [1_700_000_000.2]
    monkeypatch.setattr(R.time, "time", lambda: now[0])
    a = p.render("empty", GET, family=None, rule=None, client_ip="x", keep_alive=True)
    now[0] += 1
    b = p.render("empty", GET, family=None, rule=None, client_ip="x", keep_alive=True)
    assert b"Date: Tue, 14 Nov 2023 22:13:20 GMT" in a
    assert b"Date: Tue, 14 Nov 2023 22:13:21 GMT" in b


def test_server_header_configurable_and_checked():
    p = ResponsePolicy(server_header="nginx")
    assert b"\r\nServer: nginx\r\n" in p.render("empty", GET, family=None, rule=None, client_ip="x", keep_alive=True)
    with pytest.raises(ValueError):
        ResponsePolicy(server_header="x\r\nSet-Cookie: a=b")


def test_notice_english_by_default():
    r = Parsed(render("notice", family="zeus"))
    html = r.body.decode()
    assert r.status == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-language"] == "en"
    assert "infected" in html and "Example CERT" in html and "zeus" in html
    assert "https://cert.example/help" in html
    assert int(r.headers["content-length"]) == len(r.body)


def test_notice_japanese_by_accept_language():
    r = Parsed(render("notice", request=GET_JA, family="zeus"))
    html = r.body.decode()
    assert r.headers["content-language"] == "ja"
    assert '<html lang="ja">' in html
    assert "マルウェアに感染している可能性があります" in html
    assert "Example CERT" in html and "zeus" in html


def test_notice_without_operator_details():
    p = ResponsePolicy()
    en = p.notice_html("en")
    ja = p.notice_html("ja")
    assert "the operator of this sinkhole" in en and "national CERT" in en
    assert "このサーバーの運用者" in ja and "JPCERT/CC" in ja
    assert "None" not in en and "None" not in ja
    assert "family" not in en.split("<body>")[1].lower() or "malware family" not in en


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_notice_is_self_contained_and_escaped(lang):
    p = ResponsePolicy(operator='<script>alert("x")</script>', contact_url='https://x.example/"onmouseover=')
    html = p.notice_html(lang, family="<img src=x>")
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x&gt;" in html
    assert '"onmouseover=' not in html

    class Refs(HTMLParser):
        loads = []

        def handle_starttag(self, tag, attrs):
            for k, v in attrs:
                if k in ("src", "srcset") or (tag == "link" and k == "href"):
                    self.loads.append((tag, k, v))
            if tag in ("script", "img", "iframe", "link", "object", "embed"):
                self.loads.append((tag, None, None))

    parser = Refs()
    parser.feed(html)
    assert parser.loads == []
    assert "@import" not in html and "url(" not in html


def test_notice_csp_and_privacy_text():
    r = Parsed(render("notice"))
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "no other personal" in r.body.decode()
    ja = Parsed(render("notice", request=GET_JA)).body.decode()
    assert "それ以外の個人情報は収集せず" in ja


def test_notice_cached_per_language_and_family():
    p = ResponsePolicy()
    a = p.render("notice", GET, family="zeus", rule=None, client_ip="x", keep_alive=True)
    b = p.render("notice", GET, family="zeus", rule="other", client_ip="y", keep_alive=True)
    c = p.render("notice", GET, family="conficker", rule=None, client_ip="x", keep_alive=True)
    assert a == b and a != c
    assert set(p._notice_bodies) == {("en", "zeus"), ("en", "conficker")}


def test_head_gets_headers_only():
    out = render("notice", request=HEAD)
    head, _, body = out.partition(b"\r\n\r\n")
    assert body == b""
    full = render("notice", request=GET)
    assert re.search(rb"Content-Length: (\d+)", head).group(1) == re.search(rb"Content-Length: (\d+)", full).group(1)


def test_connect_never_2xx():
    for policy in ("empty", "notice", "notfound", "template"):
        r = Parsed(render(policy, request=CONNECT))
        assert r.status == 405 and r.headers["connection"] == "close"
    assert render("silent", request=CONNECT) is None


def test_request_none_is_fine():
    assert Parsed(render("notice", request=None)).status == 200


def test_unknown_policy():
    with pytest.raises(ValueError):
        render("teapot")


@pytest.mark.parametrize("status", [400, 413, 414, 431, 505, 408])
def test_bad_request(status):
    p = ResponsePolicy()
    r = Parsed(p.bad_request(status, "secret detail"))
    assert r.status == status and r.headers["connection"] == "close"
    assert b"secret detail" not in p.bad_request(status, "secret detail")
    assert r.body.startswith(str(status).encode())


@pytest.mark.parametrize("value,expected", [
    ("ja", "ja"), ("ja-JP", "ja"), ("JA-jp", "ja"), ("en-US,en;q=0.9", "en"),
    ("fr, ja;q=0.5, en;q=0.4", "ja"), ("fr, en;q=0.5, ja;q=0.4", "en"), ("fr", "en"),
    ("*", "en"), ("ja;q=0, en", "en"), ("ja;q=0", "en"), ("", "en"), (";;,,", "en"),
    ("ja;q=abc", "en"), ("ja;q=2", "en"), ("en;q=0.1, ja;q=0.2", "ja"),
])
def test_choose_language(value, expected):
    assert choose_language(value, ("en", "ja")) == expected


def test_choose_language_regional_template():
    assert choose_language("pt", ("en", "pt-br")) == "pt-br"
    assert choose_language("pt-BR", ("en", "pt-br")) == "pt-br"


# -- operator templates -----------------------------------------------------------------


def test_operator_notice_directory_overrides_and_adds(tmp_path):
    (tmp_path / "notice.en.html.j2").write_text("<p>Custom {{ operator }} {{ family or '' }}</p>\n")
    (tmp_path / "notice.de.html.j2").write_text("<p>Dieser Computer {{ lang }}</p>\n")
    p = ResponsePolicy(operator="Op", template_dir=tmp_path)
    assert p.languages == ("en", "de", "ja")
    assert Parsed(render("notice", p=p, family="f")).body == b"<p>Custom Op f</p>\n"
    de = req(b"GET / HTTP/1.1\r\nAccept-Language: de-DE\r\n\r\n")
    assert Parsed(render("notice", p=p, request=de)).body == b"<p>Dieser Computer de</p>\n"
    assert "マルウェア" in Parsed(render("notice", p=p, request=GET_JA)).body.decode()  # shipped


def test_operator_template_policy(tmp_path):
    f = tmp_path / "page.html.j2"
    f.write_text("<p>{{ host }}|{{ path }}|{{ family }}|{{ rule }}|{{ client_ip }}|{{ time }}|{{ method }}</p>")
    p = ResponsePolicy(template_file=f)
    r = Parsed(p.render("template", GET, family="<x>", rule="r1", client_ip="198.51.100.7", keep_alive=False))
    body = r.body.decode()
    assert body.startswith("<p>c2.example|/gate.php|&lt;x&gt;|r1|198.51.100.7|20")
    assert body.endswith("Z|GET</p>")
    assert r.headers["connection"] == "close"


def test_template_policy_without_file_answers_the_notice():
    assert b"infected" in render("template")


@pytest.mark.parametrize("text,line,what", [
    ("<p>\n{{ host }}\n{{ pathh }}\n</p>", 3, "'pathh' is undefined"),
    ("<p>\n{% if host %}\n</p>\n", 2, "template syntax error"),  # Jinja names the unclosed block
    ("<p>{{ host }</p>", 1, "template syntax error"),
    ("a\nb\n{{ 1 // 0 }}", 3, "division"),
    ("a\n{% include 'nope.j2' %}", 2, "nope.j2"),
    ("{{ host | nosuchfilter }}", 1, "nosuchfilter"),
])
def test_operator_template_errors_name_file_and_line(tmp_path, text, line, what):
    f = tmp_path / "bad.html.j2"
    f.write_text(text)
    with pytest.raises(TemplateError) as e:
        ResponsePolicy(template_file=f)
    msg = str(e.value)
    assert msg.startswith(f"{f}:") and what in msg
    assert isinstance(e.value, OperationError)
    assert msg.split(":")[1] == str(line)


def test_operator_notice_template_errors_at_load(tmp_path):
    (tmp_path / "notice.ja.html.j2").write_text("ok\n{{ contact }}\n")
    with pytest.raises(TemplateError, match=r"notice\.ja\.html\.j2:2: .*'contact' is undefined"):
        ResponsePolicy(template_dir=tmp_path)


def test_operator_template_missing_or_not_utf8(tmp_path):
    with pytest.raises(TemplateError, match="not found"):
        ResponsePolicy(template_file=tmp_path / "missing.html.j2")
    f = tmp_path / "latin1.html.j2"
    f.write_bytes(b"caf\xe9")
    with pytest.raises(TemplateError, match="UTF-8"):
        ResponsePolicy(template_file=f)
    with pytest.raises(TemplateError, match="directory"):
        ResponsePolicy(template_dir=tmp_path / "nodir")
