"""Writes Feodo Tracker's ``ipblocklist.json`` (https://feodotracker.abuse.ch/blocklist/):
a JSON array of objects with ``ip_address``, ``port``, ``status``,
``hostname``, ``as_number``, ``as_name``, ``country``, ``first_seen``
(``YYYY-MM-DD HH:MM:SS``), ``last_online`` (``YYYY-MM-DD``) and ``malware``,
the fields IntelMQ's ``abusech.parser_feodotracker`` reads.

Addresses only, as :mod:`.feodo_csv_out`; JSON has no comments, so no
banner. ``hostname`` (Feodo's reverse DNS name) is always null: the tracker
does not keep one. The array is written one object a line, streamed.
"""

from __future__ import annotations

import json
from typing import BinaryIO, Iterable

from takedown.tracker.formats import ExportContext, Format
from takedown.tracker.formats._abusech import day, stamp
from takedown.tracker.formats._values import host_port
from takedown.tracker.indicator import Indicator


def row(ind: Indicator) -> dict:
    host, port = host_port(ind.value)
    return {"ip_address": host, "port": port, "status": ind.status, "hostname": None,
            "as_number": ind.asn, "as_name": ind.as_name, "country": ind.country,
            "first_seen": stamp(ind.first_seen) or None, "last_online": day(ind.last_online) or None,
            "malware": ind.family}  # fmt: skip


def write(indicators: Iterable[Indicator], ctx: ExportContext, f: BinaryIO) -> int:
    n = 0
    f.write(b"[")
    for ind in indicators:
        if ind.kind != "ip":
            continue
        f.write(b"\n" if n == 0 else b",\n")
        f.write(json.dumps(row(ind), ensure_ascii=False).encode("utf-8"))
        n += 1
    f.write(b"\n]\n")
    return n
