"""TOML files with line numbers: what every takedown input file (operation,
fingerprint rules, simulation scenarios) needs to report ``FILE:LINE: reason``.

:mod:`tomllib` does not report where values are, so :class:`Locator` re-reads
the text (already accepted by tomllib) to find the line of each key, table
header and array element; :func:`syntax_error` turns tomllib's own message
into the same ``FILE:LINE`` form.

The second half is the declarative schema all three loaders use: each key
declared once on its model dataclass with :func:`key` (kind, default, one-line
doc), tables walked by :class:`Table` / :class:`Tables` / :class:`Tagged`,
problems raised as :class:`Invalid` and reported by :func:`load_document`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Callable

KeyPath = tuple[str | int, ...]

_SYNTAX_RE = re.compile(r"^(?P<msg>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$", re.S)


def syntax_error(display: str, text: str, message: str) -> str:
    m = _SYNTAX_RE.match(message)
    if m is None:
        return f"{display}:1: {message}"
    if m["line"] is None:
        last = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        return f"{display}:{max(last, 1)}: {m['msg']} (at end of file)"
    return f"{display}:{m['line']}: {m['msg']} (column {m['col']})"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)
# A number, boolean or date-time runs until a separator (dates may hold a space).
_SCALAR = re.compile(r"[^,\]}\r\n#]*")


def dotted(path: KeyPath) -> str:
    """A key path as a user reads it: dns.rrl.slip, zones[1].origin,
    sinkhole.nameservers."ns1.sinkhole.example"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
            out += f".{key}" if out else key
    return out


def display_path(path: str | os.PathLike[str]) -> str:
    """``path`` as a user wants to read it in a message: relative to the
    current directory when it lies below it, else as it is."""
    text = os.fspath(path)
    if os.path.isabs(text):
        try:
            rel = os.path.relpath(text)
        except ValueError:  # another drive on Windows
            return text
        if rel != os.pardir and not rel.startswith(os.pardir + os.sep):
            return rel
    return text


def first_repeat(values) -> tuple[int, int] | None:
    """``(i, j)``: the first value (at ``i``) equal to an earlier one (at
    ``j``); None when all differ. For "declared twice" errors."""
    seen: dict = {}
    for i, v in enumerate(values):
        if v in seen:
            return i, seen[v]
        seen[v] = i
    return None


def show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return repr(v if len(v) <= 80 else v[:77] + "...")
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "a table"
    return f"a {type(v).__name__}"


