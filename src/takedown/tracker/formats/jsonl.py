"""takedown's own format: JSON Lines, one indicator per line, every field (read and write).

Each line is one JSON object with every field of
:class:`~takedown.tracker.indicator.Indicator`, in its order: times as
ISO 8601 UTC strings (``2026-12-04T17:28:37Z``), ``tags`` as a list, an
absent value as ``null``. Export then import gives equal indicators (the
round trip is lossless, ``id``, ``revision`` and ``updated`` included); the
status history is not in it (it is the store's: back up the database to
keep it). Reading is strict: an unknown key, a missing ``value``, ``kind``
or ``family``, a value not in canonical form, a wrong type is an error
naming the line and the key, so a file edited by hand cannot slip in
something the store would not have written.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from takedown.errors import TrackerError
from takedown.tomlfile import display_path
from takedown.tracker.formats import ExportContext, Format
from takedown.tracker.formats.text import canonical, lines, time_field
from takedown.tracker.indicator import KINDS, STATUSES, Indicator, check_confidence, check_status, utc

FIELDS = tuple(f.name for f in dataclasses.fields(Indicator))
TIMES = ("first_seen", "last_seen", "last_online", "last_checked", "updated")
REQUIRED = ("value", "kind", "family")
_KEYS = frozenset(FIELDS)
_STRINGS = ("value", "kind", "family", "status", "as_name", "country", "source", "notes")
_INTEGERS = ("asn", "confidence", "checkins", "id", "revision")
_NOT_NULL = ("status", "source", "confidence", "tags", "notes", "revision")


def _time(t: datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is not timezone.utc:
        t = utc(t)
    return t.isoformat(timespec="seconds")[:19] + "Z"  # isoformat: ten times strftime's speed


def to_json(i: Indicator) -> dict:
    """The line's object: every field, in the model's order (:data:`FIELDS`)."""
    return {"value": i.value, "kind": i.kind, "family": i.family, "status": i.status,
            "first_seen": _time(i.first_seen), "last_seen": _time(i.last_seen),
            "last_online": _time(i.last_online), "last_checked": _time(i.last_checked), "asn": i.asn,
            "as_name": i.as_name, "country": i.country, "source": i.source, "confidence": i.confidence,
            "tags": i.tags, "notes": i.notes, "checkins": i.checkins, "id": i.id, "revision": i.revision,
            "updated": _time(i.updated)}


def write(indicators: Iterable[Indicator], ctx: ExportContext, f: BinaryIO) -> int:
    n = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # a tuple is written as an array
    lines: list[str] = []
    for ind in indicators:
        lines.append(dumps(to_json(ind)))
        if len(lines) == 1024:
            f.write(("\n".join(lines) + "\n").encode("utf-8"))
            n += len(lines)
            lines.clear()
    if lines:
        f.write(("\n".join(lines) + "\n").encode("utf-8"))
        n += len(lines)
    return n


def from_json(d: object, where: str) -> Indicator:
    """An indicator from one line's object; a key left out takes the model's default."""
    if type(d) is not dict:
        raise TrackerError(f"{where}: a line must be a JSON object")
    if not d.keys() <= _KEYS:
        unknown = sorted(d.keys() - _KEYS)[0]
        raise TrackerError(f"{where}: unknown key {unknown!r} (keys: {', '.join(FIELDS)})")
    for k in REQUIRED:
        if d.get(k) is None:
            raise TrackerError(f"{where}: {k} is missing")
    for k in _NOT_NULL:
        if k in d and d[k] is None:
            raise TrackerError(f"{where}: {k}: may not be null")
    # type(v) is int, not isinstance: a JSON true is a bool, never a count
    for keys, t, what in ((_STRINGS, str, "a string"), (_INTEGERS, int, "an integer")):
        for k in keys:
            v = d.get(k)
            if v is not None and type(v) is not t:
                raise TrackerError(f"{where}: {k}: {v!r} is not {what}")
    fields = dict(d)
    for k in TIMES:
        v = d.get(k)
        if v is not None:
            if type(v) is not str:
                raise TrackerError(f"{where}: {k}: {v!r} is not a time string")
            fields[k] = time_field(v, where, k)
    tags = d.get("tags")
    if tags is not None:
        if type(tags) is not list or any(type(x) is not str for x in tags):
            raise TrackerError(f"{where}: tags: must be a list of strings")
        fields["tags"] = tuple(tags)
    if fields["kind"] not in KINDS:
        raise TrackerError(f"{where}: kind: {fields['kind']!r} is not one of {', '.join(KINDS)}")
    text = canonical(fields["value"], fields["kind"], f"{where}: value")[0]
    if text != fields["value"]:
        raise TrackerError(f"{where}: value: {fields['value']!r} is not in canonical form ({text!r})")
    ind = Indicator(**fields)
    if ind.status not in STATUSES:
        check_status(ind.status, f"{where}: status")
    check_confidence(ind.confidence, f"{where}: confidence")
    return ind


def read(path: Path, skipped: Counter | None = None) -> Iterator[Indicator]:
    shown = display_path(path)
    for lineno, line in lines(path):
        if not line.strip():
            continue
        where = f"{shown}:{lineno}"
        try:
            d = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TrackerError(f"{where}: not JSON ({exc.msg}, column {exc.colno})") from None
        yield from_json(d, where)


FORMAT = Format(name="jsonl", summary="takedown's own: JSON Lines, every indicator field (lossless round trip)",
                read=read, write=write, suffix=".jsonl")
