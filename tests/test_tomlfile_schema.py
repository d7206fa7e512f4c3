"""takedown.tomlfile's declarative schema on its own: a key is one
declaration; unknown keys are refused before values; errors are FILE:LINE."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from takedown.tomlfile import (
    REQUIRED,
    Bool,
    Choice,
    Int,
    Invalid,
    Table,
    Tables,
    Tagged,
    doc_default,
    key,
    keys,
    load_document,
    markdown_table,
    parse_toml,
    tables,
)


class Bad(Exception):
    pass


def _positive_even(v: int, where) -> int:
    if v % 2:
        raise Invalid(where, "must be even")
    return v


@dataclass(frozen=True)
class Inner:
    n: int = key(Int(0, 9), 3, doc="a digit")
    even: int = key(Int(0, 100), 0, doc="an even number", check=_positive_even)


@dataclass(frozen=True)
class A:
    x: int = key(Int(1, 2), 1, doc="x")


@dataclass(frozen=True)
class B:
    y: bool = key(Bool(), False, doc="y")


@dataclass(frozen=True)
class Root:
    name: str = key(Choice(("a", "b")), section="top", doc="the name")
    flag: bool = key(Bool(), True, doc="a flag")
    inner: Inner = key(Table(Inner), Inner(), doc="inner table")
    items: tuple[Inner, ...] = key(Tables(Inner), (), doc="an array of tables")
    steps: tuple = key(Tagged("kind", {"a": A, "b": B}), (), doc="tagged tables")


def load(text: str):
    return load_document(Root, parse_toml("f.toml", text, Bad), "f.toml", text, Bad)


def error(text: str) -> str:
    with pytest.raises(Bad) as e:
        load(text)
    return str(e.value)


def test_defaults_and_values():
    r = load('[top]\nname = "a"\n')
    assert r == Root(name="a", flag=True, inner=Inner(), items=(), steps=())
    r = load('flag = false\n[top]\nname = "b"\n[inner]\nn = 9\n[[items]]\neven = 4\n'
             '[[steps]]\nkind = "b"\ny = true\n[[steps]]\nkind = "a"\n')
    assert r.inner.n == 9 and r.items == (Inner(even=4),) and r.steps == (B(y=True), A(x=1))


@pytest.mark.parametrize("text,expected", [
    ('flga = 1\n[top]\nname = "a"\n', "f.toml:1: unknown key flga (did you mean flag?)"),
    ('[top]\nname = "a"\n[inner]\nevn = 2\n', "f.toml:4: unknown key inner.evn (did you mean inner.even?)"),
    ('[top]\nname = "a"\n[inner]\nm = "x"\n', "f.toml:4: unknown key inner.m (expected one of: n, even)"),
    ('[top]\nname = "a"\n[[item]]\nn = 1\n', "f.toml:3: unknown table [[item]] (did you mean [[items]]?)"),
    ('[top]\nname = "c"\n', "f.toml:2: top.name must be one of a, b, not 'c'"),
    ('[top]\n', "f.toml:1: missing required key top.name"),
    ('flag = 1\n', "f.toml:1: missing required table [top]"),
    ('[top]\nname = "a"\n[inner]\neven = 3\n', "f.toml:4: must be even"),
    ('[top]\nname = "a"\n[[items]]\n[[items]]\nn = 10\n',
     "f.toml:5: items[1].n must be an integer between 0 and 9, not 10"),
    ('inner = 1\n[top]\nname = "a"\n', "f.toml:1: inner must be a table ([inner]), not 1"),
    ('[top]\nname = "a"\n[[steps]]\nkind = "c"\n', "f.toml:4: steps[0].kind must be one of a, b, not 'c'"),
    ('[top]\nname = "a"\n[[steps]]\nkind = "a"\ny = true\n',
     "f.toml:5: unknown key steps[0].y (expected one of: kind, x)"),
    ('[top]\nname = "a"\n[[steps]]\nx = 1\n', "f.toml:3: missing required key steps[0].kind"),
])
def test_errors(text, expected):
    assert error(text) == expected


def test_unknown_keys_before_values():
    # a bad value and a misspelt key: the misspelling is what is reported
    assert "unknown key inner.evn" in error('[top]\nname = "a"\n[inner]\nn = 99\nevn = 2\n')


def test_docs_helpers():
    assert [k.name for k in keys(Inner)] == ["n", "even"]
    t = tables(Root)
    assert set(t) == {(), ("top",), ("inner",), ("items",)}
    assert [k.name for k in t[()]] == ["flag", "steps"]
    assert doc_default(keys(Root)[0]) == "required" and keys(Root)[0].default is REQUIRED
    assert doc_default(keys(Inner)[0]) == "`3`"
    assert "| `n` | integer, 0-9 | `3` | a digit |" in markdown_table(keys(Inner))
