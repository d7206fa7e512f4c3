"""TOML files with line numbers: what every takedown input file (operation,
fingerprint rules, simulation scenarios) needs to report ``FILE:LINE: reason``.

:mod:`tomllib` does not report where values are, so :class:`Locator` re-reads
the text (already accepted by tomllib) to find the line of each key, table
header and array element; :func:`syntax_error` turns tomllib's own message
into the same ``FILE:LINE`` form.
"""

from __future__ import annotations

import re
from typing import Any

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