class Locator:
    """Line of every key, table header and array element of a TOML text.

    Runs only on text that tomllib has accepted, so it can be a small
    recursive scanner that trusts the grammar. Paths are tuples of keys and
    array indices, as in the parsed document: ("domains", 1, "file").
    A key inside an inline table or a dotted key gets the line where it is
    written; a table gets the line of its header.
    """

    def __init__(self, text: str):
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[KeyPath, int] = {}
        self.aot: dict[KeyPath, int] = {}  # array-of-tables path -> current index
        try:
            self._document()
        except (IndexError, ValueError, AttributeError):
            # Cannot happen on valid TOML; if it does, lines degrade to the
            # nearest table header found so far rather than crash.
            pass

    def line_of(self, path: KeyPath) -> int:
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return 1

    # -- scanner -----------------------------------------------------------

    def _peek(self, n: int = 1) -> str:
        return self.s[self.i:self.i + n]

    def _advance_to(self, j: int) -> None:
        self.line += self.s.count("\n", self.i, j)
        self.i = j

    def _ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def _ws_nl(self) -> None:
        """Whitespace, newlines and comments."""
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r":
                self.i += 1
            elif c == "\n":
                self.i += 1
                self.line += 1
            elif c == "#":
                j = self.s.find("\n", self.i)
                self.i = len(self.s) if j < 0 else j
            else:
                break

    def _document(self) -> None:
        table: KeyPath = ()
        while True:
            self._ws_nl()
            if self.i >= len(self.s):
                return
            if self._peek(2) == "[[":
                self.i += 2
                table = self._header(array=True)
                self.i += 2  # ]]
            elif self._peek() == "[":
                self.i += 1
                table = self._header(array=False)
                self.i += 1  # ]
            else:
                self._keyval(table)

    def _header(self, array: bool) -> KeyPath:
        self._ws()
        keys = self._key()
        self._ws()
        path: KeyPath = ()
        for n, k in enumerate(keys):
            path += (k,)
            if n == len(keys) - 1 and array:
                idx = self.aot.get(path, -1) + 1
                self.aot[path] = idx
                self.lines.setdefault(path, self.line)
                path += (idx,)
            elif path in self.aot:
                path += (self.aot[path],)
            if n < len(keys) - 1:
                self.lines.setdefault(path, self.line)
        # An explicit header wins over an earlier implicit definition
        # ([dns.rrl] before [dns]).
        self.lines[path] = self.line
        return path

    def _keyval(self, table: KeyPath) -> None:
        keys = self._key()
        for n in range(1, len(keys)):
            self.lines.setdefault(table + tuple(keys[:n]), self.line)
        path = table + tuple(keys)
        self.lines[path] = self.line
        self._ws()
        self.i += 1  # =
        self._ws()
        self._value(path)

    def _key(self) -> list[str]:
        keys = []
        while True:
            self._ws()
            c = self._peek()
            if c == '"':
                keys.append(self._basic_string())
            elif c == "'":
                j = self.s.index("'", self.i + 1)
                keys.append(self.s[self.i + 1:j])
                self.i = j + 1
            else:
                m = _BARE_KEY.match(self.s, self.i)
                keys.append(m.group())  # type: ignore[union-attr]
                self.i = m.end()  # type: ignore[union-attr]
            self._ws()
            if self._peek() != ".":
                return keys
            self.i += 1

    def _basic_string(self) -> str:
        """A single-line "..." string at self.i, decoded (keys need their value)."""
        j = self.i + 1
        out = []
        while self.s[j] != '"':
            if self.s[j] == "\\":
                e = self.s[j + 1]
                if e in "uU":
                    n = 4 if e == "u" else 8
                    out.append(chr(int(self.s[j + 2:j + 2 + n], 16)))
                    j += 2 + n
                    continue
                out.append({"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r"}.get(e, e))
                j += 2
            else:
                out.append(self.s[j])
                j += 1
        self.i = j + 1
        return "".join(out)

    def _value(self, path: KeyPath) -> None:
        s = self.s
        c = self._peek()
        if self._peek(3) in ('"""', "'''"):
            quote = self._peek(3)
            j = self.i + 3
            if quote == '"""':
                while not s.startswith(quote, j):
                    j += 2 if s[j] == "\\" else 1
            else:
                j = s.index(quote, j)
            j += 3
            # Up to two more quotes right after the delimiter are content.
            for _ in range(2):
                if s[j:j + 1] == quote[0]:
                    j += 1
            self._advance_to(j)
        elif c == '"':
            self._basic_string()
        elif c == "'":
            self.i = s.index("'", self.i + 1) + 1
        elif c == "[":
            self.i += 1
            idx = 0
            while True:
                self._ws_nl()
                if self._peek() == "]":
                    self.i += 1
                    return
                self.lines[path + (idx,)] = self.line
                self._value(path + (idx,))
                self._ws_nl()
                if self._peek() == ",":
                    self.i += 1
                idx += 1
        elif c == "{":
            self.i += 1
            while True:
                self._ws()
                if self._peek() == "}":
                    self.i += 1
                    return
                self._keyval(path)
                self._ws()
                if self._peek() == ",":
                    self.i += 1
        else:
            m = _SCALAR.match(s, self.i)
            self.i = m.end()  # type: ignore[union-attr]


# --------------------------------------------------------------------------
# Declarative schema: every key of a TOML file declared once, on its model
# dataclass, with its kind, default and a one-line doc:
#
#     @dataclass(frozen=True)
#     class Rrl:
#         slip: int = key(Int(0, 10), 2, doc="every Nth limited response is truncated")
#
# ``load(Model, doc, ...)`` walks the parsed document against the models:
# unknown keys of a table are refused (with a did-you-mean) before any of its
# values is looked at, then each key is parsed by its kind in declaration
# order, then the table's own cross-field ``check`` runs on the built object.
# Every problem is an :class:`Invalid` (key path + message) that the loader
# turns into ``FILE:LINE: message`` with :class:`Locator`.


