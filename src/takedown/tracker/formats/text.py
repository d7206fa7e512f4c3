"""Reading the text feeds the importers share: lines with their numbers,
``#`` comments, CSV rows under a header that may itself be a comment,
abuse.ch's times, family names.

abuse.ch's CSV downloads (Feodo Tracker ``ipblocklist.csv``, ThreatFox
``export/csv``, URLhaus ``downloads/csv``; https://abuse.ch) open with a block
of ``#`` lines, the last of which names the columns (``# "first_seen_utc",
"ioc_id",...``), quote every field and may put a space after each comma;
times are ``YYYY-MM-DD HH:MM:SS`` in UTC. A file saved by a spreadsheet or a
Windows editor may carry a byte-order mark and CRLF line ends: both are
accepted.

Every error names ``FILE:LINE`` and the field: an importer refuses a file
with one bad row rather than import half of it (docs/tracker.md, "Ways in").
"""

from __future__ import annotations

import csv
import functools
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from takedown.errors import TrackerError
from takedown.tomlfile import display_path
from takedown.tracker.indicator import Indicator, parse_value

__all__ = ["lines", "csv_rows", "Row", "time_field", "family_name", "empty", "tag_list", "canonical", "indicator"]


def lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line without its end) for every line of ``path``, read
    as UTF-8 (a BOM is dropped); a file that cannot be read or decoded is a
    one-line error naming it (and the line)."""
    shown = display_path(path)
    lineno = 0
    try:
        # newline="": the csv module's rule; a CR inside a line stays, CRLF ends it
        with open(path, encoding="utf-8-sig", newline="") as f:
            for lineno, raw in enumerate(f, 1):
                yield lineno, raw.rstrip("\r\n")
    except UnicodeDecodeError:
        raise TrackerError(f"{shown}:{lineno + 1}: not valid UTF-8 text") from None
    except OSError as exc:
        raise TrackerError(f"{shown}: cannot read: {exc.strerror or exc}") from None


def _split(line: str, where: str) -> list[str]:
    try:
        return next(csv.reader([line], skipinitialspace=True, strict=True), [])
    except csv.Error as exc:
        raise TrackerError(f"{where}: not a CSV row ({exc})") from None


class Row:
    """One data row: its fields by column name, and where it is."""

    __slots__ = ("fields", "index", "where")

    def __init__(self, fields: list[str], index: dict[str, int], where: str) -> None:
        self.fields = fields
        self.index = index
        self.where = where

    def __getitem__(self, column: str) -> str:
        i = self.index.get(column)
        return "" if i is None else self.fields[i].strip()


def _is_header(fields: list[str], wanted: set[str]) -> tuple[str, ...] | None:
    names = tuple(f.strip().lower() for f in fields)
    return names if wanted <= set(names) and len(set(names)) == len(names) else None


def csv_rows(path: Path, columns: tuple[str, ...]) -> Iterator[Row]:
    """The data rows of an abuse.ch-style CSV file with ``columns`` (the
    documented order). A header, commented or not, that names every column
    sets the order; without one, the documented order is assumed. Comment
    lines (``#`` first) and blank lines are skipped; a row with another
    number of fields is an error."""
    shown = display_path(path)
    wanted = set(columns)
    order: tuple[str, ...] = columns
    at = [0]  # the line the reader is on

    def data() -> Iterator[str]:
        nonlocal order
        for lineno, line in lines(path):
            text = line.strip()
            if not text:
                continue
            at[0] = lineno
            if text[0] == "#":
                header = _is_header(_split(text.lstrip("#").strip(), f"{shown}:{lineno}"), wanted)
                if header:
                    order = header
                continue
            yield text

    # one reader for the file (a quoted field never spans lines in these feeds: strict refuses it)
    reader = csv.reader(data(), skipinitialspace=True, strict=True)
    index = {name: i for i, name in enumerate(order)}
    seen_data = False
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TrackerError(f"{shown}:{at[0]}: not a CSV row ({exc})") from None
        where = f"{shown}:{at[0]}"
        if not seen_data:
            header = _is_header(fields, wanted)
            if header:
                order = header
                index = {name: i for i, name in enumerate(order)}
                continue
            index = {name: i for i, name in enumerate(order)}  # a commented header may have set it
            seen_data = True
        if len(fields) != len(order):
            raise TrackerError(f"{where}: {len(fields)} fields, expected {len(order)} ({','.join(order)})")
        yield Row(fields, index, where)


#: What abuse.ch writes for an absent value.
_EMPTY = {"", "none", "null", "n/a", "-"}


def empty(text: str) -> bool:
    return text.strip().lower() in _EMPTY


_TIME_RE = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d))?(?:\.\d+)?)?\s*(?:Z|UTC|\+00:?00)?",
                      re.ASCII)


@functools.lru_cache(maxsize=65536)
def _parse_time(text: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        m = _TIME_RE.fullmatch(text)
        if m is None:
            return None
        try:
            return datetime(*(int(g) if g else 0 for g in m.groups()), tzinfo=timezone.utc)
        except ValueError:
            return None
    t = t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)
    return t.replace(microsecond=0) if t.microsecond else t


def time_field(text: str, where: str, column: str) -> datetime | None:
    """An abuse.ch time (``YYYY-MM-DD HH:MM:SS``, a bare date as its
    midnight, ISO 8601 with ``T`` and ``Z`` too), UTC; None if empty."""
    if empty(text):
        return None
    t = _parse_time(text.strip())
    if t is None:
        raise TrackerError(f"{where}: {column}: {text.strip()!r} is not a time (YYYY-MM-DD HH:MM:SS, UTC)")
    return t


def family_name(text: str) -> str:
    """A family as the tracker keeps it: lower case, runs of spaces as one
    ``-`` (``Cobalt Strike`` -> ``cobalt-strike``), ``unknown`` for none.
    abuse.ch's feeds spell families differently (Feodo Tracker's ``Dridex``,
    ThreatFox's ``Dridex`` and ``win.dridex``); one spelling keeps a family's
    counts together, as IntelMQ's lower-cased ``malware.name`` does."""
    name = "-".join(text.split()).lower()
    return "unknown" if empty(name) else name


def tag_list(text: str) -> tuple[str, ...]:
    """Comma-separated tags, trimmed, without empties and duplicates, in order."""
    if empty(text):
        return ()
    return tuple(dict.fromkeys(t.strip() for t in text.split(",") if not empty(t)))


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4_PORT = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}(?::([1-9]\d{{0,4}}))?", re.ASCII)
_NAME = re.compile(r"(?:[a-z0-9_-]{1,63}\.)+[a-z0-9_-]{1,63}", re.ASCII)
# a URL already in canonical form: scheme and host in lower case, a port
# that is not the default, a path, no fragment, no user, no empty query
_URL = re.compile(r"(https?)://((?:[a-z0-9_-]{1,63}\.)+[a-z0-9_-]{1,63})(?::([1-9]\d{0,4}))?/[!-\"$-~]*(?<!\?)",
                  re.ASCII)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical(raw: str, kind: str | None, what: str) -> tuple[str, str]:
    """(canonical value, kind) of ``raw``, as
    :func:`takedown.tracker.indicator.parse_value` gives them; the common
    shapes (a URL already in canonical form, an IPv4 address with an
    optional port, an ASCII domain name) are recognised here without it, at a fraction of its cost: a feed of a
    million rows spends most of its time here."""
    if kind in (None, "url"):
        m = _URL.fullmatch(raw)
        port = m and m.group(3)
        if m is not None and len(m.group(2)) <= 253 and (
                port is None or int(port) <= 65535 and int(port) != _DEFAULT_PORTS[m.group(1)]):
            return raw, "url"
    if kind in (None, "ip"):
        m = _IPV4_PORT.fullmatch(raw)
        if m is not None and (m.group(1) is None or int(m.group(1)) <= 65535):
            return raw, "ip"
    if kind in (None, "domain") and raw.isascii():
        name = raw.lower()
        if name.endswith("."):
            name = name[:-1]
        if len(name) <= 253 and _NAME.fullmatch(name) and (kind or not name.replace(".", "").isdigit()):
            return name, "domain"
    v = parse_value(raw, kind, what)
    return v.text, v.kind


def indicator(raw: str, family: str, kind: str | None, what: str, **fields) -> Indicator:
    """An indicator from a checked row: ``raw`` made canonical (an error names
    ``what``); ``fields`` are already checked by the reader (status,
    confidence)."""
    value, kind = canonical(raw.strip(), kind, what)
    return Indicator(value, kind, family, **fields)
