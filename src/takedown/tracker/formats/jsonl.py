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
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from takedown.errors import TrackerError
from takedown.tomlfile import display_path
from takedown.tracker.formats import ExportContext, Format
from takedown.tracker.formats.text import lines, time_field
from takedown.tracker.indicator import KINDS, Indicator, check_confidence, check_status, parse_value

FIELDS = tuple(f.name for f in dataclasses.fields(Indicator))
TIMES = ("first_seen", "last_seen", "last_online", "last_checked", "updated")
REQUIRED = ("value", "kind", "family")
_TYPES = {"value": str, "kind": str, "family": str, "status": str, "asn": int, "as_name": str, "country": str,
          "source": str, "confidence": int, "notes": str, "checkins": int, "id": int, "revision": int}
_NULLABLE = {"asn", "as_name", "country", "checkins", "id", *TIMES}


def _time(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def to_json(ind: Indicator) -> dict:
    d = {name: getattr(ind, name) for name in FIELDS}
    for name in TIMES:
        d[name] = _time(d[name])
    d["tags"] = list(ind.tags)
    return d


def write(indicators: Iterable[Indicator], ctx: ExportContext, f: BinaryIO) -> int:
    n = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for ind in indicators:
        f.write(dumps(to_json(ind)).encode("utf-8") + b"\n")
        n += 1
    return n


def from_json(d: object, where: str) -> Indicator:
    if not isinstance(d, dict):
        raise TrackerError(f"{where}: a line must be a JSON object")
    unknown = sorted(set(d) - set(FIELDS))
    if unknown:
        raise TrackerError(f"{where}: unknown key {unknown[0]!r} (keys: {', '.join(FIELDS)})")
    missing = [k for k in REQUIRED if d.get(k) is None]
    if missing:
        raise TrackerError(f"{where}: {missing[0]} is missing")
    fields: dict = {}
    for k, v in d.items():
        if v is None and k in _NULLABLE:
            fields[k] = None
        elif k in TIMES:
            if not isinstance(v, str):
                raise TrackerError(f"{where}: {k}: {v!r} is not a time string")
            fields[k] = time_field(v, where, k)
        elif k == "tags":
            if not isinstance(v, list) or not all(isinstance(t, str) for t in v):
                raise TrackerError(f"{where}: tags: must be a list of strings")
            fields[k] = tuple(v)
        else:
            t = _TYPES[k]
            if not isinstance(v, t) or isinstance(v, bool):
                raise TrackerError(f"{where}: {k}: {v!r} is not a{'n integer' if t is int else ' string'}")
            fields[k] = v
    if fields["kind"] not in KINDS:
        raise TrackerError(f"{where}: kind: {fields['kind']!r} is not one of {', '.join(KINDS)}")
    canonical = parse_value(fields["value"], fields["kind"], f"{where}: value").text
    if canonical != fields["value"]:
        raise TrackerError(f"{where}: value: {fields['value']!r} is not in canonical form ({canonical!r})")
    ind = Indicator(**fields)
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