class Invalid(Exception):
    """A bad value at ``where``; the loader adds FILE:LINE."""

    def __init__(self, where: KeyPath, message: str):
        super().__init__(message)
        self.where = tuple(where)
        self.message = message


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


class Context:
    """What kinds may need besides the value: the directory relative paths
    are resolved against, the locator (for "line N" in messages)."""

    def __init__(self, base: Path | None = None, locator: Locator | None = None, display: str = ""):
        self.base = base or Path.cwd()
        self.loc = locator or Locator("")
        self.display = display

    def line_of(self, where: KeyPath) -> int:
        return self.loc.line_of(where)


def load_document(model: type, doc: dict[str, Any], display: str, text: str,
                  error: type[Exception], *, base: Path | None = None,
                  fixed: dict[str, Any] | None = None, check: Callable | None = None) -> Any:
    """``model`` built from the parsed ``doc`` (the root table), or ``error``
    reading ``FILE:LINE: message``."""
    loc = Locator(text)
    ctx = Context(base, loc, display)
    try:
        return Table(model, fixed=fixed, check=check).parse(doc, (), ctx)
    except Invalid as e:
        raise error(f"{display}:{loc.line_of(e.where)}: {e.message}") from None


def parse_toml(display: str, text: str, error: type[Exception]) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise error(syntax_error(display, text, str(e))) from None


@dataclasses.dataclass(frozen=True)
class Key:
    """One TOML key, as declared by :func:`key` (kept in the field's metadata)."""

    kind: Kind
    default: Any
    doc: str
    check: Callable[[Any, KeyPath], Any] | None = None
    section: str | None = None  # the sub-table holding it ("operation" for operation.name)
    doc_default: str | None = None  # what docs say the default is, when not a literal
    tags: tuple[str, ...] = ()  # free for the loader's own checks (e.g. the protocols of a rule key)
    name: str = ""  # filled in by keys()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def key(kind: Kind, default: Any = REQUIRED, *, doc: str, check: Callable[[Any, KeyPath], Any] | None = None,
        section: str | None = None, doc_default: str | None = None, tags: tuple[str, ...] = (),
        model_default: bool = True) -> Any:
    """A dataclass field that is also a TOML key. ``default`` is the value
    when the key is absent (REQUIRED: it must be given); it is also the
    field's default unless ``model_default`` is false (a field that must stay
    positional). ``check(value, where)`` validates (or transforms) the parsed
    value further; ``section`` puts the key in a sub-table of the model's
    table, e.g. the [operation] keys of Operation."""
    meta = {"toml": Key(kind, default, doc, check, section, doc_default, tuple(tags))}
    if default is REQUIRED or not model_default:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def keys(model: type) -> list[Key]:
    """The TOML keys of a model dataclass, in declaration order."""
    out = []
    for f in dataclasses.fields(model):
        k = f.metadata.get("toml")
        if k is not None:
            out.append(dataclasses.replace(k, name=f.name))
    return out


def unknown_keys(data: dict[str, Any], where: KeyPath, allowed: dict[str, Kind | None] | tuple[str, ...]) -> None:
    """Refuse keys of ``data`` not in ``allowed`` (names, or names -> kinds,
    which lets a hint name an array of tables [[x]])."""
    names = list(allowed)
    for k, value in data.items():
        if k in allowed:
            continue
        w = where + (k,)
        if isinstance(value, dict):
            what = f"table [{dotted(w)}]"
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            what = f"table [[{dotted(w)}]]"
        else:
            what = f"key {dotted(w)}"
        hint = difflib.get_close_matches(k, names, n=1)
        if hint:
            kind = allowed.get(hint[0]) if isinstance(allowed, dict) else None
            shown = f"[[{dotted(where + (hint[0],))}]]" if isinstance(kind, Tables) else dotted(where + (hint[0],))
            raise Invalid(w, f"unknown {what} (did you mean {shown}?)")
        raise Invalid(w, f"unknown {what} (expected one of: {', '.join(names)})")


# -- kinds: parse(value, where, ctx) -> result, or raise Invalid ----------------


