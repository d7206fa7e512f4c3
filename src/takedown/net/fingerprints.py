"""Fingerprint rules: which malware family a check-in belongs to (docs/fingerprints.md).

A rules file is TOML: an array of ``[[rule]]`` tables, tried in file order;
the first rule whose matchers *all* match wins. Each rule names its
``family``, cites its ``source`` (report, paper, source code) and may carry a
``confidence`` (high, medium, low) and a ``response`` policy that overrides
the listener's. Rules are for one ``protocol``:

- ``http`` (the default): ``method``, ``host``, ``path``, ``query``,
  ``user_agent``, ``header``, ``body``, ``body_len``, ``port``, and ``ja3``/``ja4``
  when the request came inside TLS;
- ``tls``: ``sni``, ``ja3``, ``ja4``, ``port`` (the ClientHello);
- ``tcp``: ``payload`` (the first bytes of a raw connection), ``port``.

A rules file may also declare ``[[command]]`` tables: the bytes of a
family's C&C protocol for a named command ("stop", "uninstall"), sent in
answer to that family's HTTP check-ins only while a court's authority
allows it (issue 17; :mod:`takedown.net.commands`, docs/case-commands.md).

Everything is compiled when the file is loaded: regular expressions
compiled, exact host names put in a dict that leads straight to the rules
that can apply, sets for methods, ports and hashes. Matching a request is
then a dict lookup and a few comparisons per candidate rule; and the first
match is remembered per candidate set by the request fields its matchers
read (:class:`_Candidates`), so a bot's check-ins, which differ in their id,
are matched without running a regex each (docs/performance.md).

Errors name the file and line (``FILE:LINE: reason``), found with the
operation file's TOML locator (:class:`takedown.tomlfile.Locator`).
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any, Callable

from takedown.errors import RulesError
from takedown.net.responses import POLICIES

# The operation file's TOML line locator and message helpers, reused rather
# than rewritten (same FILE:LINE conventions for every file an operator writes).
from takedown.operation import IDENTIFIER, read_text
from takedown.tomlfile import (
    Choice,
    Context,
    Custom,
    Int,
    Invalid,
    KeyPath,
    Str,
    Tables,
    dotted,
    first_repeat,
    key,
    keys,
    load_document,
    parse_toml,
    show,
    strings,
    unknown_keys,
)

__all__ = ["CONFIDENCES", "Command", "PROTOCOLS", "Rule", "RuleSet", "SHIPPED_RULES"]

SHIPPED_RULES = Path(__file__).resolve().parent / "rules" / "default.toml"
PROTOCOLS = ("http", "tls", "tcp")
CONFIDENCES = ("high", "medium", "low")
_RANK = {c: i for i, c in enumerate(CONFIDENCES)}

_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", re.ASCII)
_HASH_RE = re.compile(r"[0-9a-f]{32}", re.ASCII)
_JA4_RE = re.compile(r"[A-Za-z0-9_*-]{1,80}", re.ASCII)
_MEMO_MAX = 4096  # values a text matcher remembers (see _Text)
_MEMO_LONGEST = 512  # characters: longer values are not remembered (memory)

@dataclass(frozen=True)
class Rule:
    """A loaded rule: what it says, where it was written. The compiled
    matchers are kept alongside, in the RuleSet."""

    name: str
    family: str
    source: str
    response: str | None = None  # a response policy overriding the listener's (HTTP)
    protocol: str = "http"
    confidence: str | None = None  # "high", "medium", "low"
    description: str | None = None
    location: str = ""  # "FILE:LINE" of its [[rule]] header
    matchers: tuple[str, ...] = field(default=(), compare=False)  # the matcher keys it uses


@dataclass(frozen=True)
class Command:
    """A ``[[command]]``: the response that carries command ``name`` to the
    bots of ``family`` (its body in the family's C&C protocol), documented
    in ``source``. Sent only under a valid authority (takedown.net.commands)."""

    family: str
    name: str
    source: str
    status: int = 200
    content_type: str = "application/octet-stream"
    body: bytes = b""
    description: str | None = None
    location: str = ""  # "FILE:LINE" of its [[command]] header


# --------------------------------------------------------------------------
# Compiled matchers


class _Text:
    """A string matcher: exact values (a set), prefixes, substrings, a regex,
    or "absent". ``fold``: compare case-insensitively.

    A matcher with a regex or substrings remembers its answer per value
    (``memo``): bots of a family send the same path and User-Agent in every
    check-in, whatever their id (which sits in the query or the body), so
    the regex runs once per distinct value, not once per request; the
    answer is the regex's own, so results cannot differ. Bounded: at most
    :data:`_MEMO_MAX` values of at most :data:`_MEMO_LONGEST` characters
    (emptied when full; longer values are tested each time).
    """

    __slots__ = ("exact", "prefix", "contains", "regex", "absent", "fold", "memo")

    def __init__(self, *, exact=(), prefix=(), contains=(), regex=None, absent=False, fold=False):
        self.fold = fold
        self.exact = frozenset(v.lower() for v in exact) if fold else frozenset(exact)
        self.prefix = tuple(v.lower() for v in prefix) if fold else tuple(prefix)
        self.contains = tuple(v.lower() for v in contains) if fold else tuple(contains)
        self.regex = regex
        self.absent = absent
        self.memo: dict[str, bool] | None = {} if regex is not None or self.contains else None

    def __call__(self, value: str | None) -> bool:
        if value is None:
            return self.absent
        if self.absent:
            return False
        memo = self.memo
        if memo is None:
            return self.test(value)
        got = memo.get(value)
        if got is None:
            got = self.test(value)
            if len(value) <= _MEMO_LONGEST:
                if len(memo) >= _MEMO_MAX:
                    memo.clear()
                memo[value] = got
        return got

    def test(self, value: str) -> bool:
        """The matcher's answer for ``value`` (not None), without the memo."""
        if self.fold:
            value = value.lower()
        if value in self.exact:
            return True
        if self.prefix and value.startswith(self.prefix):
            return True
        for c in self.contains:
            if c in value:
                return True
        return self.regex is not None and self.regex.search(value) is not None


class _Bytes:
    """A bytes matcher over a body head or a connection's first bytes."""

    __slots__ = ("prefix", "contains", "regex")

    def __init__(self, *, prefix=(), contains=(), regex=None):
        self.prefix = tuple(prefix)
        self.contains = tuple(contains)
        self.regex = regex

    def __call__(self, data: bytes) -> bool:
        if self.prefix and not data.startswith(self.prefix):
            return False
        for c in self.contains:
            if c not in data:
                return False
        return self.regex is None or self.regex.search(data) is not None


class _Compiled:
    """One rule's matchers; None means "not constrained"."""

    __slots__ = ("rule", "methods", "hosts", "host", "path", "query", "ua", "headers",
                 "body", "body_min", "body_max", "ja3", "ja4_exact", "ja4_prefix", "ports", "payload")

    def __init__(self, rule: Rule):
        self.rule = rule
        self.methods: frozenset[str] | None = None
        self.hosts: frozenset[str] | None = None  # exact host names (lowercased): used by the index
        self.host: _Text | None = None  # glob/regex host patterns
        self.path: _Text | None = None
        self.query: _Text | None = None
        self.ua: _Text | None = None
        self.headers: tuple[tuple[str, _Text], ...] = ()
        self.body: _Bytes | None = None
        self.body_min = 0
        self.body_max: int | None = None
        self.ja3: frozenset[str] | None = None
        self.ja4_exact: frozenset[str] = frozenset()
        self.ja4_prefix: tuple[str, ...] = ()
        self.ports: frozenset[int] | None = None
        self.payload: _Bytes | None = None

    def _ja(self, ja3: str | None, ja4: str | None) -> bool:
        if self.ja3 is not None and (ja3 is None or ja3.lower() not in self.ja3):
            return False
        if self.ja4_exact or self.ja4_prefix:
            if ja4 is None:
                return False
            if ja4 not in self.ja4_exact and not (self.ja4_prefix and ja4.startswith(self.ja4_prefix)):
                return False
        return True

    def http(self, req, host: str | None, port: int, ja3: str | None, ja4: str | None) -> bool:
        # Cheapest and most selective first.
        if self.ports is not None and port not in self.ports:
            return False
        if self.methods is not None and req.method not in self.methods:
            return False
        if self.path is not None and not self.path(req.path):
            return False
        if self.hosts is not None and host not in self.hosts:
            return False
        if self.host is not None and not self.host(host):
            return False
        if self.query is not None and not self.query(req.query):
            return False
        if self.ua is not None and not self.ua(req.user_agent):
            return False
        if self.body_min and req.body_len < self.body_min:
            return False
        if self.body_max is not None and req.body_len > self.body_max:
            return False
        if self.body is not None and not self.body(req.body_head):
            return False
        for name, test in self.headers:
            if not _header_matches(req.headers, name, test):
                return False
        return self._ja(ja3, ja4)


def _header_matches(headers, name: str, test: _Text) -> bool:
    """``test`` holds for some header called ``name``; for "absent", none exists."""
    seen = False
    for k, v in headers:
        if k == name:
            seen = True
            if test(v):
                return True
    return not seen and test.absent


def normalize_host(value: str | None) -> str | None:
    """A Host header or SNI as rules compare it: lowercased, without port,
    brackets or trailing dot. None when absent or empty."""
    if not value:
        return None
    v = value.strip().lower()
    if v.startswith("["):
        end = v.find("]")
        v = v[1:end] if end > 0 else v[1:]
    elif v.count(":") == 1:
        v = v.partition(":")[0]
    if v.endswith("."):
        v = v[:-1]
    return v or None


_UNSEEN = object()
# the request fields a rule's matchers read (method: the candidates' key)
_FIELDS = (("path", "path"), ("ua", "user_agent"))  # (a query, body or header matcher: no memo)


class _Candidates:
    """The HTTP rules that can apply to one (indexed host, method), in file
    order, and their answers so far (``memo``): the first match is a pure
    function of the request fields the candidates' matchers read
    (``fields``, an attrgetter: most often the path alone, with the body's
    length) and of the host, port and TLS hashes when one of them reads
    those, so a bot's check-ins, which differ in their query and body but
    not in what the rules read, are matched by one dict lookup instead of
    a regex per request. No memo when a matcher reads the query or the
    body's bytes (they change with every unique check-in: the memo would
    only miss) or the header fields (a key holding a whole header section
    would cost up to max_header_bytes of memory each). Bounded: at most
    :data:`_MEMO_MAX` answers, only for requests whose path and User-Agent
    together have at most :data:`_MEMO_LONGEST` characters (the other
    fields of a key are short: a host, a port, hashes, the body's length)."""

    __slots__ = ("rules", "fields", "host", "port", "ja", "memo")

    def __init__(self, rules: tuple[_Compiled, ...]) -> None:
        self.rules = rules
        names = [f for attr, f in _FIELDS if any(getattr(c, attr) for c in rules)]
        if any(c.body_min or c.body_max is not None for c in rules):
            names.append("body_len")
        self.fields = attrgetter(*names) if names else _nothing
        self.host = any(c.host is not None for c in rules)
        self.port = any(c.ports is not None for c in rules)
        self.ja = any(c.ja3 is not None or c.ja4_exact or c.ja4_prefix for c in rules)
        varying = any(c.query is not None or c.body is not None or c.headers for c in rules)
        self.memo: dict[tuple, Rule | None] | None = None if varying else {}


def _nothing(req) -> None:
    return None


# --------------------------------------------------------------------------
# The rule set


class RuleSet:
    """Compiled rules, matched first-match-wins in file order."""

    def __init__(self, rules: list[tuple[Rule, _Compiled]] | None = None, commands: tuple[Command, ...] = ()):
        self._all: list[tuple[Rule, _Compiled]] = list(rules or [])
        #: the [[command]] responses, in file order (an operator's before the shipped ones)
        self.commands: tuple[Command, ...] = tuple(commands)
        self._index()

    # -- construction ------------------------------------------------------------

    @classmethod
    def empty(cls) -> RuleSet:
        return cls([])

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RuleSet:
        """Parse and compile a rules file; RulesError (an OperationError)
        reading ``FILE:LINE: reason`` on any problem."""
        return cls.loads(read_text(path, RulesError), os.fspath(path))

    @classmethod
    def loads(cls, text: str, display: str = "<rules>") -> RuleSet:
        """The same as :meth:`load`, from text (``display`` names it in errors)."""
        doc = parse_toml(display, text, RulesError)
        f = load_document(_RulesFile, doc, display, text, RulesError, check=_check_names)
        return cls(list(f.rule), f.command)

    @classmethod
    def shipped(cls, *, min_confidence: str = "low") -> RuleSet:
        """The rules shipped with takedown (src/takedown/net/rules/default.toml),
        optionally only those of at least ``min_confidence``."""
        if min_confidence not in _RANK:
            raise ValueError(f"min_confidence must be one of {', '.join(CONFIDENCES)}")
        rs = cls.load(SHIPPED_RULES)
        limit = _RANK[min_confidence]
        return cls([(r, c) for r, c in rs._all if _RANK.get(r.confidence or "low", 2) <= limit], rs.commands)

    def then(self, other: RuleSet) -> RuleSet:
        """This set's rules, then ``other``'s (an operator's rules before the
        shipped ones). A name defined in both keeps this set's rule; a
        command (family, name) declared in both keeps this set's command."""
        names = {r.name for r, _ in self._all}
        mine = {(c.family, c.name) for c in self.commands}
        return RuleSet(self._all + [(r, c) for r, c in other._all if r.name not in names],
                       self.commands + tuple(c for c in other.commands if (c.family, c.name) not in mine))

    # -- inspection --------------------------------------------------------------

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(r for r, _ in self._all)

    def __len__(self) -> int:
        return len(self._all)

    def __iter__(self):
        return iter(self.rules)

    def __repr__(self) -> str:
        return f"<RuleSet {len(self)} rules, {len(self.commands)} commands>"

    # -- matching ----------------------------------------------------------------

    def _index(self) -> None:
        position = {id(c): i for i, (_, c) in enumerate(self._all)}
        http = [c for r, c in self._all if r.protocol == "http"]
        self._tls = tuple(c for r, c in self._all if r.protocol == "tls")
        self._tcp = tuple(c for r, c in self._all if r.protocol == "tcp")
        # Exact host names lead straight to the rules that can apply; the
        # rules without exact hosts apply to every host. Order is kept.
        generic = [c for c in http if c.hosts is None]
        by_host: dict[str, list[_Compiled]] = {}
        for c in http:
            for h in c.hosts or ():
                by_host.setdefault(h, []).append(c)
        self._http_any = tuple(generic)
        self._http_by_host = {
            h: tuple(sorted(cs + generic, key=lambda c: position[id(c)])) for h, cs in by_host.items()
        }
        self._hosts: dict[str, str | None] = {}
        # (indexed host or None, method) -> _Candidates: the rules that can
        # apply, and their answers so far by what they look at.
        self._candidates: dict[tuple[str | None, str], _Candidates] = {}

    def match_http(self, req, *, port: int, ja3: str | None = None, ja4: str | None = None) -> Rule | None:
        """The first HTTP rule matching ``req`` (a takedown.net.http.Request)
        received on ``port`` (and inside TLS with ``ja3``/``ja4``), or None."""
        return self.http(req, port, ja3, ja4)

    def http(self, req, port: int, ja3: str | None, ja4: str | None) -> Rule | None:
        """:meth:`match_http` with positional arguments (the check-in path's call)."""
        raw = req.host
        host = self._hosts.get(raw) if raw is not None else None
        if host is None and raw is not None:
            host = normalize_host(raw)
            if len(self._hosts) >= 4096:
                self._hosts.clear()
            self._hosts[raw] = host
        method = req.method
        key = (host if host in self._http_by_host else None, method)
        cand = self._candidates.get(key)
        if cand is None:
            base = self._http_by_host[key[0]] if key[0] is not None else self._http_any
            cand = _Candidates(tuple(c for c in base if c.methods is None or method in c.methods))
            if len(self._candidates) >= 4096:
                self._candidates.clear()
            self._candidates[key] = cand
        memo = cand.memo
        if memo is None:
            for c in cand.rules:
                if c.http(req, host, port, ja3, ja4):
                    return c.rule
            return None
        k = (cand.fields(req), host if cand.host else None, port if cand.port else None,
             (ja3, ja4) if cand.ja else None)
        got = memo.get(k, _UNSEEN)
        if got is _UNSEEN:
            got = None
            for c in cand.rules:
                if c.http(req, host, port, ja3, ja4):
                    got = c.rule
                    break
            if len(req.path) + len(req.user_agent or "") <= _MEMO_LONGEST:  # memory: see _Candidates
                if len(memo) >= _MEMO_MAX:
                    memo.clear()
                memo[k] = got
        return got

    def match_tls(self, *, sni: str | None, ja3: str | None, ja4: str | None, port: int) -> Rule | None:
        """The first TLS rule matching a ClientHello, or None."""
        host = normalize_host(sni)
        for c in self._tls:
            if c.ports is not None and port not in c.ports:
                continue
            if c.hosts is not None and host not in c.hosts:
                continue
            if c.host is not None and not c.host(host):
                continue
            if c._ja(ja3, ja4):
                return c.rule
        return None

    def match_tcp(self, first_bytes: bytes, *, port: int) -> Rule | None:
        """The first raw-TCP rule matching a connection's first bytes, or None."""
        for c in self._tcp:
            if c.ports is not None and port not in c.ports:
                continue
            if c.payload is not None and not c.payload(first_bytes):
                continue
            return c.rule
        return None


# --------------------------------------------------------------------------
# Loading and validation: every key of a [[rule]] is declared once, on
# _RuleKeys; a matcher key's tags are the protocols it applies to.


def _table(v: Any, where: KeyPath, keys: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise Invalid(where, f"{dotted(where)} must be {what}, not {show(v)}")
    unknown_keys(v, where, keys)
    if not v:
        raise Invalid(where, f"{dotted(where)} is empty: give one of {', '.join(keys)}")
    return v


def _regex(pattern: Any, where: KeyPath, flags: int = 0) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise Invalid(where, f"{dotted(where)} must be a non-empty regular expression string, not {show(pattern)}")
    try:
        return re.compile(pattern, flags)
    except re.error as e:
        raise Invalid(where, f"{dotted(where)}: invalid regular expression: {e}") from None


def _bytes_regex(pattern: Any, where: KeyPath) -> re.Pattern[bytes]:
    if not isinstance(pattern, str) or not pattern:
        raise Invalid(where, f"{dotted(where)} must be a non-empty regular expression string, not {show(pattern)}")
    try:
        raw = pattern.encode("latin-1")
    except UnicodeEncodeError:
        raise Invalid(where, f"{dotted(where)}: a bytes regular expression may only hold "
                             f"characters up to \\xff (write others as \\xNN escapes)") from None
    try:
        return re.compile(raw, re.DOTALL)
    except re.error as e:
        raise Invalid(where, f"{dotted(where)}: invalid regular expression: {e}") from None


def _hexbytes(v: Any, where: KeyPath) -> bytes:
    text = v.replace(" ", "").replace(":", "") if isinstance(v, str) else None
    try:
        if not text:
            raise ValueError
        return bytes.fromhex(text)
    except ValueError:
        raise Invalid(where, f"{dotted(where)} must be hexadecimal bytes such as \"00 00 00 01\", "
                             f"not {show(v)}") from None


def _texts(v: Any, where: KeyPath) -> list[str]:
    return [s for s, _ in strings(v, where, nonempty=True)]


def _text_matcher(v: Any, where: KeyPath, *, default: str, fold: bool = False) -> _Text:
    """A string, array of strings (``default`` kind: exact or contains), or a
    table of exact / prefix / contains / regex / absent."""
    if isinstance(v, (str, list)):
        return _Text(**{default: _texts(v, where)}, fold=fold)
    t = _table(v, where, ("exact", "prefix", "contains", "regex", "absent"),
               "a string, an array of strings, or a table such as { regex = \"...\" }")
    kw: dict[str, Any] = {"fold": fold}
    for k in ("exact", "prefix", "contains"):
        if k in t:
            kw[k] = _texts(t[k], where + (k,))
    if "regex" in t:
        kw["regex"] = _regex(t["regex"], where + ("regex",), re.IGNORECASE if fold else 0)
    if "absent" in t:
        if t["absent"] is not True or len(t) > 1:
            raise Invalid(where + ("absent",), f"{dotted(where + ('absent',))} must be true, alone in its table")
        kw["absent"] = True
    return _Text(**kw)


def _bytes_matcher(v: Any, where: KeyPath) -> _Bytes:
    t = _table(v, where, ("prefix_hex", "contains_hex", "regex"),
               "a table such as { prefix_hex = \"00 00 00 01\" } or { regex = '...' }")
    kw: dict[str, Any] = {}
    for k, attr in (("prefix_hex", "prefix"), ("contains_hex", "contains")):
        if k in t:
            kw[attr] = [_hexbytes(s, w) for s, w in strings(t[k], where + (k,), nonempty=True)]
    if "regex" in t:
        kw["regex"] = _bytes_regex(t["regex"], where + ("regex",))
    return _Bytes(**kw)


# -- matcher kinds: each parses to the _Compiled attributes it sets -----------------


def _matcher(what: str) -> Callable[[Callable[[Any, KeyPath], dict[str, Any]]], Custom]:
    def wrap(fn: Callable[[Any, KeyPath], dict[str, Any]]) -> Custom:
        return Custom(lambda v, where, ctx: fn(v, where), what)
    return wrap


@_matcher("HTTP method or array of them")
def _method(v: Any, where: KeyPath) -> dict[str, Any]:
    out = set()
    for s, w in strings(v, where, nonempty=True):
        if not _TOKEN_RE.fullmatch(s):
            raise Invalid(w, f"{dotted(w)} must be an HTTP method such as \"POST\", not {show(s)}")
        out.add(s.upper())
    return {"methods": frozenset(out)}


@_matcher("host name, glob or array of them, or a text table")
def _hosts(v: Any, where: KeyPath) -> dict[str, Any]:
    if isinstance(v, dict):
        return {"host": _text_matcher(v, where, default="exact", fold=True)}
    exact, globs = set(), []
    for s, w in strings(v, where, nonempty=True):
        h = s.strip().lower().rstrip(".")
        if not h:
            raise Invalid(w, f"{dotted(w)} must not be empty")
        if any(ch in h for ch in "*?["):
            globs.append(fnmatch.translate(h))
        else:
            exact.add(h)
    if globs and exact:
        # Mixed: one regex for all (exact names escaped), no index.
        pattern = "|".join(globs + [re.escape(h) + r"\Z" for h in sorted(exact)])
        return {"host": _Text(regex=re.compile(pattern))}
    if globs:
        return {"host": _Text(regex=re.compile("|".join(globs)))}
    return {"hosts": frozenset(exact)}


def _text_kind(attr: str, default: str) -> Custom:
    return Custom(lambda v, where, ctx: {attr: _text_matcher(v, where, default=default)},
                  f"string, array of strings ({default}), or a text table")


@_matcher("table { name = ..., exact/prefix/contains/regex/absent } or array of them")
def _header(v: Any, where: KeyPath) -> dict[str, Any]:
    items = v if isinstance(v, list) else [v]
    out = []
    for k, item in enumerate(items):
        w = where + (k,) if isinstance(v, list) else where
        t = _table(item, w, ("name", "exact", "prefix", "contains", "regex", "absent"),
                   "a table such as { name = \"content-type\", regex = \"...\" }")
        if "name" not in t:
            raise Invalid(w, f"{dotted(w)} needs a name (the header field name)")
        name = t["name"]
        if not isinstance(name, str) or not _TOKEN_RE.fullmatch(name):
            raise Invalid(w + ("name",), f"{dotted(w + ('name',))} must be a header field name, not {show(name)}")
        rest = {key_: val for key_, val in t.items() if key_ != "name"}
        if not rest:
            raise Invalid(w, f"{dotted(w)} needs one of exact, prefix, contains, regex, absent")
        out.append((name.lower(), _text_matcher(rest, w, default="contains")))
    return {"headers": tuple(out)}


def _bytes_kind(attr: str) -> Custom:
    return Custom(lambda v, where, ctx: {attr: _bytes_matcher(v, where)},
                  "table of prefix_hex / contains_hex / regex")


@_matcher("integer or table { min = N, max = N }")
def _body_len(v: Any, where: KeyPath) -> dict[str, Any]:
    def count(x: Any, w: KeyPath) -> int:
        if isinstance(x, bool) or not isinstance(x, int) or x < 0:
            raise Invalid(w, f"{dotted(w)} must be a non-negative integer, not {show(x)}")
        return x
    if isinstance(v, dict):
        t = _table(v, where, ("min", "max"), "an integer or a table { min = N, max = N }")
        lo = count(t["min"], where + ("min",)) if "min" in t else 0
        hi = count(t["max"], where + ("max",)) if "max" in t else None
        if hi is not None and hi < lo:
            raise Invalid(where, f"{dotted(where)}: max is smaller than min")
        return {"body_min": lo, "body_max": hi}
    n = count(v, where)
    return {"body_min": n, "body_max": n}


@_matcher("JA3 hash or array of them")
def _ja3(v: Any, where: KeyPath) -> dict[str, Any]:
    out = set()
    for s, w in strings(v, where, nonempty=True):
        if not _HASH_RE.fullmatch(s.lower()):
            raise Invalid(w, f"{dotted(w)} must be a JA3 hash (32 hexadecimal digits), not {show(s)}")
        out.add(s.lower())
    return {"ja3": frozenset(out)}


@_matcher("JA4 fingerprint or prefix*, or array of them")
def _ja4(v: Any, where: KeyPath) -> dict[str, Any]:
    exact, prefix = set(), []
    for s, w in strings(v, where, nonempty=True):
        if not _JA4_RE.fullmatch(s) or "*" in s[:-1]:
            raise Invalid(w, f"{dotted(w)} must be a JA4 fingerprint, or a prefix ending in '*', not {show(s)}")
        if s.endswith("*"):
            prefix.append(s[:-1])
        else:
            exact.add(s)
    return {"ja4_exact": frozenset(exact), "ja4_prefix": tuple(prefix)}


@_matcher("port number or array of them")
def _port(v: Any, where: KeyPath) -> dict[str, Any]:
    items = v if isinstance(v, list) else [v]
    out = set()
    for k, p in enumerate(items):
        w = where + (k,) if isinstance(v, list) else where
        if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535:
            raise Invalid(w, f"{dotted(w)} must be a port number between 1 and 65535, not {show(p)}")
        out.add(p)
    if not out:
        raise Invalid(where, f"{dotted(where)} must not be an empty array")
    return {"ports": frozenset(out)}


_ALL = ("http", "tls", "tcp")


@dataclass(frozen=True)
class _RuleKeys:
    """The keys of one [[rule]] (docs/fingerprints.md). Matchers are the keys
    tagged with protocols; each parses to the _Compiled attributes it sets."""

    name: str = key(IDENTIFIER, doc="the rule's unique name")
    family: str = key(IDENTIFIER, doc="the malware family it identifies")
    source: str = key(Str(nonempty=True), doc="the report, paper or code it comes from")
    confidence: str | None = key(Choice(CONFIDENCES), None, doc="high, medium or low")
    description: str | None = key(Str(nonempty=True), None, doc="what the rule matches")
    response: str | None = key(Choice(POLICIES), None, doc="a response policy overriding the listener's")
    protocol: str = key(Choice(PROTOCOLS), "http", doc="what the rule matches: http, tls or tcp")
    method: dict | None = key(_method, None, doc="request methods", tags=("http",))
    host: dict | None = key(_hosts, None, doc="Host header", tags=("http",))
    sni: dict | None = key(_hosts, None, doc="server name of the ClientHello", tags=("tls",))
    path: dict | None = key(_text_kind("path", "exact"), None, doc="request path", tags=("http",))
    query: dict | None = key(_text_kind("query", "exact"), None, doc="query string", tags=("http",))
    user_agent: dict | None = key(_text_kind("ua", "contains"), None, doc="User-Agent", tags=("http",))
    header: dict | None = key(_header, None, doc="header fields", tags=("http",))
    body: dict | None = key(_bytes_kind("body"), None, doc="the body's first bytes", tags=("http",))
    body_len: dict | None = key(_body_len, None, doc="body length", tags=("http",))
    ja3: dict | None = key(_ja3, None, doc="JA3 of the ClientHello", tags=("http", "tls"))
    ja4: dict | None = key(_ja4, None, doc="JA4 of the ClientHello", tags=("http", "tls"))
    payload: dict | None = key(_bytes_kind("payload"), None, doc="a raw connection's first bytes", tags=("tcp",))
    port: dict | None = key(_port, None, doc="the listener's port", tags=_ALL)


_MATCHERS = {p: tuple(k.name for k in keys(_RuleKeys) if p in k.tags) for p in PROTOCOLS}
_KEYS = {p: tuple(k.name for k in keys(_RuleKeys) if not k.tags or p in k.tags) for p in PROTOCOLS}


def _gate(t: dict[str, Any], where: KeyPath) -> None:
    """Before any value: the protocol, and only its matchers."""
    protocol = Choice(PROTOCOLS).parse(t.get("protocol", "http"), where + ("protocol",), None)
    for k in t:
        if k not in _KEYS[protocol]:
            other = [p for p in PROTOCOLS if k in _KEYS[p]]
            raise Invalid(where + (k,), f"{dotted(where + (k,))} is not a matcher of {protocol} rules "
                                        f"(it is one of {' and '.join(other)} rules; set protocol = \"{other[0]}\")")


def _build(r: _RuleKeys, t: dict[str, Any], where: KeyPath, ctx: Context) -> tuple[Rule, _Compiled]:
    used = tuple(k for k in _MATCHERS[r.protocol] if getattr(r, k) is not None)
    if not used:
        raise Invalid(where, f"{dotted(where)} ({r.name}) has no matcher: give at least one of "
                             f"{', '.join(_MATCHERS[r.protocol])}")
    rule = Rule(name=r.name, family=r.family, source=r.source, response=r.response, protocol=r.protocol,
                confidence=r.confidence, description=r.description,
                location=f"{ctx.display}:{ctx.line_of(where)}", matchers=used)
    c = _Compiled(rule)
    for k in used:
        for attr, value in getattr(r, k).items():
            setattr(c, attr, value)
    return rule, c


# -- [[command]]: a command response (issue 17 point 6) ------------------------------

#: A media type as a Content-Type header carries it (RFC 9110 8.3): no
#: control characters, so it cannot end the header early.
_MEDIA_TYPE = Str(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;[ -~\t]*)?",
                  "a media type such as \"application/octet-stream\"")
_BODY_HEX = Custom(lambda v, where, ctx: _hexbytes(v, where), "hexadecimal bytes such as \"de ad be ef\"")


@dataclass(frozen=True)
class _CommandKeys:
    """The keys of one [[command]] (docs/fingerprints.md, "Command responses")."""

    family: str = key(IDENTIFIER, doc="the family whose matched HTTP check-ins it answers")
    name: str = key(IDENTIFIER, doc="the command, as [[case.authorities]] command = names it")
    source: str = key(Str(nonempty=True), doc="where the family's protocol for this command is documented")
    status: int = key(Int(200, 599), 200, doc="the HTTP status sent")
    content_type: str = key(_MEDIA_TYPE, "application/octet-stream", doc="the Content-Type sent")
    body: str | None = key(Str(), None, doc="the body, as UTF-8 text (or body_hex)")
    body_hex: bytes | None = key(_BODY_HEX, None, doc="the body, as hexadecimal bytes (or body)")
    description: str | None = key(Str(nonempty=True), None, doc="what the command makes the bots do")


def _build_command(c: _CommandKeys, t: dict[str, Any], where: KeyPath, ctx: Context) -> Command:
    if (c.body is None) == (c.body_hex is None):
        raise Invalid(where, f"{dotted(where)} ({c.family} {c.name}) needs exactly one of body (text) "
                             f"and body_hex (bytes)")
    body = c.body_hex if c.body_hex is not None else c.body.encode("utf-8")  # type: ignore[union-attr]
    if body and c.status in (204, 304):
        raise Invalid(where + ("status",), f"{dotted(where + ('status',))}: a {c.status} response carries "
                                           f"no body (RFC 9110 15.3.5, 15.4.5)")
    return Command(family=c.family, name=c.name, source=c.source, status=c.status, content_type=c.content_type,
                   body=body, description=c.description, location=f"{ctx.display}:{ctx.line_of(where)}")


@dataclass(frozen=True)
class _RulesFile:
    rule: tuple[tuple[Rule, _Compiled], ...] = key(Tables(_RuleKeys, gate=_gate, check=_build), (),
                                                   doc="the rules, tried in file order")
    command: tuple[Command, ...] = key(Tables(_CommandKeys, check=_build_command), (),
                                       doc="command responses, sent only under a valid authority")


def _check_names(f: _RulesFile, data: dict, where: KeyPath, ctx: Context) -> _RulesFile:
    twice = first_repeat(rule.name for rule, _ in f.rule)
    if twice:
        i, j = twice
        raise Invalid(("rule", i, "name"), f"rule name {f.rule[i][0].name!r} is used twice "
                                           f"(also rule[{j}], line {ctx.line_of(('rule', j))})")
    twice = first_repeat((c.family, c.name) for c in f.command)
    if twice:
        i, j = twice
        c = f.command[i]
        raise Invalid(("command", i, "name"), f"command {c.name!r} of {c.family} is declared twice "
                                              f"(also command[{j}], line {ctx.line_of(('command', j))})")
    return f



def describe(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rules of a file as plain data (for ``takedown check`` and docs)."""
    rs = RuleSet.load(path)
    return [{"name": r.name, "family": r.family, "protocol": r.protocol, "confidence": r.confidence,
             "response": r.response, "source": r.source, "location": r.location,
             "matchers": list(r.matchers)} for r in rs]


def describe_commands(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The [[command]] responses of a rules file as plain data."""
    return [{"family": c.family, "name": c.name, "status": c.status, "content_type": c.content_type,
             "body_bytes": len(c.body), "source": c.source, "location": c.location}
            for c in RuleSet.load(path).commands]

