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

Everything is compiled when the file is loaded: regular expressions
compiled, exact host names put in a dict that leads straight to the rules
that can apply, sets for methods, ports and hashes. Matching a request is
then a dict lookup and a few comparisons per candidate rule.

Errors name the file and line (``FILE:LINE: reason``), found with the
operation file's TOML locator (:class:`takedown.tomlfile.Locator`).
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from takedown.errors import RulesError
from takedown.net.responses import POLICIES

# The operation file's TOML line locator and message helpers, reused rather
# than rewritten (same FILE:LINE conventions for every file an operator writes).
from takedown.operation import read_text
from takedown.tomlfile import Locator, dotted, show, syntax_error

__all__ = ["CONFIDENCES", "PROTOCOLS", "Rule", "RuleSet", "SHIPPED_RULES"]

SHIPPED_RULES = Path(__file__).resolve().parent / "rules" / "default.toml"
PROTOCOLS = ("http", "tls", "tcp")
CONFIDENCES = ("high", "medium", "low")
_RANK = {c: i for i, c in enumerate(CONFIDENCES)}

_IDENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", re.ASCII)
_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", re.ASCII)
_HASH_RE = re.compile(r"[0-9a-f]{32}", re.ASCII)
_JA4_RE = re.compile(r"[A-Za-z0-9_*-]{1,80}", re.ASCII)

KeyPath = tuple[str | int, ...]

_COMMON = ("name", "family", "source", "confidence", "description", "response", "protocol", "port")
_KEYS = {
    "http": _COMMON + ("method", "host", "path", "query", "user_agent", "header", "body", "body_len", "ja3", "ja4"),
    "tls": _COMMON + ("sni", "ja3", "ja4"),
    "tcp": _COMMON + ("payload",),
}
_MATCHERS = {
    "http": ("method", "host", "path", "query", "user_agent", "header", "body", "body_len", "ja3", "ja4", "port"),
    "tls": ("sni", "ja3", "ja4", "port"),
    "tcp": ("payload", "port"),
}


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


# --------------------------------------------------------------------------
# Compiled matchers


class _Text:
    """A string matcher: exact values (a set), prefixes, substrings, a regex,
    or "absent". ``fold``: compare case-insensitively."""

    __slots__ = ("exact", "prefix", "contains", "regex", "absent", "fold")

    def __init__(self, *, exact=(), prefix=(), contains=(), regex=None, absent=False, fold=False):
        self.fold = fold
        self.exact = frozenset(v.lower() for v in exact) if fold else frozenset(exact)
        self.prefix = tuple(v.lower() for v in prefix) if fold else tuple(prefix)
        self.contains = tuple(v.lower() for v in contains) if fold else tuple(contains)
        self.regex = regex
        self.absent = absent

    def __call__(self, value: str | None) -> bool:
        if value is None:
            return self.absent
        if self.absent:
            return False
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


# --------------------------------------------------------------------------
# The rule set