class Kind:
    what = "value"  # for docs: the type column

    def parse(self, v: Any, where: KeyPath, ctx: Context) -> Any:
        raise NotImplementedError


class Str(Kind):
    """A string; with ``pattern``, one that fully matches it (``what`` says how)."""

    def __init__(self, pattern: str | None = None, what: str = "string", *, nonempty: bool = False):
        self.pattern = re.compile(pattern, re.ASCII) if pattern else None
        self.what = what
        self.nonempty = nonempty

    def parse(self, v, where, ctx):
        if self.nonempty and (not isinstance(v, str) or not v.strip()):
            raise Invalid(where, f"{dotted(where)} must be a non-empty string, not {show(v)}")
        if not isinstance(v, str):
            raise Invalid(where, f"{dotted(where)} must be a string, not {show(v)}")
        if self.pattern is not None and not self.pattern.fullmatch(v):
            raise Invalid(where, f"{dotted(where)} must be {self.what}, not {show(v)}")
        return v


class Int(Kind):
    def __init__(self, lo: int, hi: int):
        self.lo, self.hi = lo, hi
        self.what = f"integer, {lo}-{hi}"

    def parse(self, v, where, ctx):
        if isinstance(v, bool) or not isinstance(v, int) or not self.lo <= v <= self.hi:
            raise Invalid(where, f"{dotted(where)} must be an integer between {self.lo} and {self.hi}, "
                                 f"not {show(v)}")
        return v


class Float(Kind):
    """A number (int or float, returned as float) in (lo, hi], or [lo, hi]
    with ``closed``."""

    def __init__(self, lo: float, hi: float, *, closed: bool = False):
        self.lo, self.hi, self.closed = lo, hi, closed
        self.what = f"number, {lo:g}-{hi:g}" if closed else f"number, > {lo:g}, ≤ {hi:g}"

    def parse(self, v, where, ctx):
        ok = (not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
              and (self.lo <= v if self.closed else self.lo < v) and v <= self.hi)
        if not ok:
            if self.closed:
                raise Invalid(where, f"{dotted(where)} must be a number between {self.lo:g} and {self.hi:g}, "
                                     f"not {show(v)}")
            raise Invalid(where, f"{dotted(where)} must be a number greater than {self.lo:g} and at most "
                                 f"{self.hi:g}, not {show(v)}")
        return float(v)


class Bool(Kind):
    what = "boolean"

    def parse(self, v, where, ctx):
        if not isinstance(v, bool):
            raise Invalid(where, f"{dotted(where)} must be true or false, not {show(v)}")
        return v


class Choice(Kind):
    def __init__(self, options: tuple[str, ...] | Any):
        self.options = tuple(options)
        self.what = ", ".join(f'"{o}"' for o in self.options)

    def parse(self, v, where, ctx):
        if not isinstance(v, str) or v not in self.options:
            raise Invalid(where, f"{dotted(where)} must be one of {', '.join(self.options)}, not {show(v)}")
        return v


def expand_home(s: str) -> Path:
    """``Path(s).expanduser()``, with ValueError (not pathlib's RuntimeError)
    for ``~name`` when the system has no user ``name``."""
    try:
        return Path(s).expanduser()
    except RuntimeError:
        raise ValueError(f"{s.split('/', 1)[0]}: no such user, so no home directory to expand") from None


class File(Kind):
    """A path, relative to the file's directory, ``~`` expanded, returned
    absolute. ``must``: "file" (an existing regular file), "dir" (an existing
    directory), "dir-or-absent" (a directory, created later), None (anything)."""

    def __init__(self, must: str | None = "file"):
        self.must = must
        self.what = {"file": "existing file", "dir": "existing directory",
                     "dir-or-absent": "directory (path)", None: "path"}[must]

    def parse(self, v, where, ctx):
        s = Str().parse(v, where, ctx)
        if not s:
            raise Invalid(where, f"{dotted(where)} must not be empty")
        try:
            p = Path(os.path.abspath(ctx.base / expand_home(s)))
        except ValueError as e:
            raise Invalid(where, f"{dotted(where)}: {show(v)}: {e}") from None
        if self.must == "file":
            if not p.exists():
                raise Invalid(where, f"{dotted(where)}: file {show(v)} does not exist "
                                     f"(looked for {display_path(p)})")
            if not p.is_file():
                raise Invalid(where, f"{dotted(where)}: {display_path(p)} is not a regular file")
        elif self.must == "dir" and not p.is_dir():
            raise Invalid(where, f"{dotted(where)}: {display_path(p)} is not a directory")
        elif self.must == "dir-or-absent" and p.exists() and not p.is_dir():
            raise Invalid(where, f"{dotted(where)}: {display_path(p)} exists and is not a directory")
        return p


