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
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from takedown.errors import TrackerError
from takedown.tomlfile import display_path

__all__ = ["lines", "csv_rows", "Row", "time_field", "family_name", "empty", "tag_list"]


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
        return next(csv.reader([line], skipinitialspace=True, strict=True))
    except csv.Error as exc:
        raise TrackerError(f"{where}: not a CSV row ({exc})") from None
    except StopIteration:
        return []


class Row:
    """One data row: its fields by column name, and where it is."""

    __slots__ = ("fields", "where")

    def __init__(self, fields: dict[str, str], where: str) -> None:
        self.fields = fields
        self.where = where

    def __getitem__(self, column: str) -> str:
        return self.fields.get(column, "").strip()


def csv_rows(path: Path, columns: tuple[str, ...]) -> Iterator[Row]:
    """The data rows of an abuse.ch-style CSV file with ``columns`` (the
    documented order). A header, commented or not, that names every column
    sets the order; without one, the documented order is assumed. Comment
    lines (``#`` first) and blank lines are skipped; a row with another
    number of fields is an error."""
    shown = display_path(path)
    order: tuple[str, ...] = columns
    wanted = set(columns)
    for lineno, line in lines(path):
        where = f"{shown}:{lineno}"
        text = line.strip()
        if not text:
            continue
        comment = text.startswith("#")
        fields = _split(text.lstrip("#").strip() if comment else text, where)
        names = tuple(f.strip().lower() for f in fields)
        if wanted <= set(names) and len(set(names)) == len(names):
            order = names  # the header, a comment line or not
            continue
        if comment:
            continue
        if len(fields) != len(order):
            raise TrackerError(f"{where}: {len(fields)} fields, expected {len(order)} "
                               f"({','.join(order)})")
        yield Row(dict(zip(order, fields)), where)


#: What abuse.ch writes for an absent value.
_EMPTY = {"", "none", "null", "n/a", "-"}


def empty(text: str) -> bool:
    return text.strip().lower() in _EMPTY


_TIME_RE = re.compile(r"(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d))?(?:\.\d+)?)?\s*(?:Z|UTC|\+00:?00)?",
                      re.ASCII)


def time_field(text: str, where: str, column: str) -> datetime | None:
    """An abuse.ch time (``YYYY-MM-DD HH:MM:SS``, a bare date as its
    midnight, ISO 8601 with ``T`` and ``Z`` too), UTC; None if empty."""
    if empty(text):
        return None
    m = _TIME_RE.fullmatch(text.strip())
    try:
        if m is None:
            raise ValueError
        y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
        return datetime(y, mo, d, h, mi, s, tzinfo=timezone.utc)
    except ValueError:
        raise TrackerError(f"{where}: {column}: {text.strip()!r} is not a time (YYYY-MM-DD HH:MM:SS, UTC)") from None


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
