"""Feodo Tracker's botnet C2 IP blocklist, JSON (``ipblocklist.json``), read.

A JSON array of objects with ``ip_address``, ``port``, ``status``,
``hostname``, ``as_number``, ``as_name``, ``country``, ``first_seen``
(``YYYY-MM-DD HH:MM:SS``), ``last_online`` (a date) and ``malware``
(https://feodotracker.abuse.ch/blocklist/; the fields IntelMQ's
``abusech.parser_feodotracker`` bot maps). An entry may lack ``first_seen``.
The server's ``hostname`` (its reverse DNS name) goes into the notes.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from takedown.errors import TrackerError
from takedown.tomlfile import display_path
from takedown.tracker.formats import Format
from takedown.tracker.formats.feodo_csv import c2_status, feodo_indicator
from takedown.tracker.formats.text import empty, time_field
from takedown.tracker.indicator import Indicator
from takedown.tracker.formats.feodo_json_out import write

FIELDS = ("ip_address", "port", "status", "hostname", "as_number", "as_name", "country", "first_seen",
          "last_online", "malware")


def array_items(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, item) for every item of the JSON array in ``path``, with
    the line each item starts on (for errors that name it)."""
    shown = display_path(path)
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TrackerError(f"{shown}: not valid UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise TrackerError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    decoder = json.JSONDecoder()
    ws = " \t\r\n"

    def skip(i: int) -> int:
        while i < len(text) and text[i] in ws:
            i += 1
        return i

    line, counted = 1, 0  # the line at offset `counted`, moved forward only

    def lineno(i: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, i)
        counted = i
        return line

    def where(i: int) -> str:
        return f"{shown}:{lineno(i)}"

    i = skip(0)
    if i == len(text):
        return  # an empty file: no entries
    if text[i] != "[":
        raise TrackerError(f"{where(i)}: expected a JSON array of entries")
    i = skip(i + 1)
    if i < len(text) and text[i] == "]":
        i = skip(i + 1)
    else:
        while True:
            try:
                item, end = decoder.raw_decode(text, i)
            except json.JSONDecodeError as exc:
                raise TrackerError(f"{shown}:{exc.lineno}: not JSON ({exc.msg})") from None
            yield lineno(i), item
            i = skip(end)
            if i < len(text) and text[i] == ",":
                i = skip(i + 1)
                continue
            if i < len(text) and text[i] == "]":
                i = skip(i + 1)
                break
            raise TrackerError(f"{where(i)}: expected ',' or ']' after an entry")
    if i != len(text):
        raise TrackerError(f"{where(i)}: text after the JSON array")


def _text(entry: dict, key: str) -> str:
    v = entry.get(key)
    return "" if v is None else str(v)


def read(path: Path, skipped: Counter | None = None) -> Iterator[Indicator]:
    shown = display_path(path)
    for lineno, entry in array_items(path):
        w = f"{shown}:{lineno}"
        if not isinstance(entry, dict):
            raise TrackerError(f"{w}: an entry must be a JSON object")
        asn = entry.get("as_number")
        if asn is not None and (isinstance(asn, bool) or not str(asn).strip().isdigit()):
            raise TrackerError(f"{w}: as_number: {asn!r} is not an AS number")
        country = _text(entry, "country").strip().upper()
        if country and not (len(country) == 2 and country.isalpha()):
            raise TrackerError(f"{w}: country: {country!r} is not a two-letter country code")
        hostname = _text(entry, "hostname").strip()
        yield feodo_indicator(
            ip=_text(entry, "ip_address"), port=_text(entry, "port"), where=w,
            status=c2_status(_text(entry, "status"), w, "status"),
            first_seen=time_field(_text(entry, "first_seen"), w, "first_seen"),
            last_online=time_field(_text(entry, "last_online"), w, "last_online"),
            malware=_text(entry, "malware"),
            asn=int(asn) if asn is not None and str(asn).strip() else None,
            as_name=None if empty(_text(entry, "as_name")) else _text(entry, "as_name").strip(),
            country=country or None,
            notes="" if empty(hostname) else f"hostname {hostname}")


FORMAT = Format(name="feodo-json", summary="Feodo Tracker's C2 IP blocklist, JSON (ipblocklist.json)", read=read, write=write,
                suffix=".json")