def strings(v: Any, where: KeyPath, *, nonempty: bool = False) -> list[tuple[str, KeyPath]]:
    """A string or an array of strings, each with its own key path."""
    if isinstance(v, str):
        return [(v, where)]
    if isinstance(v, list) and (v or not nonempty):
        out = []
        for i, item in enumerate(v):
            if not isinstance(item, str):
                raise Invalid(where + (i,), f"{dotted(where + (i,))} must be a string, not {show(item)}")
            out.append((item, where + (i,)))
        return out
    raise Invalid(where, f"{dotted(where)} must be a string or {'a non-empty' if nonempty else 'an'} "
                         f"array of strings, not {show(v)}")


class Each(Kind):
    """A string or an array of strings (a tuple), each parsed by
    ``item(text, where) -> value`` (raising Invalid or ValueError: the
    ValueError's text follows ``key:``). ``twice``: the message for a
    duplicate ({key}, {value}); ``at_least``: the message for an empty list."""

    def __init__(self, item: Callable[[str, KeyPath], Any], what: str, *, twice: str | None = None,
                 at_least: str | None = None):
        self.item, self.what, self.twice, self.at_least = item, what, twice, at_least

    def parse(self, v, where, ctx):
        out: dict[Any, None] = {}
        items = strings(v, where)
        if not items and self.at_least:
            raise Invalid(where, f"{dotted(where)} {self.at_least}")
        for s, w in items:
            try:
                x = self.item(s, w)
            except ValueError as e:
                raise Invalid(w, f"{dotted(w)}: {e}") from None
            if x in out and self.twice:
                raise Invalid(w, self.twice.format(key=dotted(w), value=x))
            out[x] = None
        return tuple(out)


class Custom(Kind):
    """Any value, parsed by ``fn(value, where, ctx)``."""

    def __init__(self, fn: Callable[[Any, KeyPath, Context], Any], what: str):
        self.fn, self.what = fn, what

    def parse(self, v, where, ctx):
        return self.fn(v, where, ctx)


class Table(Kind):
    """A table whose keys are ``model``'s. ``fixed``: values of the model's
    fields that are not keys; ``gate(data, where)``: runs after the unknown-key
    check and before the values (keys allowed only with some value of
    another); ``check(obj, data, where, ctx) -> obj``: cross-field checks
    after the typed pass."""

    what = "table"

    def __init__(self, model: type, *, fixed: dict[str, Any] | None = None,
                 gate: Callable[[dict, KeyPath], None] | None = None,
                 check: Callable[[Any, dict, KeyPath, Context], Any] | None = None,
                 ignore: tuple[str, ...] = ()):
        self.model, self.fixed, self.gate, self.check = model, fixed or {}, gate, check
        self.ignore = ignore  # keys allowed but read by someone else (the tag of a Tagged)

    def allowed(self) -> dict[str, Kind | None]:
        out: dict[str, Kind | None] = dict.fromkeys(self.ignore)
        for k in keys(self.model):
            if k.section is None:
                out[k.name] = k.kind
            else:
                out.setdefault(k.section, Table)  # type: ignore[assignment]
        return out

    def parse(self, v, where, ctx):
        if not isinstance(v, dict):
            raise Invalid(where, f"{dotted(where)} must be a table ([{dotted(where)}]), not {show(v)}")
        unknown_keys(v, where, self.allowed())
        if self.gate is not None:
            self.gate(v, where)
        values = dict(self.fixed)
        sections: dict[str, dict] = {}
        for k in keys(self.model):
            table, path = v, where
            if k.section is not None:
                path = where + (k.section,)
                if k.section not in sections:
                    sections[k.section] = self._section(v, where, k.section, ctx)
                table = sections[k.section]
            if k.name in table:
                x = k.kind.parse(table[k.name], path + (k.name,), ctx)
                if k.check is not None:
                    x = k.check(x, path + (k.name,))
            elif k.required:
                if isinstance(k.kind, Table):
                    raise Invalid(path, f"missing required table [{dotted(path + (k.name,))}]")
                raise Invalid(path, f"missing required key {dotted(path + (k.name,))}")
            elif isinstance(k.kind, Table) and k.default is not None:
                x = k.kind.parse({}, path + (k.name,), ctx)  # an absent table is an empty one
            else:
                x = k.default
            values[k.name] = x
        obj = self.model(**values)
        if self.check is not None:
            obj = self.check(obj, v, where, ctx)
        return obj

    def _section(self, v: dict, where: KeyPath, name: str, ctx: Context) -> dict:
        inner = [k for k in keys(self.model) if k.section == name]
        w = where + (name,)
        if name not in v:
            if any(k.required for k in inner):
                raise Invalid(where, f"missing required table [{dotted(w)}]")
            return {}
        t = v[name]
        if not isinstance(t, dict):
            raise Invalid(w, f"{dotted(w)} must be a table ([{dotted(w)}]), not {show(t)}")
        unknown_keys(t, w, {k.name: k.kind for k in inner})
        return t