class RuleSet:
    """Compiled rules, matched first-match-wins in file order."""

    def __init__(self, rules: list[tuple[Rule, _Compiled]] | None = None):
        self._all: list[tuple[Rule, _Compiled]] = list(rules or [])
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
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise RulesError(syntax_error(display, text, str(e))) from None
        return cls(_Compiler(display, Locator(text)).document(doc))

    @classmethod
    def shipped(cls, *, min_confidence: str = "low") -> RuleSet:
        """The rules shipped with takedown (src/takedown/net/rules/default.toml),
        optionally only those of at least ``min_confidence``."""
        if min_confidence not in _RANK:
            raise ValueError(f"min_confidence must be one of {', '.join(CONFIDENCES)}")
        rs = cls.load(SHIPPED_RULES)
        limit = _RANK[min_confidence]
        return cls([(r, c) for r, c in rs._all if _RANK.get(r.confidence or "low", 2) <= limit])

    def then(self, other: RuleSet) -> RuleSet:
        """This set's rules, then ``other``'s (an operator's rules before the
        shipped ones). A name defined in both keeps this set's rule."""
        names = {r.name for r, _ in self._all}
        return RuleSet(self._all + [(r, c) for r, c in other._all if r.name not in names])

    # -- inspection --------------------------------------------------------------

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(r for r, _ in self._all)

    def __len__(self) -> int:
        return len(self._all)

    def __iter__(self):
        return iter(self.rules)

    def __repr__(self) -> str:
        return f"<RuleSet {len(self)} rules>"

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
        # (indexed host or None, method) -> the candidates, in order.
        self._candidates: dict[tuple[str | None, str], tuple[_Compiled, ...]] = {}

    def match_http(self, req, *, port: int, ja3: str | None = None, ja4: str | None = None) -> Rule | None:
        """The first HTTP rule matching ``req`` (a takedown.net.http.Request)
        received on ``port`` (and inside TLS with ``ja3``/``ja4``), or None."""
        raw = req.host
        host = self._hosts.get(raw) if raw is not None else None
        if host is None and raw is not None:
            host = normalize_host(raw)
            if len(self._hosts) >= 4096:
                self._hosts.clear()
            self._hosts[raw] = host
        key = (host if host in self._http_by_host else None, req.method)
        candidates = self._candidates.get(key)
        if candidates is None:
            base = self._http_by_host[key[0]] if key[0] is not None else self._http_any
            candidates = tuple(c for c in base if c.methods is None or req.method in c.methods)
            self._candidates[key] = candidates
        for c in candidates:
            if c.http(req, host, port, ja3, ja4):
                return c.rule
        return None

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
# Loading and validation


