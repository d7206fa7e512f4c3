"""Domain lists and blocklists: comments, normalization, FILE:LINE errors,
wildcards, origin checks, and speed at takedown scale."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from takedown.errors import OperationError
from takedown.lists import (
    display_path,
    is_valid_name,
    normalize_name,
    read_blocklist,
    read_domain_list,
)

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, text: str, name: str = "list.txt") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_domain_list_comments_case_dots_duplicates(tmp_path):
    p = _write(tmp_path, (
        "# header comment\n"
        "\n"
        "Alpha.Example\n"
        "   beta.example.   # trailing comment\n"
        "\t\n"
        "alpha.example\n"
        "_dmarc.x-y.example\n"
        "#commented.example\n"
    ))
    assert read_domain_list(p) == ["alpha.example", "beta.example", "_dmarc.x-y.example"]


def test_domain_list_crlf_and_bom(tmp_path):
    p = tmp_path / "l.txt"
    p.write_bytes(b"\xef\xbb\xbfa.example\r\nb.example\r\n")
    assert read_domain_list(p) == ["a.example", "b.example"]


def test_example_domain_list():
    names = read_domain_list(ROOT / "examples" / "waledac-domains.txt")
    assert len(names) == 30
    assert "christmas-ecard-online.example" in names


@pytest.mark.parametrize("bad,hint", [
    ("bad..name", "empty label"),
    ("-bad-.example extra", "one name per line"),
    ("*.wild.example", "drop the '*.'"),
    ("com", "top-level domain"),
    ("192.0.2.1", "IP address"),
    ("http://x.example/", "not a URL"),
    ("bücher.example", "xn--"),
    ("a" * 64 + ".example", "longer than 63"),
    (("a" * 60 + ".") * 5 + "example", "longer than 253"),
    ("semi;colon.example", "letters, digits"),
    (".", "empty label"),
])
def test_domain_list_bad_line_names_file_and_line(tmp_path, monkeypatch, bad, hint):
    _write(tmp_path, f"# comment\nok.example\n\n{bad}\nalso-ok.example\n", "waledac-domains.txt")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OperationError) as info:
        read_domain_list(tmp_path / "waledac-domains.txt")  # absolute: shown relative to cwd
    msg = str(info.value)
    assert msg.startswith(f"waledac-domains.txt:4: {bad!r} is not a valid domain name"), msg
    assert hint in msg


def test_domain_list_exact_message(tmp_path):
    lines = "".join(f"n{i}.example\n" for i in range(11)) + "bad..name\n"
    p = _write(tmp_path, lines)
    with pytest.raises(OperationError) as info:
        read_domain_list(str(p))
    assert str(info.value) == f"{p}:12: 'bad..name' is not a valid domain name (empty label)"


def test_domain_list_not_utf8(tmp_path):
    p = tmp_path / "l.txt"
    p.write_bytes(b"a.example\nb\xff.example\n")
    with pytest.raises(OperationError, match=r"l\.txt:2: not valid UTF-8"):
        read_domain_list(p)


def test_missing_list_file(tmp_path):
    with pytest.raises(OperationError, match=r"nope\.txt: cannot read"):
        read_domain_list(tmp_path / "nope.txt")


def test_blocklist_wildcards_and_exact(tmp_path):
    p = _write(tmp_path, (
        "# comment\n"
        "PCBot.3322.org.\n"
        "*.ctl.3322.org   # the subtree\n"
        "3322.org\n"
        "*.3322.org\n"
        "gone.3322.org\n"
    ))
    exact, wild = read_blocklist(p, "3322.ORG.")
    assert exact == frozenset({"pcbot.3322.org", "3322.org", "gone.3322.org"})
    assert wild == frozenset({"ctl.3322.org", "3322.org"})
    assert isinstance(exact, frozenset) and isinstance(wild, frozenset)


def test_example_blocklist():
    exact, wild = read_blocklist(ROOT / "examples" / "3322-blocklist.txt", "3322.org")
    assert wild == {"ctl.3322.org"}
    assert exact == {"pcbot.3322.org", "update-srv.3322.org", "gone.3322.org", "bot.wild.3322.org"}


@pytest.mark.parametrize("bad,line_fragment", [
    ("foo3322.org", "is not in zone 3322.org"),       # a suffix, but not at a label boundary
    ("example.com", "is not in zone 3322.org"),
    ("foo", "is not in zone 3322.org"),               # relative names are not accepted
    ("*.org", "is not in zone 3322.org"),             # above the origin
    ("a.*.3322.org", "is not a valid domain name"),
    ("*", "is not a valid domain name"),
    ("**.x.3322.org", "is not a valid domain name"),
])
def test_blocklist_bad_lines(tmp_path, bad, line_fragment):
    p = _write(tmp_path, f"ok.3322.org\n{bad}\n")
    with pytest.raises(OperationError) as info:
        read_blocklist(p, "3322.org")
    assert str(info.value).startswith(f"{p}:2: {bad!r} ")
    assert line_fragment in str(info.value)


def test_names():
    assert normalize_name("WWW.Example.") == "www.example"
    assert normalize_name("a..b") is None
    assert normalize_name("\u212a.example") is None  # Kelvin sign: not ASCII k
    assert is_valid_name("a" * 63 + ".example")
    assert not is_valid_name("a" * 64 + ".example")
    assert is_valid_name(".".join(["a" * 63] * 3) + "." + "b" * 61)  # 253
    assert not is_valid_name(".".join(["a" * 63] * 3) + "." + "b" * 62)  # 254


def test_display_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "x" / "y.txt") == "x/y.txt"
    assert display_path("/") == "/"
    assert display_path("rel/a.txt") == "rel/a.txt"


def test_large_lists_load_fast(tmp_path):
    """Takedown scale: 3322.org's blocklist held ~70,000 names (Microsoft DCU,
    2012); domain lists and DGA forecasts reach 100,000+."""
    domains = _write(tmp_path, "".join(f"host-{i}.botnet{i % 97}.example\n" for i in range(150_000)),
                     "domains.txt")
    block = _write(tmp_path, "".join(
        (f"*.sub{i}.3322.org\n" if i % 10 == 0 else f"bot{i}.3322.org  # c\n") for i in range(70_000)),
        "block.txt")
    t0 = time.perf_counter()
    names = read_domain_list(domains)
    t1 = time.perf_counter()
    exact, wild = read_blocklist(block, "3322.org")
    t2 = time.perf_counter()
    assert len(names) == 150_000
    assert len(exact) == 63_000 and len(wild) == 7_000
    assert t1 - t0 < 1.0, f"domain list: {t1 - t0:.2f}s"
    assert t2 - t1 < 1.0, f"blocklist: {t2 - t1:.2f}s"