class Tables(Kind):
    """An array of tables ``[[x]]``, each a ``Table(model, ...)``; a tuple."""

    what = "array of tables"

    def __init__(self, model: type, **kw: Any):
        self.table = Table(model, **kw)
        self.model = model

    def parse(self, v, where, ctx):
        if not isinstance(v, list) or not all(isinstance(t, dict) for t in v):
            raise Invalid(where, f"{dotted(where)} must be an array of tables: write each entry under "
                                 f"its own [[{dotted(where)}]]")
        return tuple(self.table.parse(t, where + (i,), ctx) for i, t in enumerate(v))


class Tagged(Kind):
    """An array of tables ``[[x]]`` whose ``tag`` key (a string) names the
    model of each: ``kind = "poison"`` in a [[strategy]]; a tuple."""

    what = "array of tables"

    def __init__(self, tag: str, models: dict[str, type], **kw: Any):
        self.tag, self.models = tag, models
        self.tables = {name: Table(m, ignore=(tag,), **kw) for name, m in models.items()}

    def parse(self, v, where, ctx):
        if not isinstance(v, list) or not all(isinstance(t, dict) for t in v):
            raise Invalid(where, f"{dotted(where)} must be an array of tables: write each entry under "
                                 f"its own [[{dotted(where)}]]")
        out = []
        for i, t in enumerate(v):
            w = where + (i,)
            if self.tag not in t:
                raise Invalid(w, f"missing required key {dotted(w + (self.tag,))}")
            name = Choice(tuple(self.models)).parse(t[self.tag], w + (self.tag,), ctx)
            out.append(self.tables[name].parse(t, w, ctx))
        return tuple(out)


# -- documentation ------------------------------------------------------------


def literal(v: Any) -> str:
    """A default as TOML writes it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(literal(x) for x in v) + "]"
    return str(v)


def doc_default(k: Key) -> str:
    """The default column of a key's row in the docs."""
    if k.doc_default is not None:
        return k.doc_default
    if k.required:
        return "required"
    if k.default is None:
        return "none"
    return f"`{literal(k.default)}`"


def tables(model: type, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], list[Key]]:
    """Every table of a schema, by path (array-of-tables without indices),
    with its value keys (nested tables are tables of their own)."""
    out: dict[tuple[str, ...], list[Key]] = {}
    for k in keys(model):
        if isinstance(k.kind, (Table, Tables)):
            out.update(tables(k.kind.model, path + (k.name,)))
        else:
            out.setdefault(path + ((k.section,) if k.section else ()), []).append(k)
    return out


def markdown_table(ks: list[Key]) -> str:
    """A key | type | default | meaning table (docs/operation-file.md)."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    rows += [f"| `{k.name}` | {k.kind.what} | {doc_default(k)} | {k.doc} |" for k in ks]
    return "\n".join(rows)