class _Compiler:
    def __init__(self, display: str, locator: Locator):
        self.display = display
        self.loc = locator

    def error(self, where: KeyPath, message: str) -> RulesError:
        return RulesError(f"{self.display}:{self.loc.line_of(where)}: {message}")

    def document(self, doc: dict[str, Any]) -> list[tuple[Rule, _Compiled]]:
        for key, value in doc.items():
            if key != "rule":
                hint = " (did you mean [[rule]]?)" if difflib.get_close_matches(key, ["rule"], n=1) else ""
                raise self.error((key,), f"unknown key {dotted((key,))}{hint}: a rules file holds "
                                         f"[[rule]] tables only")
        rules = doc.get("rule", [])
        if not isinstance(rules, list) or not all(isinstance(t, dict) for t in rules):
            raise self.error(("rule",), "rule must be an array of tables: write each rule under its own [[rule]]")
        out = []
        names: dict[str, int] = {}
        for i, table in enumerate(rules):
            rule, comp = self.rule(i, table)
            if rule.name in names:
                j = names[rule.name]
                raise self.error(("rule", i, "name"), f"rule name {rule.name!r} is used twice "
                                                      f"(also rule[{j}], line {self.loc.line_of(('rule', j))})")
            names[rule.name] = i
            out.append((rule, comp))
        return out

    # -- one rule ------------------------------------------------------------

    def rule(self, i: int, t: dict[str, Any]) -> tuple[Rule, _Compiled]:
        where: KeyPath = ("rule", i)
        protocol = t.get("protocol", "http")
        if protocol not in PROTOCOLS:
            raise self.error(where + ("protocol",), f"rule[{i}].protocol must be one of "
                                                    f"{', '.join(PROTOCOLS)}, not {show(protocol)}")
        allowed = _KEYS[protocol]
        for key in t:
            if key not in allowed:
                other = [p for p in PROTOCOLS if key in _KEYS[p]]
                if other:
                    msg = (f"rule[{i}].{key} is not a matcher of {protocol} rules "
                           f"(it is one of {' and '.join(other)} rules; set protocol = \"{other[0]}\")")
                else:
                    hint = difflib.get_close_matches(key, allowed, n=1)
                    msg = f"unknown key rule[{i}].{key}" + (f" (did you mean {hint[0]}?)" if hint
                                                             else f" (expected one of: {', '.join(allowed)})")
                raise self.error(where + (key,), msg)
        name = self.required(t, where, "name", self.identifier)
        family = self.required(t, where, "family", self.identifier)
        source = self.required(t, where, "source", self.text)
        confidence = t.get("confidence")
        if confidence is not None and confidence not in CONFIDENCES:
            raise self.error(where + ("confidence",), f"rule[{i}].confidence must be one of "
                                                      f"{', '.join(CONFIDENCES)}, not {show(confidence)}")
        description = self.text(t["description"], where + ("description",)) if "description" in t else None
        response = t.get("response")
        if response is not None and response not in POLICIES:
            raise self.error(where + ("response",), f"rule[{i}].response must be one of "
                                                    f"{', '.join(POLICIES)}, not {show(response)}")
        used = tuple(k for k in _MATCHERS[protocol] if k in t)
        if not used:
            raise self.error(where, f"rule[{i}] ({name}) has no matcher: give at least one of "
                                    f"{', '.join(_MATCHERS[protocol])}")
        rule = Rule(name=name, family=family, source=source, response=response, protocol=protocol,
                    confidence=confidence, description=description,
                    location=f"{self.display}:{self.loc.line_of(where)}", matchers=used)
        c = _Compiled(rule)
        for key in used:
            getattr(self, "m_" + key)(c, t[key], where + (key,))
        return rule, c

    def required(self, t: dict, where: KeyPath, key: str, parse: Callable[[Any, KeyPath], Any]) -> Any:
        if key not in t:
            raise self.error(where, f"{dotted(where)} is missing required key {key}")
        return parse(t[key], where + (key,))

    def identifier(self, v: Any, where: KeyPath) -> str:
        if not isinstance(v, str) or not _IDENT_RE.fullmatch(v):
            raise self.error(where, f"{dotted(where)} must be 1-64 letters, digits, '.', '_' or '-', "
                                    f"starting with a letter or digit, not {show(v)}")
        return v

    def text(self, v: Any, where: KeyPath) -> str:
        if not isinstance(v, str) or not v.strip():
            raise self.error(where, f"{dotted(where)} must be a non-empty string, not {show(v)}")
        return v

    def strings(self, v: Any, where: KeyPath) -> list[tuple[str, KeyPath]]:
        if isinstance(v, str):
            return [(v, where)]
        if isinstance(v, list) and v:
            out = []
            for k, item in enumerate(v):
                if not isinstance(item, str):
                    raise self.error(where + (k,), f"{dotted(where + (k,))} must be a string, not {show(item)}")
                out.append((item, where + (k,)))
            return out
        raise self.error(where, f"{dotted(where)} must be a string or a non-empty array of strings, "
                                f"not {show(v)}")

    def regex(self, pattern: Any, where: KeyPath, flags: int = 0) -> re.Pattern[str]:
        if not isinstance(pattern, str) or not pattern:
            raise self.error(where, f"{dotted(where)} must be a non-empty regular expression string, "
                                    f"not {show(pattern)}")
        try:
            return re.compile(pattern, flags)
        except re.error as e:
            raise self.error(where, f"{dotted(where)}: invalid regular expression: {e}") from None

    def bytes_regex(self, pattern: Any, where: KeyPath) -> re.Pattern[bytes]:
        if not isinstance(pattern, str) or not pattern:
            raise self.error(where, f"{dotted(where)} must be a non-empty regular expression string, "
                                    f"not {show(pattern)}")
        try:
            raw = pattern.encode("latin-1")
        except UnicodeEncodeError:
            raise self.error(where, f"{dotted(where)}: a bytes regular expression may only hold "
                                    f"characters up to \\xff (write others as \\xNN escapes)") from None
        try:
            return re.compile(raw, re.DOTALL)
        except re.error as e:
            raise self.error(where, f"{dotted(where)}: invalid regular expression: {e}") from None

    def hexbytes(self, v: Any, where: KeyPath) -> bytes:
        text = v.replace(" ", "").replace(":", "") if isinstance(v, str) else None
        try:
            if not text:
                raise ValueError
            return bytes.fromhex(text)
        except ValueError:
            raise self.error(where, f"{dotted(where)} must be hexadecimal bytes such as "
                                    f"\"00 00 00 01\", not {show(v)}") from None

    def table(self, v: Any, where: KeyPath, keys: tuple[str, ...], what: str) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise self.error(where, f"{dotted(where)} must be {what}, not {show(v)}")
        for k in v:
            if k not in keys:
                hint = difflib.get_close_matches(k, keys, n=1)
                raise self.error(where + (k,), f"unknown key {dotted(where + (k,))}"
                                               + (f" (did you mean {hint[0]}?)" if hint
                                                  else f" (expected one of: {', '.join(keys)})"))
        if not v:
            raise self.error(where, f"{dotted(where)} is empty: give one of {', '.join(keys)}")
        return v

    def text_matcher(self, v: Any, where: KeyPath, *, default: str, fold: bool = False,
                     flags: int = 0) -> _Text:
        """A string, array of strings (``default`` kind: exact or contains), or a
        table of exact / prefix / contains / regex / absent."""
        if isinstance(v, (str, list)):
            values = [s for s, _ in self.strings(v, where)]
            return _Text(**{default: values}, fold=fold)
        t = self.table(v, where, ("exact", "prefix", "contains", "regex", "absent"),
                       "a string, an array of strings, or a table such as { regex = \"...\" }")
        kw: dict[str, Any] = {"fold": fold}
        for k in ("exact", "prefix", "contains"):
            if k in t:
                kw[k] = [s for s, _ in self.strings(t[k], where + (k,))]
        if "regex" in t:
            kw["regex"] = self.regex(t["regex"], where + ("regex",), flags | (re.IGNORECASE if fold else 0))
        if "absent" in t:
            if t["absent"] is not True or len(t) > 1:
                raise self.error(where + ("absent",), f"{dotted(where + ('absent',))} must be true, "
                                                      f"alone in its table")
            kw["absent"] = True
        return _Text(**kw)

    def bytes_matcher(self, v: Any, where: KeyPath) -> _Bytes:
        t = self.table(v, where, ("prefix_hex", "contains_hex", "regex"),
                       "a table such as { prefix_hex = \"00 00 00 01\" } or { regex = '...' }")
        kw: dict[str, Any] = {}
        if "prefix_hex" in t:
            kw["prefix"] = [self.hexbytes(s, w) for s, w in self.strings(t["prefix_hex"], where + ("prefix_hex",))]
        if "contains_hex" in t:
            kw["contains"] = [self.hexbytes(s, w) for s, w in self.strings(t["contains_hex"], where + ("contains_hex",))]
        if "regex" in t:
            kw["regex"] = self.bytes_regex(t["regex"], where + ("regex",))
        return _Bytes(**kw)

    # -- matchers (m_<key>) ------------------------------------------------------

    def m_method(self, c: _Compiled, v: Any, where: KeyPath) -> None:
        out = set()
        for s, w in self.strings(v, where):
            if not _TOKEN_RE.fullmatch(s):
                raise self.error(w, f"{dotted(w)} must be an HTTP method such as \"POST\", not {show(s)}")
            out.add(s.upper())
        c.methods = frozenset(out)

    def _hosts(self, c: _Compiled, v: Any, where: KeyPath) -> None:
        if isinstance(v, dict):
            c.host = self.text_matcher(v, where, default="exact", fold=True)
            return
        exact, globs = set(), []
        for s, w in self.strings(v, where):
            h = s.strip().lower().rstrip(".")
            if not h:
                raise self.error(w, f"{dotted(w)} must not be empty")
            if any(ch in h for ch in "*?["):
                globs.append(fnmatch.translate(h))
            else:
                exact.add(h)
        if globs and exact:
            # Mixed: one regex for all (exact names escaped), no index.
            pattern = "|".join(globs + [re.escape(h) + r"\Z" for h in sorted(exact)])
            c.host = _Text(regex=re.compile(pattern))
        elif globs:
            c.host = _Text(regex=re.compile("|".join(globs)))
        else:
            c.hosts = frozenset(exact)

    m_host = _hosts
    m_sni = _hosts

    def m_path(self, c: _Compiled, v: Any, where: KeyPath) -> None:
        c.path = self.text_matcher(v, where, default="exact")

    def m_query(self, c: _Compiled, v: Any, where: KeyPath) -> None:
        c.query = self.text_matcher(v, where, default="exact")

    def m_user_agent(self, c: _Compiled, v: Any, where: KeyPath) -> None:
        c.ua = self.text_matcher(v, where, default="contains")

    def m_header(self, c: _Compiled, v: Any, where: KeyPath) -> None:
        items = v if isinstance(v, list) else [v]
        out = []
        for k, item in enumerate(items):
            w = where + (k,) if isinstance(v, list) else where
            t = self.table(item, w, ("name", "exact", "prefix", "contains", "regex", "absent"),
                           "a table such as { name = \"content-type\", regex = \"...\" }")
            if "name" not in t:
                raise self.error(w, f"{dotted(w)} needs a name (the header field name)")
            name = t["name"]
            if not isinstance(name, str) or not _TOKEN_RE.fullmatch(name):
                raise self.error(w + ("name",), f"{dotted(w + ('name',))} must be a header field name, "
                                                f"not {show(name)}")
            rest = {key: val for key, val in t.items() if key != "name"}
            if not rest:
                raise self.error(w, f"{dotted(w)} needs one of exact, prefix, contains, regex, absent")
            out.append((name.lower(), self.text_matcher(rest, w, default="contains")))
        c.headers = tuple(out)

    def m_body(self, c: _Compiled, v: Any, where: KeyPath) -> None:
        c.body = self.bytes_matcher(v, where)

    def m_payload(self, c: _Compiled, v: Any, where: KeyPath) -> None:
        c.payload = self.bytes_matcher(v, where)

    def m_body_len(self, c: _Compiled, v: Any, where: KeyPath) -> None:
        def count(x: Any, w: KeyPath) -> int:
            if isinstance(x, bool) or not isinstance(x, int) or x < 0:
                raise self.error(w, f"{dotted(w)} must be a non-negative integer, not {show(x)}")
            return x
        if isinstance(v, dict):
            t = self.table(v, where, ("min", "max"), "an integer or a table { min = N, max = N }")
            c.body_min = count(t["min"], where + ("min",)) if "min" in t else 0
            c.body_max = count(t["max"], where + ("max",)) if "max" in t else None
            if c.body_max is not None and c.body_max < c.body_min:
                raise self.error(where, f"{dotted(where)}: max is smaller than min")
        else:
            c.body_min = c.body_max = count(v, where)
            if c.body_min == 0:
                c.body_max = 0

    def m_ja3(self, c: _Compiled, v: Any, where: KeyPath) -> None:
        out = set()
        for s, w in self.strings(v, where):
            if not _HASH_RE.fullmatch(s.lower()):
                raise self.error(w, f"{dotted(w)} must be a JA3 hash (32 hexadecimal digits), not {show(s)}")
            out.add(s.lower())
        c.ja3 = frozenset(out)

    def m_ja4(self, c: _Compiled, v: Any, where: KeyPath) -> None:
        exact, prefix = set(), []
        for s, w in self.strings(v, where):
            if not _JA4_RE.fullmatch(s) or "*" in s[:-1]:
                raise self.error(w, f"{dotted(w)} must be a JA4 fingerprint, or a prefix ending in '*', "
                                    f"not {show(s)}")
            if s.endswith("*"):
                prefix.append(s[:-1])
            else:
                exact.add(s)
        c.ja4_exact = frozenset(exact)
        c.ja4_prefix = tuple(prefix)

    def m_port(self, c: _Compiled, v: Any, where: KeyPath) -> None:
        items = v if isinstance(v, list) else [v]
        out = set()
        for k, p in enumerate(items):
            w = where + (k,) if isinstance(v, list) else where
            if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535:
                raise self.error(w, f"{dotted(w)} must be a port number between 1 and 65535, not {show(p)}")
            out.add(p)
        if not out:
            raise self.error(where, f"{dotted(where)} must not be an empty array")
        c.ports = frozenset(out)


def describe(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rules of a file as plain data (for ``takedown check`` and docs)."""
    rs = RuleSet.load(path)
    return [{"name": r.name, "family": r.family, "protocol": r.protocol, "confidence": r.confidence,
             "response": r.response, "source": r.source, "location": r.location,
             "matchers": list(r.matchers)} for r in rs]

